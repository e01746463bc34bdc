//! A real modelgate server on a random port over a fresh database, and typed
//! helpers to talk to it.
//!
//! SQLite by default (a temporary file per test). With
//! `MODELGATE_TEST_DATABASE_URL=postgres://…` every test creates its own
//! PostgreSQL database and drops it at the end.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::thread::JoinHandle;

use diesel::prelude::*;
use modelgate::config::Settings;
use modelgate::db::{DbConn, Pool};
use modelgate::startup::Application;
use serde_json::{Value, json};

/// The environment variable that selects PostgreSQL for the tests.
pub const PG_ENV: &str = "MODELGATE_TEST_DATABASE_URL";
/// The bootstrap admin's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The HS256 secret of test servers (tests forge tokens with it).
pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// A database created for one test.
pub enum TestDb {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A PostgreSQL database, dropped at the end.
    Postgres {
        /// URL of the server's maintenance database.
        admin_url: String,
        /// Name of the test database.
        name: String,
    },
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub text: String,
    pub json: Value,
}

impl TestResponse {
    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        &self.json
    }

    /// Asserts a JSON error with this status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.headers.get("content-type").map(String::as_str),
            Some("application/json"),
            "error bodies are JSON: {}",
            self.text
        );
        assert_eq!(self.json["error_code"], code, "body: {}", self.text);
        let message = self.json["message"].as_str().unwrap_or_default().to_owned();
        assert!(!message.is_empty(), "error has a message: {}", self.text);
        // MLflow's layer adds MLflow 3's classification, both or neither
        let extra = ["sqlstate", "error_class"]
            .iter()
            .filter(|k| self.json.get(**k).is_some())
            .count();
        assert!(extra == 0 || extra == 2, "body: {}", self.text);
        assert_eq!(
            self.json.as_object().map(|o| o.len()),
            Some(2 + extra),
            "error body is exactly {{error_code, message}} (and MLflow's {{sqlstate, \
             error_class}}): {}",
            self.text
        );
        message
    }
}

/// A running server and its database.
pub struct TestApp {
    pub address: String,
    /// A login token of the bootstrap admin; `call` and friends send it.
    pub admin_token: String,
    pub port: u16,
    pub pool: Pool,
    /// The database this app owns (dropped with it); `None` for a replica.
    pub db: Option<TestDb>,
    /// The settings it was started with.
    pub settings: Settings,
    agent: ureq::Agent,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
    dir: Option<tempfile::TempDir>,
}

/// Replaces the database name in a PostgreSQL URL, keeping any query string.
pub fn with_database(url: &str, name: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{}{}", &base[..host_end], name, query)
}

/// Creates a fresh database and returns its URL.
pub fn create_database(dir: &std::path::Path) -> (TestDb, String) {
    match std::env::var(PG_ENV) {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("modelgate_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("cannot reach {PG_ENV}: {e}"));
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .unwrap_or_else(|e| panic!("create database: {e}"));
            let url = with_database(&admin_url, &name);
            (TestDb::Postgres { admin_url, name }, url)
        }
        _ => (
            TestDb::Sqlite,
            format!("sqlite://{}", dir.join("modelgate.db").display()),
        ),
    }
}

/// Drops a database made by [`create_database`].
pub fn drop_database(db: &TestDb) {
    if let TestDb::Postgres { admin_url, name } = db
        && let Ok(mut conn) = PgConnection::establish(admin_url)
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

/// Settings for a test: port 0, a temporary data directory, the given database.
pub fn test_settings(dir: &std::path::Path, database_url: &str, config_toml: &str) -> Settings {
    settings_with(dir, database_url, config_toml, true)
}

/// Like [`test_settings`]; without `fixed_secret` the server generates its own
/// signing secret in the data directory.
pub fn settings_with(
    dir: &std::path::Path,
    database_url: &str,
    config_toml: &str,
    fixed_secret: bool,
) -> Settings {
    let file = dir.join("modelgate.toml");
    std::fs::write(&file, config_toml).unwrap_or_else(|e| panic!("write config: {e}"));
    let mut env = HashMap::from([
        ("MODELGATE__DATA_DIR".to_owned(), dir.display().to_string()),
        ("MODELGATE__SERVER__PORT".to_owned(), "0".to_owned()),
        ("MODELGATE__SERVER__WORKERS".to_owned(), "2".to_owned()),
        (
            "MODELGATE__DATABASE__URL".to_owned(),
            database_url.to_owned(),
        ),
        ("MODELGATE__DATABASE__POOL_SIZE".to_owned(), "8".to_owned()),
        // no checkpoint lands between a test's snapshots unless it asks
        (
            "MODELGATE__AUDIT__CHECKPOINT_EVERY_EVENTS".to_owned(),
            "1000000".to_owned(),
        ),
        (
            "MODELGATE__AUDIT__CHECKPOINT_EVERY_SECONDS".to_owned(),
            "86400".to_owned(),
        ),
        (
            "MODELGATE__AUTH__BOOTSTRAP_ADMIN_PASSWORD".to_owned(),
            ADMIN_PASSWORD.to_owned(),
        ),
    ]);
    if fixed_secret {
        env.insert(
            "MODELGATE__AUTH__JWT_SECRET".to_owned(),
            JWT_SECRET.to_owned(),
        );
    }
    Settings::load_with_env(Some(&file), Some(env)).unwrap_or_else(|e| panic!("settings: {e}"))
}

/// Starts a server over a fresh database.
pub fn spawn_app() -> TestApp {
    spawn_app_with_config("")
}

/// Starts a server with extra `modelgate.toml` content.
pub fn spawn_app_with_config(config_toml: &str) -> TestApp {
    spawn_app_full(config_toml, true)
}

/// Starts a server; without `fixed_secret` it generates its signing secret.
pub fn spawn_app_full(config_toml: &str, fixed_secret: bool) -> TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (db, url) = create_database(dir.path());
    let settings = settings_with(dir.path(), &url, config_toml, fixed_secret);
    start(settings, Some(db), Some(dir))
}

/// Starts a server with these settings over an existing database.
pub fn start(settings: Settings, db: Option<TestDb>, dir: Option<tempfile::TempDir>) -> TestApp {
    let server_settings = settings.clone();
    let (sender, receiver) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(&server_settings) {
                Ok(app) => {
                    let _ = sender.send(Ok((app.port(), app.handle(), app.pool())));
                    let _ = app.run_until_stopped().await;
                }
                Err(error) => {
                    let _ = sender.send(Err(error.to_string()));
                }
            }
        });
    });
    let started = receiver
        .recv()
        .unwrap_or_else(|e| panic!("server thread: {e}"));
    let (port, handle, pool) = match started {
        Ok(started) => started,
        Err(error) => {
            if let Some(db) = &db {
                drop_database(db);
            }
            panic!("server did not start: {error}");
        }
    };
    // no request of a test waits forever: a server that hangs fails the test
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        admin_token: String::new(),
        port,
        pool,
        db,
        settings,
        agent,
        handle,
        thread: Some(thread),
        dir,
    };
    app.admin_token = app.login("admin", ADMIN_PASSWORD);
    app
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
        if let Some(db) = &self.db {
            drop_database(db);
        }
    }
}

impl TestApp {
    fn stop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the server and starts it again on the same data directory and database.
    pub fn restart(mut self) -> TestApp {
        self.stop();
        let settings = self.settings.clone();
        start(settings, self.db.take(), self.dir.take())
    }

    /// Like [`TestApp::restart`], with changed settings.
    pub fn restart_with(mut self, change: impl FnOnce(&mut Settings)) -> TestApp {
        self.stop();
        let mut settings = self.settings.clone();
        change(&mut settings);
        start(settings, self.db.take(), self.dir.take())
    }

    /// A second server (a replica) on the same database and data directory.
    pub fn replica(&self) -> TestApp {
        start(self.settings.clone(), None, None)
    }
}

/// The tables `src/db/schema.rs` declares, sorted.
pub fn schema_tables() -> Vec<String> {
    let schema = include_str!("../../src/db/schema.rs");
    let mut tables: Vec<String> = schema
        .split("diesel::table! {")
        .skip(1)
        .map(|block| {
            block
                .trim_start()
                .split(|c: char| c.is_whitespace() || c == '(')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        !tables.is_empty()
            && tables
                .iter()
                .all(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
        "table names read from schema.rs: {tables:?}"
    );
    tables.sort();
    tables
}

/// The rows of every table, by table, each row as text (see [`TestApp::snapshot`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: BTreeMap<String, Vec<String>>,
}

impl Snapshot {
    /// The tables it holds.
    pub fn table_names(&self) -> Vec<&str> {
        self.tables.keys().map(String::as_str).collect()
    }
}

impl std::fmt::Debug for Snapshot {
    // one row a line, so that a failed comparison can be read
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (table, rows) in &self.tables {
            writeln!(f, "{table} ({} rows)", rows.len())?;
            for row in rows {
                writeln!(f, "    {row}")?;
            }
        }
        Ok(())
    }
}

/// The first column, as text, of every row a query returns (named `name`).
fn names(conn: &mut DbConn, query: String) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    diesel::sql_query(&query)
        .load::<Name>(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .into_iter()
        .map(|row| row.name)
        .collect()
}

/// Percent-encodes one path segment.
pub fn enc(segment: &str) -> String {
    modelgate::domain::types::percent_encode_segment(segment)
}

impl TestApp {
    /// Sends a request with an optional raw body and headers.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.address, path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let result = match body {
            Some(bytes) => self.agent.run(
                builder
                    .body(bytes)
                    .unwrap_or_else(|e| panic!("request: {e}")),
            ),
            None => self
                .agent
                .run(builder.body(()).unwrap_or_else(|e| panic!("request: {e}"))),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            text,
            json,
        }
    }

    /// Sends JSON (or nothing) as the admin and reads the answer.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        self.call_as(Some(&self.admin_token), method, path, body)
    }

    /// Sends JSON (or nothing) with this bearer token (or none).
    pub fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> TestResponse {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(value) = &authorization {
            headers.push(("Authorization", value));
        }
        match body {
            Some(body) => {
                headers.push(("Content-Type", "application/json"));
                self.raw(method, path, Some(body.to_string().into_bytes()), &headers)
            }
            None => self.raw(method, path, None, &headers),
        }
    }

    /// The admin's Authorization header, for `raw` requests.
    pub fn admin_header(&self) -> String {
        format!("Bearer {}", self.admin_token)
    }

    /// Logs in and returns the access token.
    pub fn login(&self, username: &str, password: &str) -> String {
        let response = self.call_as(
            None,
            "POST",
            "/api/v1/auth/token",
            Some(json!({"username": username, "password": password})),
        );
        response.expect(200)["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {}", response.text))
            .to_owned()
    }

    /// Creates a user with this role (password `password-<name>`) and returns its token.
    pub fn user_token(&self, username: &str, role: &str) -> String {
        let password = format!("password-{username}");
        self.post(
            "/api/v1/users",
            json!({"username": username, "password": password, "role": role}),
        )
        .expect(201);
        self.login(username, &password)
    }

    pub fn get(&self, path: &str) -> TestResponse {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> TestResponse {
        self.call("POST", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: Value) -> TestResponse {
        self.call("PATCH", path, Some(body))
    }

    pub fn put(&self, path: &str, body: Value) -> TestResponse {
        self.call("PUT", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> TestResponse {
        self.call("DELETE", path, None)
    }

    /// Creates a model and asserts 201.
    pub fn create_model(&self, name: &str) -> Value {
        self.post("/api/v1/models", json!({ "name": name }))
            .expect(201)
            .clone()
    }

    /// Registers a version and returns its number.
    pub fn create_version(&self, name: &str) -> i64 {
        let response = self.post(
            &format!("/api/v1/models/{}/versions", enc(name)),
            json!({ "source": format!("s3://bucket/{name}") }),
        );
        response.expect(201)["version"]
            .as_i64()
            .unwrap_or_else(|| panic!("version number in {}", response.text))
    }

    /// Moves a version and returns the response.
    pub fn transition(&self, name: &str, version: i64, stage: &str, archive: bool) -> TestResponse {
        self.post(
            &format!("/api/v1/models/{}/versions/{version}/stage", enc(name)),
            json!({ "stage": stage, "archive_existing_versions": archive }),
        )
    }

    /// A version's stage, as the API answers it.
    pub fn stage(&self, name: &str, version: i64) -> String {
        self.get(&format!("/api/v1/models/{}/versions/{version}", enc(name)))
            .expect(200)["current_stage"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Moves a version as the holder of `token` and returns the response.
    pub fn move_as(&self, token: &str, name: &str, version: i64, stage: &str) -> TestResponse {
        self.call_as(
            Some(token),
            "POST",
            &format!("/api/v1/models/{}/versions/{version}/stage", enc(name)),
            Some(json!({ "stage": stage })),
        )
    }

    /// A connection to the test database.
    pub fn conn(&self) -> r2d2::PooledConnection<modelgate::db::ConnectionManager> {
        self.pool.get().unwrap_or_else(|e| panic!("pool: {e}"))
    }

    /// Number of rows in a table (a direct look at the database).
    pub fn count(&self, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn();
        let conn: &mut DbConn = &mut conn;
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<Count>(conn)
            .unwrap_or_else(|e| panic!("count {table}: {e}"))
            .n
    }

    /// The content of every table, to assert that a refused request changed
    /// nothing: every row of every table the database holds (read from its
    /// catalog, so a table added by a migration is covered without editing
    /// this), each row as the text of all its columns.
    ///
    /// Left out: SQLite's internal `sqlite_*` tables. The one that holds data,
    /// `sqlite_sequence`, is an id counter; on PostgreSQL the same counter is
    /// a sequence (not a table), which even a rolled-back insert advances, so
    /// neither backend's counter says whether a request changed anything.
    /// Runs one SQL statement on the test database (a test's own setup).
    pub fn execute(&self, statement: &str) {
        use diesel::RunQueryDsl;
        let mut conn = self.conn();
        diesel::sql_query(statement)
            .execute(&mut *conn)
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut pooled = self.conn();
        let conn: &mut DbConn = &mut pooled;
        let postgres = matches!(conn, DbConn::Postgresql(_));
        let tables = if postgres {
            names(
                conn,
                "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                    .to_owned(),
            )
        } else {
            names(
                conn,
                "SELECT name FROM sqlite_master \
                 WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                    .to_owned(),
            )
        };
        assert!(!tables.is_empty(), "the catalog lists the tables");
        let tables = tables
            .into_iter()
            .map(|table| {
                let columns = if postgres {
                    names(
                        conn,
                        format!(
                            "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
                             WHERE table_schema = current_schema() AND table_name = '{table}' \
                             ORDER BY ordinal_position"
                        ),
                    )
                } else {
                    names(
                        conn,
                        format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                    )
                };
                assert!(!columns.is_empty(), "the catalog lists the columns of {table}");
                // `column=value | column=value …`, NULL written as <null>
                let as_text = |column: &String| {
                    format!("'{column}=' || COALESCE(CAST(\"{column}\" AS TEXT), '<null>')")
                };
                let row = columns
                    .iter()
                    .map(as_text)
                    .collect::<Vec<_>>()
                    .join(" || ' | ' || ");
                let rows = names(
                    conn,
                    format!("SELECT {row} AS name FROM \"{table}\" ORDER BY 1"),
                );
                (table, rows)
            })
            .collect();
        Snapshot { tables }
    }

    /// Asserts that `audit verify` finds the record intact: the chain, and
    /// the tables and the history index equal to what replaying it makes.
    pub fn assert_audit_intact(&self) {
        let key = modelgate::auth::audit_key::AuditKey::from_settings(
            &self.settings.audit,
            &self.settings.data_dir,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut conn = self.conn();
        let verdict = modelgate::domain::audit::verify(&mut conn, &key, &[])
            .unwrap_or_else(|e| panic!("verify: {e}"));
        assert!(
            matches!(verdict, modelgate::domain::audit::Verdict::Intact { .. }),
            "{verdict:?}"
        );
    }

    /// Every event of the chain, in order, as stored.
    pub fn event_rows(&self) -> Vec<modelgate::db::rows::EventRow> {
        use modelgate::db::schema::events;
        events::table
            .order(events::id.asc())
            .select(modelgate::db::rows::EventRow::as_select())
            .load(&mut *self.conn())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Stages of all versions of a model, by version.
    pub fn stages(&self, name: &str) -> Vec<(i64, String)> {
        let body = self
            .get(&format!(
                "/api/v1/models/{}/versions?order_by=version%20ASC&max_results=1000",
                enc(name)
            ))
            .expect(200)
            .clone();
        body["versions"]
            .as_array()
            .map(|versions| {
                versions
                    .iter()
                    .map(|v| {
                        (
                            v["version"].as_i64().unwrap_or_default(),
                            v["current_stage"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
