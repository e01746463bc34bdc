//! Logging in, every kind of bad token, revocation, throttling, restarts.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_PASSWORD, JWT_SECRET, TestApp, spawn_app, spawn_app_full, spawn_app_with_config,
};

fn now() -> i64 {
    modelgate::db::now_ms() / 1000
}

fn claims(overrides: Value) -> Value {
    let mut claims = json!({
        "sub": "admin", "uid": 1, "role": "admin", "iat": now(), "nbf": now(), "exp": now() + 600,
        "jti": "forged", "iss": "modelgate", "kind": "session"
    });
    if let (Some(target), Some(source)) = (claims.as_object_mut(), overrides.as_object()) {
        for (key, value) in source {
            if value.is_null() {
                target.remove(key);
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    claims
}

fn sign(claims: &Value, algorithm: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("sign: {e}"))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[track_caller]
fn refused_with(app: &TestApp, authorization: &str) -> String {
    let response = app.raw(
        "GET",
        "/api/v1/models",
        None,
        &[("Authorization", authorization)],
    );
    response.expect_error(401, "UNAUTHENTICATED")
}

#[test]
fn logging_in_returns_a_bearer_token_that_identifies_the_user() {
    let app = spawn_app();
    let response = app.call_as(
        None,
        "POST",
        "/api/v1/auth/token",
        Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
    );
    let body = response.expect(200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap_or_default();
    assert_eq!(token.split('.').count(), 3);
    let me = app.call_as(Some(token), "GET", "/api/v1/me", None);
    let me = me.expect(200);
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["token_kind"], "session");
}

#[test]
fn wrong_passwords_and_unknown_users_get_the_same_401() {
    let app = spawn_app();
    for (username, password) in [("admin", "wrong-password"), ("nobody", "whatever-it-is")] {
        let message = app
            .call_as(
                None,
                "POST",
                "/api/v1/auth/token",
                Some(json!({"username": username, "password": password})),
            )
            .expect_error(401, "UNAUTHENTICATED");
        assert_eq!(message, "invalid username or password");
    }
}

#[test]
fn every_kind_of_bad_token_is_refused_with_401() {
    let app = spawn_app();
    let good = sign(&claims(json!({})), Algorithm::HS256, JWT_SECRET);
    assert_eq!(
        app.call_as(Some(&good), "GET", "/api/v1/models", None)
            .status,
        200
    );

    // no token at all
    app.raw("GET", "/api/v1/models", None, &[])
        .expect_error(401, "UNAUTHENTICATED");
    // not a bearer token
    refused_with(&app, &format!("Basic {}", b64(b"admin:x")));
    refused_with(&app, "Bearer");
    refused_with(&app, "Bearer ");
    refused_with(&app, "Bearer not-a-jwt");
    refused_with(&app, "Bearer a.b.c");
    // tampered: the payload changed, the signature kept
    let parts: Vec<&str> = good.split('.').collect();
    let tampered_payload = b64(claims(json!({"sub": "mallory"})).to_string().as_bytes());
    refused_with(
        &app,
        &format!("Bearer {}.{}.{}", parts[0], tampered_payload, parts[2]),
    );
    // alg: none
    let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    refused_with(&app, &format!("Bearer {none_header}.{}.", parts[1]));
    // another algorithm with the same secret
    refused_with(
        &app,
        &format!(
            "Bearer {}",
            sign(&claims(json!({})), Algorithm::HS512, JWT_SECRET)
        ),
    );
    // the wrong key
    refused_with(
        &app,
        &format!(
            "Bearer {}",
            sign(
                &claims(json!({})),
                Algorithm::HS256,
                "another-secret-0123456789abcdef0123456789"
            )
        ),
    );
    // the wrong issuer
    let message = refused_with(
        &app,
        &format!(
            "Bearer {}",
            sign(
                &claims(json!({"iss": "elsewhere"})),
                Algorithm::HS256,
                JWT_SECRET
            )
        ),
    );
    assert!(message.contains("issued"), "{message}");
    // expired beyond the 5 s leeway, and not yet valid
    let message = refused_with(
        &app,
        &format!(
            "Bearer {}",
            sign(
                &claims(json!({"exp": now() - 10})),
                Algorithm::HS256,
                JWT_SECRET
            )
        ),
    );
    assert!(message.contains("expired"), "{message}");
    refused_with(
        &app,
        &format!(
            "Bearer {}",
            sign(
                &claims(json!({"nbf": now() + 60})),
                Algorithm::HS256,
                JWT_SECRET
            )
        ),
    );
    // missing required claims
    for missing in ["exp", "nbf", "jti", "iss", "uid"] {
        refused_with(
            &app,
            &format!(
                "Bearer {}",
                sign(
                    &claims(json!({missing: null})),
                    Algorithm::HS256,
                    JWT_SECRET
                )
            ),
        );
    }
    // a user that does not exist
    refused_with(
        &app,
        &format!(
            "Bearer {}",
            sign(
                &claims(json!({"sub": "ghost"})),
                Algorithm::HS256,
                JWT_SECRET
            )
        ),
    );
    // a forged pipeline token whose jti was never stored
    refused_with(
        &app,
        &format!(
            "Bearer {}",
            sign(
                &claims(json!({"kind": "pipeline"})),
                Algorithm::HS256,
                JWT_SECRET
            )
        ),
    );
}

#[test]
fn the_stored_role_counts_not_the_role_claimed_in_the_token() {
    let app = spawn_app();
    app.user_token("vera", "viewer");
    let inflated = sign(
        &claims(json!({"sub": "vera", "uid": 2, "role": "admin"})),
        Algorithm::HS256,
        JWT_SECRET,
    );
    app.call_as(
        Some(&inflated),
        "POST",
        "/api/v1/models",
        Some(json!({"name": "x"})),
    )
    .expect_error(403, "PERMISSION_DENIED");
}

#[test]
fn disabling_or_deleting_a_user_stops_its_tokens_at_once() {
    let app = spawn_app();
    let token = app.user_token("carl", "contributor");
    assert_eq!(
        app.call_as(Some(&token), "GET", "/api/v1/me", None).status,
        200
    );
    app.patch("/api/v1/users/carl", json!({"disabled": true}))
        .expect(200);
    app.call_as(Some(&token), "GET", "/api/v1/me", None)
        .expect_error(401, "UNAUTHENTICATED");
    let message = app
        .call_as(
            None,
            "POST",
            "/api/v1/auth/token",
            Some(json!({"username": "carl", "password": "password-carl"})),
        )
        .expect_error(401, "UNAUTHENTICATED");
    assert!(message.contains("disabled"), "{message}");
    app.patch("/api/v1/users/carl", json!({"disabled": false}))
        .expect(200);
    // re-enabling does not bring the ended session back
    app.call_as(Some(&token), "GET", "/api/v1/me", None)
        .expect_error(401, "UNAUTHENTICATED");
    let token = app.login("carl", "password-carl");
    assert_eq!(
        app.call_as(Some(&token), "GET", "/api/v1/me", None).status,
        200
    );
    assert_eq!(app.delete("/api/v1/users/carl").status, 204);
    app.call_as(Some(&token), "GET", "/api/v1/me", None)
        .expect_error(401, "UNAUTHENTICATED");
}

#[test]
fn a_pipeline_token_works_until_revoked_on_every_replica() {
    let app = spawn_app();
    app.user_token("ci-bot", "contributor");
    let created = app
        .post(
            "/api/v1/tokens",
            json!({"name": "fraud pipeline", "username": "ci-bot", "expires_in_days": 30}),
        )
        .expect(201)
        .clone();
    let token = created["token"].as_str().unwrap_or_default().to_owned();
    let id = created["id"].as_i64().unwrap_or_default();
    assert_eq!(created["name"], "fraud pipeline");
    assert_eq!(created["username"], "ci-bot");
    let days = (created["expires_at"].as_i64().unwrap_or_default() / 1000 - now()) / 86_400;
    assert!((29..=30).contains(&days), "{days}");

    let replica = app.replica();
    for server in [&app, &replica] {
        let me = server.call_as(Some(&token), "GET", "/api/v1/me", None);
        assert_eq!(me.expect(200)["token_kind"], "pipeline");
        assert_eq!(
            server
                .call_as(
                    Some(&token),
                    "POST",
                    "/api/v1/models",
                    Some(json!({"name": format!("m{}", server.port)}))
                )
                .status,
            201
        );
    }
    // the token is listed but its value is never shown again
    let listed = app.get("/api/v1/tokens").expect(200).clone();
    assert_eq!(listed["tokens"][0]["id"], id);
    assert!(!listed.to_string().contains(&token));
    assert!(
        app.get(&format!("/api/v1/tokens/{id}"))
            .expect(200)
            .get("token")
            .is_none()
    );

    assert_eq!(app.delete(&format!("/api/v1/tokens/{id}")).status, 204);
    for server in [&app, &replica] {
        let message = server
            .call_as(Some(&token), "GET", "/api/v1/me", None)
            .expect_error(401, "UNAUTHENTICATED");
        assert!(message.contains("revoked"), "{message}");
    }
    assert!(app.get(&format!("/api/v1/tokens/{id}")).expect(200)["revoked_at"].is_i64());
}

#[test]
fn pipeline_token_requests_are_validated() {
    let app = spawn_app();
    let before = app.snapshot();
    app.post("/api/v1/tokens", json!({"name": "x", "expires_in_days": 0}))
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.post(
        "/api/v1/tokens",
        json!({"name": "x", "expires_in_days": 99999}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.post("/api/v1/tokens", json!({"name": ""}))
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.post("/api/v1/tokens", json!({"name": "x", "username": "ghost"}))
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    app.get("/api/v1/tokens/abc")
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.delete("/api/v1/tokens/999")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.snapshot(), before);
}

#[test]
fn failed_logins_are_throttled_per_user_without_slowing_others() {
    let app = spawn_app_with_config(
        "[auth]\nlogin_max_failures_per_user = 3\nlogin_max_failures_per_address = 50\n",
    );
    app.user_token("alice", "viewer");
    let attempt = |username: &str, password: &str| {
        app.call_as(
            None,
            "POST",
            "/api/v1/auth/token",
            Some(json!({"username": username, "password": password})),
        )
    };
    for _ in 0..3 {
        attempt("alice", "guess-guess").expect_error(401, "UNAUTHENTICATED");
    }
    // now even the right password waits
    let throttled = attempt("alice", "password-alice");
    throttled.expect_error(429, "REQUEST_LIMIT_EXCEEDED");
    let retry_after: u64 = throttled
        .headers
        .get("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    // someone else logs in at once
    assert_eq!(attempt("admin", ADMIN_PASSWORD).status, 200);
}

#[test]
fn failed_logins_are_throttled_per_client_address() {
    let app = spawn_app_with_config(
        "[auth]\nlogin_max_failures_per_user = 100\nlogin_max_failures_per_address = 4\n",
    );
    for i in 0..4 {
        app.call_as(
            None,
            "POST",
            "/api/v1/auth/token",
            Some(json!({"username": format!("user{i}"), "password": "nope-nope"})),
        )
        .expect_error(401, "UNAUTHENTICATED");
    }
    app.call_as(
        None,
        "POST",
        "/api/v1/auth/token",
        Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
    )
    .expect_error(429, "REQUEST_LIMIT_EXCEEDED");
}

#[test]
fn a_generated_secret_survives_a_restart_and_is_kept_private() {
    let app = spawn_app_full("", false);
    let token = app.admin_token.clone();
    let secret_file = app.settings.data_dir.join("jwt_secret");
    let mode = std::fs::metadata(&secret_file)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap_or_default();
    assert_eq!(mode, 0o600);
    let secret = std::fs::read_to_string(&secret_file).unwrap_or_default();
    assert_eq!(secret.len(), 64);

    let app = app.restart();
    assert_eq!(
        app.call_as(Some(&token), "GET", "/api/v1/me", None).status,
        200
    );
    assert_eq!(
        std::fs::read_to_string(&secret_file).unwrap_or_default(),
        secret
    );
}

#[test]
fn tokens_of_one_deployment_are_worthless_on_another() {
    let first = spawn_app_full("", false);
    let second = spawn_app_full("", false);
    second
        .call_as(Some(&first.admin_token), "GET", "/api/v1/me", None)
        .expect_error(401, "UNAUTHENTICATED");
}

#[test]
fn the_last_enabled_admin_cannot_be_removed() {
    let app = spawn_app();
    for (method, body) in [
        ("PATCH", Some(json!({"role": "viewer"}))),
        ("PATCH", Some(json!({"disabled": true}))),
        ("DELETE", None),
    ] {
        app.call(method, "/api/v1/users/admin", body)
            .expect_error(409, "CONFLICT");
    }
    app.user_token("second", "admin");
    app.patch("/api/v1/users/admin", json!({"role": "approver"}))
        .expect(200);
}

#[test]
fn users_are_managed_by_admins_and_never_show_a_hash() {
    let app = spawn_app();
    let created = app
        .post(
            "/api/v1/users",
            json!({"username": "ann", "password": "long-enough", "role": "approver"}),
        )
        .expect(201)
        .clone();
    assert_eq!(created["username"], "ann");
    assert_eq!(created["role"], "approver");
    assert_eq!(created["disabled"], false);
    app.post(
        "/api/v1/users",
        json!({"username": "ann", "password": "long-enough", "role": "viewer"}),
    )
    .expect_error(409, "RESOURCE_ALREADY_EXISTS");
    app.post(
        "/api/v1/users",
        json!({"username": "bob", "password": "short", "role": "viewer"}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.post(
        "/api/v1/users",
        json!({"username": "bob", "password": "long-enough", "role": "root"}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.post(
        "/api/v1/users",
        json!({"username": "b o b", "password": "long-enough", "role": "viewer"}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    let listed = app.get("/api/v1/users").expect(200).clone();
    assert_eq!(listed["users"].as_array().map(Vec::len), Some(2));
    assert!(!listed.to_string().contains("argon2"));
    assert!(!listed.to_string().contains("password"));

    app.patch("/api/v1/users/ann", json!({"password": "a-new-password"}))
        .expect(200);
    assert!(!app.login("ann", "a-new-password").is_empty());
    app.patch("/api/v1/users/ann", json!({}))
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.get("/api/v1/users/nobody")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
}

#[test]
fn a_session_token_dies_with_its_user_even_if_the_name_is_reused() {
    let app = spawn_app();
    let token = app.user_token("bob", "viewer");
    assert_eq!(app.delete("/api/v1/users/bob").status, 204);
    app.post(
        "/api/v1/users",
        json!({"username": "bob", "password": "new-bob-password", "role": "admin"}),
    )
    .expect(201);
    app.call_as(Some(&token), "GET", "/api/v1/users", None)
        .expect_error(401, "UNAUTHENTICATED");
}
