//! A database the first release made opens with this one. The fixtures
//! (`tests/fixtures/first_release.{sqlite,postgres}.sql`) are dumps of what
//! the first release's own binary (commit 942dd11, before identity existed)
//! wrote when driven through every change it could make: every kind of
//! event it had, in its own key order and without the fields added since.
//! Loaded into a fresh database, the server migrates it, the chain's hashes
//! still hold over the stored bytes, every event parses as the vocabulary's
//! kind, the audit's replay and the rebuilt history index agree with the
//! tables, and the models it held are served.

use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::helpers::{TestDb, create_database, start, test_settings};
use modelgate::db::event::EventKind;
use modelgate::db::{ConnectionManager, DbUrl};

fn first_release_app() -> crate::helpers::TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (db, url) = create_database(dir.path());
    let dump = match db {
        TestDb::Sqlite => include_str!("../fixtures/first_release.sqlite.sql"),
        TestDb::Postgres { .. } => include_str!("../fixtures/first_release.postgres.sql"),
    };
    let parsed = DbUrl::parse(&url).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = ConnectionManager::new(parsed, 5000)
        .establish()
        .unwrap_or_else(|e| panic!("{e}"));
    conn.batch_execute(dump)
        .unwrap_or_else(|e| panic!("loading the first release's dump: {e}"));
    drop(conn);
    start(test_settings(dir.path(), &url, ""), Some(db), Some(dir))
}

#[test]
fn a_database_the_first_release_made_migrates_verifies_and_serves() {
    let app = first_release_app();
    let rows = app.event_rows();
    let mut conn = app.conn();
    // what the first release wrote, and the admin this one made on start
    let kinds: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.event_type.as_str()).collect();
    for kind in [
        "model.created",
        "model.updated",
        "model.renamed",
        "model.deleted",
        "model.tag_set",
        "model.tag_deleted",
        "version.created",
        "version.updated",
        "version.deleted",
        "version.tag_set",
        "version.tag_deleted",
        "version.stage_changed",
        "alias.set",
        "alias.deleted",
        "user.created",
    ] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }
    for row in &rows {
        let kind = EventKind::of(row).unwrap_or_else(|e| panic!("event {}: {e}", row.id));
        assert_eq!(kind.kind(), row.event_type, "event {}", row.id);
    }
    // both shapes of a stage move: a caller's and the server's archiving
    assert!(
        rows.iter()
            .any(|r| r.event_type == "version.stage_changed"
                && r.payload.contains("\"system\":true")),
        "no system move in the fixture"
    );
    let verified =
        modelgate::domain::events::verify_chain(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified, Ok(i64::try_from(rows.len()).unwrap_or_default()));
    drop(conn);
    app.assert_audit_intact();

    // served as it was left: renamed, version 2 in Production under its alias
    app.get("/api/v1/models/fraud-detector").expect(404);
    app.get("/api/v1/models/churn").expect(404);
    let model = app.get("/api/v1/models/fraud-scorer").expect(200).clone();
    assert_eq!(model["description"], "Flags risky card payments", "{model}");
    assert_eq!(model["tags"], json!({"team": "risk"}), "{model}");
    assert_eq!(
        app.stages("fraud-scorer"),
        vec![(1, "Archived".to_owned()), (2, "Production".to_owned())]
    );
    let champion = app
        .get("/api/v1/models/fraud-scorer/aliases/champion")
        .expect(200)
        .clone();
    assert_eq!(champion["version"], 2, "{champion}");
    // the history index was built from the old chain at start
    let history = app
        .get("/api/v1/models/fraud-scorer/history")
        .expect(200)
        .clone();
    assert_eq!(history["stages"][0]["stage"], "Production", "{history}");
    // and the old database takes new writes, which verify too
    app.transition("fraud-scorer", 1, "Staging", false)
        .expect(200);
    app.assert_audit_intact();
}
