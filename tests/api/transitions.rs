use serde_json::json;

use crate::helpers::spawn_app;

#[test]
fn a_version_moves_through_the_lifecycle_and_the_trail_records_each_move() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    let staged = app
        .post(
            "/api/v1/models/m/versions/1/stage",
            json!({"stage": "Staging", "comment": "tests pass"}),
        )
        .expect(200)
        .clone();
    assert_eq!(staged["current_stage"], "Staging");
    app.transition("m", 1, "Production", false).expect(200);
    app.transition("m", 1, "Archived", false).expect(200);
    app.transition("m", 1, "Production", false).expect(200);

    let trail = app
        .get("/api/v1/models/m/versions/1/activity")
        .expect(200)
        .clone();
    let moves: Vec<(String, String, String)> = trail["activities"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|a| {
                    (
                        a["activity_type"].as_str().unwrap_or_default().to_owned(),
                        a["from_stage"].as_str().unwrap_or_default().to_owned(),
                        a["to_stage"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let applied = |from: &str, to: &str| {
        (
            "APPLIED_TRANSITION".to_owned(),
            from.to_owned(),
            to.to_owned(),
        )
    };
    assert_eq!(
        moves,
        vec![
            applied("None", "Staging"),
            applied("Staging", "Production"),
            applied("Production", "Archived"),
            applied("Archived", "Production"),
        ]
    );
    assert_eq!(trail["activities"][0]["comment"], "tests pass");
    assert_eq!(trail["activities"][0]["user"], "admin");
    assert!(trail["activities"][0]["timestamp"].as_i64().is_some());
}

#[test]
fn refused_moves_say_why_and_change_nothing() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    app.create_version("m");
    app.transition("m", 2, "Staging", false).expect(200);
    let before = app.snapshot();

    let message = app
        .transition("m", 1, "Production", false)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("None -> Production"), "{message}");

    let message = app
        .transition("m", 2, "Staging", false)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("already in stage Staging"), "{message}");

    let message = app
        .transition("m", 1, "Prod", false)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("invalid stage"), "{message}");

    let message = app
        .transition("m", 2, "Archived", true)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("archive_existing_versions"), "{message}");

    app.transition("m", 7, "Staging", false)
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    app.transition("ghost", 1, "Staging", false)
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.snapshot(), before);

    assert_eq!(app.delete("/api/v1/models/m/versions/1").status, 204);
    let message = app
        .transition("m", 1, "Staging", false)
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert!(message.contains("version 1"), "{message}");
    assert_eq!(app.stages("m"), vec![(2, "Staging".to_owned())]);
}

#[test]
fn archive_existing_versions_archives_the_previous_production_version_with_a_system_transition() {
    let app = spawn_app();
    app.create_model("m");
    for v in 1..=3 {
        app.create_version("m");
        app.transition("m", v, "Staging", false).expect(200);
    }
    app.transition("m", 1, "Production", false).expect(200);
    app.transition("m", 2, "Production", false).expect(200);
    // without archiving, two versions may share Production
    assert_eq!(
        app.stages("m"),
        vec![
            (1, "Production".to_owned()),
            (2, "Production".to_owned()),
            (3, "Staging".to_owned())
        ]
    );
    let events_before = app.count("events");
    app.transition("m", 3, "Production", true).expect(200);
    assert_eq!(
        app.stages("m"),
        vec![
            (1, "Archived".to_owned()),
            (2, "Archived".to_owned()),
            (3, "Production".to_owned())
        ]
    );
    // one event per version that moved, in the same transaction
    assert_eq!(app.count("events"), events_before + 3);
    let trail = app
        .get("/api/v1/models/m/versions/1/activity")
        .expect(200)
        .clone();
    let last = trail["activities"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["activity_type"], "SYSTEM_TRANSITION");
    assert_eq!(last["from_stage"], "Production");
    assert_eq!(last["to_stage"], "Archived");
    assert!(
        last["comment"]
            .as_str()
            .unwrap_or_default()
            .contains("version 3")
    );
}

#[test]
fn two_concurrent_promotions_with_archiving_leave_exactly_one_version_in_production() {
    let app = spawn_app();
    app.create_model("race");
    for v in 1..=8 {
        app.create_version("race");
        app.transition("race", v, "Staging", false).expect(200);
    }
    for round in 0..4 {
        let (a, b) = (round * 2 + 1, round * 2 + 2);
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let first = scope.spawn(|| app.transition("race", a, "Production", true).status);
            let second = scope.spawn(|| app.transition("race", b, "Production", true).status);
            vec![
                first.join().unwrap_or_default(),
                second.join().unwrap_or_default(),
            ]
        });
        assert_eq!(statuses, vec![200, 200], "round {round}");
        let in_production: Vec<i64> = app
            .stages("race")
            .into_iter()
            .filter(|(_, stage)| stage == "Production")
            .map(|(v, _)| v)
            .collect();
        assert_eq!(in_production.len(), 1, "round {round}: {in_production:?}");
        assert!(in_production[0] == a || in_production[0] == b);
    }
}

/// Makes the database refuse, mid-transaction, the statement `when` names:
/// a trigger on the table raising an error.
fn inject_failure(app: &crate::helpers::TestApp, table: &str, when: &str) {
    use diesel::connection::SimpleConnection;
    let statements = match &app.db {
        Some(crate::helpers::TestDb::Postgres { .. }) => format!(
            "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
             CREATE TRIGGER injected_failure BEFORE INSERT OR UPDATE ON {table} \
             FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION injected_failure();"
        ),
        _ => format!(
            "CREATE TRIGGER injected_failure_update BEFORE UPDATE ON {table} WHEN {when} \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END; \
             CREATE TRIGGER injected_failure_insert BEFORE INSERT ON {table} WHEN {when} \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        ),
    };
    let mut conn = app.conn();
    conn.batch_execute(&statements)
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

#[test]
fn a_move_that_archives_others_is_undone_whole_when_the_database_fails_midway() {
    // versions 1 and 2 in Production, 3 in Staging: moving 3 to Production
    // with archive_existing_versions archives 1, then fails on 2
    let setup = || {
        let app = spawn_app();
        app.create_model("m");
        for version in 1..=3 {
            app.create_version("m");
            app.transition("m", version, "Staging", false).expect(200);
        }
        app.transition("m", 1, "Production", false).expect(200);
        app.transition("m", 2, "Production", false).expect(200);
        app
    };
    for (table, when) in [
        // archiving the second of the two
        (
            "model_versions",
            "NEW.version = 2 AND NEW.current_stage = 'Archived'",
        ),
        // or appending the move's event, the write's last statement
        ("events", "NEW.event_type = 'version.stage_changed'"),
    ] {
        for api in ["native", "mlflow", "approval"] {
            let app = setup();
            let approver = app.user_token("april", "approver");
            let carol = app.user_token("carol", "contributor");
            let request = app
                .call_as(
                    Some(&carol),
                    "POST",
                    "/api/v1/models/m/versions/3/transition-requests",
                    Some(json!({"stage": "Production", "archive_existing_versions": true})),
                )
                .expect(201)["id"]
                .clone();
            inject_failure(&app, table, when);
            let before = app.snapshot();
            let response = match api {
                "native" => app.post(
                    "/api/v1/models/m/versions/3/stage",
                    json!({"stage": "Production", "archive_existing_versions": true}),
                ),
                "mlflow" => app.post(
                    "/api/2.0/mlflow/model-versions/transition-stage",
                    json!({"name": "m", "version": "3", "stage": "Production",
                           "archive_existing_versions": true}),
                ),
                _ => app.call_as(
                    Some(&approver),
                    "POST",
                    &format!("/api/v1/transition-requests/{request}/approve"),
                    Some(json!({})),
                ),
            };
            // (MLflow's code for a server error is the same)
            let message = response.expect_error(500, "INTERNAL_ERROR");
            assert!(!message.contains("injected"), "{api}: {message}");
            assert_eq!(app.snapshot(), before, "{api} through {table}");
            assert_eq!(
                app.stages("m"),
                vec![
                    (1, "Production".into()),
                    (2, "Production".into()),
                    (3, "Staging".into())
                ],
                "{api} through {table}"
            );
            app.assert_audit_intact();
        }
    }
}
