//! Guarded stages hold along every path: a version enters Production only
//! through its gate (Staging -> Production) or as the rollback of a version
//! that was there before; `archive_existing_versions` obeys the policy.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with_config};

#[test]
fn an_approver_cannot_reach_production_through_archived_without_the_gate() {
    let app = spawn_app();
    let approver = app.user_token("paula", "approver");
    app.create_model("fraud");
    app.create_version("fraud");
    app.move_as(&approver, "fraud", 1, "Archived").expect(200);
    let before = app.snapshot();
    let message = app
        .move_as(&approver, "fraud", 1, "Production")
        .expect_error(403, "APPROVAL_REQUIRED");
    assert!(message.contains("Production is guarded"), "{message}");
    assert!(message.contains("Staging -> Production"), "{message}");
    assert!(
        message.contains("/api/v1/models/fraud/versions/1/transition-requests"),
        "{message}"
    );
    assert_eq!(app.stage("fraud", 1), "Archived");
    assert_eq!(app.snapshot(), before, "a refused move changes nothing");

    // the MLflow layer refuses the same path
    let mlflow = app
        .call_as(
            Some(&approver),
            "POST",
            "/api/2.0/mlflow/model-versions/transition-stage",
            Some(
                json!({"name": "fraud", "version": "1", "stage": "Production",
                        "archive_existing_versions": false}),
            ),
        )
        .expect_error(403, "PERMISSION_DENIED");
    assert!(mlflow.contains("transition-requests"), "{mlflow}");
    assert_eq!(app.stage("fraud", 1), "Archived");
}

#[test]
fn a_version_that_crossed_the_gate_rolls_back_by_the_approvers_rule() {
    let app = spawn_app();
    let approver = app.user_token("paula", "approver");
    app.create_model("fraud");
    app.create_version("fraud");
    app.transition("fraud", 1, "Staging", false).expect(200);
    // the admin crosses the gate
    app.transition("fraud", 1, "Production", false).expect(200);
    app.move_as(&approver, "fraud", 1, "Archived").expect(200);
    app.move_as(&approver, "fraud", 1, "Production").expect(200);
    assert_eq!(app.stage("fraud", 1), "Production");
    // and again: a rollback of a rolled-back version is a rollback
    app.move_as(&approver, "fraud", 1, "Archived").expect(200);
    app.move_as(&approver, "fraud", 1, "Production").expect(200);
}

#[test]
fn a_version_archived_by_a_promotion_may_be_rolled_back() {
    let app = spawn_app();
    let approver = app.user_token("paula", "approver");
    app.create_model("fraud");
    for _ in 0..2 {
        let version = app.create_version("fraud");
        app.transition("fraud", version, "Staging", false)
            .expect(200);
        app.transition("fraud", version, "Production", true)
            .expect(200);
    }
    assert_eq!(app.stage("fraud", 1), "Archived");
    app.move_as(&approver, "fraud", 1, "Production").expect(200);
}

#[test]
fn a_request_by_a_weaker_rule_into_a_guarded_stage_needs_the_gates_approvals() {
    let app = spawn_app_with_config(
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Staging\"\nto = \"Production\"\ndirect = \"admin\"\napprovals = 2\n\n\
         [[lifecycle.rules]]\nfrom = \"None\"\nto = \"Archived\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Archived\"\nto = \"Production\"\ndirect = \"approver\"\n",
    );
    let carl = app.user_token("carl", "contributor");
    app.create_model("fraud");
    app.create_version("fraud");
    app.move_as(&carl, "fraud", 1, "Archived").expect(200);
    let request = app
        .call_as(
            Some(&carl),
            "POST",
            "/api/v1/models/fraud/versions/1/transition-requests",
            Some(json!({"stage": "Production"})),
        )
        .expect(201)
        .clone();
    assert_eq!(request["required_approvals"], 2, "{request}");
    let id = request["id"].as_i64().unwrap_or_default();
    let paula = app.user_token("paula", "approver");
    let approved = app
        .call_as(
            Some(&paula),
            "POST",
            &format!("/api/v1/transition-requests/{id}/approve"),
            None,
        )
        .expect(200)
        .clone();
    assert_eq!(
        approved["status"], "pending",
        "one approval is not the gate's two"
    );
    assert_eq!(app.stage("fraud", 1), "Archived");
    let quinn = app.user_token("quinn", "approver");
    let applied = app
        .call_as(
            Some(&quinn),
            "POST",
            &format!("/api/v1/transition-requests/{id}/approve"),
            None,
        )
        .expect(200)
        .clone();
    assert_eq!(applied["status"], "applied", "{applied}");
    assert_eq!(app.stage("fraud", 1), "Production");
}

#[test]
fn archiving_the_others_needs_a_rule_for_each_implied_move() {
    // no Production -> Archived rule
    let app = spawn_app_with_config(
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Staging\"\nto = \"Production\"\ndirect = \"approver\"\n",
    );
    app.create_model("fraud");
    for version in 1..=2 {
        app.create_version("fraud");
        app.transition("fraud", version, "Staging", false)
            .expect(200);
    }
    app.transition("fraud", 1, "Production", false).expect(200);
    let before = app.snapshot();
    let message = app
        .transition("fraud", 2, "Production", true)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        message.contains("would move version 1 from Production to Archived"),
        "{message}"
    );
    assert_eq!(app.stage("fraud", 1), "Production");
    assert_eq!(app.stage("fraud", 2), "Staging");
    assert_eq!(app.snapshot(), before);

    // nor can a request carry it
    let refused = app
        .post(
            "/api/v1/models/fraud/versions/2/transition-requests",
            json!({"stage": "Production", "archive_existing_versions": true}),
        )
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(refused.contains("Production to Archived"), "{refused}");
    assert_eq!(app.snapshot(), before);
}

#[test]
fn archiving_the_others_needs_the_role_each_implied_move_needs() {
    // Production -> Archived is an admin's move; Staging -> Production an approver's
    let app = spawn_app_with_config(
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Staging\"\nto = \"Production\"\ndirect = \"approver\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Production\"\nto = \"Archived\"\ndirect = \"admin\"\n",
    );
    let approver = app.user_token("paula", "approver");
    app.create_model("fraud");
    for version in 1..=2 {
        app.create_version("fraud");
        app.transition("fraud", version, "Staging", false)
            .expect(200);
    }
    app.transition("fraud", 1, "Production", false).expect(200);
    let message = app
        .call_as(
            Some(&approver),
            "POST",
            "/api/v1/models/fraud/versions/2/stage",
            Some(json!({"stage": "Production", "archive_existing_versions": true})),
        )
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("needs role admin"), "{message}");
    assert_eq!(app.stage("fraud", 1), "Production");
    assert_eq!(app.stage("fraud", 2), "Staging");
    // without archiving, the approver's move is the approver's
    app.move_as(&approver, "fraud", 2, "Production").expect(200);
}

#[test]
fn a_policy_whose_guarded_stage_cannot_be_reached_stops_the_server() {
    let error = crate::storage::start_error(
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Archived\"\nto = \"Production\"\ndirect = \"approver\"\n\n\
         [[lifecycle.guards]]\nstage = \"Production\"\ngate = [{ from = \"Archived\" }]\n",
    );
    assert!(error.contains("lifecycle guard of Production"), "{error}");
    assert!(error.contains("no version can reach its gate"), "{error}");
}

#[test]
fn renaming_a_model_that_holds_production_needs_the_gates_role() {
    let app = spawn_app();
    let carl = app.user_token("carl", "contributor");
    for name in ["fraud", "exp"] {
        app.create_model(name);
        app.create_version(name);
        app.transition(name, 1, "Staging", false).expect(200);
        app.transition(name, 1, "Production", false).expect(200);
    }
    let before = app.snapshot();
    // the swap the issue describes: fraud away, exp onto fraud
    let message = app
        .call_as(
            Some(&carl),
            "PATCH",
            "/api/v1/models/fraud",
            Some(json!({"name": "fraud-old"})),
        )
        .expect_error(403, "PERMISSION_DENIED");
    assert!(message.contains("models:/fraud/Production"), "{message}");
    assert!(message.contains("needs role admin"), "{message}");
    let mlflow = app
        .call_as(
            Some(&carl),
            "POST",
            "/api/2.0/mlflow/registered-models/rename",
            Some(json!({"name": "exp", "new_name": "fraud-new"})),
        )
        .expect_error(403, "PERMISSION_DENIED");
    assert!(mlflow.contains("Production is guarded"), "{mlflow}");
    assert_eq!(app.snapshot(), before, "refused renames change nothing");
    app.get("/api/v1/models/fraud").expect(200);
    app.get("/api/v1/models/exp").expect(200);

    // a model in no guarded stage is a contributor's to rename
    app.create_model("draft");
    app.create_version("draft");
    app.call_as(
        Some(&carl),
        "PATCH",
        "/api/v1/models/draft",
        Some(json!({"name": "draft-2"})),
    )
    .expect(200);
    // and the admin meets the gate
    app.patch("/api/v1/models/fraud", json!({"name": "fraud-old"}))
        .expect(200);
}
