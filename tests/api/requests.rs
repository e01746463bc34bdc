//! Transition requests: the approval gate.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with_config};

struct People {
    carol: String,
    dave: String,
    april: String,
    avery: String,
    viewer: String,
}

fn people(app: &TestApp) -> People {
    People {
        carol: app.user_token("carol", "contributor"),
        dave: app.user_token("dave", "contributor"),
        april: app.user_token("april", "approver"),
        avery: app.user_token("avery", "approver"),
        viewer: app.user_token("vic", "viewer"),
    }
}

/// A model with `count` versions, all moved to Staging.
fn staged_model(app: &TestApp, name: &str, count: i64) {
    app.create_model(name);
    for v in 1..=count {
        app.create_version(name);
        app.transition(name, v, "Staging", false).expect(200);
    }
}

fn request(app: &TestApp, token: &str, name: &str, version: i64, body: Value) -> Value {
    app.call_as(
        Some(token),
        "POST",
        &format!("/api/v1/models/{name}/versions/{version}/transition-requests"),
        Some(body),
    )
    .expect(201)
    .clone()
}

fn decide(app: &TestApp, token: &str, id: &Value, action: &str) -> crate::helpers::TestResponse {
    app.call_as(
        Some(token),
        "POST",
        &format!("/api/v1/transition-requests/{id}/{action}"),
        Some(json!({"comment": format!("{action} by token")})),
    )
}

fn trail(app: &TestApp, name: &str, version: i64) -> Vec<(String, String)> {
    app.get(&format!(
        "/api/v1/models/{name}/versions/{version}/activity"
    ))
    .expect(200)["activities"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|a| {
                    (
                        a["activity_type"].as_str().unwrap_or_default().to_owned(),
                        a["user"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_approved_request_applies_the_move_with_archiving_and_a_full_trail() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 2);
    app.transition("m", 1, "Production", false).expect(200);

    let created = request(
        &app,
        &p.carol,
        "m",
        2,
        json!({"stage": "Production", "archive_existing_versions": true, "comment": "beats v1"}),
    );
    assert_eq!(created["name"], "m");
    assert_eq!(created["version"], 2);
    assert_eq!(created["from_stage"], "Staging");
    assert_eq!(created["to_stage"], "Production");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["requested_by"], "carol");
    assert_eq!(created["required_approvals"], 1);
    assert_eq!(created["approvals"], json!([]));
    assert_eq!(created["comment"], "beats v1");
    let id = created["id"].clone();
    assert_eq!(
        app.get(&format!("/api/v1/transition-requests/{id}"))
            .expect(200),
        &created
    );
    // nothing moved yet
    assert_eq!(
        app.stages("m"),
        vec![(1, "Production".into()), (2, "Staging".into())]
    );

    let applied = decide(&app, &p.april, &id, "approve").expect(200).clone();
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["decided_by"], "april");
    assert_eq!(applied["approvals"][0]["user"], "april");
    assert_eq!(applied["approvals"][0]["comment"], "approve by token");
    assert_eq!(
        app.stages("m"),
        vec![(1, "Archived".into()), (2, "Production".into())]
    );

    assert_eq!(
        trail(&app, "m", 2),
        vec![
            ("APPLIED_TRANSITION".to_owned(), "admin".to_owned()),
            ("REQUESTED_TRANSITION".to_owned(), "carol".to_owned()),
            ("APPROVED_REQUEST".to_owned(), "april".to_owned()),
            ("APPLIED_TRANSITION".to_owned(), "april".to_owned()),
        ]
    );
    let activities = app
        .get("/api/v1/models/m/versions/2/activity")
        .expect(200)
        .clone();
    assert_eq!(activities["activities"][3]["request_id"], id);
    assert_eq!(
        trail(&app, "m", 1).last().map(|(t, _)| t.as_str()),
        Some("SYSTEM_TRANSITION")
    );

    let events = app.get("/api/v1/events?model=m").expect(200).clone();
    let types: Vec<&str> = events["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["event_type"].as_str()).collect())
        .unwrap_or_default();
    let tail = &types[types.len() - 4..];
    assert_eq!(
        tail,
        [
            "request.created",
            "request.approved",
            "version.stage_changed",
            "version.stage_changed"
        ]
    );
}

#[test]
fn requesters_cannot_approve_their_own_request_and_viewers_or_contributors_cannot_approve() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 1);
    let id = request(&app, &p.april, "m", 1, json!({"stage": "Production"}))["id"].clone();
    let before = app.snapshot();
    let message = decide(&app, &p.april, &id, "approve").expect_error(403, "PERMISSION_DENIED");
    assert!(message.contains("own request"), "{message}");
    decide(&app, &p.carol, &id, "approve").expect_error(403, "PERMISSION_DENIED");
    decide(&app, &p.viewer, &id, "approve").expect_error(403, "PERMISSION_DENIED");
    decide(&app, &p.carol, &id, "reject").expect_error(403, "PERMISSION_DENIED");
    decide(&app, &p.april, &id, "reject").expect_error(403, "PERMISSION_DENIED");
    assert_eq!(app.snapshot(), before);
    // an admin's own request needs someone else too
    let admin_request =
        request(&app, &app.admin_token, "m", 1, json!({"stage": "Archived"}))["id"].clone();
    decide(&app, &app.admin_token, &admin_request, "approve")
        .expect_error(403, "PERMISSION_DENIED");
    assert_eq!(
        decide(&app, &p.avery, &admin_request, "approve").expect(200)["status"],
        "applied"
    );
}

#[test]
fn a_rejected_request_is_closed_and_moves_nothing() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 1);
    let id = request(&app, &p.carol, "m", 1, json!({"stage": "Production"}))["id"].clone();
    let rejected = decide(&app, &p.april, &id, "reject").expect(200).clone();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["decided_by"], "april");
    assert_eq!(rejected["decision_comment"], "reject by token");
    assert_eq!(app.stages("m"), vec![(1, "Staging".into())]);
    for action in ["approve", "reject", "cancel"] {
        let token = if action == "cancel" {
            &p.carol
        } else {
            &p.avery
        };
        let message = decide(&app, token, &id, action).expect_error(409, "CONFLICT");
        assert!(message.contains("rejected"), "{message}");
    }
    assert_eq!(
        trail(&app, "m", 1)[1..],
        [
            ("REQUESTED_TRANSITION".to_owned(), "carol".to_owned()),
            ("REJECTED_REQUEST".to_owned(), "april".to_owned()),
        ]
    );
}

#[test]
fn only_the_requester_or_an_admin_may_cancel() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 2);
    let first = request(&app, &p.carol, "m", 1, json!({"stage": "Production"}))["id"].clone();
    decide(&app, &p.dave, &first, "cancel").expect_error(403, "PERMISSION_DENIED");
    decide(&app, &p.april, &first, "cancel").expect_error(403, "PERMISSION_DENIED");
    let cancelled = decide(&app, &p.carol, &first, "cancel").expect(200).clone();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["decided_by"], "carol");
    let second = request(&app, &p.carol, "m", 2, json!({"stage": "Production"}))["id"].clone();
    assert_eq!(
        decide(&app, &app.admin_token, &second, "cancel").expect(200)["status"],
        "cancelled"
    );
    assert_eq!(
        trail(&app, "m", 1).last().map(|(t, _)| t.as_str()),
        Some("CANCELLED_REQUEST")
    );
}

#[test]
fn a_request_whose_version_moved_goes_stale_and_cannot_be_approved() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 1);
    let id = request(&app, &p.carol, "m", 1, json!({"stage": "Production"}))["id"].clone();
    // the version moves elsewhere before anyone approves
    app.transition("m", 1, "Archived", false).expect(200);
    assert_eq!(
        app.get(&format!("/api/v1/transition-requests/{id}"))
            .expect(200)["status"],
        "stale"
    );
    let message = decide(&app, &p.april, &id, "approve").expect_error(409, "CONFLICT");
    assert!(message.contains("stale"), "{message}");
    assert_eq!(app.stages("m"), vec![(1, "Archived".into())]);

    // and a deleted version's requests go stale too
    app.create_version("m");
    app.transition("m", 2, "Staging", false).expect(200);
    let id = request(&app, &p.carol, "m", 2, json!({"stage": "Production"}))["id"].clone();
    assert_eq!(app.delete("/api/v1/models/m/versions/2").status, 204);
    assert_eq!(
        app.get(&format!("/api/v1/transition-requests/{id}"))
            .expect(200)["status"],
        "stale"
    );
}

#[test]
fn another_versions_archive_existing_makes_a_pending_request_stale_with_an_event() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 1);
    let id = request(&app, &p.carol, "m", 1, json!({"stage": "Production"}))["id"].clone();
    // version 2 enters Staging and archives the versions already there
    app.create_version("m");
    app.transition("m", 2, "Staging", true).expect(200);
    assert_eq!(
        app.stages("m"),
        vec![(1, "Archived".into()), (2, "Staging".into())]
    );
    assert_eq!(
        app.get(&format!("/api/v1/transition-requests/{id}"))
            .expect(200)["status"],
        "stale"
    );
    let events = app
        .get("/api/v1/events?model=m&type=request.stale")
        .expect(200)["events"]
        .clone();
    let events = events.as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["version"], 1);
    assert_eq!(events[0]["payload"]["id"], id);
    assert_eq!(events[0]["payload"]["from_stage"], "Staging");
    assert_eq!(events[0]["payload"]["current_stage"], "Archived");
    decide(&app, &p.april, &id, "approve").expect_error(409, "CONFLICT");
    assert_eq!(app.stage("m", 1), "Archived");
}

#[test]
fn requests_are_validated_against_the_policy() {
    let app = spawn_app();
    let p = people(&app);
    app.create_model("m");
    app.create_version("m");
    let path = "/api/v1/models/m/versions/1/transition-requests";
    let before = app.snapshot();
    for (body, status, code) in [
        (
            json!({"stage": "Production"}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (json!({"stage": "None"}), 400, "INVALID_PARAMETER_VALUE"),
        (json!({"stage": "Live"}), 400, "INVALID_PARAMETER_VALUE"),
        (
            json!({"stage": "Archived", "archive_existing_versions": true}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"stage": "Staging", "extra": 1}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
    ] {
        app.call_as(Some(&p.carol), "POST", path, Some(body))
            .expect_error(status, code);
    }
    app.call_as(
        Some(&p.viewer),
        "POST",
        path,
        Some(json!({"stage": "Staging"})),
    )
    .expect_error(403, "PERMISSION_DENIED");
    app.call_as(
        Some(&p.carol),
        "POST",
        "/api/v1/models/m/versions/9/transition-requests",
        Some(json!({"stage": "Staging"})),
    )
    .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.snapshot(), before);
    request(&app, &p.carol, "m", 1, json!({"stage": "Staging"}));
    let message = app
        .call_as(
            Some(&p.dave),
            "POST",
            path,
            Some(json!({"stage": "Staging"})),
        )
        .expect_error(409, "CONFLICT");
    assert!(message.contains("already pending"), "{message}");
    app.post(
        "/api/v1/transition-requests/1/approve",
        json!({"unknown": true}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.get("/api/v1/transition-requests/abc")
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.get("/api/v1/transition-requests/99")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    app.get("/api/v1/transition-requests?status=open")
        .expect_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn racing_approvers_apply_the_move_exactly_once() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "race", 6);
    for version in 1..=6 {
        let id = request(
            &app,
            &p.carol,
            "race",
            version,
            json!({"stage": "Production", "archive_existing_versions": true}),
        )["id"]
            .clone();
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let first = scope.spawn(|| decide(&app, &p.april, &id, "approve").status);
            let second = scope.spawn(|| decide(&app, &p.avery, &id, "approve").status);
            let mut statuses = vec![
                first.join().unwrap_or_default(),
                second.join().unwrap_or_default(),
            ];
            statuses.sort_unstable();
            statuses
        });
        assert_eq!(statuses, vec![200, 409], "version {version}");
        let applied = trail(&app, "race", version)
            .iter()
            .filter(|(t, _)| t == "APPLIED_TRANSITION")
            .count();
        assert_eq!(
            applied, 2,
            "version {version}: Staging by admin, Production once"
        );
        let production: Vec<i64> = app
            .stages("race")
            .into_iter()
            .filter(|(_, s)| s == "Production")
            .map(|(v, _)| v)
            .collect();
        assert_eq!(production, vec![version]);
    }
}

#[test]
fn a_two_approval_rule_from_the_config_file_needs_two_distinct_approvers() {
    let app = spawn_app_with_config(
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Staging\"\nto = \"Production\"\ndirect = \"admin\"\napprovals = 2\n",
    );
    let p = people(&app);
    let policy = app.get("/api/v1/policy").expect(200).clone();
    assert_eq!(
        policy,
        json!({"rules": [
            {"from": "None", "to": "Staging", "direct": "contributor", "approvals": 1},
            {"from": "Staging", "to": "Production", "direct": "admin", "approvals": 2},
        ], "guards": [
            {"stage": "Production", "gate": [
                {"from": "Staging", "to": "Production", "direct": "admin", "approvals": 2},
            ]},
        ], "alias_rules": [
            {"alias": "champion", "direct": "admin", "approvals": 2, "stage": null},
        ]})
    );
    staged_model(&app, "m", 1);
    let created = request(&app, &p.carol, "m", 1, json!({"stage": "Production"}));
    assert_eq!(created["required_approvals"], 2);
    let id = created["id"].clone();
    let first = decide(&app, &p.april, &id, "approve").expect(200).clone();
    assert_eq!(first["status"], "pending");
    assert_eq!(first["approvals"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.stages("m"), vec![(1, "Staging".into())]);
    let message = decide(&app, &p.april, &id, "approve").expect_error(409, "CONFLICT");
    assert!(message.contains("already approved"), "{message}");
    let second = decide(&app, &p.avery, &id, "approve").expect(200).clone();
    assert_eq!(second["status"], "applied");
    assert_eq!(app.stages("m"), vec![(1, "Production".into())]);
    // no rule for Production -> Archived in this table
    app.transition("m", 1, "Archived", false)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn requests_are_listed_newest_first_and_filtered() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "a", 2);
    staged_model(&app, "b", 1);
    let mut ids = Vec::new();
    for (name, version) in [("a", 1), ("a", 2), ("b", 1)] {
        ids.push(
            request(
                &app,
                &p.carol,
                name,
                version,
                json!({"stage": "Production"}),
            )["id"]
                .clone(),
        );
    }
    decide(&app, &p.april, &ids[0], "reject").expect(200);
    let list = |query: &str| -> Vec<Value> {
        app.call_as(
            Some(&p.viewer),
            "GET",
            &format!("/api/v1/transition-requests{query}"),
            None,
        )
        .expect(200)["requests"]
            .as_array()
            .map(|r| r.iter().map(|r| r["id"].clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        list(""),
        vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(
        list("?status=pending"),
        vec![ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(list("?model=a"), vec![ids[1].clone(), ids[0].clone()]);
    assert_eq!(list("?model=a&status=rejected"), vec![ids[0].clone()]);
    assert_eq!(
        list("?model=a&version=2&stage=Production"),
        vec![ids[1].clone()]
    );
    let page = app
        .get("/api/v1/transition-requests?max_results=2")
        .expect(200)
        .clone();
    let token = page["next_page_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        list(&format!("?max_results=2&page_token={token}")),
        vec![ids[0].clone()]
    );
}

#[test]
fn decision_bodies_may_be_empty_but_otherwise_must_be_json() {
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 1);
    let id = request(&app, &p.carol, "m", 1, json!({"stage": "Production"}))["id"].clone();
    let authorization = format!("Bearer {}", p.april);
    let path = format!("/api/v1/transition-requests/{id}/reject");
    let before = app.snapshot();
    app.raw(
        "POST",
        &path,
        Some(b"{\"comment\": \"x\"}".to_vec()),
        &[
            ("Authorization", &authorization),
            ("Content-Type", "text/plain"),
        ],
    )
    .expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
    let huge = format!("{{\"comment\": \"{}\"}}", "c".repeat(2 * 1024 * 1024));
    app.raw(
        "POST",
        &path,
        Some(huge.into_bytes()),
        &[
            ("Authorization", &authorization),
            ("Content-Type", "application/json"),
        ],
    )
    .expect_error(413, "REQUEST_TOO_LARGE");
    app.raw(
        "POST",
        &path,
        Some(b"{".to_vec()),
        &[
            ("Authorization", &authorization),
            ("Content-Type", "application/json"),
        ],
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(app.snapshot(), before);
    let rejected = app.raw("POST", &path, None, &[("Authorization", &authorization)]);
    assert_eq!(rejected.expect(200)["status"], "rejected");
}

#[test]
fn approving_follows_the_policy_in_force_not_the_one_at_request_time() {
    // the same database, first with the default policy, then with a stricter one
    let app = spawn_app();
    let p = people(&app);
    staged_model(&app, "m", 1);
    let id = request(&app, &p.carol, "m", 1, json!({"stage": "Production"}))["id"].clone();
    let mut settings = app.settings.clone();
    let rule = |from: &str, to: &str, approvals| modelgate::config::RuleSettings {
        from: from.into(),
        to: to.into(),
        direct: if to == "Production" {
            "admin"
        } else {
            "contributor"
        }
        .into(),
        approvals,
    };
    settings.lifecycle.rules = Some(vec![
        rule("None", "Staging", 1),
        rule("Staging", "Production", 2),
    ]);
    let stricter = crate::helpers::start(settings, None, None);
    let first = decide(&stricter, &p.april, &id, "approve")
        .expect(200)
        .clone();
    assert_eq!(first["status"], "pending");
    assert_eq!(first["required_approvals"], 2);
    assert_eq!(
        decide(&stricter, &p.avery, &id, "approve").expect(200)["status"],
        "applied"
    );
    // a rule removed since the request: approving is a conflict
    staged_model(&app, "n", 1);
    let id = request(&app, &p.carol, "n", 1, json!({"stage": "Archived"}))["id"].clone();
    let message = decide(&stricter, &p.april, &id, "approve").expect_error(409, "CONFLICT");
    assert!(message.contains("no longer allows"), "{message}");
}

#[test]
fn the_default_policy_answers_the_designs_nine_rules() {
    let app = spawn_app();
    let viewer = app.user_token("vic", "viewer");
    let policy = app
        .call_as(Some(&viewer), "GET", "/api/v1/policy", None)
        .expect(200)
        .clone();
    let rules: Vec<(String, String, String, i64)> = policy["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no rules in {policy}"))
        .iter()
        .map(|rule| {
            (
                rule["from"].as_str().unwrap_or_default().to_owned(),
                rule["to"].as_str().unwrap_or_default().to_owned(),
                rule["direct"].as_str().unwrap_or_default().to_owned(),
                rule["approvals"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let design = [
        ("None", "Staging", "contributor"),
        ("None", "Archived", "contributor"),
        ("Staging", "None", "contributor"),
        ("Staging", "Production", "admin"),
        ("Staging", "Archived", "contributor"),
        ("Production", "Staging", "approver"),
        ("Production", "Archived", "approver"),
        ("Archived", "Staging", "contributor"),
        ("Archived", "Production", "approver"),
    ];
    let mut expected: Vec<(String, String, String, i64)> = design
        .iter()
        .map(|(from, to, direct)| ((*from).into(), (*to).into(), (*direct).into(), 1))
        .collect();
    let mut sorted = rules.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "{policy}");
    assert_eq!(rules.len(), 9);
    assert_eq!(
        policy["guards"],
        json!([{"stage": "Production", "gate": [
            {"from": "Staging", "to": "Production", "direct": "admin", "approvals": 1},
        ]}])
    );
}
