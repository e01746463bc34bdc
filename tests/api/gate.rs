//! The pipeline side, end to end with the real binary: `promote` opens a
//! request, `gate --wait` blocks until it is decided, with the documented
//! exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn modelgate(app: &TestApp, token: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modelgate"));
    command
        .args(args)
        .env("MODELGATE_URL", &app.address)
        .env("MODELGATE_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(app: &TestApp, token: &str, args: &[&str]) -> (i32, Value, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = modelgate(app, token, args)
        .output()
        .unwrap_or_else(|e| panic!("run modelgate: {e}"));
    (
        status.code().unwrap_or(-1),
        serde_json::from_slice(&stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn setup() -> (TestApp, String, String) {
    let app = spawn_app();
    let pipeline = app.user_token("ci-bot", "contributor");
    let approver = app.user_token("april", "approver");
    app.create_model("churn");
    (app, pipeline, approver)
}

/// Registers a version, stages it with `promote`, and asks for Production.
fn promote_to_production(app: &TestApp, pipeline: &str) -> (String, Value) {
    let version = app.create_version("churn").to_string();
    let (code, moved, errors) = run(
        app,
        pipeline,
        &["promote", "churn", &version, "--to", "Staging"],
    );
    assert_eq!(code, 0, "{errors}");
    assert_eq!(moved["action"], "moved");
    assert_eq!(moved["model_version"]["current_stage"], "Staging");
    let (code, requested, errors) = run(
        app,
        pipeline,
        &[
            "promote",
            "churn",
            &version,
            "--to",
            "Production",
            "--archive-existing",
            "--comment",
            "CI run 42",
        ],
    );
    assert_eq!(code, 0, "{errors}");
    assert_eq!(requested["action"], "requested");
    assert_eq!(requested["request"]["status"], "pending");
    assert_eq!(requested["request"]["comment"], "CI run 42");
    assert_eq!(requested["request"]["archive_existing_versions"], true);
    (version, requested["request"]["id"].clone())
}

/// Starts `gate --wait 60s`, waits (failing loudly after 30 s) until it
/// reports that it is waiting for the request, runs `decide`, and returns the
/// gate's exit code and everything it wrote to stderr.
fn gate_across(
    app: &TestApp,
    pipeline: &str,
    version: &str,
    decide: impl FnOnce(),
) -> (i32, String) {
    let mut child = modelgate(
        app,
        pipeline,
        &[
            "gate",
            "churn",
            version,
            "--stage",
            "Production",
            "--wait",
            "60s",
        ],
    )
    .spawn()
    .unwrap_or_else(|e| panic!("spawn gate: {e}"));
    let stderr = child
        .stderr
        .take()
        .unwrap_or_else(|| panic!("the gate's stderr is piped"));
    let (lines, received) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut progress = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !progress.contains("waiting for request") {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => progress.push_str(&format!("{line}\n")),
            Err(_) => panic!("the gate said nothing about waiting within 30 s: {progress}"),
        }
    }
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "gate returned before the request was decided: {progress}"
    );
    decide();
    let status = child.wait().unwrap_or_else(|e| panic!("gate: {e}"));
    reader
        .join()
        .unwrap_or_else(|_| panic!("the stderr reader panicked"));
    progress.extend(received.try_iter().map(|line| format!("{line}\n")));
    (status.code().unwrap_or(-1), progress)
}

#[test]
fn the_gate_opens_when_an_approver_approves() {
    let (app, pipeline, approver) = setup();
    let (version, request) = promote_to_production(&app, &pipeline);
    let (code, progress) = gate_across(&app, &pipeline, &version, || {
        let (code, approved, errors) = run(
            &app,
            &approver,
            &[
                "requests",
                "approve",
                &request.to_string(),
                "--comment",
                "ship it",
            ],
        );
        assert_eq!(code, 0, "{errors}");
        assert_eq!(approved["status"], "applied");
    });
    assert_eq!(code, 0, "{progress}");
    assert!(progress.contains("0/1 approvals"), "{progress}");
    assert_eq!(
        app.get(&format!("/api/v1/models/churn/versions/{version}"))
            .expect(200)["current_stage"],
        "Production"
    );
    // once there, the gate passes at once
    let (code, _, _) = run(
        &app,
        &pipeline,
        &["gate", "churn", &version, "--stage", "Production"],
    );
    assert_eq!(code, 0);
}

#[test]
fn the_gate_exits_1_when_the_request_is_rejected() {
    let (app, pipeline, approver) = setup();
    let (version, request) = promote_to_production(&app, &pipeline);
    let (code, progress) = gate_across(&app, &pipeline, &version, || {
        let (code, _, errors) = run(
            &app,
            &approver,
            &["requests", "reject", &request.to_string()],
        );
        assert_eq!(code, 0, "{errors}");
    });
    assert_eq!(code, 1, "{progress}");
    assert!(progress.contains("rejected by april"), "{progress}");
}

#[test]
fn the_gate_exits_1_without_a_request_and_2_when_the_wait_runs_out() {
    let (app, pipeline, _) = setup();
    let version = app.create_version("churn").to_string();
    let (code, _, errors) = run(
        &app,
        &pipeline,
        &["gate", "churn", &version, "--stage", "Production"],
    );
    assert_eq!(code, 1, "{errors}");
    assert!(errors.contains("no request"), "{errors}");

    let (version, _) = promote_to_production(&app, &pipeline);
    let started = Instant::now();
    let (code, _, errors) = run(
        &app,
        &pipeline,
        &[
            "gate",
            "churn",
            &version,
            "--stage",
            "Production",
            "--wait",
            "2s",
        ],
    );
    assert_eq!(code, 2, "{errors}");
    assert!(errors.contains("still pending"), "{errors}");
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn the_gate_exits_3_on_a_missing_model_a_bad_token_or_no_server() {
    let (app, pipeline, _) = setup();
    let (code, _, errors) = run(
        &app,
        &pipeline,
        &["gate", "ghost", "1", "--stage", "Production"],
    );
    assert_eq!(code, 3, "{errors}");
    assert!(errors.contains("RESOURCE_DOES_NOT_EXIST"), "{errors}");
    let (code, _, errors) = run(
        &app,
        "not-a-token",
        &["gate", "churn", "1", "--stage", "Production"],
    );
    assert_eq!(code, 3, "{errors}");
    assert!(errors.contains("UNAUTHENTICATED"), "{errors}");
    let (code, _, _) = run(&app, "", &["gate", "churn", "1", "--stage", "Production"]);
    assert_eq!(code, 3);
    let output = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args([
            "gate",
            "churn",
            "1",
            "--stage",
            "Production",
            "--url",
            "http://127.0.0.1:9",
            "--token",
            &pipeline,
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn requests_can_be_listed_and_cancelled_from_the_command_line() {
    let (app, pipeline, _) = setup();
    let (_, request) = promote_to_production(&app, &pipeline);
    let (code, listed, errors) = run(
        &app,
        &pipeline,
        &[
            "requests", "list", "--status", "pending", "--model", "churn",
        ],
    );
    assert_eq!(code, 0, "{errors}");
    assert_eq!(listed["requests"][0]["id"], request);
    let (code, cancelled, errors) = run(
        &app,
        &pipeline,
        &["requests", "cancel", &request.to_string()],
    );
    assert_eq!(code, 0, "{errors}");
    assert_eq!(cancelled["status"], "cancelled");
    let (code, _, errors) = run(
        &app,
        &pipeline,
        &["requests", "cancel", &request.to_string()],
    );
    // refused by the server: exit 1
    assert_eq!(code, 1);
    assert!(errors.contains("CONFLICT"), "{errors}");
    assert_eq!(
        app.post("/api/v1/models", json!({"name": "x"})).status,
        201,
        "the server is still fine"
    );
}

#[test]
fn a_gate_usage_error_exits_3_not_2() {
    let (app, pipeline, _) = setup();
    let (code, _, errors) = run(
        &app,
        &pipeline,
        &[
            "gate",
            "churn",
            "1",
            "--stage",
            "Production",
            "--wait",
            "2hours",
        ],
    );
    assert_eq!(code, 3, "{errors}");
    let (code, _, errors) = run(&app, &pipeline, &["gate", "churn", "1"]);
    assert_eq!(code, 3, "{errors}");
}

/// `gate` without `--wait` on a version whose newest request for the stage
/// is no longer pending: exit code and stderr.
fn gate_now(app: &TestApp, pipeline: &str, version: &str) -> (i32, String) {
    let (code, _, errors) = run(
        app,
        pipeline,
        &["gate", "churn", version, "--stage", "Production"],
    );
    (code, errors)
}

#[test]
fn the_gate_exits_1_for_a_cancelled_a_stale_and_an_applied_then_moved_request() {
    let (app, pipeline, approver) = setup();

    // cancelled by its requester
    let (cancelled, request) = promote_to_production(&app, &pipeline);
    let (code, _, errors) = run(
        &app,
        &pipeline,
        &["requests", "cancel", &request.to_string()],
    );
    assert_eq!(code, 0, "{errors}");
    let (code, errors) = gate_now(&app, &pipeline, &cancelled);
    assert_eq!(code, 1, "{errors}");
    assert!(
        errors.contains(&format!("request {request} was cancelled by ci-bot")),
        "{errors}"
    );

    // stale: another version moved into Staging archiving the existing ones
    let (stale, request) = promote_to_production(&app, &pipeline);
    let other = app.create_version("churn");
    app.transition("churn", other, "Staging", true).expect(200);
    assert_eq!(
        app.stage("churn", stale.parse().unwrap_or_default()),
        "Archived"
    );
    let (code, errors) = gate_now(&app, &pipeline, &stale);
    assert_eq!(code, 1, "{errors}");
    assert!(
        errors.contains(&format!("request {request} went stale")),
        "{errors}"
    );

    // applied, then moved on by someone else
    let (moved, request) = promote_to_production(&app, &pipeline);
    let (code, approved, errors) = run(
        &app,
        &approver,
        &["requests", "approve", &request.to_string()],
    );
    assert_eq!(code, 0, "{errors}");
    assert_eq!(approved["status"], "applied");
    assert_eq!(gate_now(&app, &pipeline, &moved).0, 0);
    app.transition(
        "churn",
        moved.parse().unwrap_or_default(),
        "Archived",
        false,
    )
    .expect(200);
    let (code, errors) = gate_now(&app, &pipeline, &moved);
    assert_eq!(code, 1, "{errors}");
    assert!(
        errors.contains(&format!(
            "request {request} was applied, but churn version {moved} has since moved to Archived"
        )),
        "{errors}"
    );
}
