//! The MLflow-compatible layer's wire format, errors and rules.

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, TestResponse, spawn_app, spawn_app_with_config};

const BASE: &str = "/api/2.0/mlflow";

fn call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> TestResponse {
    app.call(method, &format!("{BASE}{path}"), body)
}

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

#[test]
fn models_and_versions_have_mlflow_shapes() {
    let app = spawn_app();
    let created = call(
        &app,
        "POST",
        "/registered-models/create",
        Some(json!({"name": "m", "tags": [{"key": "team", "value": "risk"}]})),
    );
    let model = created.expect(200)["registered_model"].clone();
    assert_eq!(model["name"], "m");
    assert_eq!(model["tags"], json!([{"key": "team", "value": "risk"}]));
    assert!(
        model.get("description").is_none(),
        "unset fields are omitted: {model}"
    );
    assert!(model.get("latest_versions").is_none());
    assert!(model["creation_timestamp"].is_i64());

    let version = call(
        &app,
        "POST",
        "/model-versions/create",
        Some(json!({"name": "m", "source": "s3://m/1", "run_id": "r1"})),
    )
    .expect(200)["model_version"]
        .clone();
    assert_eq!(version["version"], "1", "versions are strings on the wire");
    assert_eq!(version["current_stage"], "None");
    assert_eq!(version["status"], "READY");
    assert!(version.get("tags").is_none(), "{version}");
    // as MLflow's server: registered without them, they are empty text
    assert_eq!(
        (&version["description"], &version["run_link"]),
        (&json!(""), &json!(""))
    );

    call(
        &app,
        "POST",
        "/registered-models/alias",
        Some(json!({"name": "m", "alias": "champion", "version": "1"})),
    )
    .expect(200);
    let model =
        call(&app, "GET", "/registered-models/get?name=m", None).expect(200)["registered_model"]
            .clone();
    assert_eq!(
        model["aliases"],
        json!([{"alias": "champion", "version": "1"}])
    );
    // as MLflow's server: a model's latest versions are listed without their
    // aliases, which a version read on its own has
    assert!(
        model["latest_versions"][0].get("aliases").is_none(),
        "{model}"
    );
    let alone = call(&app, "GET", "/model-versions/get?name=m&version=1", None).expect(200)
        ["model_version"]
        .clone();
    assert_eq!(alone["aliases"], json!(["champion"]));

    // empty answers are {}
    let tagged = call(
        &app,
        "POST",
        "/model-versions/set-tag",
        Some(json!({"name": "m", "version": "1", "key": "k", "value": "v"})),
    );
    assert_eq!(tagged.expect(200), &json!({}));
    let deleted = call(
        &app,
        "DELETE",
        "/model-versions/delete-tag",
        Some(json!({"name": "m", "version": "1", "key": "k"})),
    );
    assert_eq!(deleted.expect(200), &json!({}));
    assert_eq!(
        call(
            &app,
            "GET",
            "/model-versions/get-download-uri?name=m&version=1",
            None
        )
        .expect(200),
        &json!({"artifact_uri": "s3://m/1"})
    );
}

#[test]
fn get_latest_versions_reads_repeated_query_keys_and_json_bodies() {
    let app = spawn_app();
    app.create_model("m");
    for v in 1..=3 {
        app.create_version("m");
        if v < 3 {
            app.transition("m", v, "Staging", false).expect(200);
        }
    }
    app.transition("m", 1, "Production", false).expect(200);
    let stages = |body: &Value| -> Vec<(String, String)> {
        body["model_versions"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|v| {
                        (
                            v["current_stage"].as_str().unwrap_or_default().to_owned(),
                            v["version"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let query = call(
        &app,
        "GET",
        "/registered-models/get-latest-versions?name=m&stages=Production&stages=staging",
        None,
    )
    .expect(200)
    .clone();
    assert_eq!(
        stages(&query),
        // as MLflow: the stages in the order of their lowest version
        vec![
            ("Production".into(), "1".into()),
            ("Staging".into(), "2".into())
        ]
    );
    let body = call(
        &app,
        "POST",
        "/registered-models/get-latest-versions",
        Some(json!({"name": "m"})),
    )
    .expect(200)
    .clone();
    assert_eq!(stages(&body).len(), 3);
    call(
        &app,
        "GET",
        "/registered-models/get-latest-versions?name=m&stages=Live",
        None,
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn errors_use_mlflow_codes_and_never_5xx_for_client_mistakes() {
    let app = spawn_app();
    app.create_model("m");
    let before = app.snapshot();
    // MLflow's own texts, which tools match on
    let message = call(
        &app,
        "POST",
        "/registered-models/create",
        Some(json!({"name": "m"})),
    )
    .expect_error(400, "RESOURCE_ALREADY_EXISTS");
    assert_eq!(message, "Registered Model (name=m) already exists.");
    let message = call(&app, "POST", "/registered-models/create", Some(json!({})))
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        message.contains("Missing value for required parameter 'name'"),
        "{message}"
    );
    let message = call(&app, "GET", "/registered-models/get?name=ghost", None)
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(message, "Registered Model with name=ghost not found");
    let message = call(&app, "GET", "/model-versions/get?name=m&version=abc", None)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        message,
        "Parameter 'version' must be an integer, got 'abc'."
    );
    let message = call(&app, "GET", "/model-versions/get?name=m&version=9", None)
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(message, "Model Version (name=m, version=9) not found");
    let message = call(&app, "GET", "/model-versions/get?name=m&version=0", None)
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(message, "Model Version (name=m, version=0) not found");
    // the native API keeps its own words
    let native = app
        .get("/api/v1/models/ghost")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(native, "registered model 'ghost' does not exist");
    let message = call(
        &app,
        "GET",
        "/registered-models/search?filter=owner%20%3D%20%27x%27",
        None,
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("owner"), "{message}");
    call(
        &app,
        "GET",
        "/registered-models/search?max_results=5000",
        None,
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    call(
        &app,
        "POST",
        "/registered-models/create",
        Some(json!([1, 2])),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    call(
        &app,
        "POST",
        "/registered-models/create",
        Some(json!({"name": "x", "tags": "nope"})),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    let authorization = app.admin_header();
    app.raw(
        "POST",
        &format!("{BASE}/registered-models/create"),
        Some(b"{\"name\":".to_vec()),
        &[
            ("Authorization", &authorization),
            ("Content-Type", "application/json"),
        ],
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(app.snapshot(), before);
    // archive_existing_versions only into an active stage: 400, not MLflow's 500
    app.create_version("m");
    call(
        &app,
        "POST",
        "/model-versions/transition-stage",
        Some(json!({"name": "m", "version": "1", "stage": "Archived", "archive_existing_versions": true})),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    for alias in ["latest", "v7"] {
        call(
            &app,
            "POST",
            "/registered-models/alias",
            Some(json!({"name": "m", "alias": alias, "version": "1"})),
        )
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    }
}

#[test]
fn bearer_and_basic_authentication_and_roles_apply() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    app.transition("m", 1, "Staging", false).expect(200);
    app.user_token("carol", "contributor");
    let path = format!("{BASE}/registered-models/get?name=m");
    app.raw("GET", &path, None, &[])
        .expect_error(401, "UNAUTHENTICATED");
    app.raw("GET", &path, None, &[("Authorization", "Bearer forged")])
        .expect_error(401, "UNAUTHENTICATED");
    app.raw(
        "GET",
        &path,
        None,
        &[("Authorization", &basic("carol", "wrong-password"))],
    )
    .expect_error(401, "UNAUTHENTICATED");
    app.raw("GET", &path, None, &[("Authorization", "Basic !!!")])
        .expect_error(401, "UNAUTHENTICATED");
    for attempt in 0..3 {
        // the second and later requests are answered from the cache
        let response = app.raw(
            "GET",
            &path,
            None,
            &[("Authorization", &basic("carol", "password-carol"))],
        );
        assert_eq!(response.status, 200, "{}", response.text);
        let cache_status = response.headers.get("cache-status").map(String::as_str);
        if attempt > 0 {
            assert_eq!(cache_status, Some("modelgate; hit"));
        }
    }
    assert_eq!(
        app.raw(
            "GET",
            &path,
            None,
            &[("Authorization", &basic("admin", ADMIN_PASSWORD))]
        )
        .status,
        200
    );

    // a password change invalidates the cached credentials
    app.patch("/api/v1/users/carol", json!({"password": "a-new-password"}))
        .expect(200);
    app.raw(
        "GET",
        &path,
        None,
        &[("Authorization", &basic("carol", "password-carol"))],
    )
    .expect_error(401, "UNAUTHENTICATED");

    let carol = basic("carol", "a-new-password");
    let transition = |stage: &str| {
        app.raw(
            "POST",
            &format!("{BASE}/model-versions/transition-stage"),
            Some(json!({"name": "m", "version": "1", "stage": stage, "archive_existing_versions": false}).to_string().into_bytes()),
            &[("Authorization", &carol), ("Content-Type", "application/json")],
        )
    };
    let before = app.snapshot();
    let message = transition("Production").expect_error(403, "PERMISSION_DENIED");
    assert!(
        message.contains("/api/v1/models/m/versions/1/transition-requests"),
        "{message}"
    );
    assert_eq!(app.snapshot(), before, "a refused transition moves nothing");
    app.raw(
        "DELETE",
        &format!("{BASE}/registered-models/delete"),
        Some(json!({"name": "m"}).to_string().into_bytes()),
        &[
            ("Authorization", &carol),
            ("Content-Type", "application/json"),
        ],
    )
    .expect_error(403, "PERMISSION_DENIED");
}

#[test]
fn changes_through_mlflow_are_the_same_data_and_audited() {
    let app = spawn_app();
    call(
        &app,
        "POST",
        "/registered-models/create",
        Some(json!({"name": "shared", "description": "d"})),
    )
    .expect(200);
    call(
        &app,
        "POST",
        "/model-versions/create",
        Some(json!({"name": "shared", "source": "s3://s/1"})),
    )
    .expect(200);
    call(
        &app,
        "POST",
        "/model-versions/transition-stage",
        Some(json!({"name": "shared", "version": "1", "stage": "staging", "archive_existing_versions": false})),
    )
    .expect(200);
    let native = app.get("/api/v1/models/shared").expect(200).clone();
    assert_eq!(native["description"], "d");
    assert_eq!(native["latest_versions"][0]["current_stage"], "Staging");
    let trail = app
        .get("/api/v1/models/shared/versions/1/activity")
        .expect(200)
        .clone();
    assert_eq!(
        trail["activities"][0]["activity_type"],
        "APPLIED_TRANSITION"
    );
    assert_eq!(trail["activities"][0]["user"], "admin");
    let events = app.get("/api/v1/events?model=shared").expect(200).clone();
    let types: Vec<&str> = events["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["event_type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        types,
        vec!["model.created", "version.created", "version.stage_changed"]
    );

    call(
        &app,
        "DELETE",
        "/model-versions/delete",
        Some(json!({"name": "shared", "version": "1"})),
    )
    .expect(200);
    app.get("/api/v1/models/shared/versions/1")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    call(
        &app,
        "POST",
        "/registered-models/rename",
        Some(json!({"name": "shared", "new_name": "renamed"})),
    )
    .expect(200);
    app.get("/api/v1/models/renamed").expect(200);
}

#[test]
fn version_search_pages_across_models() {
    let app = spawn_app();
    for name in ["a", "b"] {
        app.create_model(name);
        for _ in 0..3 {
            app.create_version(name);
        }
    }
    let mut seen = Vec::new();
    let mut path = format!("{BASE}/model-versions/search?max_results=4");
    loop {
        let page = app.get(&path).expect(200).clone();
        for v in page["model_versions"].as_array().into_iter().flatten() {
            seen.push(format!(
                "{}/{}",
                v["name"].as_str().unwrap_or_default(),
                v["version"].as_str().unwrap_or_default()
            ));
        }
        match page["next_page_token"].as_str() {
            Some(token) => {
                path = format!("{BASE}/model-versions/search?max_results=4&page_token={token}")
            }
            None => break,
        }
    }
    // MLflow's default order: the most recently changed first
    assert_eq!(seen, vec!["b/3", "b/2", "b/1", "a/3", "a/2", "a/1"]);
    let newest = app
        .get(&format!(
            "{BASE}/model-versions/search?order_by=version_number%20DESC&max_results=2"
        ))
        .expect(200)
        .clone();
    assert_eq!(newest["model_versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(newest["model_versions"][0]["version"], "3");
}

#[test]
fn oversized_basic_credentials_and_filters_are_client_errors() {
    let app = spawn_app();
    let path = format!("{BASE}/registered-models/search");
    let long_user = basic(&"u".repeat(300), "x");
    app.raw("GET", &path, None, &[("Authorization", &long_user)])
        .expect_error(401, "UNAUTHENTICATED");
    let long = format!(
        "{path}?filter={}",
        crate::helpers::enc(&format!("name LIKE '{}'", "a".repeat(9000)))
    );
    call(&app, "GET", &long["/api/2.0/mlflow".len()..], None)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    let many = format!(
        "/registered-models/search?filter={}",
        crate::helpers::enc(&vec!["name != 'a'"; 60].join(" AND "))
    );
    call(&app, "GET", &many, None).expect_error(400, "INVALID_PARAMETER_VALUE");
}

/// Waits until the clock has moved past the millisecond it shows now, so that
/// the next write gets a later timestamp than every write already answered.
fn next_millisecond() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    };
    let start = now();
    while now() <= start {
        std::thread::yield_now();
    }
}

/// What a search returns, in order: every page of `search` (`order_by` and
/// friends in `query`), two items a page, each item as `label` makes it.
/// The first page, asked for whole, must hold the same.
fn search_order(
    app: &TestApp,
    search: &str,
    field: &str,
    query: &str,
    label: fn(&Value) -> String,
) -> Vec<String> {
    let labels = |page: &Value| -> Vec<String> {
        page[field]
            .as_array()
            .unwrap_or_else(|| panic!("no {field} in {page}"))
            .iter()
            .map(label)
            .collect()
    };
    let whole = labels(
        &call(
            app,
            "GET",
            &format!("{search}?{query}&max_results=1000"),
            None,
        )
        .expect(200)
        .clone(),
    );
    let mut paged = Vec::new();
    let mut path = format!("{search}?{query}&max_results=2");
    loop {
        let page = call(app, "GET", &path, None).expect(200).clone();
        paged.extend(labels(&page));
        match page["next_page_token"].as_str() {
            Some(token) => path = format!("{search}?{query}&max_results=2&page_token={token}"),
            None => break,
        }
    }
    assert_eq!(paged, whole, "pages of {search}?{query} in the same order");
    whole
}

#[test]
fn registered_model_search_orders_by_each_key_both_ways() {
    let app = spawn_app();
    // created b, c, a; b changed last: each order is a different permutation
    for name in ["b", "c", "a"] {
        app.create_model(name);
        next_millisecond();
    }
    call(
        &app,
        "PATCH",
        "/registered-models/update",
        Some(json!({"name": "b", "description": "changed last"})),
    )
    .expect(200);
    let model = |m: &Value| m["name"].as_str().unwrap_or_default().to_owned();
    let timestamps: Vec<(String, i64, i64)> = app.get("/api/v1/models").expect(200)["models"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                model(m),
                m["creation_timestamp"].as_i64().unwrap_or_default(),
                m["last_updated_timestamp"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let created = |name: &str| timestamps.iter().find(|t| t.0 == name).map(|t| t.1);
    let updated = |name: &str| timestamps.iter().find(|t| t.0 == name).map(|t| t.2);
    assert!(
        created("b") < created("c") && created("c") < created("a"),
        "{timestamps:?}"
    );
    assert!(
        updated("c") < updated("a") && updated("a") < updated("b"),
        "{timestamps:?}"
    );

    for (order_by, expected) in [
        ("", ["a", "b", "c"]),
        ("name%20ASC", ["a", "b", "c"]),
        ("name%20DESC", ["c", "b", "a"]),
        ("name", ["a", "b", "c"]),
        ("last_updated_timestamp%20ASC", ["c", "a", "b"]),
        ("last_updated_timestamp%20DESC", ["b", "a", "c"]),
        // MLflow's `timestamp` is the last update
        ("timestamp%20ASC", ["c", "a", "b"]),
        ("timestamp%20DESC", ["b", "a", "c"]),
        // MLflow's tie-break, which the order is anyway
        ("timestamp%20DESC&order_by=name%20ASC", ["b", "a", "c"]),
    ] {
        assert_eq!(
            search_order(
                &app,
                "/registered-models/search",
                "registered_models",
                &format!("order_by={order_by}"),
                model
            ),
            expected,
            "order_by={order_by}"
        );
    }
    // as MLflow's server: models are not sorted by creation time
    let refused = call(
        &app,
        "GET",
        "/registered-models/search?order_by=creation_timestamp%20ASC",
        None,
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        refused.starts_with("Invalid order by key 'creation_timestamp' specified."),
        "{refused}"
    );
}

#[test]
fn model_version_search_orders_by_each_key_both_ways() {
    let app = spawn_app();
    app.create_model("a");
    app.create_model("b");
    // created a/1, b/1, b/2, b/3, a/2; b/2 and then b/1 changed last: each
    // key and direction gives a different order
    for name in ["a", "b", "b", "b", "a"] {
        next_millisecond();
        app.create_version(name);
    }
    for (name, version) in [("b", "2"), ("b", "1")] {
        next_millisecond();
        call(
            &app,
            "PATCH",
            "/model-versions/update",
            Some(json!({"name": name, "version": version, "description": "changed"})),
        )
        .expect(200);
    }
    let version = |v: &Value| {
        format!(
            "{}/{}",
            v["name"].as_str().unwrap_or_default(),
            v["version"].as_str().unwrap_or_default()
        )
    };
    let by_creation = search_order(
        &app,
        "/model-versions/search",
        "model_versions",
        "order_by=creation_timestamp%20ASC",
        |v| v["creation_timestamp"].to_string(),
    );
    let by_update = search_order(
        &app,
        "/model-versions/search",
        "model_versions",
        "order_by=last_updated_timestamp%20ASC",
        |v| v["last_updated_timestamp"].to_string(),
    );
    for timestamps in [&by_creation, &by_update] {
        let mut distinct = timestamps.clone();
        distinct.dedup();
        assert_eq!(&distinct, timestamps, "one millisecond each");
    }

    // MLflow's order: the key, then the name ascending, then the newest
    // version first; without order_by the most recently changed first
    for (order_by, expected) in [
        ("", ["b/1", "b/2", "a/2", "b/3", "a/1"]),
        ("name%20ASC", ["a/2", "a/1", "b/3", "b/2", "b/1"]),
        ("name%20DESC", ["b/3", "b/2", "b/1", "a/2", "a/1"]),
        ("version_number%20ASC", ["a/1", "b/1", "a/2", "b/2", "b/3"]),
        ("version_number%20DESC", ["b/3", "a/2", "b/2", "a/1", "b/1"]),
        (
            "creation_timestamp%20ASC",
            ["a/1", "b/1", "b/2", "b/3", "a/2"],
        ),
        (
            "creation_timestamp%20DESC",
            ["a/2", "b/3", "b/2", "b/1", "a/1"],
        ),
        (
            "last_updated_timestamp%20ASC",
            ["a/1", "b/3", "a/2", "b/2", "b/1"],
        ),
        (
            "last_updated_timestamp%20DESC",
            ["b/1", "b/2", "a/2", "b/3", "a/1"],
        ),
        ("timestamp%20DESC", ["b/1", "b/2", "a/2", "b/3", "a/1"]),
        // MLflow's tie-break key, which the newest-first tie-break agrees with
        (
            "name%20ASC&order_by=version_number%20DESC",
            ["a/2", "a/1", "b/3", "b/2", "b/1"],
        ),
    ] {
        assert_eq!(
            search_order(
                &app,
                "/model-versions/search",
                "model_versions",
                &format!("order_by={order_by}"),
                version
            ),
            expected,
            "order_by={order_by}"
        );
    }
}

/// Versions of several models changed in the same millisecond: a search over
/// every model ordered by a time (read in that time's index order, the ties
/// sorted by name and then newest version) keeps MLflow's order across pages
/// that end inside a tie, in both directions, with and without a filter.
#[test]
fn a_search_over_every_model_by_time_orders_the_versions_that_share_a_time() {
    let app = spawn_app();
    // ids in another order than names
    for (name, versions) in [("b", 2), ("c", 2), ("a", 3)] {
        app.create_model(name);
        for _ in 0..versions {
            app.create_version(name);
        }
    }
    for (name, version, time) in [
        ("a", 1, 100),
        ("a", 2, 200),
        ("a", 3, 200),
        ("b", 1, 200),
        ("b", 2, 100),
        ("c", 1, 200),
        ("c", 2, 300),
    ] {
        app.execute(&format!(
            "UPDATE model_versions SET creation_timestamp = {time}, last_updated_timestamp = {time} \
             WHERE version = {version} AND model_id = \
             (SELECT id FROM registered_models WHERE name = '{name}')"
        ));
    }
    let version = |v: &Value| {
        format!(
            "{}/{}",
            v["name"].as_str().unwrap_or_default(),
            v["version"].as_str().unwrap_or_default()
        )
    };
    let descending = ["c/2", "a/3", "a/2", "b/1", "c/1", "a/1", "b/2"];
    let ascending = ["a/1", "b/2", "a/3", "a/2", "b/1", "c/1", "c/2"];
    for (query, expected) in [
        ("order_by=last_updated_timestamp%20DESC", &descending),
        ("order_by=creation_timestamp%20DESC", &descending),
        ("order_by=last_updated_timestamp%20ASC", &ascending),
        ("order_by=creation_timestamp%20ASC", &ascending),
        ("filter=", &descending),
    ] {
        assert_eq!(
            search_order(
                &app,
                "/model-versions/search",
                "model_versions",
                query,
                version
            ),
            expected,
            "{query}"
        );
    }
    // a filter leaves the plan to the database: same order
    assert_eq!(
        search_order(
            &app,
            "/model-versions/search",
            "model_versions",
            "order_by=creation_timestamp%20DESC&filter=name%20LIKE%20%27%25%27",
            version
        ),
        descending
    );
}

#[test]
fn tags_are_listed_in_the_order_they_were_first_set() {
    let app = spawn_app();
    call(
        &app,
        "POST",
        "/registered-models/create",
        Some(json!({"name": "m", "tags": [{"key": "zeta", "value": "1"}, {"key": "alpha", "value": "2"}]})),
    )
    .expect(200);
    for (key, value) in [("mid", "3"), ("zeta", "again")] {
        call(
            &app,
            "POST",
            "/registered-models/set-tag",
            Some(json!({"name": "m", "key": key, "value": value})),
        )
        .expect(200);
    }
    let model =
        call(&app, "GET", "/registered-models/get?name=m", None).expect(200)["registered_model"]
            .clone();
    // a tag set again keeps its place
    assert_eq!(
        model["tags"],
        json!([{"key": "zeta", "value": "again"}, {"key": "alpha", "value": "2"}, {"key": "mid", "value": "3"}])
    );
    call(
        &app,
        "POST",
        "/model-versions/create",
        Some(json!({"name": "m", "source": "s3://m/1", "tags": [{"key": "b", "value": ""}, {"key": "a", "value": ""}]})),
    )
    .expect(200);
    call(
        &app,
        "POST",
        "/model-versions/set-tag",
        Some(json!({"name": "m", "version": "1", "key": "0", "value": ""})),
    )
    .expect(200);
    let version = call(&app, "GET", "/model-versions/get?name=m&version=1", None).expect(200)
        ["model_version"]
        .clone();
    let keys: Vec<&str> = version["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(keys, ["b", "a", "0"]);
    // the native API keeps its object of tags
    assert_eq!(
        app.get("/api/v1/models/m").expect(200)["tags"],
        json!({"alpha": "2", "mid": "3", "zeta": "again"})
    );
}

#[test]
fn a_models_source_is_resolved_and_other_sources_checked_as_mlflow_does() {
    let app = spawn_app();
    for name in ["src", "dst"] {
        call(
            &app,
            "POST",
            "/registered-models/create",
            Some(json!({"name": name})),
        )
        .expect(200);
    }
    call(
        &app,
        "POST",
        "/model-versions/create",
        Some(json!({"name": "src", "source": "s3://bucket/src/1", "run_id": "r1"})),
    )
    .expect(200);
    let before = app.snapshot();
    let create = |source: &str, run_id: Option<&str>| {
        let mut body = json!({"name": "dst", "source": source});
        if let Some(run_id) = run_id {
            body["run_id"] = json!(run_id);
        }
        call(&app, "POST", "/model-versions/create", Some(body))
    };
    // refused, and nothing written
    for (source, run_id, status, text) in [
        (
            "models:/src/1",
            Some("other"),
            400,
            "must match the referenced model version",
        ),
        (
            "models:/src/99",
            None,
            404,
            "Model Version (name=src, version=99) not found",
        ),
        (
            "models:/nope/1",
            None,
            404,
            "Registered Model with name=nope not found",
        ),
        (
            "models://elsewhere/src/1",
            None,
            400,
            "must use the active model registry",
        ),
        (
            "/tmp/local/model",
            None,
            400,
            "To use a local path as a model version source",
        ),
        (
            "runs:/abc/model",
            None,
            400,
            "The run_id request parameter must identify",
        ),
        (
            "s3://bucket/../etc/passwd",
            None,
            400,
            "without relative path references",
        ),
        ("s3://bucket", None, 400, "without relative path references"),
    ] {
        let code = if status == 404 {
            "RESOURCE_DOES_NOT_EXIST"
        } else {
            "INVALID_PARAMETER_VALUE"
        };
        let message = create(source, run_id).expect_error(status, code);
        assert!(message.contains(text), "{source}: {message}");
    }
    assert_eq!(app.snapshot(), before);
    // resolved: the number, the run, the files' location
    for (source, expected) in [
        ("models:/src/1", "models:/src/1"),
        ("models:/src/latest", "models:/src/1"),
        ("models:/src/None", "models:/src/1"),
    ] {
        let version = create(source, None).expect(200)["model_version"].clone();
        assert_eq!(
            (version["source"].as_str(), version["run_id"].as_str()),
            (Some(expected), Some("r1"))
        );
        let uri = call(
            &app,
            "GET",
            &format!(
                "/model-versions/get-download-uri?name=dst&version={}",
                version["version"].as_str().unwrap_or_default()
            ),
            None,
        )
        .expect(200)["artifact_uri"]
            .clone();
        assert_eq!(uri, "s3://bucket/src/1");
    }
    // accepted as MLflow accepts them
    create("runs:/abc/model", Some("abc")).expect(200);
    create("/tmp/local/model", Some("r9")).expect(200);
}

/// A stand-in for MLflow's tracking server: answers every request with
/// `body` and counts the requests.
fn fake_tracking_server(
    body: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    );
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = (&stream).write_all(answer.as_bytes());
        }
    });
    (url, count)
}

/// Registers model `m` and a version of it from the logged model `model_id`
/// (as `log_model(..., registered_model_name=...)` does, without a run id).
fn register_logged_model(app: &TestApp, model_id: &str) -> Value {
    call(
        app,
        "POST",
        "/registered-models/create",
        Some(json!({"name": "m"})),
    )
    .expect(200);
    call(
        app,
        "POST",
        "/model-versions/create",
        Some(json!({"name": "m", "source": format!("models:/{model_id}"), "model_id": model_id})),
    )
    .expect(200)["model_version"]
        .clone()
}

#[test]
fn a_logged_model_gives_its_run_from_the_tracking_server_or_registers_without_one() {
    let (url, asked) = fake_tracking_server(
        r#"{"model": {"info": {"model_id": "m-1", "source_run_id": "run-from-tracking", "artifact_uri": "s3://artifacts/1/models/m-1/artifacts"}}}"#,
    );
    let app = spawn_app_with_config(&format!("[mlflow]\ntracking_uri = \"{url}\"\n"));
    let version = register_logged_model(&app, "m-1");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(version["model_id"], "m-1");
    assert_eq!(version["run_id"], "run-from-tracking");
    let uri = call(
        &app,
        "GET",
        "/model-versions/get-download-uri?name=m&version=1",
        None,
    )
    .expect(200)["artifact_uri"]
        .clone();
    assert_eq!(uri, "s3://artifacts/1/models/m-1/artifacts");
    // the native API returns it too
    assert_eq!(
        app.get("/api/v1/models/m/versions/1").expect(200)["model_id"],
        "m-1"
    );
    // a run given is kept, and the tracking server is not asked
    let given = call(
        &app,
        "POST",
        "/model-versions/create",
        Some(json!({"name": "m", "source": "models:/m-1", "model_id": "m-1", "run_id": "mine"})),
    )
    .expect(200)["model_version"]
        .clone();
    assert_eq!(given["run_id"], "mine");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    // a source that is not the model_id's is refused
    let refused = call(
        &app,
        "POST",
        "/model-versions/create",
        Some(json!({"name": "m", "source": "models:/m-2", "model_id": "m-1"})),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        refused.contains("The model_id request parameter must identify"),
        "{refused}"
    );

    // an unreachable tracking server: registered all the same, without a run
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_default();
    let app = spawn_app_with_config(&format!(
        "[mlflow]\ntracking_uri = \"http://127.0.0.1:{closed}\"\n"
    ));
    let version = register_logged_model(&app, "m-9");
    assert_eq!(
        (&version["model_id"], &version["run_id"]),
        (&json!("m-9"), &json!(""))
    );
}

#[test]
fn a_search_pinned_to_one_model_keeps_mlflows_orders_and_pages() {
    let app = spawn_app();
    app.create_model("a");
    app.create_model("b");
    for name in ["a", "b", "a", "a", "b", "a", "a"] {
        next_millisecond();
        app.create_version(name);
    }
    next_millisecond();
    // a/2 changes last
    call(
        &app,
        "PATCH",
        "/model-versions/update",
        Some(json!({"name": "a", "version": "2", "description": "touched"})),
    )
    .expect(200);
    let version = |v: &Value| v["version"].as_str().unwrap_or_default().to_owned();
    let filter = "filter=name%3D%27a%27";
    for (order_by, expected) in [
        ("", ["2", "5", "4", "3", "1"]),
        (
            "&order_by=last_updated_timestamp%20ASC",
            ["1", "3", "4", "5", "2"],
        ),
        ("&order_by=version_number%20ASC", ["1", "2", "3", "4", "5"]),
        ("&order_by=version_number%20DESC", ["5", "4", "3", "2", "1"]),
        (
            "&order_by=creation_timestamp%20ASC",
            ["1", "2", "3", "4", "5"],
        ),
        (
            "&order_by=creation_timestamp%20DESC",
            ["5", "4", "3", "2", "1"],
        ),
        ("&order_by=name%20ASC", ["5", "4", "3", "2", "1"]),
    ] {
        assert_eq!(
            search_order(
                &app,
                "/model-versions/search",
                "model_versions",
                &format!("{filter}{order_by}"),
                version
            ),
            expected,
            "{order_by}"
        );
    }
    // a model that does not exist has no versions
    let none = call(
        &app,
        "GET",
        "/model-versions/search?filter=name%3D%27nope%27",
        None,
    )
    .expect(200)
    .clone();
    assert_eq!(none, json!({}));
}
