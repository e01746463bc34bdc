//! History at any instant: `GET /api/v1/models/{name}/history?at=T` and
//! `modelgate history`, on both databases. Each step of a model's life is
//! asked about at its own instant, and the answer must be the state after
//! that step (and after any other step in the same millisecond); the index
//! the writes keep must equal the one rebuilt from the event chain.

use std::collections::BTreeMap;
use std::process::Command;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, enc, spawn_app};
use modelgate::db::DbConn;
use modelgate::db::history;
use modelgate::db::schema::events;

/// What the test expects a name to resolve to: stages and aliases.
type State = (BTreeMap<String, i64>, BTreeMap<String, i64>);

/// A step of the model's life: the event it ended with (id, timestamp,
/// hash) and what each name resolved to after it.
type Step = ((i64, i64, String), BTreeMap<&'static str, State>);

/// The newest event: (id, timestamp, hash).
fn last_event(app: &TestApp) -> (i64, i64, String) {
    let mut pooled = app.conn();
    let conn: &mut DbConn = &mut pooled;
    events::table
        .order(events::id.desc())
        .select((events::id, events::timestamp, events::hash))
        .first(conn)
        .unwrap_or_else(|e| panic!("last event: {e}"))
}

fn history_at(app: &TestApp, name: &str, at: &str) -> crate::helpers::TestResponse {
    app.get(&format!(
        "/api/v1/models/{}/history?at={}",
        enc(name),
        enc(at)
    ))
}

/// The stages and aliases of an answer.
fn resolved(body: &Value) -> State {
    let pairs = |list: &Value, key: &str| -> BTreeMap<String, i64> {
        list.as_array()
            .unwrap_or_else(|| panic!("a list in {body}"))
            .iter()
            .map(|held| {
                (
                    held[key].as_str().unwrap_or_default().to_owned(),
                    held["version"].as_i64().unwrap_or_default(),
                )
            })
            .collect()
    };
    (
        pairs(&body["stages"], "stage"),
        pairs(&body["aliases"], "alias"),
    )
}

fn state(stages: &[(&str, i64)], aliases: &[(&str, i64)]) -> State {
    let own = |pairs: &[(&str, i64)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    (own(stages), own(aliases))
}

/// The index as stored: (names, resolutions).
fn index(app: &TestApp) -> (Vec<history::NameSpan>, Vec<history::Resolution>) {
    let mut pooled = app.conn();
    history::stored(&mut pooled).unwrap_or_else(|e| panic!("{e}"))
}

/// Empties the history index, as in a database written before it existed.
fn empty_index(conn: &mut DbConn) {
    for table in ["model_names", "resolution_history"] {
        diesel::sql_query(format!("DELETE FROM {table}"))
            .execute(conn)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn each_instant_answers_what_every_stage_and_alias_of_a_name_resolved_to() {
    let app = spawn_app();
    // (what was done, then: the event it ended with, and what each name resolved to)
    let mut steps: Vec<Step> = Vec::new();
    let mut record = |app: &TestApp, names: &[(&'static str, State)]| {
        steps.push((last_event(app), names.iter().cloned().collect()));
        steps.len() - 1
    };
    let empty = state(&[], &[]);
    app.create_model("fraud");
    record(&app, &[("fraud", empty.clone())]);
    app.create_version("fraud");
    record(&app, &[("fraud", state(&[("None", 1)], &[]))]);
    app.create_version("fraud");
    record(&app, &[("fraud", state(&[("None", 2)], &[]))]);
    app.transition("fraud", 1, "Staging", false).expect(200);
    record(
        &app,
        &[("fraud", state(&[("None", 2), ("Staging", 1)], &[]))],
    );
    app.transition("fraud", 1, "Production", false).expect(200);
    record(
        &app,
        &[("fraud", state(&[("None", 2), ("Production", 1)], &[]))],
    );
    app.put(
        "/api/v1/models/fraud/aliases/champion",
        json!({"version": 1}),
    )
    .expect(200);
    let live = state(&[("None", 2), ("Production", 1)], &[("champion", 1)]);
    record(&app, &[("fraud", live)]);
    app.transition("fraud", 2, "Staging", false).expect(200);
    let staged = state(&[("Staging", 2), ("Production", 1)], &[("champion", 1)]);
    record(&app, &[("fraud", staged)]);
    app.transition("fraud", 2, "Production", true).expect(200);
    let promoted = state(&[("Production", 2), ("Archived", 1)], &[("champion", 1)]);
    let promotion = record(&app, &[("fraud", promoted)]);
    app.put(
        "/api/v1/models/fraud/aliases/champion",
        json!({"version": 2}),
    )
    .expect(200);
    let serving = state(&[("Production", 2), ("Archived", 1)], &[("champion", 2)]);
    let before_rename = record(&app, &[("fraud", serving.clone())]);
    app.patch("/api/v1/models/fraud", json!({"name": "fraud-old"}))
        .expect(200);
    record(&app, &[("fraud-old", serving.clone())]);
    app.create_model("fraud");
    record(
        &app,
        &[("fraud-old", serving.clone()), ("fraud", empty.clone())],
    );
    app.create_version("fraud");
    let newcomer = state(&[("None", 1)], &[]);
    let newcomer_step = record(&app, &[("fraud-old", serving), ("fraud", newcomer.clone())]);
    // the version that held Production and champion goes: both resolve to nothing
    app.delete("/api/v1/models/fraud-old/versions/2")
        .expect(204);
    let archived = state(&[("Archived", 1)], &[]);
    record(
        &app,
        &[("fraud-old", archived), ("fraud", newcomer.clone())],
    );
    app.delete("/api/v1/models/fraud-old").expect(204);
    record(&app, &[("fraud", newcomer)]);

    // Every step, asked about at its instant, answers the state after the
    // last step of that millisecond.
    for (i, ((_, ts, _), _)) in steps.iter().enumerate() {
        let last_of_ms = steps
            .iter()
            .rposition(|((_, t, _), _)| t == ts)
            .unwrap_or(i);
        let expected = &steps[last_of_ms].1;
        for name in ["fraud", "fraud-old"] {
            let response = history_at(&app, name, &ts.to_string());
            match expected.get(name) {
                Some(want) => {
                    let body = response.expect(200);
                    assert_eq!(&resolved(body), want, "{name} after step {i}: {body}");
                    assert_eq!(body["at"], json!(ts), "{body}");
                }
                None => {
                    let message = response.expect_error(404, "RESOURCE_DOES_NOT_EXIST");
                    assert!(
                        message.contains(&format!("no registered model was named '{name}'")),
                        "{message}"
                    );
                }
            }
        }
    }
    // Before the first event nothing was named fraud.
    let first = steps[0].0.1;
    history_at(&app, "fraud", &(first - 1).to_string())
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");

    // Each entry names the event that made it so, with its chain hash: the
    // promotion's last event moved version 2 into Production, its first
    // archived version 1 (the steps after it in the same millisecond, if
    // any, touch neither stage).
    let ((promoted_id, promoted_ts, promoted_hash), _) = &steps[promotion];
    let body = history_at(&app, "fraud", &promoted_ts.to_string())
        .expect(200)
        .clone();
    {
        let production = &body["stages"][0];
        assert_eq!(production["stage"], "Production", "{body}");
        assert_eq!(production["event_id"], json!(promoted_id), "{body}");
        assert_eq!(production["event_hash"], json!(promoted_hash), "{body}");
        assert_eq!(production["event_type"], "version.stage_changed", "{body}");
        assert_eq!(production["since"], json!(promoted_ts), "{body}");
        let archived = &body["stages"][1];
        assert_eq!(archived["stage"], "Archived", "{body}");
        assert!(archived["event_id"].as_i64() < Some(*promoted_id), "{body}");
    }

    // The name as it was then; the model is called something else now, or
    // nothing once deleted. RFC 3339 and milliseconds name the same instant.
    let renamed_at = steps[before_rename].0.1;
    let rfc3339 = modelgate::domain::history::format_instant(renamed_at);
    let by_time = history_at(&app, "fraud", &rfc3339).expect(200).clone();
    let by_ms = history_at(&app, "fraud", &renamed_at.to_string())
        .expect(200)
        .clone();
    assert_eq!(by_time, by_ms);
    assert_eq!(by_time["current_name"], Value::Null, "{by_time}");
    assert_eq!(by_time["at_time"], json!(rfc3339), "{by_time}");
    let newcomer_ts = steps[newcomer_step].0.1.to_string();
    let now = history_at(&app, "fraud", &newcomer_ts).expect(200).clone();
    assert_eq!(now["current_name"], "fraud", "{now}");
    // without `at`: now
    let current = app.get("/api/v1/models/fraud/history").expect(200).clone();
    assert_eq!(resolved(&current), state(&[("None", 1)], &[]), "{current}");

    // The index the writes kept is the one the event chain alone rebuilds.
    let kept = index(&app);
    assert!(!kept.0.is_empty() && !kept.1.is_empty(), "{kept:?}");
    {
        let mut pooled = app.conn();
        let conn: &mut DbConn = &mut pooled;
        empty_index(conn);
        let written = history::rebuild_if_empty(conn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, kept.0.len() + kept.1.len());
    }
    assert_eq!(index(&app), kept);
}

#[test]
fn a_restart_builds_the_index_of_a_database_written_before_it_existed() {
    let app = spawn_app();
    app.create_model("churn");
    let version = app.create_version("churn");
    app.transition("churn", version, "Staging", false)
        .expect(200);
    let kept = index(&app);
    let before = app.get("/api/v1/models/churn/history").expect(200).clone();
    {
        let mut pooled = app.conn();
        let conn: &mut DbConn = &mut pooled;
        empty_index(conn);
    }
    let app = app.restart();
    assert_eq!(index(&app), kept);
    let after = app.get("/api/v1/models/churn/history").expect(200).clone();
    assert_eq!(resolved(&after), resolved(&before));
    assert_eq!(resolved(&after), state(&[("Staging", 1)], &[]));
}

#[test]
fn a_bad_instant_or_parameter_is_refused_and_any_role_may_read() {
    let app = spawn_app();
    app.create_model("churn");
    for bad in [
        "yesterday",
        "-1",
        "2026-11-30",
        "1.5",
        "99999999999999999999",
    ] {
        let message = history_at(&app, "churn", bad).expect_error(400, "INVALID_PARAMETER_VALUE");
        assert!(message.contains("is not an instant"), "{bad}: {message}");
    }
    app.get("/api/v1/models/churn/history?when=now")
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    history_at(&app, "no-such-model", "0").expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    let viewer = app.user_token("vera", "viewer");
    let response = app.call_as(Some(&viewer), "GET", "/api/v1/models/churn/history", None);
    assert_eq!(response.expect(200)["name"], "churn");
    app.call_as(None, "GET", "/api/v1/models/churn/history", None)
        .expect_error(401, "UNAUTHENTICATED");
}

#[test]
fn the_command_line_prints_the_history_at_an_instant() {
    let app = spawn_app();
    app.create_model("churn");
    let version = app.create_version("churn");
    app.transition("churn", version, "Staging", false)
        .expect(200);
    let (_, staged_at, hash) = last_event(&app);
    app.transition("churn", version, "Archived", false)
        .expect(200);
    let (_, archived_at, _) = last_event(&app);
    let token = app.user_token("vera", "viewer");
    let output = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args([
            "history",
            "churn",
            "--at",
            &modelgate::domain::history::format_instant(staged_at),
        ])
        .env("MODELGATE_URL", &app.address)
        .env("MODELGATE_TOKEN", &token)
        .output()
        .unwrap_or_else(|e| panic!("run modelgate: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    // the archival may share the millisecond; then that is the answer
    let want = if archived_at == staged_at {
        "Archived"
    } else {
        "Staging"
    };
    assert_eq!(body["stages"][0]["stage"], want, "{body}");
    if want == "Staging" {
        assert_eq!(body["stages"][0]["event_hash"], json!(hash), "{body}");
    }
    // for people: every instant as RFC 3339, none as milliseconds
    let output = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(["history", "churn", "--output", "table"])
        .env("MODELGATE_URL", &app.address)
        .env("MODELGATE_TOKEN", &token)
        .output()
        .unwrap_or_else(|e| panic!("run modelgate: {e}"));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    let since = modelgate::domain::history::format_instant(archived_at);
    assert!(table.contains(&format!("since={since}")), "{table}");
    assert!(!table.contains(&archived_at.to_string()), "{table}");
    let output = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(["history", "churn", "--at", "soon"])
        .env("MODELGATE_URL", &app.address)
        .env("MODELGATE_TOKEN", &token)
        .output()
        .unwrap_or_else(|e| panic!("run modelgate: {e}"));
    // the server refuses the instant: exit 1
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not an instant"), "{stderr}");
}
