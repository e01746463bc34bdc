use std::collections::BTreeSet;

use serde_json::json;

use crate::helpers::spawn_app;

#[test]
fn a_version_is_registered_with_everything_it_was_given() {
    let app = spawn_app();
    app.create_model("m");
    let version = app
        .post(
            "/api/v1/models/m/versions",
            json!({
                "source": "s3://bucket/m/1",
                "run_id": "run-1",
                "run_link": "https://ci.example/run-1",
                "description": "first",
                "tags": {"framework": "sklearn"}
            }),
        )
        .expect(201)
        .clone();
    assert_eq!(version["name"], "m");
    assert_eq!(version["version"], 1);
    assert_eq!(version["source"], "s3://bucket/m/1");
    assert_eq!(version["run_id"], "run-1");
    assert_eq!(version["run_link"], "https://ci.example/run-1");
    assert_eq!(version["description"], "first");
    assert_eq!(version["tags"], json!({"framework": "sklearn"}));
    assert_eq!(version["current_stage"], "None");
    assert_eq!(version["status"], "READY");
    assert_eq!(version["aliases"], json!([]));
    assert_eq!(version["created_by"], "admin");
    assert_eq!(app.get("/api/v1/models/m/versions/1").expect(200), &version);
    let model = app.get("/api/v1/models/m").expect(200).clone();
    assert_eq!(model["latest_versions"], json!([version]));
}

#[test]
fn a_version_of_a_missing_model_is_404_and_creates_nothing() {
    let app = spawn_app();
    let before = app.snapshot();
    app.post("/api/v1/models/ghost/versions", json!({"source": "s3://x"}))
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.snapshot(), before);
}

#[test]
fn fifty_concurrent_version_creations_get_exactly_one_to_fifty() {
    let app = spawn_app();
    app.create_model("busy");
    let numbers: BTreeSet<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|_| scope.spawn(|| app.create_version("busy")))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("creator thread panicked"))
            })
            .collect()
    });
    assert_eq!(numbers, (1..=50).collect::<BTreeSet<i64>>());
    assert_eq!(app.count("model_versions"), 50);
}

#[test]
fn version_numbers_are_never_reused_after_a_delete() {
    let app = spawn_app();
    app.create_model("m");
    assert_eq!(app.create_version("m"), 1);
    assert_eq!(app.create_version("m"), 2);
    assert_eq!(app.delete("/api/v1/models/m/versions/2").status, 204);
    app.get("/api/v1/models/m/versions/2")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.create_version("m"), 3);
    app.delete("/api/v1/models/m/versions/2")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
}

#[test]
fn versions_are_listed_by_stage_newest_first_and_paged() {
    let app = spawn_app();
    app.create_model("m");
    for _ in 0..5 {
        app.create_version("m");
    }
    app.transition("m", 2, "Staging", false).expect(200);
    app.transition("m", 4, "Staging", false).expect(200);

    let all = app.get("/api/v1/models/m/versions").expect(200).clone();
    let numbers: Vec<i64> = all["versions"]
        .as_array()
        .map(|v| v.iter().filter_map(|v| v["version"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(numbers, vec![5, 4, 3, 2, 1]);
    assert!(all.get("next_page_token").is_none());

    let staging = app
        .get("/api/v1/models/m/versions?stage=Staging")
        .expect(200)
        .clone();
    let numbers: Vec<i64> = staging["versions"]
        .as_array()
        .map(|v| v.iter().filter_map(|v| v["version"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(numbers, vec![4, 2]);

    let first = app
        .get("/api/v1/models/m/versions?max_results=2&order_by=version%20ASC")
        .expect(200)
        .clone();
    assert_eq!(first["versions"][1]["version"], 2);
    let token = first["next_page_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second = app
        .get(&format!(
            "/api/v1/models/m/versions?max_results=2&order_by=version%20ASC&page_token={token}"
        ))
        .expect(200)
        .clone();
    assert_eq!(second["versions"][0]["version"], 3);

    app.get("/api/v1/models/m/versions?stage=Prod")
        .expect_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn latest_version_per_stage_is_the_newest_in_that_stage() {
    let app = spawn_app();
    app.create_model("m");
    for _ in 0..3 {
        app.create_version("m");
    }
    app.transition("m", 1, "Staging", false).expect(200);
    app.transition("m", 1, "Production", false).expect(200);
    app.transition("m", 2, "Staging", false).expect(200);

    assert_eq!(
        app.get("/api/v1/models/m/latest?stage=Production")
            .expect(200)["version"],
        1
    );
    assert_eq!(
        app.get("/api/v1/models/m/latest?stage=Staging").expect(200)["version"],
        2
    );
    assert_eq!(
        app.get("/api/v1/models/m/latest?stage=None").expect(200)["version"],
        3
    );
    assert_eq!(app.get("/api/v1/models/m/latest").expect(200)["version"], 3);
    app.get("/api/v1/models/m/latest?stage=Archived")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");

    let model = app.get("/api/v1/models/m").expect(200).clone();
    let latest: Vec<(String, i64)> = model["latest_versions"]
        .as_array()
        .map(|versions| {
            versions
                .iter()
                .map(|v| {
                    (
                        v["current_stage"].as_str().unwrap_or_default().to_owned(),
                        v["version"].as_i64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        latest,
        vec![
            ("None".to_owned(), 3),
            ("Staging".to_owned(), 2),
            ("Production".to_owned(), 1)
        ]
    );
}

#[test]
fn version_descriptions_and_tags_can_be_edited() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    let updated = app
        .patch(
            "/api/v1/models/m/versions/1",
            json!({"description": "better"}),
        )
        .expect(200)
        .clone();
    assert_eq!(updated["description"], "better");
    app.put(
        "/api/v1/models/m/versions/1/tags/accuracy",
        json!({"value": "0.93"}),
    )
    .expect(200);
    app.put(
        "/api/v1/models/m/versions/1/tags/accuracy",
        json!({"value": "0.94"}),
    )
    .expect(200);
    assert_eq!(
        app.get("/api/v1/models/m/versions/1").expect(200)["tags"],
        json!({"accuracy": "0.94"})
    );
    assert_eq!(
        app.delete("/api/v1/models/m/versions/1/tags/accuracy")
            .status,
        204
    );
    app.delete("/api/v1/models/m/versions/1/tags/accuracy")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    app.put("/api/v1/models/m/versions/9/tags/a", json!({"value": "b"}))
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.count("model_version_tags"), 0);
}

#[test]
fn patch_leaves_absent_fields_alone_and_null_clears_them() {
    let app = spawn_app();
    app.post(
        "/api/v1/models",
        json!({"name": "m", "description": "model"}),
    )
    .expect(201);
    app.post(
        "/api/v1/models/m/versions",
        json!({"source": "s3://x", "description": "keep"}),
    )
    .expect(201);
    let events = app.count("events");
    assert_eq!(
        app.patch("/api/v1/models/m/versions/1", json!({}))
            .expect(200)["description"],
        "keep"
    );
    assert_eq!(
        app.patch("/api/v1/models/m", json!({})).expect(200)["description"],
        "model"
    );
    assert_eq!(app.count("events"), events, "no change, no event");
    assert_eq!(
        app.patch("/api/v1/models/m/versions/1", json!({"description": null}))
            .expect(200)["description"],
        serde_json::Value::Null
    );
    assert_eq!(
        app.patch("/api/v1/models/m", json!({"description": null}))
            .expect(200)["description"],
        serde_json::Value::Null
    );
    assert_eq!(app.count("events"), events + 2);
}
