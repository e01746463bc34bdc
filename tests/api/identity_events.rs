//! The user directory and the token inventory stay with the admins: `user.*`
//! and `token.*` events are filtered from everyone else's feed in the query
//! (so pages skip them too); and one password rule serves creation, change
//! and login.

use serde_json::json;

use crate::helpers::spawn_app;

fn types(feed: &serde_json::Value) -> Vec<String> {
    feed["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["event_type"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn user_and_token_events_are_listed_to_admins_only() {
    let app = spawn_app();
    let viewer = app.user_token("vera", "viewer");
    app.post("/api/v1/tokens", json!({"name": "ci"}))
        .expect(201);
    app.create_model("fraud");
    app.patch("/api/v1/users/vera", json!({"role": "approver"}))
        .expect(200);

    let admin_feed = app.get("/api/v1/events").expect(200).clone();
    let admin_types = types(&admin_feed);
    assert!(
        admin_types.contains(&"user.created".to_owned()),
        "{admin_types:?}"
    );
    assert!(
        admin_types.contains(&"token.created".to_owned()),
        "{admin_types:?}"
    );

    for query in [
        "",
        "?type=user.created",
        "?type=user.updated",
        "?type=token.created",
        "?max_results=1",
    ] {
        let feed = app
            .call_as(
                Some(&viewer),
                "GET",
                &format!("/api/v1/events{query}"),
                None,
            )
            .expect(200)
            .clone();
        let seen = types(&feed);
        assert!(
            seen.iter()
                .all(|t| !t.starts_with("user.") && !t.starts_with("token.")),
            "{query}: {seen:?}"
        );
        if query.starts_with("?type=") {
            assert!(seen.is_empty(), "{query}: {seen:?}");
        }
    }
    // paging one event at a time walks the registry events only
    let mut walked = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("/api/v1/events?max_results=1&page_token={t}"),
            None => "/api/v1/events?max_results=1".to_owned(),
        };
        let page = app
            .call_as(Some(&viewer), "GET", &path, None)
            .expect(200)
            .clone();
        walked.extend(types(&page));
        match page["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
        assert!(walked.len() < 100, "paging ends");
    }
    assert_eq!(walked, vec!["model.created".to_owned()]);
}

#[test]
fn a_password_with_nul_is_refused_at_creation_and_change() {
    let app = spawn_app();
    let before = app.snapshot();
    let message = app
        .post(
            "/api/v1/users",
            json!({"username": "nul", "password": "pass\u{0}word-long", "role": "viewer"}),
        )
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("NUL"), "{message}");
    assert_eq!(app.snapshot(), before);
    app.user_token("vera", "viewer");
    let before = app.snapshot();
    app.patch(
        "/api/v1/users/vera",
        json!({"password": "new\u{0}password"}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(app.snapshot(), before);
    // and the old password still logs in
    app.login("vera", "password-vera");
}
