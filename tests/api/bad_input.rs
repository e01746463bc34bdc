//! Every kind of bad input answers a 4xx JSON error and changes nothing.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

fn setup() -> TestApp {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    app
}

#[track_caller]
fn refused(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
    status: u16,
    code: &str,
) -> String {
    let before = app.snapshot();
    let authorization = app.admin_header();
    let mut headers = headers.to_vec();
    headers.push(("Authorization", &authorization));
    let response = app.raw(method, path, body.map(<[u8]>::to_vec), &headers);
    let message = response.expect_error(status, code);
    assert_eq!(
        app.snapshot(),
        before,
        "{method} {path} changed the database"
    );
    message
}

const JSON: &[(&str, &str)] = &[("Content-Type", "application/json")];

#[test]
fn malformed_json_is_400() {
    let app = setup();
    for body in [
        &b"{\"name\":"[..],
        b"not json",
        b"",
        b"[1,2]",
        b"{\"name\": \"\\ud800\"}",
    ] {
        refused(
            &app,
            "POST",
            "/api/v1/models",
            Some(body),
            JSON,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    refused(
        &app,
        "POST",
        "/api/v1/models/m/versions/1/stage",
        Some(b"{"),
        JSON,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[test]
fn wrong_types_missing_and_unknown_fields_are_400() {
    let app = setup();
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("/api/v1/models", json!({"name": 5})),
        ("/api/v1/models", json!({})),
        ("/api/v1/models", json!({"name": "x", "colour": "red"})),
        ("/api/v1/models", json!({"name": "x", "tags": {"k": 1}})),
        ("/api/v1/models", json!({"name": "x", "tags": ["k"]})),
        ("/api/v1/models/m/versions", json!({"source": ["s3://x"]})),
        ("/api/v1/models/m/versions", json!({"run_id": "r"})),
        ("/api/v1/models/m/versions/1/stage", json!({"stage": 1})),
        (
            "/api/v1/models/m/versions/1/stage",
            json!({"stage": "Staging", "archive_existing_versions": "yes"}),
        ),
        ("/api/v1/models/m/versions/1/stage", json!({})),
    ];
    for (path, body) in cases {
        let message = refused(
            &app,
            "POST",
            path,
            Some(body.to_string().as_bytes()),
            JSON,
            400,
            "INVALID_PARAMETER_VALUE",
        );
        assert!(message.contains("request body"), "{path} {body}: {message}");
    }
    refused(
        &app,
        "PUT",
        "/api/v1/models/m/aliases/a",
        Some(br#"{"version": "one"}"#),
        JSON,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    refused(
        &app,
        "PUT",
        "/api/v1/models/m/tags/k",
        Some(br#"{"value": null}"#),
        JSON,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[test]
fn invalid_values_are_400_with_the_reason() {
    let app = setup();
    let long = "x".repeat(300);
    let cases = [
        (json!({"name": ""}), "empty"),
        (json!({"name": "a/b"}), "'/'"),
        (json!({"name": "bell\u{7}"}), "control"),
        (json!({"name": "nul\u{0}"}), "NUL"),
        (json!({"name": long}), "limit"),
        (json!({"name": "ok", "tags": {"": "v"}}), "tag key"),
        (
            json!({"name": "ok", "tags": {"k": "v".repeat(5001)}}),
            "tag value",
        ),
    ];
    for (body, expected) in cases {
        let message = refused(
            &app,
            "POST",
            "/api/v1/models",
            Some(body.to_string().as_bytes()),
            JSON,
            400,
            "INVALID_PARAMETER_VALUE",
        );
        assert!(message.contains(expected), "{body}: {message}");
    }
    refused(
        &app,
        "POST",
        "/api/v1/models/m/versions",
        Some(br#"{"source": ""}"#),
        JSON,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    // odd but visible unicode is accepted (bidirectional controls and
    // zero-width characters are not: tests/api/names.rs)
    app.post(
        "/api/v1/models",
        json!({"name": "e\u{301}cole 日本語 emoji 🚀"}),
    )
    .expect(201);
}

#[test]
fn oversized_bodies_are_413() {
    let app = setup();
    let huge = format!(
        "{{\"name\": \"x\", \"description\": \"{}\"}}",
        "d".repeat(2 * 1024 * 1024)
    );
    refused(
        &app,
        "POST",
        "/api/v1/models",
        Some(huge.as_bytes()),
        JSON,
        413,
        "REQUEST_TOO_LARGE",
    );
}

#[test]
fn bodies_that_are_not_json_are_415() {
    let app = setup();
    refused(
        &app,
        "POST",
        "/api/v1/models",
        Some(br#"{"name": "x"}"#),
        &[("Content-Type", "text/plain")],
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
}

#[test]
fn bad_path_parameters_are_400() {
    let app = setup();
    for path in [
        "/api/v1/models/m/versions/abc",
        "/api/v1/models/m/versions/0",
        "/api/v1/models/m/versions/-1",
        "/api/v1/models/m/versions/99999999999999999999",
        "/api/v1/models/%FF%FE",
        "/api/v1/models/bell%07",
    ] {
        refused(&app, "GET", path, None, &[], 400, "INVALID_PARAMETER_VALUE");
    }
    refused(
        &app,
        "POST",
        "/api/v1/models/m/versions/abc/stage",
        Some(br#"{"stage": "Staging"}"#),
        JSON,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    refused(
        &app,
        "DELETE",
        "/api/v1/models/%FF",
        None,
        &[],
        400,
        "INVALID_PARAMETER_VALUE",
    );
    refused(
        &app,
        "DELETE",
        "/api/v1/models/m/versions/1/tags/%00",
        None,
        &[],
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[test]
fn bad_query_parameters_are_400() {
    let app = setup();
    for path in [
        "/api/v1/models?max_results=abc",
        "/api/v1/models?max_results=0",
        "/api/v1/models?max_results=1001",
        "/api/v1/models?max_results=-5",
        "/api/v1/models?colour=red",
        "/api/v1/models/m/versions?max_results=5000",
        "/api/v1/models/m/versions?order_by=size",
        "/api/v1/models/m/latest?stage=Live",
        "/api/v1/events?after=-1",
        "/api/v1/events?after=x",
        "/api/v1/events?max_results=100000",
    ] {
        refused(&app, "GET", path, None, &[], 400, "INVALID_PARAMETER_VALUE");
    }
    app.get("/api/v1/models?max_results=1000").expect(200);
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let app = setup();
    refused(
        &app,
        "GET",
        "/api/v1/nothing",
        None,
        &[],
        404,
        "ENDPOINT_NOT_FOUND",
    );
    refused(
        &app,
        "GET",
        "/nothing",
        None,
        &[],
        404,
        "ENDPOINT_NOT_FOUND",
    );
    // a file the Swagger UI does not have: its handler answers a plain 404,
    // which the JSON-error middleware rewrites
    refused(
        &app,
        "GET",
        "/docs/no-such-asset.js",
        None,
        &[],
        404,
        "ENDPOINT_NOT_FOUND",
    );
    let before = app.snapshot();
    let response = app.raw("PUT", "/api/v1/models", None, &[]);
    response.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(
        response.headers.get("allow").map(String::as_str),
        Some("GET, POST")
    );
    let response = app.raw("POST", "/api/v1/models/m/versions/1", None, &[]);
    response.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(
        response.headers.get("allow").map(String::as_str),
        Some("GET, PATCH, DELETE")
    );
    assert_eq!(app.snapshot(), before);
}

#[test]
fn a_body_without_a_content_type_is_415() {
    let app = setup();
    refused(
        &app,
        "POST",
        "/api/v1/models",
        Some(br#"{"name": "x"}"#),
        &[],
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
}

#[test]
fn nul_characters_in_queries_are_400_not_database_errors() {
    let app = setup();
    for path in [
        "/api/v1/models?filter=name%20%3D%20%27a%00b%27",
        "/api/v1/events?model=a%00b",
        "/api/v1/events?type=a%00b",
        "/api/v1/models/m/versions?stage=None%00",
    ] {
        refused(&app, "GET", path, None, &[], 400, "INVALID_PARAMETER_VALUE");
    }
    // a page token whose key hides a NUL
    let token = base64_url(br#"{"s":"models:name:asc","k":"a\u0000","i":0}"#);
    refused(
        &app,
        "GET",
        &format!("/api/v1/models?page_token={token}"),
        None,
        &[],
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn like_patterns_escape_the_same_way_on_both_backends() {
    let app = setup();
    app.create_model("100%_sure");
    app.create_model("100x_sure");
    for (pattern, expected) in [
        (r"100\%\_sure", vec!["100%_sure"]),
        (r"100_\_sure", vec!["100%_sure", "100x_sure"]),
        (r"a\\b", vec![]),
    ] {
        let filter = format!("name LIKE '{pattern}'");
        let body = app
            .get(&format!(
                "/api/v1/models?filter={}",
                crate::helpers::enc(&filter)
            ))
            .expect(200)
            .clone();
        let names: Vec<&str> = body["models"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, expected, "{pattern}");
    }
    for filter in [r"name LIKE 'a\'", r"name ILIKE 'a\'", r"tags.k LIKE 'x\'"] {
        refused(
            &app,
            "GET",
            &format!("/api/v1/models?filter={}", crate::helpers::enc(filter)),
            None,
            &[],
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
}

#[test]
fn long_tag_values_and_nul_logins_are_handled_without_server_errors() {
    let app = setup();
    let value = "v".repeat(5000);
    app.put("/api/v1/models/m/tags/big", json!({"value": value}))
        .expect(200);
    app.post(
        "/api/v1/models",
        json!({"name": "tagged", "tags": {"k": "w".repeat(5000)}}),
    )
    .expect(201);
    let login = app.call_as(
        None,
        "POST",
        "/api/v1/auth/token",
        Some(json!({"username": "a\u{0}b", "password": "x"})),
    );
    login.expect_error(401, "UNAUTHENTICATED");
}
