use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{enc, spawn_app};

#[test]
fn creating_a_model_returns_it_and_reading_it_back_matches() {
    let app = spawn_app();
    let created = app
        .post(
            "/api/v1/models",
            json!({"name": "fraud detector", "description": "catches fraud", "tags": {"team": "risk"}}),
        )
        .expect(201)
        .clone();
    assert_eq!(created["name"], "fraud detector");
    assert_eq!(created["description"], "catches fraud");
    assert_eq!(created["tags"], json!({"team": "risk"}));
    assert_eq!(created["aliases"], json!({}));
    assert_eq!(created["latest_versions"], json!([]));
    assert!(created["creation_timestamp"].as_i64().unwrap_or_default() > 1_700_000_000_000);
    assert_eq!(
        created["creation_timestamp"],
        created["last_updated_timestamp"]
    );

    let fetched = app
        .get("/api/v1/models/fraud%20detector")
        .expect(200)
        .clone();
    assert_eq!(fetched, created);
    assert_eq!(app.count("registered_models"), 1);
    assert_eq!(app.count("registered_model_tags"), 1);
}

#[test]
fn creating_a_duplicate_model_is_a_conflict_and_changes_nothing() {
    let app = spawn_app();
    app.create_model("dup");
    let before = app.snapshot();
    app.post("/api/v1/models", json!({"name": "dup"}))
        .expect_error(409, "RESOURCE_ALREADY_EXISTS");
    assert_eq!(app.snapshot(), before);
}

#[test]
fn a_missing_model_is_404() {
    let app = spawn_app();
    let message = app
        .get("/api/v1/models/nothing-here")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert!(message.contains("nothing-here"), "{message}");
}

#[test]
fn names_with_spaces_percent_signs_and_unicode_round_trip_through_paths() {
    let app = spawn_app();
    for name in ["a b", "100% sure", "naïve-模型", "q?x#y", "plus+sign"] {
        app.create_model(name);
        let fetched = app
            .get(&format!("/api/v1/models/{}", enc(name)))
            .expect(200)
            .clone();
        assert_eq!(fetched["name"], name);
        assert_eq!(app.create_version(name), 1);
    }
}

#[test]
fn renaming_keeps_versions_and_frees_the_old_name() {
    let app = spawn_app();
    app.create_model("old");
    app.create_version("old");
    let renamed = app
        .patch(
            "/api/v1/models/old",
            json!({"name": "new", "description": "moved"}),
        )
        .expect(200)
        .clone();
    assert_eq!(renamed["name"], "new");
    assert_eq!(renamed["description"], "moved");
    assert_eq!(renamed["latest_versions"][0]["name"], "new");
    app.get("/api/v1/models/old")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    app.get("/api/v1/models/new/versions/1").expect(200);
    app.create_model("old");
}

#[test]
fn renaming_onto_an_existing_name_is_a_conflict() {
    let app = spawn_app();
    app.create_model("a");
    app.create_model("b");
    let before = app.snapshot();
    app.patch("/api/v1/models/a", json!({"name": "b"}))
        .expect_error(409, "RESOURCE_ALREADY_EXISTS");
    assert_eq!(app.snapshot(), before);
    app.get("/api/v1/models/a").expect(200);
}

#[test]
fn deleting_a_model_removes_its_versions_tags_and_aliases() {
    let app = spawn_app();
    app.create_model("doomed");
    app.create_version("doomed");
    app.put("/api/v1/models/doomed/tags/k", json!({"value": "v"}))
        .expect(200);
    app.put(
        "/api/v1/models/doomed/aliases/champion",
        json!({"version": 1}),
    )
    .expect(200);
    let response = app.delete("/api/v1/models/doomed");
    assert_eq!(response.status, 204);
    assert!(response.text.is_empty());
    app.get("/api/v1/models/doomed")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.count("registered_models"), 0);
    assert_eq!(app.count("model_versions"), 0);
    assert_eq!(app.count("registered_model_tags"), 0);
    assert_eq!(app.count("registered_model_aliases"), 0);
    app.delete("/api/v1/models/doomed")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
}

#[test]
fn model_tags_are_set_replaced_and_deleted() {
    let app = spawn_app();
    app.create_model("m");
    let tag = app
        .put("/api/v1/models/m/tags/team", json!({"value": "risk"}))
        .expect(200)
        .clone();
    assert_eq!(tag, json!({"key": "team", "value": "risk"}));
    app.put("/api/v1/models/m/tags/team", json!({"value": "fraud"}))
        .expect(200);
    app.put("/api/v1/models/m/tags/with%20space", json!({"value": ""}))
        .expect(200);
    let model = app.get("/api/v1/models/m").expect(200).clone();
    assert_eq!(model["tags"], json!({"team": "fraud", "with space": ""}));
    assert_eq!(app.delete("/api/v1/models/m/tags/team").status, 204);
    app.delete("/api/v1/models/m/tags/team")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        app.get("/api/v1/models/m").expect(200)["tags"],
        json!({"with space": ""})
    );
}

#[test]
fn aliases_point_at_versions_and_follow_moves() {
    let app = spawn_app();
    app.create_model("m");
    app.create_version("m");
    app.create_version("m");
    let set = app
        .put("/api/v1/models/m/aliases/champion", json!({"version": 1}))
        .expect(200)
        .clone();
    assert_eq!(set, json!({"alias": "champion", "version": 1}));
    assert_eq!(
        app.get("/api/v1/models/m/aliases/champion").expect(200)["version"],
        1
    );
    app.put("/api/v1/models/m/aliases/champion", json!({"version": 2}))
        .expect(200);
    let version = app
        .get("/api/v1/models/m/aliases/champion")
        .expect(200)
        .clone();
    assert_eq!(version["version"], 2);
    assert_eq!(version["aliases"], json!(["champion"]));
    assert_eq!(
        app.get("/api/v1/models/m").expect(200)["aliases"],
        json!({"champion": 2})
    );
    assert_eq!(
        app.get("/api/v1/models/m/versions/1").expect(200)["aliases"],
        json!([])
    );
    let trail = |v: i64| -> Vec<(String, String)> {
        app.get(&format!("/api/v1/models/m/versions/{v}/activity"))
            .expect(200)["activities"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|a| {
                        (
                            a["activity_type"].as_str().unwrap_or_default().to_owned(),
                            a["comment"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let set = ("ALIAS_SET".to_owned(), "alias 'champion'".to_owned());
    let removed = ("ALIAS_REMOVED".to_owned(), "alias 'champion'".to_owned());
    assert_eq!(trail(1), vec![set.clone(), removed]);
    assert_eq!(trail(2), vec![set]);

    let before = app.snapshot();
    for reserved in ["latest", "v1", "V12"] {
        app.put(
            &format!("/api/v1/models/m/aliases/{reserved}"),
            json!({"version": 1}),
        )
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    }
    app.put("/api/v1/models/m/aliases/ghost", json!({"version": 99}))
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(app.snapshot(), before);

    // deleting the version removes the alias that pointed at it
    assert_eq!(app.delete("/api/v1/models/m/versions/2").status, 204);
    app.get("/api/v1/models/m/aliases/champion")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
    app.put("/api/v1/models/m/aliases/challenger", json!({"version": 1}))
        .expect(200);
    assert_eq!(
        app.delete("/api/v1/models/m/aliases/challenger").status,
        204
    );
    app.delete("/api/v1/models/m/aliases/challenger")
        .expect_error(404, "RESOURCE_DOES_NOT_EXIST");
}

fn names(body: &serde_json::Value) -> Vec<String> {
    body["models"]
        .as_array()
        .map(|models| {
            models
                .iter()
                .map(|m| m["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn models_are_filtered_by_name_and_tags() {
    let app = spawn_app();
    for (name, team) in [
        ("fraud-a", "risk"),
        ("fraud-b", "growth"),
        ("Churn", "risk"),
    ] {
        app.post(
            "/api/v1/models",
            json!({"name": name, "tags": {"team": team, "my key": team}}),
        )
        .expect(201);
    }
    // no tags at all: `tags.team != 'risk'` does not match it (as MLflow)
    app.post("/api/v1/models", json!({"name": "plain"}))
        .expect(201);
    let cases = [
        ("name LIKE 'fraud%'", vec!["fraud-a", "fraud-b"]),
        ("name = 'Churn'", vec!["Churn"]),
        ("name != 'Churn'", vec!["fraud-a", "fraud-b", "plain"]),
        ("name LIKE 'churn'", vec![]),
        ("name ILIKE 'churn'", vec!["Churn"]),
        ("tags.team = 'risk'", vec!["Churn", "fraud-a"]),
        ("tags.`my key` = 'growth'", vec!["fraud-b"]),
        ("tags.team != 'risk'", vec!["fraud-b"]),
        (
            "tags.team ILIKE 'RI%' AND name LIKE 'fraud%'",
            vec!["fraud-a"],
        ),
        ("tags.nothing = 'x'", vec![]),
    ];
    for (filter, expected) in cases {
        let body = app
            .get(&format!("/api/v1/models?filter={}", enc(filter)))
            .expect(200)
            .clone();
        assert_eq!(names(&body), expected, "filter {filter}");
    }
    let message = app
        .get(&format!("/api/v1/models?filter={}", enc("owner = 'me'")))
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    assert!(message.contains("owner"), "{message}");
    app.get(&format!("/api/v1/models?filter={}", enc("name = 'x")))
        .expect_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn paging_through_250_models_in_pages_of_7_returns_each_exactly_once() {
    let app = spawn_app();
    let mut expected = HashSet::new();
    for i in 0..250 {
        let name = format!("model-{i:03}");
        app.create_model(&name);
        expected.insert(name);
    }
    for order in [
        "name",
        "name DESC",
        "creation_timestamp DESC",
        "last_updated_timestamp",
    ] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/api/v1/models?max_results=7&order_by={}", enc(order));
            if let Some(token) = &token {
                path.push_str(&format!("&page_token={}", enc(token)));
            }
            let body = app.get(&path).expect(200).clone();
            let page = names(&body);
            assert!(page.len() <= 7);
            seen.extend(page);
            pages += 1;
            match body["next_page_token"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 36, "{order}: 250 models in pages of 7");
        assert_eq!(seen.len(), 250, "{order}: no duplicates");
        assert_eq!(
            seen.iter().cloned().collect::<HashSet<_>>(),
            expected,
            "{order}"
        );
        if order == "name" {
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(seen, sorted);
        }
        if order == "name DESC" {
            let mut sorted = seen.clone();
            sorted.sort_by(|a, b| b.cmp(a));
            assert_eq!(seen, sorted);
        }
    }
}

#[test]
fn a_page_token_from_another_ordering_is_refused() {
    let app = spawn_app();
    for i in 0..3 {
        app.create_model(&format!("m{i}"));
    }
    let body = app.get("/api/v1/models?max_results=1").expect(200).clone();
    let token = body["next_page_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty());
    app.get(&format!(
        "/api/v1/models?max_results=1&order_by=name%20DESC&page_token={}",
        enc(&token)
    ))
    .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.get("/api/v1/models?page_token=garbage!!")
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.get("/api/v1/models?order_by=size")
        .expect_error(400, "INVALID_PARAMETER_VALUE");
}
