//! Sessions end with the credentials that opened them: a password change or
//! a disable ends the user's login tokens at once, on every replica; a
//! disable also revokes the user's pipeline tokens for good.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

fn pipeline_token(app: &TestApp, username: &str) -> String {
    app.post(
        "/api/v1/tokens",
        json!({"name": "ci", "username": username}),
    )
    .expect(201)["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_password_change_ends_the_users_login_tokens_on_every_replica() {
    let app = spawn_app();
    let old = app.user_token("vera", "viewer");
    let replica = app.replica();
    replica
        .call_as(Some(&old), "GET", "/api/v1/me", None)
        .expect(200);
    let pipeline = pipeline_token(&app, "vera");
    app.patch("/api/v1/users/vera", json!({"password": "a-new-password"}))
        .expect(200);
    for server in [&app, &replica] {
        let message = server
            .call_as(Some(&old), "GET", "/api/v1/me", None)
            .expect_error(401, "UNAUTHENTICATED");
        assert!(message.contains("the session has ended"), "{message}");
    }
    let new = app.login("vera", "a-new-password");
    replica
        .call_as(Some(&new), "GET", "/api/v1/me", None)
        .expect(200);
    // a pipeline token is not a session: a password change leaves it working
    app.call_as(Some(&pipeline), "GET", "/api/v1/me", None)
        .expect(200);
    // an unrelated change (the role) ends nothing
    app.patch("/api/v1/users/vera", json!({"role": "contributor"}))
        .expect(200);
    app.call_as(Some(&new), "GET", "/api/v1/me", None)
        .expect(200);
}

#[test]
fn a_disable_ends_sessions_and_revokes_pipeline_tokens_for_good() {
    let app = spawn_app();
    let session = app.user_token("carl", "contributor");
    let pipeline = pipeline_token(&app, "carl");
    let admins = pipeline_token(&app, "admin");
    app.patch("/api/v1/users/carl", json!({"disabled": true}))
        .expect(200);
    app.patch("/api/v1/users/carl", json!({"disabled": false}))
        .expect(200);
    let message = app
        .call_as(Some(&session), "GET", "/api/v1/me", None)
        .expect_error(401, "UNAUTHENTICATED");
    assert!(message.contains("the session has ended"), "{message}");
    let message = app
        .call_as(Some(&pipeline), "GET", "/api/v1/me", None)
        .expect_error(401, "UNAUTHENTICATED");
    assert!(message.contains("revoked"), "{message}");
    // another user's token is untouched, and carl can log in again
    app.call_as(Some(&admins), "GET", "/api/v1/me", None)
        .expect(200);
    let fresh = app.login("carl", "password-carl");
    app.call_as(Some(&fresh), "GET", "/api/v1/me", None)
        .expect(200);
    let tokens = app.get("/api/v1/tokens").expect(200).clone();
    let revoked = tokens["tokens"]
        .as_array()
        .map(|all| all.iter().filter(|t| !t["revoked_at"].is_null()).count())
        .unwrap_or_default();
    assert_eq!(revoked, 1, "{tokens}");
}
