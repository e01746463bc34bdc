//! Names are identity: what `models:/NAME/Production` and
//! `models:/NAME@champion` resolve to changes only through their guards.
//! Every write endpoint of both APIs (stage moves aside: `guard_paths`
//! covers every path of those) is tried by every role below admin with
//! arguments aimed at the guarded names, and what every name resolves to is
//! compared before and after.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The names whose resolution is watched (including the ones renames aim at).
const NAMES: [&str; 4] = ["fraud", "exp", "fraud-old", "spare"];

/// name -> (Production's newest version and source, champion's version and source)
fn resolution(app: &TestApp) -> Vec<(String, Value, Value)> {
    NAMES
        .iter()
        .map(|name| {
            let production = app.get(&format!("/api/v1/models/{name}/latest?stage=Production"));
            let production = if production.status == 200 {
                let v = production.expect(200);
                json!([v["version"], v["source"]])
            } else {
                Value::Null
            };
            let champion = app.get(&format!("/api/v1/models/{name}/aliases/champion"));
            let champion = if champion.status == 200 {
                let v = champion.expect(200);
                json!([v["version"], v["source"]])
            } else {
                Value::Null
            };
            ((*name).to_owned(), production, champion)
        })
        .collect()
}

/// Every write, as (method, path, body), aimed at the guarded names.
fn writes() -> Vec<(&'static str, String, Option<Value>)> {
    let native = |method, path: &str, body: Option<Value>| (method, path.to_owned(), body);
    vec![
        native("POST", "/api/v1/models", Some(json!({"name": "fraud-old"}))),
        native(
            "PATCH",
            "/api/v1/models/fraud",
            Some(json!({"name": "fraud-old"})),
        ),
        native(
            "PATCH",
            "/api/v1/models/exp",
            Some(json!({"name": "spare"})),
        ),
        native(
            "PATCH",
            "/api/v1/models/fraud",
            Some(json!({"description": "x"})),
        ),
        native("DELETE", "/api/v1/models/fraud", None),
        native(
            "PUT",
            "/api/v1/models/fraud/tags/k",
            Some(json!({"value": "v"})),
        ),
        native("DELETE", "/api/v1/models/fraud/tags/k", None),
        native(
            "PUT",
            "/api/v1/models/fraud/aliases/champion",
            Some(json!({"version": 2})),
        ),
        native("DELETE", "/api/v1/models/fraud/aliases/champion", None),
        native(
            "POST",
            "/api/v1/models/fraud/versions",
            Some(json!({"source": "s3://evil/model"})),
        ),
        native(
            "PATCH",
            "/api/v1/models/fraud/versions/1",
            Some(json!({"description": "x"})),
        ),
        native("DELETE", "/api/v1/models/fraud/versions/1", None),
        native(
            "PUT",
            "/api/v1/models/fraud/versions/1/tags/k",
            Some(json!({"value": "v"})),
        ),
        native("DELETE", "/api/v1/models/fraud/versions/1/tags/k", None),
        native(
            "POST",
            "/api/v1/models/fraud/versions/2/transition-requests",
            Some(json!({"stage": "Production"})),
        ),
        native(
            "POST",
            "/api/v1/models/fraud/versions/2/transition-requests",
            Some(json!({"alias": "champion"})),
        ),
        native(
            "POST",
            "/api/2.0/mlflow/registered-models/create",
            Some(json!({"name": "spare"})),
        ),
        native(
            "POST",
            "/api/2.0/mlflow/registered-models/rename",
            Some(json!({"name": "fraud", "new_name": "fraud-old"})),
        ),
        native(
            "PATCH",
            "/api/2.0/mlflow/registered-models/update",
            Some(json!({"name": "fraud", "description": "x"})),
        ),
        native(
            "DELETE",
            "/api/2.0/mlflow/registered-models/delete",
            Some(json!({"name": "fraud"})),
        ),
        native(
            "POST",
            "/api/2.0/mlflow/registered-models/set-tag",
            Some(json!({"name": "fraud", "key": "k", "value": "v"})),
        ),
        native(
            "DELETE",
            "/api/2.0/mlflow/registered-models/delete-tag",
            Some(json!({"name": "fraud", "key": "k"})),
        ),
        native(
            "POST",
            "/api/2.0/mlflow/registered-models/alias",
            Some(json!({"name": "fraud", "alias": "champion", "version": "2"})),
        ),
        native(
            "DELETE",
            "/api/2.0/mlflow/registered-models/alias",
            Some(json!({"name": "fraud", "alias": "champion"})),
        ),
        native(
            "POST",
            "/api/2.0/mlflow/model-versions/create",
            Some(json!({"name": "fraud", "source": "s3://evil/model"})),
        ),
        native(
            "PATCH",
            "/api/2.0/mlflow/model-versions/update",
            Some(json!({"name": "fraud", "version": "1", "description": "x"})),
        ),
        native(
            "DELETE",
            "/api/2.0/mlflow/model-versions/delete",
            Some(json!({"name": "fraud", "version": "1"})),
        ),
        native(
            "POST",
            "/api/2.0/mlflow/model-versions/set-tag",
            Some(json!({"name": "fraud", "version": "1", "key": "k", "value": "v"})),
        ),
        native(
            "DELETE",
            "/api/2.0/mlflow/model-versions/delete-tag",
            Some(json!({"name": "fraud", "version": "1", "key": "k"})),
        ),
    ]
}

#[test]
fn no_write_below_the_guards_role_changes_what_a_guarded_name_resolves_to() {
    let app = spawn_app();
    // fraud and exp each serve version 1 from Production and as champion;
    // fraud also has a version 2 in Staging
    for name in ["fraud", "exp"] {
        app.create_model(name);
        app.create_version(name);
        app.transition(name, 1, "Staging", false).expect(200);
        app.transition(name, 1, "Production", false).expect(200);
        app.put(
            &format!("/api/v1/models/{name}/aliases/champion"),
            json!({"version": 1}),
        )
        .expect(200);
    }
    app.create_version("fraud");
    app.transition("fraud", 2, "Staging", false).expect(200);
    let watched = resolution(&app);
    assert_eq!(watched[0].1, json!([1, "s3://bucket/fraud"]));
    assert_eq!(watched[0].2, json!([1, "s3://bucket/fraud"]));

    let mut refused = 0;
    for role in ["viewer", "contributor", "approver"] {
        let token = app.user_token(&format!("user-{role}"), role);
        for (method, path, body) in writes() {
            let response = app.call_as(Some(&token), method, &path, body.clone());
            assert!(
                response.status < 500,
                "{role} {method} {path}: {} {}",
                response.status,
                response.text
            );
            if response.status >= 400 {
                refused += 1;
            }
            assert_eq!(
                resolution(&app),
                watched,
                "{role} {method} {path} ({}) changed what a guarded name resolves to: {}",
                response.status,
                response.text
            );
        }
    }
    assert!(refused > 20, "the guarded writes were refused ({refused})");

    // the admin meets every guard: a rename does move the name
    app.patch("/api/v1/models/fraud", json!({"name": "fraud-renamed"}))
        .expect(200);
    let moved = resolution(&app);
    assert_eq!(
        moved[0].1,
        Value::Null,
        "models:/fraud/Production resolves to nothing now"
    );
    assert_eq!(
        app.get("/api/v1/models/fraud-renamed/latest?stage=Production")
            .expect(200)["source"],
        "s3://bucket/fraud"
    );
}
