//! A full database is not an internal error: writes past the space answer
//! 507 `STORAGE_FULL` and change nothing, `/readyz` and the metrics say so
//! while reads go on, and writes resume, with nothing lost, once there is
//! space again. The space is SQLite's (`database.sqlite_max_size_mb` caps
//! the file exactly as a full disk would); PostgreSQL's disk-full errors
//! map to the same answer (`error.rs`'s unit test holds their texts).

use serde_json::json;

use crate::helpers::{TestApp, start, test_settings};

fn sqlite_app(dir: tempfile::TempDir, max_mb: u64) -> TestApp {
    let url = format!("sqlite://{}", dir.path().join("modelgate.db").display());
    let config = format!("[database]\nsqlite_max_size_mb = {max_mb}\n");
    start(test_settings(dir.path(), &url, &config), None, Some(dir))
}

#[test]
fn a_full_database_answers_507_says_so_and_resumes_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let app = sqlite_app(dir, 1);
    app.create_model("filler");
    // 20 KB descriptions: a 1 MiB database fills within a hundred versions
    let description = "x".repeat(20_000);
    let mut created = 0;
    let full = loop {
        let response = app.post(
            "/api/v1/models/filler/versions",
            json!({"source": "s3://b/filler", "description": description}),
        );
        if response.status != 201 {
            break response;
        }
        created += 1;
        assert!(
            created < 200,
            "a 1 MiB database took {created} versions of 20 KB"
        );
    };
    let message = full.expect_error(507, "STORAGE_FULL");
    assert!(message.contains("storage is full"), "{message}");
    assert!(created > 0, "some versions fit");

    // a refused write changes nothing; reads are served
    let before = app.snapshot();
    app.post(
        "/api/v1/models/filler/versions",
        json!({"source": "s3://b/filler", "description": description}),
    )
    .expect_error(507, "STORAGE_FULL");
    let mlflow = app.post(
        "/api/2.0/mlflow/model-versions/create",
        json!({"name": "filler", "source": "s3://b/filler", "description": description}),
    );
    mlflow.expect_error(507, "RESOURCE_EXHAUSTED");
    assert_eq!(
        app.snapshot(),
        before,
        "a write that found no space changed nothing"
    );
    let listed = app
        .get("/api/v1/models/filler/versions?max_results=1000")
        .expect(200)
        .clone();
    assert_eq!(listed["versions"].as_array().map(Vec::len), Some(created));

    let ready = app.get("/readyz").expect(200).clone();
    assert_eq!(ready["status"], "storage_full", "{ready}");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("storage is full")),
        "{ready}"
    );
    // this server's own series: three writes found no space
    let metrics = app.get("/metrics").text.clone();
    let lines: Vec<&str> = metrics.lines().collect();
    assert!(lines.contains(&"modelgate_storage_full 1"), "{metrics}");
    assert!(
        lines.contains(&"modelgate_storage_full_total 3"),
        "{metrics}"
    );

    // space returns (a larger cap, as after growing a volume): writes resume
    let app = app.restart_with(|settings| settings.database.sqlite_max_size_mb = 64);
    app.post(
        "/api/v1/models/filler/versions",
        json!({"source": "s3://b/filler", "description": description}),
    )
    .expect(201);
    let listed = app
        .get("/api/v1/models/filler/versions?max_results=1000")
        .expect(200)
        .clone();
    assert_eq!(
        listed["versions"].as_array().map(Vec::len),
        Some(created + 1)
    );
    assert_eq!(app.get("/readyz").expect(200)["status"], "ok");
    app.assert_audit_intact();
}
