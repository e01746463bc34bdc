//! The command line against a real server: login and the credentials file,
//! every noun and verb, the three output forms, and the documented exit
//! codes (0 success, 1 refused or not found, 3 any other error) with the
//! server's message on standard error.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, spawn_app, spawn_app_with_config};

/// A terminal-less user of the command line: its own credentials file, the
/// server's URL in `MODELGATE_URL`, and optionally a token.
struct Shell {
    url: String,
    token: Option<String>,
    credentials: PathBuf,
    _home: tempfile::TempDir,
}

/// What one command did.
#[derive(Debug)]
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout {:?}, stderr {:?}", self.stdout, self.stderr))
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl Shell {
    fn new(app: &TestApp) -> Self {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Shell {
            url: app.address.clone(),
            token: None,
            credentials: home.path().join("config").join("credentials.json"),
            _home: home,
        }
    }

    fn with_token(app: &TestApp, token: &str) -> Self {
        let mut shell = Shell::new(app);
        shell.token = Some(token.to_owned());
        shell
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_modelgate"));
        command
            .args(args)
            .env_remove("MODELGATE_TOKEN")
            .env("MODELGATE_URL", &self.url)
            .env("MODELGATE_CREDENTIALS", &self.credentials)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(token) = &self.token {
            command.env("MODELGATE_TOKEN", token);
        }
        command
    }

    fn run_with_input(&self, args: &[&str], input: Option<&str>) -> Ran {
        let mut child = self
            .command(args)
            .spawn()
            .unwrap_or_else(|e| panic!("run modelgate: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input.unwrap_or_default().as_bytes());
        }
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("wait for modelgate: {e}"));
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Ran {
        self.run_with_input(args, None)
    }
}

#[test]
fn login_keeps_a_private_token_per_server_and_logout_forgets_it() {
    let app = spawn_app();
    let shell = Shell::new(&app);
    // not logged in: exit 3, and the way out named
    let ran = shell.run(&["whoami"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr.contains("not logged in to") && ran.stderr.contains("modelgate login"),
        "{ran:?}"
    );
    // a wrong password is refused: exit 1, nothing stored
    let ran = shell.run_with_input(
        &["login", "--username", "admin", "--password-stdin"],
        Some("wrong-password\n"),
    );
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(!shell.credentials.exists());
    let ran = shell
        .run_with_input(
            &["login", "--username", "admin", "--password-stdin"],
            Some(&format!("{ADMIN_PASSWORD}\n")),
        )
        .ok();
    assert!(ran.stdout.contains("as admin (admin)"), "{ran:?}");
    // the file is private and never holds the password
    let mode = std::fs::metadata(&shell.credentials)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_default();
    assert_eq!(mode, 0o600);
    let stored = std::fs::read_to_string(&shell.credentials).unwrap_or_default();
    assert!(!stored.contains(ADMIN_PASSWORD));
    assert!(stored.contains(&app.address), "{stored}");
    // the stored token works without MODELGATE_TOKEN or MODELGATE_URL
    let mut elsewhere = Shell::new(&app);
    elsewhere.credentials = shell.credentials.clone();
    elsewhere.url = String::new();
    let me = elsewhere.run(&["whoami", "-o", "json"]).ok().json();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["url"], app.address.as_str());
    assert_eq!(elsewhere.run(&["whoami", "-q"]).ok().stdout, "admin\n");
    // MODELGATE_TOKEN wins over the stored token
    let viewer = app.user_token("vera", "viewer");
    let mut explicit = Shell::with_token(&app, &viewer);
    explicit.credentials = shell.credentials.clone();
    assert_eq!(explicit.run(&["whoami", "-q"]).ok().stdout, "vera\n");
    // a token given outright never goes to the server logged in to last
    let mut stray = Shell::with_token(&app, &viewer);
    stray.credentials = shell.credentials.clone();
    stray.url = String::new();
    let ran = stray.run(&["whoami"]);
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(!ran.stderr.contains(&app.address), "{ran:?}");
    // a pipeline token can be kept instead
    let pipeline = app
        .post("/api/v1/tokens", json!({"name": "ci", "username": "vera"}))
        .expect(201)["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let other = Shell::new(&app);
    other.run(&["login", "--token", &pipeline]).ok();
    let me = other.run(&["whoami", "-o", "json"]).ok().json();
    assert_eq!(
        (me["username"].as_str(), me["token_kind"].as_str()),
        (Some("vera"), Some("pipeline"))
    );
    let ran = other.run(&["login", "--token", "not-a-token"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    // logout forgets the server
    assert!(shell.run(&["logout"]).ok().stdout.contains("Logged out of"));
    assert_eq!(shell.run(&["whoami"]).code, 3);
    let stored = std::fs::read_to_string(&shell.credentials).unwrap_or_default();
    assert!(!stored.contains(&app.address), "{stored}");
}

#[test]
fn models_versions_tags_and_aliases_from_the_command_line() {
    let app = spawn_app();
    let shell = Shell::with_token(&app, &app.admin_token);
    // create: --quiet prints the key, the server has it
    let name = shell
        .run(&[
            "models",
            "create",
            "churn",
            "--description",
            "Churn",
            "--tag",
            "team=risk",
            "-q",
        ])
        .ok();
    assert_eq!(name.stdout, "churn\n");
    let model = app.get("/api/v1/models/churn").expect(200).clone();
    assert_eq!(model["tags"]["team"], "risk");
    assert_eq!(model["description"], "Churn");
    let version = shell
        .run(&[
            "versions", "create", "churn", "--source", "s3://m/1", "--run-id", "r1", "-q",
        ])
        .ok();
    assert_eq!(version.stdout, "1\n");
    shell
        .run(&["versions", "create", "churn", "--source", "s3://m/2", "-q"])
        .ok();
    // JSON is the server's answer; the table has the columns
    let listed = shell
        .run(&["versions", "list", "churn", "-o", "json"])
        .ok()
        .json();
    let numbers: Vec<_> = listed["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v["version"].clone())
        .collect();
    assert_eq!(numbers, [json!(2), json!(1)]);
    let table = shell
        .run(&["versions", "list", "churn", "-o", "table"])
        .ok()
        .stdout;
    let mut lines = table.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("VERSION  STAGE  ALIASES  SOURCE")),
        "{table}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("2        None") && l.contains("s3://m/2")),
        "{table}"
    );
    let one = shell
        .run(&["versions", "get", "churn", "1", "-o", "table"])
        .ok()
        .stdout;
    assert!(
        one.lines()
            .any(|l| l.starts_with("run_id:") && l.ends_with(" r1")),
        "{one}"
    );
    // --limit pages through the server's pages
    let first = shell
        .run(&["versions", "list", "churn", "--limit", "1", "-o", "json"])
        .ok()
        .json();
    assert_eq!(first["versions"].as_array().map(Vec::len), Some(1));
    assert!(first["next_page_token"].is_string(), "{first}");
    // update, rename
    shell
        .run(&["models", "update", "churn", "--description", "Churn v2"])
        .ok();
    shell
        .run(&["versions", "update", "churn", "1", "--description", "first"])
        .ok();
    assert_eq!(
        app.get("/api/v1/models/churn/versions/1").expect(200)["description"],
        "first"
    );
    // tags on the model and on a version, an empty value included
    shell.run(&["tags", "set", "churn", "tier", ""]).ok();
    shell
        .run(&[
            "tags",
            "set",
            "churn",
            "validated",
            "true",
            "--version",
            "1",
        ])
        .ok();
    assert_eq!(
        app.get("/api/v1/models/churn").expect(200)["tags"]["tier"],
        ""
    );
    assert_eq!(
        app.get("/api/v1/models/churn/versions/1").expect(200)["tags"]["validated"],
        "true"
    );
    shell
        .run(&["tags", "delete", "churn", "validated", "--version", "1"])
        .ok();
    assert_eq!(
        app.get("/api/v1/models/churn/versions/1").expect(200)["tags"],
        json!({})
    );
    // aliases
    shell
        .run(&["aliases", "set", "churn", "champion", "1"])
        .ok();
    assert_eq!(
        shell
            .run(&["aliases", "get", "churn", "champion", "-q"])
            .ok()
            .stdout,
        "1\n"
    );
    shell.run(&["aliases", "delete", "churn", "champion"]).ok();
    let ran = shell.run(&["aliases", "get", "churn", "champion"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    // a move, the latest in a stage, the trail, the history
    let moved = shell
        .run(&["promote", "churn", "1", "--to", "Staging", "-o", "json"])
        .ok()
        .json();
    assert_eq!(moved["action"], "moved");
    assert_eq!(
        shell
            .run(&["models", "latest", "churn", "--stage", "Staging", "-q"])
            .ok()
            .stdout,
        "1\n"
    );
    let trail = shell
        .run(&["versions", "activity", "churn", "1", "-o", "json"])
        .ok()
        .json();
    assert!(
        trail["activities"].to_string().contains("Staging"),
        "{trail}"
    );
    let history = shell.run(&["history", "churn", "-o", "json"]).ok().json();
    assert_eq!(history["name"], "churn");
    // the events of it all, oldest first
    let events = shell
        .run(&["events", "list", "--model", "churn", "-o", "json"])
        .ok()
        .json();
    let types: Vec<_> = events["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types.first(), Some(&"model.created"), "{types:?}");
    let models = shell
        .run(&["models", "list", "--filter", "name LIKE 'ch%'", "-q"])
        .ok();
    assert_eq!(models.stdout, "churn\n");
    shell.run(&["models", "rename", "churn", "attrition"]).ok();
    app.get("/api/v1/models/attrition").expect(200);
    // deleting without a terminal to ask on needs --yes
    let ran = shell.run(&["versions", "delete", "attrition", "2"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("--yes"), "{ran:?}");
    app.get("/api/v1/models/attrition/versions/2").expect(200);
    shell
        .run(&["versions", "delete", "attrition", "2", "--yes"])
        .ok();
    app.get("/api/v1/models/attrition/versions/2").expect(404);
    let ran = shell.run(&["models", "delete", "attrition", "--yes"]).ok();
    assert!(ran.stderr.contains("deleted model 'attrition'"), "{ran:?}");
    assert!(ran.stdout.is_empty(), "{ran:?}");
    app.get("/api/v1/models/attrition").expect(404);
}

#[test]
fn bad_input_exits_with_the_documented_code_and_the_servers_message() {
    let app = spawn_app();
    app.create_model("churn");
    let shell = Shell::with_token(&app, &app.admin_token);
    let viewer = Shell::with_token(&app, &app.user_token("vera", "viewer"));
    let before = app.snapshot();
    // not found: 1, the server's message
    let ran = shell.run(&["models", "get", "nope"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("404 RESOURCE_DOES_NOT_EXIST"),
        "{ran:?}"
    );
    assert!(ran.stdout.is_empty());
    let ran = shell.run(&["versions", "create", "nope", "--source", "s3://x"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    // refused by the server's rules: 1
    let ran = shell.run(&["models", "create", "churn"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("RESOURCE_ALREADY_EXISTS"), "{ran:?}");
    let ran = viewer.run(&["models", "create", "other"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("403"), "{ran:?}");
    // a bad stage or a bad tag never reaches the server: 3, clap's message
    let ran = shell.run(&["versions", "list", "churn", "--stage", "Prod"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("invalid value 'Prod'"), "{ran:?}");
    let ran = shell.run(&["models", "create", "x", "--tag", "novalue"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("expected KEY=VALUE"), "{ran:?}");
    // no credentials, a bad token, a wrong server: 3
    let nobody = Shell::new(&app);
    let ran = nobody.run(&["models", "list"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    let forged = Shell::with_token(&app, "forged");
    let ran = forged.run(&["models", "list"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("401"), "{ran:?}");
    let mut lost = Shell::with_token(&app, &app.admin_token);
    lost.url = "http://127.0.0.1:9".to_owned();
    let ran = lost.run(&["models", "list"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr.contains("cannot reach http://127.0.0.1:9"),
        "{ran:?}"
    );
    assert_eq!(app.snapshot(), before, "bad input changed nothing");
}

#[test]
fn requests_users_tokens_policy_and_audit_from_the_command_line() {
    let app = spawn_app();
    app.create_model("churn");
    let version = app.create_version("churn");
    assert_eq!(
        app.transition("churn", version, "Staging", false).status,
        200
    );
    let admin = Shell::with_token(&app, &app.admin_token);
    // users: create with the password on standard input, then log in as them
    let created = admin
        .run_with_input(
            &[
                "users",
                "create",
                "carol",
                "--role",
                "contributor",
                "--password-stdin",
                "-q",
            ],
            Some("carol-password\n"),
        )
        .ok();
    assert_eq!(created.stdout, "carol\n");
    assert!(!app.login("carol", "carol-password").is_empty());
    admin
        .run_with_input(
            &[
                "users",
                "create",
                "april",
                "--role",
                "approver",
                "--password-stdin",
            ],
            Some("april-password\n"),
        )
        .ok();
    assert_eq!(
        admin.run(&["users", "get", "carol", "-q"]).ok().stdout,
        "carol\n"
    );
    let listed = admin.run(&["users", "list", "-q"]).ok().stdout;
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["admin", "april", "carol"]
    );
    admin
        .run(&["users", "update", "carol", "--role", "approver"])
        .ok();
    assert_eq!(
        app.get("/api/v1/users/carol").expect(200)["role"],
        "approver"
    );
    admin
        .run(&["users", "update", "carol", "--role", "contributor"])
        .ok();
    let ran = admin.run(&["users", "update", "carol"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    // a pipeline token for carol: -q is its value, and it works
    let token = admin
        .run(&["tokens", "create", "ci", "--user", "carol", "-q"])
        .ok()
        .stdout;
    let carol = Shell::with_token(&app, token.trim());
    assert_eq!(carol.run(&["whoami", "-q"]).ok().stdout, "carol\n");
    // carol asks for Production: a request; the approver approves it
    let asked = carol
        .run(&[
            "promote",
            "churn",
            &version.to_string(),
            "--to",
            "Production",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(asked["action"], "requested", "{asked}");
    let id = asked["request"]["id"]
        .as_i64()
        .unwrap_or_default()
        .to_string();
    let approver = Shell::new(&app);
    approver
        .run_with_input(
            &["login", "-u", "april", "--password-stdin"],
            Some("april-password\n"),
        )
        .ok();
    let pending = approver
        .run(&["requests", "list", "--status", "pending", "-q"])
        .ok()
        .stdout;
    assert_eq!(pending, format!("{id}\n"));
    let ran = carol.run(&["requests", "approve", &id]);
    assert_eq!(ran.code, 1, "the requester cannot approve: {ran:?}");
    approver
        .run(&["requests", "approve", &id, "--comment", "fine"])
        .ok();
    let shown = approver
        .run(&["requests", "show", &id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(shown["status"], "applied");
    assert_eq!(app.stage("churn", version), "Production");
    // the token list and its revocation
    let tokens = admin.run(&["tokens", "list", "-o", "json"]).ok().json();
    let token_id = tokens["tokens"][0]["id"]
        .as_i64()
        .unwrap_or_default()
        .to_string();
    admin.run(&["tokens", "revoke", &token_id]).ok();
    assert_eq!(carol.run(&["whoami"]).code, 3);
    // the policy as tables, and as JSON
    let policy = admin.run(&["policy", "show", "-o", "table"]).ok().stdout;
    assert!(policy.starts_with("FROM"), "{policy}");
    assert!(policy.contains("GUARDED STAGE"), "{policy}");
    let rules = admin.run(&["policy", "show", "-o", "json"]).ok().json();
    assert!(
        rules["rules"].as_array().is_some_and(|r| !r.is_empty()),
        "{rules}"
    );
    // the signed checkpoints
    let checkpoints = admin
        .run(&["audit", "checkpoints", "-o", "json"])
        .ok()
        .json();
    assert!(checkpoints["checkpoints"].is_array(), "{checkpoints}");
    // deleting a user
    admin.run(&["users", "delete", "carol", "--yes"]).ok();
    app.get("/api/v1/users/carol").expect(404);
}

#[test]
fn webhooks_from_the_command_line() {
    let app =
        spawn_app_with_config("[webhooks]\nallow_private_networks = true\nallow_http = true\n");
    let admin = Shell::with_token(&app, &app.admin_token);
    let secret = admin
        .run(&[
            "webhooks",
            "create",
            "--endpoint",
            "http://127.0.0.1:9/in",
            "--event",
            "version.*",
            "--event",
            "request.*",
            "--model",
            "churn",
            "-q",
        ])
        .ok()
        .stdout;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = admin.run(&["webhooks", "list", "-o", "json"]).ok().json();
    assert_eq!(
        listed["webhooks"][0]["events"],
        json!(["version.*", "request.*"])
    );
    let id = listed["webhooks"][0]["id"]
        .as_i64()
        .unwrap_or_default()
        .to_string();
    let one = admin
        .run(&["webhooks", "get", &id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(one["model"], "churn");
    assert!(!one.to_string().contains("whsec_"), "{one}");
    admin.run(&["webhooks", "update", &id, "--disable"]).ok();
    let changed = admin
        .run(&[
            "webhooks",
            "update",
            &id,
            "--endpoint",
            "http://127.0.0.1:9/other",
            "--event",
            "model.*",
            "--any-model",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(
        (&changed["url"], &changed["events"], &changed["model"]),
        (
            &json!("http://127.0.0.1:9/other"),
            &json!(["model.*"]),
            &Value::Null
        ),
        "{changed}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{id}")).expect(200)["enabled"],
        false
    );
    let rotated = admin
        .run(&["webhooks", "update", &id, "--rotate-secret", "-q"])
        .ok()
        .stdout;
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{rotated}"
    );
    // nothing listens on port 9: the test delivery says so
    let tested = admin
        .run(&["webhooks", "test", &id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(tested["delivered"], false, "{tested}");
    let deliveries = admin
        .run(&["webhooks", "deliveries", &id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(deliveries["deliveries"], json!([]));
    let ran = admin.run(&["webhooks", "redeliver", &id, "999"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    admin.run(&["webhooks", "delete", &id, "--yes"]).ok();
    app.get(&format!("/api/v1/webhooks/{id}")).expect(404);
    let viewer = Shell::with_token(&app, &app.user_token("vera", "viewer"));
    assert_eq!(viewer.run(&["webhooks", "list"]).code, 1);
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    let app = spawn_app();
    let shell = Shell::new(&app);
    for (name, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef modelgate"),
        ("fish", "complete -c modelgate"),
    ] {
        let script = shell.run(&["completions", name]).ok().stdout;
        assert!(script.contains(marker), "{name}: {script:.200}");
        for noun in ["models", "versions", "webhooks", "login"] {
            assert!(script.contains(noun), "{name} completes {noun}");
        }
    }
    let ran = shell.run(&["completions", "tcsh"]);
    assert_eq!(ran.code, 3, "{ran:?}");
}

#[test]
fn events_follow_guarded_aliases_and_rejections_from_the_command_line() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::Duration;

    let app = spawn_app();
    app.create_model("churn");
    let version = app.create_version("churn").to_string();
    let admin = Shell::with_token(&app, &app.admin_token);
    let carol = Shell::with_token(&app, &app.user_token("carol", "contributor"));
    let april = Shell::with_token(&app, &app.user_token("april", "approver"));
    // --follow prints what is there, then each new event as it happens
    let mut follow = admin
        .command(&[
            "events", "list", "--model", "churn", "--follow", "-o", "json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let (lines, received) = mpsc::channel();
    let stdout = follow.stdout.take();
    std::thread::spawn(move || {
        for line in stdout
            .map(BufReader::new)
            .into_iter()
            .flat_map(BufRead::lines)
        {
            if lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let next_type = || -> String {
        let line = received
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no event line: {e}"));
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        event["event_type"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(next_type(), "model.created");
    assert_eq!(next_type(), "version.created");
    // a guarded alias: carol's promote opens a request, the admin's sets it
    let asked = carol
        .run(&[
            "promote", "churn", &version, "--alias", "champion", "-o", "json",
        ])
        .ok()
        .json();
    assert_eq!(asked["action"], "requested", "{asked}");
    assert_eq!(asked["request"]["alias"], "champion");
    assert_eq!(next_type(), "request.created");
    let set = admin
        .run(&[
            "promote", "churn", &version, "--alias", "champion", "-o", "json",
        ])
        .ok()
        .json();
    assert_eq!(set["action"], "moved", "{set}");
    assert_eq!(set["model_version"]["aliases"], json!(["champion"]));
    assert_eq!(next_type(), "alias.set");
    // a rejection
    carol
        .run(&["promote", "churn", &version, "--to", "Staging"])
        .ok();
    let asked = carol
        .run(&[
            "promote",
            "churn",
            &version,
            "--to",
            "Production",
            "-o",
            "json",
        ])
        .ok()
        .json();
    let id = asked["request"]["id"].to_string();
    let rejected = april
        .run(&[
            "requests",
            "reject",
            &id,
            "--comment",
            "not yet",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(
        (
            rejected["status"].as_str(),
            rejected["decision_comment"].as_str()
        ),
        (Some("rejected"), Some("not yet"))
    );
    let ran = april.run(&["requests", "approve", &id]);
    assert_eq!(ran.code, 1, "a decided request: {ran:?}");
    let mut seen = Vec::new();
    while !seen.contains(&"request.rejected".to_owned()) {
        seen.push(next_type());
    }
    assert!(
        seen.contains(&"version.stage_changed".to_owned()),
        "{seen:?}"
    );
    let _ = follow.kill();
    let _ = follow.wait();
}
