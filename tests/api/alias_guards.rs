//! Guarded aliases: `champion` is set, moved and deleted like entering
//! Production, through both APIs; a request may ask for it; configured rules
//! match by name or glob and may require a stage; renames respect them.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with_config};

fn alias_of(app: &TestApp, name: &str, alias: &str) -> Option<i64> {
    let response = app.get(&format!("/api/v1/models/{name}/aliases/{alias}"));
    (response.status == 200).then(|| response.expect(200)["version"].as_i64().unwrap_or_default())
}

fn set_as(
    app: &TestApp,
    token: &str,
    name: &str,
    alias: &str,
    version: i64,
) -> crate::helpers::TestResponse {
    app.call_as(
        Some(token),
        "PUT",
        &format!("/api/v1/models/{name}/aliases/{alias}"),
        Some(json!({ "version": version })),
    )
}

#[test]
fn champion_needs_the_gates_role_or_an_approved_request_on_both_apis() {
    let app = spawn_app();
    let carl = app.user_token("carl", "contributor");
    let paula = app.user_token("paula", "approver");
    app.create_model("fraud");
    app.create_version("fraud");
    app.create_version("fraud");
    app.put(
        "/api/v1/models/fraud/aliases/champion",
        json!({"version": 1}),
    )
    .expect(200);
    let before = app.snapshot();

    let message =
        set_as(&app, &carl, "fraud", "champion", 2).expect_error(403, "APPROVAL_REQUIRED");
    assert!(message.contains("alias 'champion' is guarded"), "{message}");
    assert!(
        message.contains("/api/v1/models/fraud/versions/2/transition-requests"),
        "{message}"
    );
    let mlflow = app
        .call_as(
            Some(&paula),
            "POST",
            "/api/2.0/mlflow/registered-models/alias",
            Some(json!({"name": "fraud", "alias": "champion", "version": "2"})),
        )
        .expect_error(403, "PERMISSION_DENIED");
    assert!(mlflow.contains("transition-requests"), "{mlflow}");
    let deleted = app
        .call_as(
            Some(&carl),
            "DELETE",
            "/api/2.0/mlflow/registered-models/alias",
            Some(json!({"name": "fraud", "alias": "champion"})),
        )
        .expect_error(403, "PERMISSION_DENIED");
    assert!(
        deleted.contains("deleting it needs role admin"),
        "{deleted}"
    );
    app.call_as(
        Some(&carl),
        "DELETE",
        "/api/v1/models/fraud/aliases/champion",
        None,
    )
    .expect_error(403, "PERMISSION_DENIED");
    assert_eq!(alias_of(&app, "fraud", "champion"), Some(1));
    assert_eq!(app.snapshot(), before, "refusals change nothing");

    // other aliases stay a contributor's
    set_as(&app, &carl, "fraud", "challenger", 2).expect(200);
    assert_eq!(alias_of(&app, "fraud", "challenger"), Some(2));

    // a request for the alias, approved by someone else, moves it
    let request = app
        .call_as(
            Some(&carl),
            "POST",
            "/api/v1/models/fraud/versions/2/transition-requests",
            Some(json!({"alias": "champion", "comment": "better recall"})),
        )
        .expect(201)
        .clone();
    assert_eq!(request["alias"], "champion");
    assert_eq!(request["required_approvals"], 1);
    let id = request["id"].as_i64().unwrap_or_default();
    // a stage move of the version does not make an alias request stale
    app.call_as(
        Some(&carl),
        "POST",
        "/api/v1/models/fraud/versions/2/stage",
        Some(json!({"stage": "Staging"})),
    )
    .expect(200);
    let applied = app
        .call_as(
            Some(&paula),
            "POST",
            &format!("/api/v1/transition-requests/{id}/approve"),
            None,
        )
        .expect(200)
        .clone();
    assert_eq!(applied["status"], "applied", "{applied}");
    assert_eq!(alias_of(&app, "fraud", "champion"), Some(2));
    let trail = app
        .get("/api/v1/models/fraud/versions/2/activity")
        .expect(200)
        .clone();
    let set = trail["activities"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|a| a["activity_type"] == "ALIAS_SET" && a["comment"] == "alias 'champion'")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(set["request_id"], id, "{trail}");
    assert_eq!(set["user"], "paula");
}

#[test]
fn a_request_for_an_unguarded_alias_is_refused_and_one_for_a_deleted_version_goes_stale() {
    let app = spawn_app();
    app.create_model("fraud");
    app.create_version("fraud");
    app.create_version("fraud");
    let message = app
        .post(
            "/api/v1/models/fraud/versions/1/transition-requests",
            json!({"alias": "challenger"}),
        )
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("not guarded"), "{message}");
    app.post(
        "/api/v1/models/fraud/versions/1/transition-requests",
        json!({"alias": "champion", "stage": "Staging"}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");

    let carl = app.user_token("carl", "contributor");
    let request = app
        .call_as(
            Some(&carl),
            "POST",
            "/api/v1/models/fraud/versions/2/transition-requests",
            Some(json!({"alias": "champion"})),
        )
        .expect(201)
        .clone();
    app.delete("/api/v1/models/fraud/versions/2").expect(204);
    let id = request["id"].as_i64().unwrap_or_default();
    let stale = app
        .get(&format!("/api/v1/transition-requests/{id}"))
        .expect(200)
        .clone();
    assert_eq!(stale["status"], "stale", "{stale}");
}

#[test]
fn configured_alias_rules_match_by_glob_and_require_their_stage() {
    let app = spawn_app_with_config(
        "[[lifecycle.alias_rules]]\nalias = \"prod-*\"\ndirect = \"approver\"\napprovals = 2\nstage = \"Production\"\n",
    );
    let carl = app.user_token("carl", "contributor");
    let paula = app.user_token("paula", "approver");
    app.create_model("fraud");
    app.create_version("fraud");
    set_as(&app, &carl, "fraud", "prod-eu", 1).expect_error(403, "APPROVAL_REQUIRED");
    let message = set_as(&app, &paula, "fraud", "prod-eu", 1).expect_error(409, "CONFLICT");
    assert!(
        message.contains("may only name a version in Production"),
        "{message}"
    );
    app.transition("fraud", 1, "Staging", false).expect(200);
    app.transition("fraud", 1, "Production", false).expect(200);
    set_as(&app, &paula, "fraud", "prod-eu", 1).expect(200);
    // the configured rules replace the default: champion is a contributor's now
    set_as(&app, &carl, "fraud", "champion", 1).expect(200);
    // a request for a glob-guarded alias needs the rule's two approvals
    let request = app
        .call_as(
            Some(&carl),
            "POST",
            "/api/v1/models/fraud/versions/1/transition-requests",
            Some(json!({"alias": "prod-us"})),
        )
        .expect(201)
        .clone();
    assert_eq!(request["required_approvals"], 2);
}

#[test]
fn renaming_a_model_with_a_guarded_alias_needs_the_alias_rules_role() {
    let app = spawn_app();
    let carl = app.user_token("carl", "contributor");
    app.create_model("fraud");
    app.create_version("fraud");
    app.put(
        "/api/v1/models/fraud/aliases/champion",
        json!({"version": 1}),
    )
    .expect(200);
    let message = app
        .call_as(
            Some(&carl),
            "PATCH",
            "/api/v1/models/fraud",
            Some(json!({"name": "fraud-2"})),
        )
        .expect_error(403, "PERMISSION_DENIED");
    assert!(message.contains("models:/fraud@champion"), "{message}");
    app.get("/api/v1/models/fraud").expect(200);
}
