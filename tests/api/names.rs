//! Names that spoof or cannot be reached are refused on both APIs, and a
//! conflict says what conflicted in the product's terms, never the
//! database's.

use serde_json::json;

use crate::helpers::spawn_app;

#[test]
fn names_and_tag_keys_with_invisible_characters_or_dot_names_are_refused() {
    let app = spawn_app();
    let before = app.snapshot();
    for name in [
        "evil\u{202E}gnp.exe",
        "zero\u{200B}width",
        "\u{FEFF}bom",
        ".",
        "..",
    ] {
        let message = app
            .post("/api/v1/models", json!({ "name": name }))
            .expect_error(400, "INVALID_PARAMETER_VALUE");
        assert!(message.contains("model name"), "{name:?}: {message}");
        app.post(
            "/api/2.0/mlflow/registered-models/create",
            json!({ "name": name }),
        )
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    }
    app.create_model("fraud");
    let before_tags = app.snapshot();
    app.put(
        &format!(
            "/api/v1/models/fraud/tags/{}",
            crate::helpers::enc("te\u{2066}am")
        ),
        json!({"value": "risk"}),
    )
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(app.snapshot(), before_tags);
    assert_ne!(before, before_tags, "the one valid model was created");
}

#[test]
fn duplicates_racing_or_not_say_what_exists_without_the_databases_text() {
    let app = spawn_app();
    // eight creations of one new name at once: one wins, the others conflict
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let response = app.post("/api/v1/models", json!({"name": "fraud"}));
                    (response.status, response.text.clone())
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|_| panic!("racer thread")))
            .collect()
    });
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{answers:?}"
    );
    for (status, text) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{text}");
        assert!(text.contains("'fraud' already exists"), "{text}");
        for leak in ["UNIQUE", "constraint", "duplicate key", "registered_models"] {
            assert!(!text.contains(leak), "{text}");
        }
    }
}

#[test]
fn revoking_a_token_twice_at_once_records_one_revocation() {
    let app = spawn_app();
    let id = app
        .post("/api/v1/tokens", json!({"name": "ci"}))
        .expect(201)["id"]
        .as_i64()
        .unwrap_or_default();
    let events_before = app.count("events");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let revocations: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| app.delete(&format!("/api/v1/tokens/{id}")).status))
            .collect();
        revocations
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|_| panic!("revocation thread")))
            .collect()
    });
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(
        app.count("events"),
        events_before + 1,
        "one token.revoked event"
    );
}
