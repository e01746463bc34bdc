//! The snapshot that every "a refused request changes nothing" check compares:
//! it holds every table of the schema, and it sees a changed value in any of
//! them, not only a changed number of rows.

use diesel::prelude::*;
use serde_json::json;

use crate::helpers::{TestApp, schema_tables, spawn_app};
use modelgate::db::DbConn;

/// Diesel's own bookkeeping of the applied migrations, a table of the
/// database that `schema.rs` does not declare.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

#[test]
fn the_snapshot_holds_every_table_of_the_schema_and_nothing_else() {
    let app = spawn_app();
    let schema = schema_tables();
    for table in [
        "users",
        "api_tokens",
        "stage_clearances",
        "event_chain_head",
    ] {
        assert!(schema.contains(&table.to_owned()), "{table} in {schema:?}");
    }
    let mut expected = schema;
    expected.push(MIGRATIONS_TABLE.to_owned());
    expected.sort();
    assert_eq!(app.snapshot().table_names(), expected);
}

/// Writes a row into every table through the API.
fn fill_every_table(app: &TestApp) {
    let carol = app.user_token("carol", "contributor");
    let april = app.user_token("april", "approver");
    app.create_model("m");
    app.put("/api/v1/models/m/tags/team", json!({"value": "risk"}))
        .expect(200);
    for version in 1..=2 {
        assert_eq!(app.create_version("m"), version);
        app.put(
            &format!("/api/v1/models/m/versions/{version}/tags/framework"),
            json!({"value": "sklearn"}),
        )
        .expect(200);
        app.transition("m", version, "Staging", false).expect(200);
    }
    app.put("/api/v1/models/m/aliases/candidate", json!({"version": 2}))
        .expect(200);
    app.post("/api/v1/tokens", json!({"name": "ci", "username": "carol"}))
        .expect(201);
    let request = app
        .call_as(
            Some(&carol),
            "POST",
            "/api/v1/models/m/versions/2/transition-requests",
            Some(json!({"stage": "Production", "comment": "ready"})),
        )
        .expect(201)
        .clone();
    app.call_as(
        Some(&april),
        "POST",
        &format!("/api/v1/transition-requests/{}/approve", request["id"]),
        Some(json!({"comment": "approved"})),
    )
    .expect(200);
    assert_eq!(
        app.stages("m"),
        vec![(1, "Staging".to_owned()), (2, "Production".to_owned())]
    );
    let key = modelgate::auth::audit_key::AuditKey::from_settings(
        &app.settings.audit,
        &app.settings.data_dir,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut conn = app.conn();
    // a subscription (disabled: nothing is sent) and a delivery of it
    let webhook = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://hooks.invalid/in", "events": ["*"], "enabled": false}),
        )
        .expect(201)["id"]
        .clone();
    app.execute(&format!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, message_id, state, attempts, \
         next_attempt_at, creation_timestamp) VALUES ({webhook}, 1, 'msg_1', 'failed', 1, 0, 0)"
    ));
    // a web UI session (what signing in to the UI stores)
    let admin: i64 = modelgate::db::schema::users::table
        .filter(modelgate::db::schema::users::username.eq("admin"))
        .select(modelgate::db::schema::users::id)
        .first(&mut *conn)
        .unwrap_or_else(|e| panic!("{e}"));
    let whose = modelgate::domain::sessions::SessionUser {
        user_id: admin,
        generation: 0,
    };
    modelgate::domain::sessions::start(&mut conn, whose, 3600).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        modelgate::domain::audit::checkpoint(&mut conn, &key)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some(),
        "a checkpoint"
    );
}

#[test]
fn the_snapshot_sees_a_changed_value_in_every_table() {
    let app = spawn_app();
    fill_every_table(&app);
    // one in-place change per table: the rows change, their number does not
    let changes = [
        (
            "registered_models",
            "UPDATE registered_models SET description = COALESCE(description, '') || '!'",
        ),
        (
            "registered_model_tags",
            "UPDATE registered_model_tags SET value = value || '!'",
        ),
        (
            "model_versions",
            "UPDATE model_versions SET description = COALESCE(description, '') || '!'",
        ),
        (
            "model_version_tags",
            "UPDATE model_version_tags SET value = value || '!'",
        ),
        (
            "registered_model_aliases",
            "UPDATE registered_model_aliases SET version = version + 100",
        ),
        (
            "activities",
            "UPDATE activities SET comment = COALESCE(comment, '') || '!'",
        ),
        ("events", "UPDATE events SET actor = actor || '!'"),
        (
            "event_chain_head",
            "UPDATE event_chain_head SET last_hash = last_hash || '!'",
        ),
        (
            "users",
            "UPDATE users SET last_updated_timestamp = last_updated_timestamp + 1",
        ),
        ("api_tokens", "UPDATE api_tokens SET name = name || '!'"),
        (
            "transition_requests",
            "UPDATE transition_requests SET comment = COALESCE(comment, '') || '!'",
        ),
        (
            "request_approvals",
            "UPDATE request_approvals SET comment = COALESCE(comment, '') || '!'",
        ),
        (
            "stage_clearances",
            "UPDATE stage_clearances SET version = version + 100",
        ),
        (
            "deployment_keys",
            "UPDATE deployment_keys SET fingerprint = fingerprint || '!'",
        ),
        (
            "audit_checkpoints",
            "UPDATE audit_checkpoints SET signature = signature || '!'",
        ),
        ("model_names", "UPDATE model_names SET name = name || '!'"),
        (
            "ui_sessions",
            "UPDATE ui_sessions SET expires_at = expires_at + 1",
        ),
        (
            "webhooks",
            "UPDATE webhooks SET description = COALESCE(description, '') || '!'",
        ),
        (
            "webhook_deliveries",
            "UPDATE webhook_deliveries SET attempts = attempts + 1",
        ),
        (
            "webhook_cursor",
            "UPDATE webhook_cursor SET last_event_id = last_event_id + 1",
        ),
        (
            "resolution_history",
            "UPDATE resolution_history SET event_id = event_id + 100",
        ),
        (
            MIGRATIONS_TABLE,
            "UPDATE __diesel_schema_migrations SET version = version || '!'",
        ),
    ];
    let mut tried: Vec<&str> = changes.iter().map(|(table, _)| *table).collect();
    tried.sort_unstable();
    let mut before = app.snapshot();
    assert_eq!(tried, before.table_names(), "a change for every table");

    for (table, change) in changes {
        assert!(!before.tables[table].is_empty(), "{table} has rows");
        let changed = {
            let mut pooled = app.conn();
            let conn: &mut DbConn = &mut pooled;
            diesel::sql_query(change)
                .execute(conn)
                .unwrap_or_else(|e| panic!("{change}: {e}"))
        };
        assert!(changed >= 1, "{change} changed no row");
        let after = app.snapshot();
        assert_ne!(after, before, "the snapshot missed: {change}");
        for (name, rows) in &after.tables {
            assert_eq!(
                rows.len(),
                before.tables[name].len(),
                "{change} kept the number of rows of {name}"
            );
            if name != table {
                assert_eq!(rows, &before.tables[name], "{change} changed only {table}");
            }
        }
        assert_ne!(after.tables[table], before.tables[table]);
        before = after;
    }
}
