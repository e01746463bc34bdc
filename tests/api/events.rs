use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::spawn_app;
use modelgate::db::DbConn;
use modelgate::domain::events;

fn types(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["event_type"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_change_appends_an_event_in_order() {
    let app = spawn_app();
    let base = app.count("events");
    app.post("/api/v1/models", json!({"name": "m", "tags": {"a": "b"}}))
        .expect(201);
    app.create_version("m");
    app.transition("m", 1, "Staging", false).expect(200);
    app.put("/api/v1/models/m/aliases/champion", json!({"version": 1}))
        .expect(200);
    app.put("/api/v1/models/m/tags/t", json!({"value": "v"}))
        .expect(200);
    app.patch("/api/v1/models/m", json!({"description": "d"}))
        .expect(200);
    app.delete("/api/v1/models/m/aliases/champion");
    app.delete("/api/v1/models/m/versions/1");
    app.delete("/api/v1/models/m");

    let body = app
        .get(&format!("/api/v1/events?after={base}"))
        .expect(200)
        .clone();
    assert_eq!(
        types(&body),
        vec![
            "model.created",
            "version.created",
            "version.stage_changed",
            "alias.set",
            "model.tag_set",
            "model.updated",
            "alias.deleted",
            "version.deleted",
            "model.deleted",
        ]
    );
    let ids: Vec<i64> = body["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(ids, (base + 1..=base + 9).collect::<Vec<_>>());
    let stage_change = &body["events"][2];
    assert_eq!(stage_change["model_name"], "m");
    assert_eq!(stage_change["version"], 1);
    assert_eq!(stage_change["actor"], "admin");
    assert_eq!(stage_change["payload"]["from_stage"], "None");
    assert_eq!(stage_change["payload"]["to_stage"], "Staging");
    assert_eq!(body["events"][1]["prev_hash"], body["events"][0]["hash"]);
}

#[test]
fn the_feed_is_filtered_and_cursor_paged() {
    let app = spawn_app();
    let base = app.count("events");
    app.create_model("a");
    app.create_model("b");
    app.create_version("a");
    app.create_version("b");
    app.create_version("a");

    let only_a = app.get("/api/v1/events?model=a").expect(200).clone();
    assert_eq!(
        types(&only_a),
        vec!["model.created", "version.created", "version.created"]
    );
    let created = app
        .get("/api/v1/events?type=version.created")
        .expect(200)
        .clone();
    assert_eq!(created["events"].as_array().map(Vec::len), Some(3));

    let after = app
        .get(&format!("/api/v1/events?after={}", base + 3))
        .expect(200)
        .clone();
    assert_eq!(after["events"][0]["id"], base + 4);

    let mut seen = Vec::new();
    let mut path = format!("/api/v1/events?max_results=2&after={base}");
    loop {
        let page = app.get(&path).expect(200).clone();
        seen.extend(
            page["events"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|e| e["id"].as_i64())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
        match page["next_page_token"].as_str() {
            Some(token) => {
                path = format!("/api/v1/events?max_results=2&after={base}&page_token={token}")
            }
            None => break,
        }
    }
    assert_eq!(seen, (base + 1..=base + 5).collect::<Vec<_>>());
}

#[test]
fn the_hash_chain_verifies_and_detects_an_edited_row() {
    let app = spawn_app();
    app.create_model("m");
    for _ in 0..3 {
        app.create_version("m");
    }
    let mut conn = app.conn();
    let conn: &mut DbConn = &mut conn;
    let total = app.count("events");
    assert_eq!(events::verify_chain(conn).ok(), Some(Ok(total)));

    diesel::sql_query(format!(
        "UPDATE events SET actor = 'mallory' WHERE id = {}",
        total - 1
    ))
    .execute(conn)
    .unwrap_or_else(|e| panic!("tamper: {e}"));
    let verdict = events::verify_chain(conn)
        .ok()
        .and_then(Result::err)
        .unwrap_or_default();
    assert!(
        verdict.contains(&format!("event {}", total - 1)),
        "{verdict}"
    );
}

/// Makes one event of every kind through the APIs (both flavours of the
/// webhook kinds, both shapes of a stage move).
fn every_kind_of_change(app: &crate::helpers::TestApp) {
    let carol = app.user_token("carol", "contributor");
    let april = app.user_token("april", "approver");
    app.post("/api/v1/models", json!({"name": "m", "tags": {"a": "b"}}))
        .expect(201);
    app.patch("/api/v1/models/m", json!({"description": "d"}))
        .expect(200);
    app.put("/api/v1/models/m/tags/t", json!({"value": "v"}))
        .expect(200);
    app.delete("/api/v1/models/m/tags/t").expect(204);
    for version in 1..=3 {
        assert_eq!(app.create_version("m"), version);
    }
    app.patch("/api/v1/models/m/versions/1", json!({"description": "v1"}))
        .expect(200);
    app.put("/api/v1/models/m/versions/1/tags/k", json!({"value": "v"}))
        .expect(200);
    app.delete("/api/v1/models/m/versions/1/tags/k").expect(204);
    app.transition("m", 1, "Staging", false).expect(200);
    app.transition("m", 2, "Staging", true).expect(200);
    app.put("/api/v1/models/m/aliases/candidate", json!({"version": 2}))
        .expect(200);
    app.delete("/api/v1/models/m/aliases/candidate").expect(204);
    let open = |version: i64| {
        app.call_as(
            Some(&carol),
            "POST",
            &format!("/api/v1/models/m/versions/{version}/transition-requests"),
            Some(json!({"stage": "Production", "comment": "ready"})),
        )
        .expect(201)["id"]
            .as_i64()
            .unwrap_or_default()
    };
    let decide = |who: &str, id: i64, verb: &str| {
        app.call_as(
            Some(who),
            "POST",
            &format!("/api/v1/transition-requests/{id}/{verb}"),
            Some(json!({"comment": verb})),
        )
        .expect(200);
    };
    decide(&april, open(2), "approve");
    decide(&april, open(1), "reject");
    decide(&carol, open(1), "cancel");
    // a pending request on version 3 goes stale when 3 leaves Staging
    app.transition("m", 3, "Staging", false).expect(200);
    let stale = open(3);
    app.transition("m", 3, "Archived", false).expect(200);
    assert_eq!(
        app.get(&format!("/api/v1/transition-requests/{stale}"))
            .expect(200)["status"],
        "stale"
    );
    app.patch("/api/v1/models/m", json!({"name": "n"}))
        .expect(200);
    app.delete("/api/v1/models/n/versions/1").expect(204);
    app.patch("/api/v1/users/april", json!({"role": "viewer"}))
        .expect(200);
    app.delete("/api/v1/users/april").expect(204);
    let token = app
        .post("/api/v1/tokens", json!({"name": "ci", "username": "carol"}))
        .expect(201)["id"]
        .clone();
    app.delete(&format!("/api/v1/tokens/{token}")).expect(204);
    let hook = app
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://hooks.invalid/in", "events": ["*"], "enabled": false}),
        )
        .expect(201)["id"]
        .clone();
    app.patch(
        &format!("/api/v1/webhooks/{hook}"),
        json!({"rotate_secret": true}),
    )
    .expect(200);
    app.delete(&format!("/api/v1/webhooks/{hook}")).expect(204);
    let mlflow_hook = app
        .post(
            "/api/2.0/mlflow/webhooks",
            json!({"name": "hook", "url": "https://hooks.invalid/m", "status": "DISABLED",
                   "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}),
        )
        .expect(200)["webhook"]["webhook_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.patch(
        &format!("/api/2.0/mlflow/webhooks/{mlflow_hook}"),
        json!({"secret": "s3cret"}),
    )
    .expect(200);
    app.delete(&format!("/api/2.0/mlflow/webhooks/{mlflow_hook}"))
        .expect(200);
    app.delete("/api/v1/models/n").expect(204);
}

#[test]
fn every_kind_of_event_is_stored_as_its_typed_form_writes_it_and_the_chain_holds() {
    use modelgate::db::event::EventKind;
    let app = spawn_app();
    every_kind_of_change(&app);
    let rows = app.event_rows();
    let mut conn = app.conn();
    let mut kinds: Vec<&str> = Vec::new();
    let mut shapes = std::collections::BTreeSet::new();
    for row in &rows {
        let kind = EventKind::of(row).unwrap_or_else(|e| panic!("{e}"));
        let encoded = kind.encode().unwrap_or_else(|e| panic!("{e}"));
        // the typed form writes the very bytes the chain hashed
        assert_eq!(encoded.kind, row.event_type, "event {}", row.id);
        assert_eq!(encoded.payload, row.payload, "event {}", row.id);
        kinds.push(encoded.kind);
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, Value>>(&row.payload)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
        shapes.insert((row.event_type.clone(), keys));
    }
    kinds.sort_unstable();
    kinds.dedup();
    let mut all = EventKind::KINDS.to_vec();
    all.sort_unstable();
    assert_eq!(kinds, all, "a kind the changes above did not make");
    // both shapes of a stage move, both flavours of each webhook kind
    for kind in [
        "version.stage_changed",
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
    ] {
        let n = shapes.iter().filter(|(k, _)| k == kind).count();
        assert_eq!(n, 2, "{kind}: {shapes:?}");
    }
    let verified = events::verify_chain(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified, Ok(i64::try_from(rows.len()).unwrap_or_default()));
    drop(conn);
    app.assert_audit_intact();
}
