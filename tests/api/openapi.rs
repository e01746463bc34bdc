//! The committed spec equals the one generated from the code; the server
//! serves it and the Swagger UI from its own assets.

use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

#[test]
fn the_committed_spec_matches_the_code() {
    let generated = modelgate::api::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| panic!("{e}"))
        + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(COMMITTED, &generated).unwrap_or_else(|e| panic!("{e}"));
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json differs from the code: run `UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[test]
fn every_operation_is_documented_secured_and_named() {
    let spec: Value = serde_json::to_value(modelgate::api::openapi()).unwrap_or_default();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut operations = 0;
    let mut ids = std::collections::HashSet::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            operations += 1;
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(ids.insert(id.to_owned()), "duplicate operation id {id}");
            assert!(
                operation["tags"]
                    .as_array()
                    .is_some_and(|tags| !tags.is_empty()),
                "{method} {path} has a tag"
            );
            assert!(
                operation["summary"].is_string() || operation["description"].is_string(),
                "{method} {path} is described"
            );
            let public =
                ["/healthz", "/readyz", "/metrics", "/api/v1/auth/token"].contains(&path.as_str());
            assert_eq!(
                operation["security"].is_array(),
                !public,
                "{method} {path} security"
            );
            if !public {
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} documents 401"
                );
            }
        }
    }
    assert_eq!(operations, 52);
    for id in [
        "create_model_version",
        "approve_transition_request",
        "transition_model_version_stage",
    ] {
        assert!(ids.contains(id), "{id}");
    }
    assert_eq!(
        spec["components"]["schemas"]["Stage"]["enum"],
        serde_json::json!(["None", "Staging", "Production", "Archived"])
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer_auth"]["scheme"],
        "bearer"
    );
}

#[test]
fn the_server_serves_its_spec_and_an_offline_swagger_ui() {
    let app = spawn_app();
    let served = app.raw("GET", "/openapi.json", None, &[]);
    assert_eq!(served.status, 200);
    let expected = serde_json::to_value(modelgate::api::openapi()).unwrap_or_default();
    assert_eq!(served.json, expected);

    // /docs redirects to /docs/ (the client follows it)
    let redirected = app.raw("GET", "/docs", None, &[]);
    assert_eq!(redirected.status, 200);
    assert!(redirected.text.contains("swagger-ui"));
    let page = app.raw("GET", "/docs/", None, &[]);
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    // every asset the page loads is served by modelgate itself
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
    ] {
        assert!(
            page.text.contains(asset) || asset == "swagger-initializer.js",
            "{asset}"
        );
        let response = app.raw("GET", &format!("/docs/{asset}"), None, &[]);
        assert_eq!(response.status, 200, "{asset}");
    }
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "no external assets"
    );
    let initializer = app.raw("GET", "/docs/swagger-initializer.js", None, &[]);
    assert!(
        initializer.text.contains("/openapi.json"),
        "{}",
        initializer.text
    );
}
