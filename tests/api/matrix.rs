//! The lifecycle as a matrix: every (from, to) pair × every role, moved
//! directly through both APIs and by request through the native one, under
//! the default policy, against the policy table and its guard. Each cell
//! asserts the answer and the stored stage.

use serde_json::json;

use crate::guard_paths::{Policy, ROLES, STAGES, default_rules, rank};
use crate::helpers::spawn_app;

/// How the version reaches `from` first (by the admin): Production through
/// its gate, Archived straight from None (so it is not cleared for Production).
fn setup_path(from: &str) -> &'static [&'static str] {
    match from {
        "Staging" => &["Staging"],
        "Production" => &["Staging", "Production"],
        "Archived" => &["Archived"],
        _ => &[],
    }
}

/// What the policy says of `role` moving from -> to directly, for a version
/// brought to `from` by `setup_path`: Some(true) direct, Some(false) needs a
/// request, None no rule.
fn oracle(policy: &Policy, role: &str, from: &str, to: &str) -> Option<bool> {
    let (_, _, direct) = policy.rule(from, to)?;
    let by_rule = role == "admin" || rank(role) >= rank(direct);
    let guarded = policy.gate(to).is_some();
    let through_gate = policy.gate(to).is_some_and(|gate| gate.contains(&from));
    let cleared = setup_path(from).contains(&to);
    Some(by_rule && (!guarded || through_gate || cleared || policy.meets_gate(role, to)))
}

#[test]
fn every_move_by_every_role_through_both_apis_follows_the_policy_table() {
    let policy = Policy {
        name: "default",
        rules: default_rules(),
        guards: vec![("Production", vec!["Staging"])],
    };
    let app = spawn_app();
    let tokens: Vec<(String, &str)> = ROLES
        .iter()
        .map(|role| (app.user_token(&format!("user-{role}"), role), *role))
        .collect();
    let mut cells = 0;
    for from in STAGES {
        for to in STAGES.into_iter().filter(|to| *to != from) {
            for (token, role) in &tokens {
                for api in ["native", "mlflow"] {
                    cells += 1;
                    let name = format!("m{cells}");
                    app.create_model(&name);
                    app.create_version(&name);
                    for step in setup_path(from) {
                        app.transition(&name, 1, step, false).expect(200);
                    }
                    let response = match api {
                        "native" => app.call_as(
                            Some(token),
                            "POST",
                            &format!("/api/v1/models/{name}/versions/1/stage"),
                            Some(json!({ "stage": to })),
                        ),
                        _ => app.call_as(
                            Some(token),
                            "POST",
                            "/api/2.0/mlflow/model-versions/transition-stage",
                            Some(json!({"name": name, "version": "1", "stage": to,
                                        "archive_existing_versions": false})),
                        ),
                    };
                    let case = format!("{api}: {role} moving {from} -> {to}");
                    match oracle(&policy, role, from, to) {
                        Some(true) => {
                            response.expect(200);
                            assert_eq!(app.stage(&name, 1), to, "{case}");
                        }
                        Some(false) => {
                            let code = if api == "native" {
                                "APPROVAL_REQUIRED"
                            } else {
                                "PERMISSION_DENIED"
                            };
                            let message = response.expect_error(403, code);
                            assert!(message.contains("transition-requests"), "{case}: {message}");
                            assert_eq!(app.stage(&name, 1), from, "{case}");
                        }
                        None => {
                            response.expect_error(400, "INVALID_PARAMETER_VALUE");
                            assert_eq!(app.stage(&name, 1), from, "{case}");
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cells, 12 * 4 * 2);
    app.assert_audit_intact();
}

#[test]
fn every_move_by_request_follows_the_policy_table() {
    let policy = Policy {
        name: "default",
        rules: default_rules(),
        guards: vec![("Production", vec!["Staging"])],
    };
    let app = spawn_app();
    let tokens: Vec<(String, &str)> = ROLES
        .iter()
        .map(|role| (app.user_token(&format!("user-{role}"), role), *role))
        .collect();
    // two approvers, so the requester is never the only one who may approve
    let approvers = [
        app.user_token("alice", "approver"),
        app.user_token("bob", "approver"),
    ];
    let mut cells = 0;
    for from in STAGES {
        for to in STAGES.into_iter().filter(|to| *to != from) {
            for (token, role) in &tokens {
                cells += 1;
                let name = format!("r{cells}");
                app.create_model(&name);
                app.create_version(&name);
                for step in setup_path(from) {
                    app.transition(&name, 1, step, false).expect(200);
                }
                let case = format!("{role} requesting {from} -> {to}");
                let response = app.call_as(
                    Some(token),
                    "POST",
                    &format!("/api/v1/models/{name}/versions/1/transition-requests"),
                    Some(json!({ "stage": to })),
                );
                if *role == "viewer" {
                    response.expect_error(403, "PERMISSION_DENIED");
                    assert_eq!(app.stage(&name, 1), from, "{case}");
                    continue;
                }
                if policy.rule(from, to).is_none() {
                    response.expect_error(400, "INVALID_PARAMETER_VALUE");
                    assert_eq!(app.stage(&name, 1), from, "{case}");
                    continue;
                }
                let request = response.expect(201).clone();
                assert_eq!(request["status"], "pending", "{case}");
                assert_eq!(request["from_stage"], from, "{case}");
                assert_eq!(request["to_stage"], to, "{case}");
                assert_eq!(request["required_approvals"], 1, "{case}");
                assert_eq!(app.stage(&name, 1), from, "{case}: a request moves nothing");
                let id = request["id"].as_i64().unwrap_or_default();
                let approver = &approvers[cells % 2];
                let applied = app
                    .call_as(
                        Some(approver),
                        "POST",
                        &format!("/api/v1/transition-requests/{id}/approve"),
                        None,
                    )
                    .expect(200)
                    .clone();
                assert_eq!(applied["status"], "applied", "{case}");
                assert_eq!(app.stage(&name, 1), to, "{case}");
            }
        }
    }
    assert_eq!(cells, 12 * 4);
}
