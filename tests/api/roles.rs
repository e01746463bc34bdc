//! Who may do what: every protected route answers 401 without a token, 403
//! one role below its need, and succeeds at its need; transitions follow the
//! rule table; the trail names the real user.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const ROLES: [&str; 4] = ["viewer", "contributor", "approver", "admin"];

/// One route: its method, the lowest role it needs, and a setup (run as admin)
/// that makes a fresh target and returns the path and body to send.
struct Route {
    method: &'static str,
    need: &'static str,
    setup: fn(&TestApp, &str) -> (String, Option<Value>),
}

fn mlflow_hook_body(name: &str) -> Value {
    json!({
        "name": name,
        "url": "https://hooks.invalid/modelgate",
        "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}],
        // no delivery changes the database under the snapshots
        "status": "DISABLED",
    })
}

/// An MLflow webhook's id, made by the admin.
fn mlflow_hook(app: &TestApp, name: &str) -> String {
    app.post(&mlflow("webhooks"), mlflow_hook_body(name))
        .expect(200)["webhook"]["webhook_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn fresh_version(app: &TestApp) -> i64 {
    app.create_version("m")
}

fn mlflow(path: &str) -> String {
    format!("/api/2.0/mlflow/{path}")
}

/// A fresh version of `m` in Staging.
fn staged_version(app: &TestApp) -> i64 {
    let version = fresh_version(app);
    app.transition("m", version, "Staging", false).expect(200);
    version
}

/// A pending request, opened with `token`, to move a fresh staged version of
/// `m` to Production; its id.
fn open_request(app: &TestApp, token: &str) -> Value {
    let version = staged_version(app);
    app.call_as(
        Some(token),
        "POST",
        &format!("/api/v1/models/m/versions/{version}/transition-requests"),
        Some(json!({"stage": "Production"})),
    )
    .expect(201)["id"]
        .clone()
}

/// A disabled subscription (nothing is sent) to a name that never resolves.
fn webhook_body() -> Value {
    json!({"url": "https://hooks.invalid/in", "events": ["*"], "enabled": false})
}

/// A fresh subscription's id.
fn webhook(app: &TestApp) -> i64 {
    app.post("/api/v1/webhooks", webhook_body()).expect(201)["id"]
        .as_i64()
        .unwrap_or_default()
}

fn routes() -> Vec<Route> {
    vec![
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/me".into(), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/models".into(), None),
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |_, tag| {
                (
                    "/api/v1/models".into(),
                    Some(json!({"name": format!("new-{tag}")})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/models/m".into(), None),
        },
        Route {
            method: "PATCH",
            need: "contributor",
            setup: |_, tag| ("/api/v1/models/m".into(), Some(json!({"description": tag}))),
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, tag| {
                app.create_model(&format!("doomed-{tag}"));
                (format!("/api/v1/models/doomed-{tag}"), None)
            },
        },
        Route {
            method: "PUT",
            need: "contributor",
            setup: |_, _| {
                (
                    "/api/v1/models/m/tags/team".into(),
                    Some(json!({"value": "risk"})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "contributor",
            setup: |app, _| {
                app.put("/api/v1/models/m/tags/gone", json!({"value": "x"}))
                    .expect(200);
                ("/api/v1/models/m/tags/gone".into(), None)
            },
        },
        Route {
            method: "PUT",
            need: "contributor",
            setup: |_, _| {
                (
                    "/api/v1/models/m/aliases/challenger".into(),
                    Some(json!({"version": 1})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |app, _| {
                app.put("/api/v1/models/m/aliases/stable", json!({"version": 1}))
                    .expect(200);
                ("/api/v1/models/m/aliases/stable".into(), None)
            },
        },
        Route {
            method: "DELETE",
            need: "contributor",
            setup: |app, _| {
                app.put("/api/v1/models/m/aliases/temp", json!({"version": 1}))
                    .expect(200);
                ("/api/v1/models/m/aliases/temp".into(), None)
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |_, _| {
                (
                    "/api/v1/models/m/versions".into(),
                    Some(json!({"source": "s3://x/model"})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/models/m/versions".into(), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/models/m/latest".into(), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/models/m/versions/1".into(), None),
        },
        Route {
            method: "PATCH",
            need: "contributor",
            setup: |_, tag| {
                (
                    "/api/v1/models/m/versions/1".into(),
                    Some(json!({"description": tag})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, _| {
                (
                    format!("/api/v1/models/m/versions/{}", fresh_version(app)),
                    None,
                )
            },
        },
        Route {
            method: "PUT",
            need: "contributor",
            setup: |_, _| {
                (
                    "/api/v1/models/m/versions/1/tags/k".into(),
                    Some(json!({"value": "v"})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "contributor",
            setup: |app, _| {
                app.put(
                    "/api/v1/models/m/versions/1/tags/gone",
                    json!({"value": "x"}),
                )
                .expect(200);
                ("/api/v1/models/m/versions/1/tags/gone".into(), None)
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |app, _| {
                (
                    format!("/api/v1/models/m/versions/{}/stage", fresh_version(app)),
                    Some(json!({"stage": "Staging"})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/models/m/versions/1/activity".into(), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/events".into(), None),
        },
        Route {
            method: "POST",
            need: "admin",
            setup: |_, tag| {
                (
                    "/api/v1/users".into(),
                    Some(
                        json!({"username": format!("u-{tag}"), "password": "long-enough", "role": "viewer"}),
                    ),
                )
            },
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |_, _| ("/api/v1/users".into(), None),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |_, _| ("/api/v1/users/r-viewer".into(), None),
        },
        Route {
            method: "PATCH",
            need: "admin",
            setup: |_, _| {
                (
                    "/api/v1/users/r-viewer".into(),
                    Some(json!({"role": "viewer"})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, tag| {
                app.post("/api/v1/users", json!({"username": format!("d-{tag}"), "password": "long-enough", "role": "viewer"}))
                    .expect(201);
                (format!("/api/v1/users/d-{tag}"), None)
            },
        },
        Route {
            method: "POST",
            need: "admin",
            setup: |_, tag| ("/api/v1/tokens".into(), Some(json!({"name": tag}))),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |_, _| ("/api/v1/tokens".into(), None),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |app, tag| {
                let id = app.post("/api/v1/tokens", json!({"name": tag})).expect(201)["id"].clone();
                (format!("/api/v1/tokens/{id}"), None)
            },
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, tag| {
                let id = app.post("/api/v1/tokens", json!({"name": tag})).expect(201)["id"].clone();
                (format!("/api/v1/tokens/{id}"), None)
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |app, _| {
                (
                    format!(
                        "/api/v1/models/m/versions/{}/transition-requests",
                        staged_version(app)
                    ),
                    Some(json!({"stage": "Production"})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/transition-requests".into(), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |app, _| {
                let id = open_request(app, &app.admin_token);
                (format!("/api/v1/transition-requests/{id}"), None)
            },
        },
        Route {
            method: "POST",
            need: "approver",
            setup: |app, _| {
                let id = open_request(app, &app.admin_token);
                (
                    format!("/api/v1/transition-requests/{id}/approve"),
                    Some(json!({})),
                )
            },
        },
        Route {
            method: "POST",
            need: "approver",
            setup: |app, _| {
                let id = open_request(app, &app.admin_token);
                (
                    format!("/api/v1/transition-requests/{id}/reject"),
                    Some(json!({})),
                )
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            // the contributor cancels a request of its own
            setup: |app, _| {
                let contributor = app.login("r-contributor", "password-r-contributor");
                let id = open_request(app, &contributor);
                (
                    format!("/api/v1/transition-requests/{id}/cancel"),
                    Some(json!({})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/policy".into(), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/audit/checkpoints".into(), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| ("/api/v1/models/m/history".into(), None),
        },
        Route {
            method: "POST",
            need: "admin",
            setup: |_, _| ("/api/v1/webhooks".into(), Some(webhook_body())),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |_, _| ("/api/v1/webhooks".into(), None),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |app, _| (format!("/api/v1/webhooks/{}", webhook(app)), None),
        },
        Route {
            method: "PATCH",
            need: "admin",
            setup: |app, tag| {
                (
                    format!("/api/v1/webhooks/{}", webhook(app)),
                    Some(json!({"description": tag})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, _| (format!("/api/v1/webhooks/{}", webhook(app)), None),
        },
        Route {
            method: "POST",
            need: "admin",
            setup: |app, _| (format!("/api/v1/webhooks/{}/test", webhook(app)), None),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |app, _| {
                (
                    format!("/api/v1/webhooks/{}/deliveries", webhook(app)),
                    None,
                )
            },
        },
        Route {
            method: "POST",
            need: "admin",
            setup: |app, _| {
                let id = webhook(app);
                app.execute(&format!(
                    "INSERT INTO webhook_deliveries (webhook_id, event_id, message_id, state, \
                     attempts, next_attempt_at, creation_timestamp) \
                     VALUES ({id}, 1, 'msg_{id}_1', 'failed', 1, 0, 0)"
                ));
                let delivery = app
                    .get(&format!("/api/v1/webhooks/{id}/deliveries"))
                    .expect(200)["deliveries"][0]["id"]
                    .clone();
                (
                    format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver"),
                    None,
                )
            },
        },
        // the MLflow layer
        Route {
            method: "POST",
            need: "contributor",
            setup: |_, tag| {
                (
                    mlflow("registered-models/create"),
                    Some(json!({"name": format!("ml-{tag}")})),
                )
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |app, tag| {
                app.create_model(&format!("old-{tag}"));
                (
                    mlflow("registered-models/rename"),
                    Some(
                        json!({"name": format!("old-{tag}"), "new_name": format!("renamed-{tag}")}),
                    ),
                )
            },
        },
        Route {
            method: "PATCH",
            need: "contributor",
            setup: |_, tag| {
                (
                    mlflow("registered-models/update"),
                    Some(json!({"name": "m", "description": tag})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, tag| {
                app.create_model(&format!("ml-doomed-{tag}"));
                (
                    mlflow("registered-models/delete"),
                    Some(json!({"name": format!("ml-doomed-{tag}")})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| (mlflow("registered-models/get?name=m"), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| (mlflow("registered-models/search"), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| (mlflow("registered-models/get-latest-versions?name=m"), None),
        },
        Route {
            method: "POST",
            need: "viewer",
            setup: |_, _| {
                (
                    mlflow("registered-models/get-latest-versions"),
                    Some(json!({"name": "m"})),
                )
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |_, tag| {
                (
                    mlflow("registered-models/set-tag"),
                    Some(json!({"name": "m", "key": "team", "value": tag})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "contributor",
            setup: |app, _| {
                app.put("/api/v1/models/m/tags/ml-gone", json!({"value": "x"}))
                    .expect(200);
                (
                    mlflow("registered-models/delete-tag"),
                    Some(json!({"name": "m", "key": "ml-gone"})),
                )
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |_, _| {
                (
                    mlflow("registered-models/alias"),
                    Some(json!({"name": "m", "alias": "ml-challenger", "version": "1"})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "contributor",
            setup: |app, _| {
                app.put("/api/v1/models/m/aliases/ml-temp", json!({"version": 1}))
                    .expect(200);
                (
                    mlflow("registered-models/alias"),
                    Some(json!({"name": "m", "alias": "ml-temp"})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |app, _| {
                app.put("/api/v1/models/m/aliases/ml-stable", json!({"version": 1}))
                    .expect(200);
                (
                    mlflow("registered-models/alias?name=m&alias=ml-stable"),
                    None,
                )
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |_, _| {
                (
                    mlflow("model-versions/create"),
                    Some(json!({"name": "m", "source": "s3://bucket/m"})),
                )
            },
        },
        Route {
            method: "PATCH",
            need: "contributor",
            setup: |_, tag| {
                (
                    mlflow("model-versions/update"),
                    Some(json!({"name": "m", "version": "1", "description": tag})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, _| {
                (
                    mlflow("model-versions/delete"),
                    Some(json!({"name": "m", "version": fresh_version(app).to_string()})),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| (mlflow("model-versions/get?name=m&version=1"), None),
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| (mlflow("model-versions/search?filter=name%3D%27m%27"), None),
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |app, _| {
                (
                    mlflow("model-versions/transition-stage"),
                    Some(json!({
                        "name": "m",
                        "version": fresh_version(app).to_string(),
                        "stage": "Staging",
                        "archive_existing_versions": false,
                    })),
                )
            },
        },
        Route {
            method: "GET",
            need: "viewer",
            setup: |_, _| {
                (
                    mlflow("model-versions/get-download-uri?name=m&version=1"),
                    None,
                )
            },
        },
        Route {
            method: "POST",
            need: "contributor",
            setup: |_, tag| {
                (
                    mlflow("model-versions/set-tag"),
                    Some(json!({"name": "m", "version": "1", "key": "k", "value": tag})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "contributor",
            setup: |app, _| {
                app.put(
                    "/api/v1/models/m/versions/1/tags/ml-gone",
                    json!({"value": "x"}),
                )
                .expect(200);
                (
                    mlflow("model-versions/delete-tag"),
                    Some(json!({"name": "m", "version": "1", "key": "ml-gone"})),
                )
            },
        },
        Route {
            method: "POST",
            need: "admin",
            setup: |_, name| (mlflow("webhooks"), Some(mlflow_hook_body(name))),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |_, _| (mlflow("webhooks"), None),
        },
        Route {
            method: "GET",
            need: "admin",
            setup: |app, name| {
                (
                    mlflow(&format!("webhooks/{}", mlflow_hook(app, name))),
                    None,
                )
            },
        },
        Route {
            method: "PATCH",
            need: "admin",
            setup: |app, name| {
                (
                    mlflow(&format!("webhooks/{}", mlflow_hook(app, name))),
                    Some(json!({"description": "changed"})),
                )
            },
        },
        Route {
            method: "DELETE",
            need: "admin",
            setup: |app, name| {
                (
                    mlflow(&format!("webhooks/{}", mlflow_hook(app, name))),
                    None,
                )
            },
        },
        Route {
            method: "POST",
            need: "admin",
            setup: |app, name| {
                (
                    mlflow(&format!("webhooks/{}/test", mlflow_hook(app, name))),
                    Some(json!({})),
                )
            },
        },
    ]
}

/// (method, path template) of every operation the OpenAPI spec secures.
fn secured_operations() -> std::collections::BTreeSet<(String, String)> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let spec: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let paths = spec["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths in {file}"));
    paths
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, operation)| operation.get("security").is_some())
                .map(move |(method, _)| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

/// Whether a concrete path (its query left out) fits a spec template.
fn matches(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t.starts_with('{') || t == p)
}

#[test]
fn every_protected_route_needs_a_token_and_its_role() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    let tokens: Vec<String> = ROLES
        .iter()
        .map(|role| app.user_token(&format!("r-{role}"), role))
        .collect();
    let mut checked = 0;
    let spec = secured_operations();
    let mut covered = std::collections::BTreeSet::new();
    for (index, route) in routes().iter().enumerate() {
        let need = ROLES.iter().position(|r| *r == route.need).unwrap_or(0);

        let (path, body) = (route.setup)(&app, &format!("anon{index}"));
        if path.starts_with("/api/v1/") {
            let template = spec
                .iter()
                .find(|(method, template)| method == route.method && matches(template, &path))
                .unwrap_or_else(|| panic!("{} {path} is not in the OpenAPI spec", route.method));
            covered.insert(template.clone());
        }
        let before = app.snapshot();
        app.call_as(None, route.method, &path, body)
            .expect_error(401, "UNAUTHENTICATED");
        assert_eq!(
            app.snapshot(),
            before,
            "{} {path} without a token",
            route.method
        );

        if need > 0 {
            let (path, body) = (route.setup)(&app, &format!("below{index}"));
            let before = app.snapshot();
            // a stage move is refused by the policy's rule, not the route
            let code = if path.ends_with("/stage") {
                "APPROVAL_REQUIRED"
            } else {
                "PERMISSION_DENIED"
            };
            app.call_as(Some(&tokens[need - 1]), route.method, &path, body)
                .expect_error(403, code);
            assert_eq!(
                app.snapshot(),
                before,
                "{} {path} as {}",
                route.method,
                ROLES[need - 1]
            );
        }

        let (path, body) = (route.setup)(&app, &format!("at{index}"));
        let response = app.call_as(Some(&tokens[need]), route.method, &path, body);
        assert!(
            (200..300).contains(&response.status),
            "{} {path} as {}: {} {}",
            route.method,
            route.need,
            response.status,
            response.text
        );
        checked += 1;
    }
    // every route the server serves behind a token: each native operation
    // the OpenAPI spec secures, and the 28 of the MLflow layer
    assert_eq!(covered, spec, "native operations not tried");
    assert_eq!(spec.len(), 48);
    assert_eq!(checked, 76);
}

#[test]
fn transitions_follow_the_rule_table_by_role() {
    let app = spawn_app();
    app.create_model("m");
    let contributor = app.user_token("carol", "contributor");
    let approver = app.user_token("april", "approver");
    let version = app.create_version("m");
    let stage = |token: &str, to: &str| {
        app.call_as(
            Some(token),
            "POST",
            &format!("/api/v1/models/m/versions/{version}/stage"),
            Some(json!({"stage": to})),
        )
    };
    // a contributor registers and stages, but cannot promote to Production
    assert_eq!(
        stage(&contributor, "Staging").expect(200)["current_stage"],
        "Staging"
    );
    let message = stage(&contributor, "Production").expect_error(403, "APPROVAL_REQUIRED");
    assert!(message.contains("transition-requests"), "{message}");
    // Staging -> Production is direct for admins only
    stage(&approver, "Production").expect_error(403, "APPROVAL_REQUIRED");
    assert_eq!(
        app.transition("m", version, "Production", false)
            .expect(200)["current_stage"],
        "Production"
    );
    // an approver archives a Production version; a contributor cannot
    stage(&contributor, "Archived").expect_error(403, "APPROVAL_REQUIRED");
    assert_eq!(
        stage(&approver, "Archived").expect(200)["current_stage"],
        "Archived"
    );

    let trail = app
        .get(&format!("/api/v1/models/m/versions/{version}/activity"))
        .expect(200)
        .clone();
    let users: Vec<&str> = trail["activities"]
        .as_array()
        .map(|a| a.iter().filter_map(|a| a["user"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(users, vec!["carol", "admin", "april"]);
    assert_eq!(
        app.get(&format!("/api/v1/models/m/versions/{version}"))
            .expect(200)["created_by"],
        "admin"
    );
    let events = app
        .get("/api/v1/events?type=version.stage_changed")
        .expect(200)
        .clone();
    let actors: Vec<&str> = events["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["actor"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actors, vec!["carol", "admin", "april"]);
}
