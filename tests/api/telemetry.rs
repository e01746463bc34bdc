use crate::helpers::spawn_app;

#[test]
fn health_and_readiness_answer_ok() {
    let app = spawn_app();
    assert_eq!(
        app.get("/healthz").expect(200),
        &serde_json::json!({"status": "ok"})
    );
    assert_eq!(
        app.get("/readyz").expect(200),
        &serde_json::json!({"status": "ok"})
    );
}

#[test]
fn a_request_id_is_echoed_or_generated() {
    let app = spawn_app();
    let given = app.raw(
        "GET",
        "/healthz",
        None,
        &[("X-Request-Id", "pipeline-42.a_b")],
    );
    assert_eq!(
        given.headers.get("x-request-id").map(String::as_str),
        Some("pipeline-42.a_b")
    );
    let generated = app.raw("GET", "/api/v1/models", None, &[]);
    assert_eq!(generated.status, 401);
    let id = generated
        .headers
        .get("x-request-id")
        .cloned()
        .unwrap_or_default();
    assert_eq!(id.len(), 32, "{id}");
    // an unusable id is replaced, not echoed
    let replaced = app.raw(
        "GET",
        "/healthz",
        None,
        &[("X-Request-Id", "bad id with spaces")],
    );
    let id = replaced
        .headers
        .get("x-request-id")
        .cloned()
        .unwrap_or_default();
    assert_eq!(id.len(), 32, "{id}");
    // errors carry it too
    let authorization = app.admin_header();
    let error = app.raw(
        "GET",
        "/api/v1/models/ghost",
        None,
        &[("X-Request-Id", "e-1"), ("Authorization", &authorization)],
    );
    assert_eq!(error.status, 404);
    assert_eq!(
        error.headers.get("x-request-id").map(String::as_str),
        Some("e-1")
    );
}
