//! The write transaction's rules, on the configured backend: a write that
//! appends no event is rolled back, model locks go in id order, effects run
//! only after a commit, and the events a write collects are appended last,
//! in order, on the chain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;
use serde_json::json;

use crate::helpers::spawn_app;
use modelgate::db::event::{EventKind, Subject};
use modelgate::db::schema::registered_models;
use modelgate::db::{self, DbConn};
use modelgate::error::Error;

fn describe(conn: &mut DbConn, name: &str, description: &str) -> usize {
    diesel::update(registered_models::table.filter(registered_models::name.eq(name)))
        .set(registered_models::description.eq(description))
        .execute(conn)
        .unwrap_or_else(|e| panic!("update: {e}"))
}

fn description_of(app: &crate::helpers::TestApp, name: &str) -> Option<String> {
    let mut pooled = app.conn();
    let conn: &mut DbConn = &mut pooled;
    registered_models::table
        .filter(registered_models::name.eq(name))
        .select(registered_models::description)
        .first(conn)
        .unwrap_or_else(|e| panic!("read: {e}"))
}

#[test]
fn a_write_without_an_event_is_rolled_back_with_an_internal_error() {
    let app = spawn_app();
    app.create_model("quiet");
    let before = app.snapshot();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let mut pooled = app.conn();
    let outcome = db::write(&mut pooled, "tester", |tx| {
        assert_eq!(describe(tx.conn(), "quiet", "changed behind the log"), 1);
        tx.after_commit(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        Ok(())
    });
    drop(pooled);
    match outcome {
        Err(Error::Internal { context, .. }) => {
            assert!(context.contains("without an event"), "{context}")
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
    assert_eq!(
        description_of(&app, "quiet"),
        None,
        "the update was rolled back"
    );
    assert_eq!(app.snapshot(), before);
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "no effect runs for a rollback"
    );
}

#[test]
fn a_write_declared_unchanged_commits_without_an_event() {
    let app = spawn_app();
    app.create_model("still");
    let before = app.snapshot();
    let mut pooled = app.conn();
    let answer = db::write(&mut pooled, "tester", |tx| {
        tx.unchanged();
        Ok(7)
    });
    drop(pooled);
    assert_eq!(answer.ok(), Some(7));
    assert_eq!(app.snapshot(), before);
}

#[test]
fn a_write_appends_its_events_last_in_order_and_runs_its_effects_after_commit() {
    let app = spawn_app();
    app.create_model("loud");
    let events_before = app.count("events");
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let mut pooled = app.conn();
    let outcome = db::write(&mut pooled, "tester", |tx| {
        describe(tx.conn(), "loud", "described");
        for n in ["one", "two"] {
            tx.emit(
                Subject::Model("loud"),
                EventKind::ModelUpdated {
                    description: Some(n.to_owned()),
                },
            )?;
        }
        tx.after_commit(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        // nothing is appended before the closure returns
        let appended: i64 = modelgate::db::schema::events::table
            .count()
            .get_result(tx.conn())
            .unwrap_or_else(|e| panic!("count: {e}"));
        Ok(appended)
    });
    drop(pooled);
    assert_eq!(outcome.ok(), Some(events_before));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(description_of(&app, "loud").as_deref(), Some("described"));
    let feed = app.get("/api/v1/events?model=loud").expect(200).clone();
    let payloads: Vec<&serde_json::Value> = feed["events"]
        .as_array()
        .map(|events| events.iter().map(|e| &e["payload"]).collect())
        .unwrap_or_default();
    assert_eq!(payloads.len(), 3, "{feed}");
    assert_eq!(payloads[1], &json!({"description": "one"}));
    assert_eq!(payloads[2], &json!({"description": "two"}));
    assert_eq!(feed["events"][2]["actor"], "tester");
    let mut pooled = app.conn();
    let verified = modelgate::domain::events::verify_chain(&mut pooled)
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert_eq!(verified, Ok(events_before + 2));
}

#[test]
fn model_locks_are_taken_in_id_order() {
    let app = spawn_app();
    app.create_model("first");
    app.create_model("second");
    let before = app.snapshot();
    let mut pooled = app.conn();
    let outcome = db::write(&mut pooled, "tester", |tx| {
        let second = tx.lock_model("second")?.map(|row| row.id);
        assert!(second.is_some());
        tx.lock_model("first")?;
        tx.emit(
            Subject::Model("first"),
            EventKind::ModelUpdated { description: None },
        )
    });
    match outcome {
        Err(Error::Internal { context, .. }) => {
            assert!(context.contains("lock order"), "{context}")
        }
        other => panic!("expected a lock-order refusal, got {other:?}"),
    }
    let ascending = db::write(&mut pooled, "tester", |tx| {
        tx.lock_model("first")?;
        tx.lock_model("second")?;
        tx.unchanged();
        Ok(())
    });
    assert!(ascending.is_ok(), "{ascending:?}");
    drop(pooled);
    assert_eq!(app.snapshot(), before);
}
