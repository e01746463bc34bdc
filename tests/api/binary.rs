//! The real `modelgate` binary: first start, secrets kept out of logs, and
//! the maintenance commands working on the configured database.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestDb, create_database, drop_database};

/// A database and data directory shared by the processes of one test.
pub(crate) struct Deployment {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
    pub(crate) db: TestDb,
}

impl Deployment {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (db, url) = create_database(dir.path());
        Deployment { dir, url, db }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_modelgate"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env("MODELGATE__DATA_DIR", self.dir.path())
            .env("MODELGATE__DATABASE__URL", &self.url)
            .env("MODELGATE__SERVER__PORT", "0")
            .env("MODELGATE__LOG__FORMAT", "json")
            .env("MODELGATE__LOG__LEVEL", "debug");
        command
    }

    /// Runs a maintenance command, feeding `stdin`; returns (success, stdout, stderr).
    pub(crate) fn run(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("wait: {e}"));
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub(crate) fn serve(&self) -> Server {
        self.serve_with(self.command(&["serve"]))
    }

    /// Starts `command` (a `serve` from [`Deployment::command`]) and waits
    /// until it listens.
    pub(crate) fn serve_with(&self, mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let (stdout, stdout_reader) = capture(child.stdout.take());
        let (stderr, stderr_reader) = capture(child.stderr.take());
        let started = Instant::now();
        let port = loop {
            let log = stderr.lock().map(|l| l.clone()).unwrap_or_default();
            if let Some(port) = log
                .lines()
                .filter(|line| line.contains("modelgate is listening"))
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find_map(|entry| entry["fields"]["port"].as_u64())
            {
                break port;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not start: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Server {
            child,
            address: format!("http://127.0.0.1:{port}"),
            stdout,
            stderr,
            readers: stdout_reader.into_iter().chain(stderr_reader).collect(),
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        drop_database(&self.db);
    }
}

/// Collects a child's output line by line on a thread of its own, which ends
/// when the child's end of the pipe closes.
fn capture(
    stream: Option<impl std::io::Read + Send + 'static>,
) -> (Arc<Mutex<String>>, Option<JoinHandle<()>>) {
    let buffer = Arc::new(Mutex::new(String::new()));
    let reader = stream.map(|stream| {
        let sink = buffer.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        })
    });
    (buffer, reader)
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) address: String,
    pub(crate) stdout: Arc<Mutex<String>>,
    pub(crate) stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// A failing test must not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, text) = self.send(token, method, path, body);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Like `call`, with the answer's body as text.
    pub(crate) fn send(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let result = match body {
            Some(body) => agent.run(
                request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
            None => agent.run(request.body(()).unwrap_or_else(|e| panic!("{e}"))),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (status, text)
    }

    /// Like `call`, but a connection failure (a killed server) is `None`, and
    /// so is an answer whose body could not be read whole.
    pub(crate) fn try_post(&self, token: &str, path: &str, body: Value) -> Option<(u16, Value)> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.address))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .ok()?;
        let mut response = agent.run(request).ok()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().ok()?;
        Some((status, serde_json::from_str(&text).ok()?))
    }

    pub(crate) fn login(&self, username: &str, password: &str) -> (u16, String) {
        let (status, body) = self.call(
            None,
            "POST",
            "/api/v1/auth/token",
            Some(json!({"username": username, "password": password})),
        );
        (
            status,
            body["access_token"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Waits until standard output holds `needle`, failing after 30 s;
    /// returns the output so far.
    pub(crate) fn wait_for_stdout(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stdout = self.stdout.lock().map(|t| t.clone()).unwrap_or_default();
            if stdout.contains(needle) {
                return stdout;
            }
            assert!(
                Instant::now() < deadline,
                "'{needle}' not on standard output after 30 s: {stdout}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process and returns (stdout, stderr).
    pub(crate) fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // the readers end once the pipes close: all the output is in
        for reader in std::mem::take(&mut self.readers) {
            reader
                .join()
                .unwrap_or_else(|_| panic!("an output reader panicked"));
        }
        let read = |b: &Arc<Mutex<String>>| b.lock().map(|t| t.clone()).unwrap_or_default();
        (read(&self.stdout), read(&self.stderr))
    }
}

/// `serve` caps glibc's malloc arenas at two (MALLOC_ARENA_MAX, read only
/// as a process starts): the process the operator started runs with the
/// variable set and serves; a value the operator gave is kept.
#[test]
fn serve_runs_with_two_malloc_arenas_unless_told_otherwise() {
    let environment = |pid: u32| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .map(|bytes| {
                bytes
                    .split(|b| *b == 0)
                    .map(|entry| String::from_utf8_lossy(entry).into_owned())
                    .filter(|entry| entry.starts_with("MALLOC_ARENA_MAX="))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let deployment = Deployment::new();
    let server = deployment.serve();
    // the same process (restarted in place), now with the variable
    assert_eq!(environment(server.child.id()), ["MALLOC_ARENA_MAX=2"]);
    let (status, health) = server.call(None, "GET", "/healthz", None);
    assert_eq!((status, &health["status"]), (200, &serde_json::json!("ok")));
    drop(server);

    let mut told = deployment.command(&["serve"]);
    told.env("MALLOC_ARENA_MAX", "4");
    let server = deployment.serve_with(told);
    assert_eq!(environment(server.child.id()), ["MALLOC_ARENA_MAX=4"]);
}

#[test]
fn first_start_prints_a_generated_admin_password_once_and_logs_no_secret() {
    let deployment = Deployment::new();
    let server = deployment.serve();
    // standard output is not a terminal here (a container's is its log
    // stream): the password goes to a file, and only its path is printed
    let file = deployment
        .dir
        .path()
        .join(modelgate::startup::ADMIN_PASSWORD_FILE);
    let stdout = server.wait_for_stdout(&file.display().to_string());
    let admin_password = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_owned();
    assert_eq!(admin_password.len(), 24);
    assert!(!stdout.contains(&admin_password), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_default();
    assert_eq!(mode, 0o600);

    let (status, admin) = server.login("admin", &admin_password);
    assert_eq!(status, 200);
    let user_password = "Sup3r-Secret-Passw0rd";
    let wrong_password = "Wr0ng-Secret-Guess";
    let (status, _) = server.call(
        Some(&admin),
        "POST",
        "/api/v1/users",
        Some(json!({"username": "sam", "password": user_password, "role": "contributor"})),
    );
    assert_eq!(status, 201);
    let (status, session) = server.login("sam", user_password);
    assert_eq!(status, 200);
    assert_eq!(server.login("sam", wrong_password).0, 401);
    let (status, created) = server.call(
        Some(&admin),
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ci", "username": "sam"})),
    );
    assert_eq!(status, 201);
    let pipeline = created["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        server.call(Some(&pipeline), "GET", "/api/v1/me", None).0,
        200
    );
    assert_eq!(
        server
            .call(
                Some(&session),
                "POST",
                "/api/v1/models",
                Some(json!({"name": "m"}))
            )
            .0,
        201
    );
    assert_eq!(
        server
            .call(Some("garbage.token.value"), "GET", "/api/v1/me", None)
            .0,
        401
    );
    let (status, users) = server.call(Some(&admin), "GET", "/api/v1/users", None);
    assert_eq!(status, 200, "{users}");

    let (_, log) = server.stop();
    assert!(log.contains("login failed"), "the log was captured: {log}");
    assert!(log.contains("\"request_id\""), "{log}");
    let secret =
        std::fs::read_to_string(deployment.dir.path().join("jwt_secret")).unwrap_or_default();
    assert_eq!(secret.len(), 64);
    for (what, value) in [
        ("admin password", admin_password.as_str()),
        ("user password", user_password),
        ("wrong password", wrong_password),
        ("admin token", admin.as_str()),
        ("session token", session.as_str()),
        ("pipeline token", pipeline.as_str()),
        ("signing secret", secret.as_str()),
        ("a password hash", "$argon2"),
    ] {
        assert!(!value.is_empty(), "{what} is known");
        assert!(!log.contains(value), "the {what} appears in the log");
    }
    // the list the API gives holds the users, and no hash of their passwords
    let listed: Vec<(&str, &str)> = users["users"]
        .as_array()
        .unwrap_or_else(|| panic!("no user list in {users}"))
        .iter()
        .map(|user| {
            assert!(
                user.get("password_hash").is_none() && user.get("password").is_none(),
                "{user}"
            );
            (
                user["username"].as_str().unwrap_or_default(),
                user["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![("admin", "admin"), ("sam", "contributor")],
        "{users}"
    );
    assert!(!users.to_string().contains("argon2"), "{users}");

    // the generated password is printed on the first start only
    // (stop collects everything the process wrote before it was killed)
    let server = deployment.serve();
    let (stdout, _) = server.stop();
    assert!(!stdout.contains("password"), "{stdout}");
}

#[test]
fn maintenance_commands_manage_users_and_tokens_on_the_configured_database() {
    let deployment = Deployment::new();
    let (ok, output, errors) = deployment.run(
        &[
            "db",
            "users",
            "add",
            "ci-bot",
            "--role",
            "contributor",
            "--password-stdin",
        ],
        "pipeline-password\n",
    );
    assert!(ok, "{output} {errors}");
    assert!(output.contains("\"role\": \"contributor\""), "{output}");
    let (ok, _, errors) = deployment.run(&["db", "users", "add", "ci-bot", "--role", "viewer"], "");
    assert!(!ok && errors.contains("already exists"), "{errors}");
    let (ok, output, _) = deployment.run(&["db", "users", "set-role", "ci-bot", "approver"], "");
    assert!(ok && output.contains("\"role\": \"approver\""), "{output}");
    let (ok, _, errors) = deployment.run(&["db", "users", "set-role", "ci-bot", "root"], "");
    assert!(!ok && errors.contains("unknown role"), "{errors}");

    let (ok, output, errors) = deployment.run(
        &[
            "db",
            "tokens",
            "create",
            "nightly",
            "--user",
            "ci-bot",
            "--expires-in-days",
            "7",
        ],
        "",
    );
    assert!(ok, "{output} {errors}");
    let created: Value = serde_json::from_str(&output).unwrap_or_default();
    let token = created["token"].as_str().unwrap_or_default().to_owned();
    let id = created["id"].as_i64().unwrap_or_default().to_string();
    assert!(!token.is_empty(), "{output}");

    let server = deployment.serve();
    let (status, me) = server.call(Some(&token), "GET", "/api/v1/me", None);
    assert_eq!(status, 200);
    assert_eq!(me["username"], "ci-bot");
    assert_eq!(me["role"], "approver");
    assert_eq!(server.login("ci-bot", "pipeline-password").0, 200);

    let (ok, output, errors) = deployment.run(&["db", "tokens", "revoke", &id], "");
    assert!(ok, "{output} {errors}");
    assert_eq!(server.call(Some(&token), "GET", "/api/v1/me", None).0, 401);

    let (ok, output, _) = deployment.run(&["db", "users", "disable", "ci-bot"], "");
    assert!(ok && output.contains("\"disabled\": true"), "{output}");
    assert_eq!(server.login("ci-bot", "pipeline-password").0, 401);
    let (ok, output, errors) = deployment.run(&["db", "users", "enable", "ci-bot"], "");
    assert!(ok, "{output} {errors}");
    assert_eq!(server.login("ci-bot", "pipeline-password").0, 200);
    server.stop();
}

#[test]
fn a_bad_rule_file_stops_the_server_with_the_rule_named() {
    let deployment = Deployment::new();
    for (rules, expected) in [
        (
            "[[lifecycle.rules]]\nfrom = \"Staging\"\nto = \"Production\"\ndirect = \"boss\"\n",
            "lifecycle rule #1 (Staging -> Production): `direct`: unknown role 'boss'",
        ),
        (
            "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
             [[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"admin\"\n",
            "lifecycle rule #2 (None -> Staging): duplicate rule",
        ),
        (
            "[[lifecycle.rules]]\nfrom = \"Testing\"\nto = \"Production\"\ndirect = \"admin\"\n",
            "lifecycle rule #1 (Testing -> Production): `from`: invalid stage 'Testing'",
        ),
    ] {
        let file = deployment.dir.path().join("rules.toml");
        std::fs::write(&file, rules).unwrap_or_else(|e| panic!("{e}"));
        let output = deployment
            .command(&["--config", &file.display().to_string(), "serve"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let errors = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{errors}");
        assert!(errors.contains(expected), "{errors}");
    }
}

#[test]
fn policy_check_reports_the_policy_and_refuses_one_the_server_would_refuse() {
    let deployment = Deployment::new();
    let (ok, output, errors) = deployment.run(&["policy", "check"], "");
    assert!(ok, "{output} {errors}");
    assert!(
        output.contains("guarded: Production (gate: Staging -> Production)"),
        "{output}"
    );
    assert!(
        output.contains("approver     None, Staging, Archived\n"),
        "{output}"
    );
    assert!(
        output.contains(
            "Archived -> Production (approver): only for a version that was in Production before"
        ),
        "{output}"
    );

    let file = deployment.dir.path().join("guards.toml");
    std::fs::write(
        &file,
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.guards]]\nstage = \"Production\"\ngate = [{ from = \"Staging\" }]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let output = deployment
        .command(&["--config", &file.display().to_string(), "policy", "check"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains("lifecycle guard #1 (Production): the gate names Staging -> Production, which no rule allows"),
        "{errors}"
    );
}

#[test]
fn audit_verify_passes_on_an_intact_log_and_fails_on_an_edited_one() {
    use diesel::prelude::*;
    let deployment = Deployment::new();
    let (ok, output, errors) =
        deployment.run(&["db", "users", "add", "auditor", "--role", "viewer"], "");
    assert!(ok, "{output} {errors}");
    let (ok, output, errors) =
        deployment.run(&["db", "users", "set-role", "auditor", "approver"], "");
    assert!(ok, "{output} {errors}");
    let (ok, output, errors) = deployment.run(&["audit", "verify"], "");
    assert!(ok, "{errors}");
    assert!(output.contains("intact: 2 events"), "{output}");
    // a checkpoint to keep elsewhere, printed as JSON
    let (ok, kept, errors) = deployment.run(&["audit", "checkpoint"], "");
    assert!(ok, "{errors}");
    let checkpoint: serde_json::Value =
        serde_json::from_str(&kept).unwrap_or_else(|e| panic!("{e}: {kept}"));
    assert_eq!(checkpoint["event_id"], 2, "{kept}");
    let file = deployment.dir.path().join("kept.json");
    std::fs::write(&file, &kept).unwrap_or_else(|e| panic!("{e}"));
    let kept_arg = file.display().to_string();
    let (ok, output, errors) = deployment.run(&["audit", "verify", "--checkpoint", &kept_arg], "");
    assert!(ok, "{errors}");
    assert!(output.contains("2 signed checkpoints hold"), "{output}");

    let manager = modelgate::db::ConnectionManager::new(
        modelgate::db::DbUrl::parse(&deployment.url).unwrap_or_else(|e| panic!("{e}")),
        5000,
    );
    let mut conn = manager.establish().unwrap_or_else(|e| panic!("{e}"));
    diesel::sql_query("UPDATE events SET payload = '{}' WHERE id = 1")
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"));
    let output = deployment
        .command(&["audit", "verify"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "tampered is exit 1: {errors}"
    );
    assert!(errors.contains("tampered with: event 1"), "{errors}");
    // a checkpoint file that is not one is an error, exit 3
    std::fs::write(&file, "{\"event_id\": 1}").unwrap_or_else(|e| panic!("{e}"));
    let output = deployment
        .command(&["audit", "verify", "--checkpoint", &kept_arg])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_like_any_unix_tool() {
    // `modelgate completions bash | head -c 0`: the reader is gone before
    // the first write
    let mut child = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    drop(child.stdout.take());
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(141), "{errors}");
    assert_eq!(errors, "", "nothing on stderr, no panic");
}

#[test]
fn logs_written_to_a_file_or_pipe_carry_no_colour_codes() {
    let deployment = Deployment::new();
    let mut command = deployment.command(&["serve"]);
    command
        .env("MODELGATE__LOG__FORMAT", "pretty")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    let (log, reader) = capture(child.stderr.take());
    let started = Instant::now();
    while !log
        .lock()
        .map(|l| l.contains("modelgate is listening"))
        .unwrap_or(false)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    if let Some(reader) = reader {
        let _ = reader.join();
    }
    let text = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(text.contains(" INFO "), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes in: {text:?}");
}
