//! The read cache: a cached answer never outlives a write, on any replica,
//! and never reaches a caller who is refused since.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const HIT: &str = "modelgate; hit";
const MISS: &str = "modelgate; fwd=miss; stored";

/// A read that must not come from the cache (a write came in between): its
/// answer, which was computed and kept.
fn fresh(server: &TestApp, path: &str) -> crate::helpers::TestResponse {
    let response = server.get(path);
    if response.status == 200 {
        assert_eq!(
            response.headers.get("cache-status").map(String::as_str),
            Some(MISS),
            "{path}"
        );
    }
    response
}

/// The cached reads of model `m`, native and MLflow, as (path, answer),
/// each answered from the cache or not as `cache_status` says.
fn reads(server: &TestApp, cache_status: &str) -> Vec<(&'static str, Value)> {
    [
        "/api/v1/models/m",
        "/api/v1/models?max_results=10",
        "/api/v1/models/m/latest?stage=Production",
        "/api/v1/models/m/versions?max_results=100",
        "/api/v1/models/m/versions/1",
        "/api/2.0/mlflow/registered-models/get?name=m",
        "/api/2.0/mlflow/registered-models/search?max_results=10",
        "/api/2.0/mlflow/registered-models/get-latest-versions?name=m&stages=Production",
        "/api/2.0/mlflow/model-versions/search?filter=name%3D%27m%27",
        "/api/2.0/mlflow/model-versions/get?name=m&version=1",
    ]
    .into_iter()
    .map(|path| {
        let response = server.get(path);
        assert_eq!(response.status, 200, "{path}: {}", response.text);
        assert_eq!(
            response.headers.get("content-type").map(String::as_str),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(
            response.headers.get("cache-status").map(String::as_str),
            Some(cache_status),
            "{path}"
        );
        (path, response.json)
    })
    .collect()
}

#[test]
fn cached_reads_follow_every_write_on_every_replica() {
    let app = spawn_app();
    let replica = app.replica();
    app.create_model("m");
    app.create_version("m");
    app.create_version("m");
    for version in [1, 2] {
        app.transition("m", version, "Staging", false).expect(200);
    }
    app.transition("m", 2, "Production", false).expect(200);

    // twice each, so the second answers come from the cache, and alike;
    // each replica has its own cache
    let first = reads(&replica, MISS);
    assert_eq!(reads(&replica, HIT), first);
    assert_eq!(reads(&app, MISS), first);
    assert_eq!(reads(&app, HIT), first);
    assert_eq!(first[0].1["description"], Value::Null);
    assert_eq!(first[2].1["version"], 2);

    // a write on one replica shows at once on the other
    app.patch("/api/v1/models/m", json!({"description": "fraud"}))
        .expect(200);
    assert_eq!(
        fresh(&replica, "/api/v1/models/m").expect(200)["description"],
        "fraud"
    );
    assert_eq!(
        fresh(&replica, "/api/2.0/mlflow/registered-models/get?name=m").expect(200)["registered_model"]
            ["description"],
        "fraud"
    );

    app.transition("m", 1, "Production", true).expect(200);
    let latest = fresh(&replica, "/api/v1/models/m/latest?stage=Production")
        .expect(200)
        .clone();
    assert_eq!(latest["version"], 1);
    let mlflow_latest = fresh(
        &replica,
        "/api/2.0/mlflow/registered-models/get-latest-versions?name=m&stages=Production",
    )
    .expect(200)
    .clone();
    assert_eq!(mlflow_latest["model_versions"][0]["version"], "1");
    assert_eq!(
        fresh(&replica, "/api/v1/models/m/versions/1").expect(200)["current_stage"],
        "Production"
    );

    app.create_version("m");
    let page = fresh(&replica, "/api/v1/models/m/versions?max_results=100")
        .expect(200)
        .clone();
    assert_eq!(page["versions"].as_array().map(Vec::len), Some(3));

    app.put(
        "/api/v1/models/m/versions/1/tags/owner",
        json!({"value": "risk"}),
    )
    .expect(200);
    let version = fresh(
        &replica,
        "/api/2.0/mlflow/model-versions/get?name=m&version=1",
    )
    .expect(200)
    .clone();
    assert_eq!(
        version["model_version"]["tags"],
        json!([{"key": "owner", "value": "risk"}])
    );

    assert_eq!(app.delete("/api/v1/models/m/versions/1").status, 204);
    fresh(&replica, "/api/v1/models/m/versions/1").expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    // version 2 was archived when 1 went to Production
    fresh(&replica, "/api/v1/models/m/latest?stage=Production")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");

    assert_eq!(app.delete("/api/v1/models/m").status, 204);
    fresh(&replica, "/api/2.0/mlflow/registered-models/get?name=m")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    let models = fresh(&replica, "/api/v1/models?max_results=10")
        .expect(200)
        .clone();
    assert_eq!(models["models"], json!([]));
}

#[test]
fn a_cached_answer_never_reaches_a_caller_refused_since() {
    let app = spawn_app();
    app.create_model("m");
    let viewer = app.user_token("vera", "viewer");
    for _ in 0..2 {
        let model = app.call_as(Some(&viewer), "GET", "/api/v1/models/m", None);
        assert_eq!(model.expect(200)["name"], "m");
    }
    let events = app.count("events");
    app.patch("/api/v1/users/vera", json!({"disabled": true}))
        .expect(200);
    assert!(app.count("events") > events, "disabling a user is an event");
    for path in [
        "/api/v1/models/m",
        "/api/2.0/mlflow/registered-models/get?name=m",
    ] {
        let message = app
            .call_as(Some(&viewer), "GET", path, None)
            .expect_error(401, "UNAUTHENTICATED");
        assert!(message.contains("disabled"), "{message}");
    }
    // the cache is warm for everyone else, and no one gets in without a token
    assert_eq!(app.get("/api/v1/models/m").expect(200)["name"], "m");
    assert_eq!(
        app.call_as(None, "GET", "/api/v1/models/m", None).status,
        401
    );
}

/// Reads `path` until it is answered from the cache (the second read at
/// the latest).
fn warm(server: &TestApp, path: &str) {
    server.get(path).expect(200);
    let again = server.get(path);
    assert_eq!(again.status, 200, "{path}: {}", again.text);
    assert_eq!(
        again.headers.get("cache-status").map(String::as_str),
        Some(HIT),
        "{path}"
    );
}

#[test]
fn writes_through_mlflow_an_approval_and_the_command_line_empty_the_cache() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    app.transition("m", 1, "Staging", false).expect(200);
    let model = "/api/v1/models/m";
    let version = "/api/v1/models/m/versions/1";
    let mlflow_version = "/api/2.0/mlflow/model-versions/get?name=m&version=1";

    // the MLflow layer
    warm(&app, model);
    app.patch(
        "/api/2.0/mlflow/registered-models/update",
        json!({"name": "m", "description": "through mlflow"}),
    )
    .expect(200);
    assert_eq!(
        fresh(&app, model).expect(200)["description"],
        "through mlflow"
    );
    warm(&app, mlflow_version);
    app.post(
        "/api/2.0/mlflow/model-versions/set-tag",
        json!({"name": "m", "version": "1", "key": "owner", "value": "risk"}),
    )
    .expect(200);
    assert_eq!(
        fresh(&app, mlflow_version).expect(200)["model_version"]["tags"],
        json!([{"key": "owner", "value": "risk"}])
    );

    // an approval applies the move
    let carol = app.user_token("carol", "contributor");
    let april = app.user_token("april", "approver");
    let request = app
        .call_as(
            Some(&carol),
            "POST",
            "/api/v1/models/m/versions/1/transition-requests",
            Some(json!({"stage": "Production"})),
        )
        .expect(201)["id"]
        .clone();
    warm(&app, version);
    app.call_as(
        Some(&april),
        "POST",
        &format!("/api/v1/transition-requests/{request}/approve"),
        Some(json!({})),
    )
    .expect(200);
    assert_eq!(
        fresh(&app, version).expect(200)["current_stage"],
        "Production"
    );

    // the command line
    warm(&app, version);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(["promote", "m", "1", "--to", "Archived"])
        .env("MODELGATE_URL", &app.address)
        .env("MODELGATE_TOKEN", &april)
        .output()
        .unwrap_or_else(|e| panic!("run modelgate: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        fresh(&app, version).expect(200)["current_stage"],
        "Archived"
    );
}

#[test]
fn the_mlflow_clients_post_read_of_latest_versions_is_cached_with_its_get_twin() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    app.transition("m", 1, "Staging", false).expect(200);
    let post = |stages: Value| {
        app.post(
            "/api/2.0/mlflow/registered-models/get-latest-versions",
            json!({"name": "m", "stages": stages}),
        )
    };
    let first = post(json!(["Staging"]));
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        first.headers.get("cache-status").map(String::as_str),
        Some(MISS)
    );
    assert_eq!(first.json["model_versions"][0]["version"], "1");
    let again = post(json!(["Staging"]));
    assert_eq!(
        again.headers.get("cache-status").map(String::as_str),
        Some(HIT)
    );
    assert_eq!(again.json, first.json);
    // the GET asking the same is the same read
    let get =
        app.get("/api/2.0/mlflow/registered-models/get-latest-versions?name=m&stages=Staging");
    assert_eq!(
        get.headers.get("cache-status").map(String::as_str),
        Some(HIT)
    );
    assert_eq!(get.json, first.json);
    // other stages are another read; a write empties the cache
    assert_eq!(
        post(json!(["Production"]))
            .headers
            .get("cache-status")
            .map(String::as_str),
        Some(MISS)
    );
    app.transition("m", 1, "Production", false).expect(200);
    let moved = post(json!(["Staging"]));
    assert_eq!(
        moved.headers.get("cache-status").map(String::as_str),
        Some(MISS)
    );
    assert_eq!(
        moved.json["model_versions"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        moved.text
    );
}

#[test]
fn every_read_the_mlflow_client_makes_is_cached() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    app.put("/api/v1/models/m/aliases/champion", json!({"version": 1}))
        .expect(200);
    for path in [
        "/api/2.0/mlflow/registered-models/get?name=m",
        "/api/2.0/mlflow/registered-models/search?filter=name%3D%27m%27",
        "/api/2.0/mlflow/registered-models/alias?name=m&alias=champion",
        "/api/2.0/mlflow/model-versions/get?name=m&version=1",
        "/api/2.0/mlflow/model-versions/search?filter=name%3D%27m%27",
        "/api/2.0/mlflow/model-versions/get-download-uri?name=m&version=1",
    ] {
        let first = app.get(path);
        assert_eq!(first.status, 200, "{path}: {}", first.text);
        assert_eq!(
            first.headers.get("cache-status").map(String::as_str),
            Some(MISS),
            "{path}"
        );
        let again = app.get(path);
        assert_eq!(
            again.headers.get("cache-status").map(String::as_str),
            Some(HIT),
            "{path}"
        );
        assert_eq!(again.json, first.json, "{path}");
    }
    // a refusal is not cached as an answer, and says why
    let missing = app.get("/api/2.0/mlflow/registered-models/alias?name=m&alias=nope");
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert_eq!(
        missing.json["message"],
        "Registered model alias nope not found."
    );
}
