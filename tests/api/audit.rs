//! The anchored audit on both databases: the tampering an attacker with
//! write access to the database tried is caught by `audit verify`, through
//! the signed checkpoints and the replay of the events.

use diesel::prelude::*;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use modelgate::auth::audit_key::AuditKey;
use modelgate::db::DbConn;
use modelgate::db::chain::chain_hash;
use modelgate::db::rows::EventRow;
use modelgate::db::schema::{event_chain_head, events};
use modelgate::domain::audit::{self, Checkpoint, Verdict};

fn key(app: &TestApp) -> AuditKey {
    AuditKey::from_settings(&app.settings.audit, &app.settings.data_dir)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn verify(app: &TestApp, kept: &[Checkpoint]) -> Verdict {
    let mut conn = app.conn();
    audit::verify(&mut conn, &key(app), kept).unwrap_or_else(|e| panic!("verify: {e}"))
}

fn tampered(app: &TestApp, kept: &[Checkpoint]) -> String {
    match verify(app, kept) {
        Verdict::Tampered(what) => what,
        intact => panic!("the tampering went unnoticed: {intact:?}"),
    }
}

fn sql(app: &TestApp, statement: &str) {
    let mut pooled = app.conn();
    let conn: &mut DbConn = &mut pooled;
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// A registry with some history, checkpointed.
fn audited_app() -> (TestApp, Checkpoint) {
    let app = spawn_app();
    app.create_model("fraud");
    for version in 1..=3 {
        app.create_version("fraud");
        app.transition("fraud", version, "Staging", false)
            .expect(200);
    }
    app.transition("fraud", 1, "Production", false).expect(200);
    app.put(
        "/api/v1/models/fraud/aliases/champion",
        json!({"version": 1}),
    )
    .expect(200);
    let mut conn = app.conn();
    let checkpoint = audit::checkpoint(&mut conn, &key(&app))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("a checkpoint of a non-empty chain"));
    drop(conn);
    assert!(matches!(
        verify(&app, &[]),
        Verdict::Intact { checkpoints: 1, .. }
    ));
    (app, checkpoint)
}

/// Recomputes every hash after `from` and the head, as a careful forger would.
fn rechain(app: &TestApp) {
    let mut pooled = app.conn();
    let conn: &mut DbConn = &mut pooled;
    let rows: Vec<EventRow> = events::table
        .order(events::id.asc())
        .load(conn)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut prev = "0".repeat(64);
    let mut last_id = 0;
    for mut row in rows {
        row.prev_hash.clone_from(&prev);
        row.hash = chain_hash(&prev, &row);
        diesel::update(events::table.find(row.id))
            .set((
                events::prev_hash.eq(&row.prev_hash),
                events::hash.eq(&row.hash),
            ))
            .execute(conn)
            .unwrap_or_else(|e| panic!("{e}"));
        prev = row.hash;
        last_id = row.id;
    }
    diesel::update(event_chain_head::table)
        .set((
            event_chain_head::last_id.eq(last_id),
            event_chain_head::last_hash.eq(&prev),
        ))
        .execute(conn)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn an_edited_event_rechained_to_the_head_breaks_the_signed_checkpoint() {
    let (app, checkpoint) = audited_app();
    sql(&app, "UPDATE events SET actor = 'mallory' WHERE id = 2");
    rechain(&app);
    let what = tampered(&app, &[]);
    assert!(
        what.contains(&format!("event {}", checkpoint.event_id)),
        "{what}"
    );
    assert!(what.contains("the chain was rewritten"), "{what}");
}

#[test]
fn a_deleted_event_is_caught_whether_or_not_the_chain_is_rewritten() {
    let (app, checkpoint) = audited_app();
    let events = app.count("events");
    // a row from the middle, the rest left as it was
    sql(&app, "DELETE FROM events WHERE id = 3");
    assert_eq!(app.count("events"), events - 1);
    let what = tampered(&app, &[]);
    assert!(what.contains("event 3 is missing (found 4 next)"), "{what}");
    // hashes re-chained over the gap: the gap still shows
    rechain(&app);
    let what = tampered(&app, std::slice::from_ref(&checkpoint));
    assert!(what.contains("event 3 is missing (found 4 next)"), "{what}");
}

#[test]
fn a_cut_tail_with_a_rewritten_head_is_caught_by_a_kept_checkpoint() {
    let (app, checkpoint) = audited_app();
    // the forger also removes the stored checkpoints
    sql(&app, "DELETE FROM audit_checkpoints");
    sql(
        &app,
        &format!("DELETE FROM events WHERE id > {}", checkpoint.event_id - 3),
    );
    rechain(&app);
    // without the kept checkpoint, the replay still tells: the cut events
    // made the tables what they are
    let what = tampered(&app, &[]);
    assert!(what.contains("model 'fraud'"), "{what}");
    let what = tampered(&app, std::slice::from_ref(&checkpoint));
    assert!(what.contains("kept checkpoint"), "{what}");
    assert!(what.contains("is gone"), "{what}");
}

#[test]
fn a_stage_edited_in_the_tables_differs_from_the_replay() {
    let (app, _) = audited_app();
    sql(
        &app,
        "UPDATE model_versions SET current_stage = 'Production' WHERE version = 2",
    );
    let what = tampered(&app, &[]);
    assert!(
        what.contains("model 'fraud' version 2 is in Production, but the events put it in Staging"),
        "{what}"
    );
}

#[test]
fn an_alias_edited_in_the_tables_differs_from_the_replay() {
    let (app, _) = audited_app();
    sql(
        &app,
        "UPDATE registered_model_aliases SET version = 3 WHERE alias = 'champion'",
    );
    let what = tampered(&app, &[]);
    assert!(
        what.contains("alias 'champion' names version 3, but the events say version 1"),
        "{what}"
    );
}

#[test]
fn an_edited_or_deleted_row_of_the_history_index_differs_from_the_replay() {
    let (app, _) = audited_app();
    // champion named version 1: say it named version 3
    sql(
        &app,
        "UPDATE resolution_history SET version = 3 WHERE kind = 'alias' AND label = 'champion'",
    );
    let what = tampered(&app, &[]);
    assert!(
        what.contains("history index") && what.contains("alias 'champion'"),
        "{what}"
    );
    sql(
        &app,
        "UPDATE resolution_history SET version = 1 WHERE kind = 'alias' AND label = 'champion'",
    );
    assert!(matches!(verify(&app, &[]), Verdict::Intact { .. }));
    // hide when fraud got its name
    sql(&app, "DELETE FROM model_names WHERE name = 'fraud'");
    let what = tampered(&app, &[]);
    assert!(
        what.contains("history index, names") && what.contains("'fraud'"),
        "{what}"
    );
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused() {
    let (app, checkpoint) = audited_app();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other =
        AuditKey::from_settings(&app.settings.audit, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let mut forged = checkpoint.clone();
    forged.public_key = other.public_key();
    let what = tampered(&app, &[forged]);
    assert!(what.contains("signed by another key"), "{what}");
    let mut altered = checkpoint;
    altered.event_hash = "0".repeat(64);
    let what = tampered(&app, &[altered]);
    assert!(what.contains("the signature does not match"), "{what}");
}

#[test]
fn the_api_lists_the_checkpoints_for_keeping_elsewhere() {
    let (app, checkpoint) = audited_app();
    let page = app.get("/api/v1/audit/checkpoints").expect(200).clone();
    assert_eq!(
        page["checkpoints"].as_array().map(Vec::len),
        Some(1),
        "{page}"
    );
    assert_eq!(page["checkpoints"][0]["event_id"], checkpoint.event_id);
    assert_eq!(
        page["checkpoints"][0]["signature"],
        checkpoint.signature.as_str()
    );
}

#[test]
fn an_activity_edited_or_deleted_in_the_trail_differs_from_the_replay() {
    let (app, _) = audited_app();
    sql(
        &app,
        "UPDATE activities SET user_name = 'mallory' \
         WHERE activity_type = 'APPLIED_TRANSITION' AND to_stage = 'Production'",
    );
    let what = tampered(&app, &[]);
    assert!(what.contains("model 'fraud' version 1: activity"), "{what}");
    assert!(
        what.contains("APPLIED_TRANSITION Staging -> Production by mallory"),
        "{what}"
    );
    assert!(
        what.contains("the events say APPLIED_TRANSITION Staging -> Production by admin"),
        "{what}"
    );

    sql(
        &app,
        "UPDATE activities SET user_name = 'admin' WHERE user_name = 'mallory'",
    );
    assert!(matches!(verify(&app, &[]), Verdict::Intact { .. }));
    sql(
        &app,
        "DELETE FROM activities WHERE activity_type = 'ALIAS_SET'",
    );
    let what = tampered(&app, &[]);
    assert!(
        what.contains("is missing, but the events say ALIAS_SET by admin"),
        "{what}"
    );
}

#[test]
fn a_history_of_requests_renames_aliases_and_deletions_replays_intact() {
    let app = spawn_app();
    let carl = app.user_token("carl", "contributor");
    let paula = app.user_token("paula", "approver");
    app.create_model("fraud");
    for version in 1..=3 {
        app.create_version("fraud");
        app.transition("fraud", version, "Staging", false)
            .expect(200);
    }
    let open = |version: i64, body: serde_json::Value| {
        app.call_as(
            Some(&carl),
            "POST",
            &format!("/api/v1/models/fraud/versions/{version}/transition-requests"),
            Some(body),
        )
        .expect(201)["id"]
            .as_i64()
            .unwrap_or_default()
    };
    let decide = |id: i64, verb: &str, token: &str| {
        app.call_as(
            Some(token),
            "POST",
            &format!("/api/v1/transition-requests/{id}/{verb}"),
            None,
        )
        .expect(200);
    };
    decide(open(1, json!({"stage": "Production"})), "approve", &paula);
    decide(
        open(
            2,
            json!({"stage": "Production", "archive_existing_versions": true}),
        ),
        "approve",
        &paula,
    );
    decide(open(3, json!({"stage": "Production"})), "reject", &paula);
    decide(open(3, json!({"stage": "Archived"})), "cancel", &carl);
    decide(open(2, json!({"alias": "champion"})), "approve", &paula);
    app.put(
        "/api/v1/models/fraud/aliases/champion",
        json!({"version": 1}),
    )
    .expect(200);
    app.delete("/api/v1/models/fraud/aliases/champion")
        .expect(204);
    app.patch("/api/v1/models/fraud", json!({"name": "fraud-2"}))
        .expect(200);
    app.delete("/api/v1/models/fraud-2/versions/3").expect(204);
    app.create_model("gone");
    app.create_version("gone");
    app.delete("/api/v1/models/gone").expect(204);
    assert!(
        matches!(verify(&app, &[]), Verdict::Intact { .. }),
        "{:?}",
        verify(&app, &[])
    );
}

#[test]
fn the_server_checkpoints_every_n_events_and_at_shutdown() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (database, url) = crate::helpers::create_database(dir.path());
    let mut settings = crate::helpers::test_settings(dir.path(), &url, "");
    settings.audit.checkpoint_every_events = 3;
    let app = crate::helpers::start(settings, Some(database), Some(dir));
    app.create_model("fraud");
    for _ in 0..3 {
        app.create_version("fraud");
    }
    // the checkpointer looks once a second: wait for it, failing loudly
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let covered = loop {
        let page = app.get("/api/v1/audit/checkpoints").expect(200).clone();
        if let Some(last) = page["checkpoints"].as_array().and_then(|c| c.last()) {
            break last["event_id"].as_i64().unwrap_or_default();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint 20 s after 4 events: {page}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(covered >= 3, "checkpointed event {covered}");
    assert!(matches!(verify(&app, &[]), Verdict::Intact { .. }));

    // one more event, fewer than 3: only the shutdown checkpoints it
    app.create_version("fraud");
    let head = app.count("events");
    let app = app.restart();
    let page = app.get("/api/v1/audit/checkpoints").expect(200).clone();
    let last = page["checkpoints"]
        .as_array()
        .and_then(|c| c.last())
        .map(|c| c["event_id"].as_i64().unwrap_or_default());
    assert_eq!(last, Some(head), "{page}");
}

#[test]
fn a_payload_rewritten_into_another_shape_and_rechained_is_tampering_not_a_fault() {
    let app = spawn_app();
    app.create_model("fraud");
    app.create_version("fraud");
    app.transition("fraud", 1, "Staging", false).expect(200);
    sql(
        &app,
        "UPDATE events SET payload = '{\"moved\": true}' WHERE event_type = 'version.stage_changed'",
    );
    rechain(&app);
    let what = tampered(&app, &[]);
    assert!(what.contains("does not read as its kind"), "{what}");
}
