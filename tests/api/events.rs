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
