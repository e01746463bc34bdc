//! The pipeline side, end to end with the real binary: `promote` opens a
//! request, `gate --wait` blocks until it is decided, with the documented
//! exit codes.

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

/// Starts `gate --wait 60s`, checks that it blocks, runs `decide`, and
/// returns the gate's exit code, its stderr and how long it took after the decision.
fn gate_across(
    app: &TestApp,
    pipeline: &str,
    version: &str,
    decide: impl FnOnce(),
) -> (i32, String, Duration) {
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
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "gate returned before the request was decided"
    );
    decide();
    let decided = Instant::now();
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("gate: {e}"));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        decided.elapsed(),
    )
}

#[test]
fn the_gate_opens_when_an_approver_approves() {
    let (app, pipeline, approver) = setup();
    let (version, request) = promote_to_production(&app, &pipeline);
    let (code, progress, after) = gate_across(&app, &pipeline, &version, || {
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
    assert!(
        after < Duration::from_secs(10),
        "the gate noticed within its polling interval"
    );
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
    let (code, progress, _) = gate_across(&app, &pipeline, &version, || {
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
    assert_eq!(code, 3);
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
