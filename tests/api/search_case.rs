//! `ILIKE`'s case rule, the same on both databases whatever PostgreSQL's
//! locale: ASCII letters fold, every other character matches only itself
//! (é and É differ, ß is not SS, Σ, σ and ς are three letters). Through the
//! native and the MLflow search, on names and on tags.

use serde_json::{Value, json};

use crate::helpers::{enc, spawn_app};

const NAMES: [&str; 9] = [
    "lk_école",
    "lk_ÉCOLE",
    "LK_école",
    "lk_ecole",
    "lk_straße",
    "lk_STRASSE",
    "lk_σοφια",
    "lk_ΣΟΦΙΑ",
    "lk_ς",
];

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|model| model["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn ilike_folds_ascii_letters_only_on_both_databases_and_both_apis() {
    let app = spawn_app();
    for name in NAMES {
        app.post(
            "/api/v1/models",
            json!({"name": name, "tags": {"word": name}}),
        )
        .expect(201);
    }
    let cases: [(&str, &[&str]); 8] = [
        ("lk_école", &["LK_école", "lk_école"]),
        ("LK_ÉCOLE", &["lk_ÉCOLE"]),
        ("LK_ECOLE", &["lk_ecole"]),
        ("lk_straße", &["lk_straße"]),
        ("lk_strasse", &["lk_STRASSE"]),
        ("lk_σοφια", &["lk_σοφια"]),
        ("%σ%", &["lk_σοφια"]),
        ("lk\\_Σ%", &["lk_ΣΟΦΙΑ"]),
    ];
    for (pattern, want) in cases {
        let mut want: Vec<String> = want.iter().map(|n| (*n).to_owned()).collect();
        want.sort();
        for field in ["name", "tags.word"] {
            let filter = enc(&format!("{field} ILIKE '{pattern}'"));
            let native = app
                .get(&format!("/api/v1/models?filter={filter}"))
                .expect(200)
                .clone();
            assert_eq!(
                names(&native["models"]),
                want,
                "native {field} ILIKE '{pattern}'"
            );
            let mlflow = app
                .get(&format!(
                    "/api/2.0/mlflow/registered-models/search?filter={filter}"
                ))
                .expect(200)
                .clone();
            let found = mlflow
                .get("registered_models")
                .cloned()
                .unwrap_or(json!([]));
            assert_eq!(names(&found), want, "MLflow {field} ILIKE '{pattern}'");
        }
    }
    // LIKE stays case-sensitive everywhere
    let filter = enc("name LIKE 'lk_école'");
    let exact = app
        .get(&format!("/api/v1/models?filter={filter}"))
        .expect(200)
        .clone();
    assert_eq!(names(&exact["models"]), vec!["lk_école".to_owned()]);
}
