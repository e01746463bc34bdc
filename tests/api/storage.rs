use diesel::prelude::*;

use crate::helpers::{create_database, drop_database, spawn_app, test_settings};
use modelgate::db::{self, DbConn};
use modelgate::startup::Application;

/// Whether a table exists. Only the backend's own "no such table" answer
/// means no — SQLite's `no such table: <table>`, PostgreSQL's `relation
/// "<table>" does not exist` (SQLSTATE 42P01, which Diesel reports by its
/// message only); any other error fails the test rather than counting as a
/// dropped table.
fn table_exists(conn: &mut DbConn, table: &str) -> bool {
    let missing = match conn {
        DbConn::Sqlite(_) => format!("no such table: {table}"),
        DbConn::Postgresql(_) => format!("relation \"{table}\" does not exist"),
    };
    match diesel::sql_query(format!("SELECT 1 FROM {table} LIMIT 1")).execute(conn) {
        Ok(_) => true,
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message() == missing => false,
        Err(error) => panic!("reading {table} failed, and not because it is missing: {error}"),
    }
}

#[test]
fn table_exists_is_false_for_a_missing_table_and_fails_on_any_other_error() {
    let app = spawn_app();
    let mut pooled = app.conn();
    let conn: &mut DbConn = &mut pooled;
    assert!(table_exists(conn, "registered_models"));
    assert!(!table_exists(conn, "no_such_table"));
    // a query that fails for another reason (here: its syntax) is no answer
    let other_error = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        table_exists(conn, "registered_models WHERE")
    }));
    assert!(
        other_error.is_err(),
        "a syntax error must not read as a dropped table"
    );
}

#[test]
fn migrations_go_up_down_and_up_again() {
    let app = spawn_app();
    app.create_model("before");
    let tables = crate::helpers::schema_tables();
    let mut pooled = app.conn();
    let conn: &mut DbConn = &mut pooled;
    for table in &tables {
        assert!(table_exists(conn, table), "{table} created");
    }
    assert_eq!(db::run_migrations(conn).ok(), Some(0), "already current");

    let reverted = db::revert_all_migrations(conn).unwrap_or_else(|e| panic!("down: {e}"));
    assert_eq!(
        reverted,
        embedded_migrations(conn),
        "every migration reverted"
    );
    for table in &tables {
        assert!(!table_exists(conn, table), "{table} dropped");
    }
    let applied = db::run_migrations(conn).unwrap_or_else(|e| panic!("up: {e}"));
    assert_eq!(applied, reverted);
    for table in &tables {
        assert!(table_exists(conn, table), "{table} created again");
    }
    // the users went with the schema: bootstrap the admin again
    modelgate::domain::users::bootstrap_admin(conn, Some(crate::helpers::ADMIN_PASSWORD))
        .unwrap_or_else(|e| panic!("bootstrap: {e}"));
    drop(pooled);
    app.create_model("after");
    assert_eq!(app.count("registered_models"), 1);
}

/// The number of migrations embedded for this connection's backend.
fn embedded_migrations(conn: &DbConn) -> usize {
    use diesel::migration::MigrationSource;
    match conn {
        DbConn::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&db::SQLITE_MIGRATIONS)
                .map(|m| m.len())
        }
        DbConn::Postgresql(_) => {
            MigrationSource::<diesel::pg::Pg>::migrations(&db::POSTGRES_MIGRATIONS).map(|m| m.len())
        }
    }
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn start_error(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (database, url) = create_database(dir.path());
    let settings = test_settings(dir.path(), &url, config);
    let error = actix_web::rt::System::new()
        .block_on(async { Application::build(&settings).err().map(|e| e.to_string()) });
    drop_database(&database);
    error.unwrap_or_default()
}

#[test]
fn a_bad_lifecycle_rule_stops_the_server_naming_the_rule() {
    let error = start_error(
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Staging\"\ndirect = \"contributor\"\n\n\
         [[lifecycle.rules]]\nfrom = \"Staging\"\nto = \"Live\"\ndirect = \"admin\"\n",
    );
    assert!(error.contains("lifecycle rule #2"), "{error}");
    assert!(error.contains("Live"), "{error}");
}

#[test]
fn a_custom_rule_table_replaces_the_default() {
    let app = crate::helpers::spawn_app_with_config(
        "[[lifecycle.rules]]\nfrom = \"None\"\nto = \"Production\"\ndirect = \"contributor\"\n",
    );
    app.create_model("m");
    app.create_version("m");
    app.transition("m", 1, "Staging", false)
        .expect_error(400, "INVALID_PARAMETER_VALUE");
    app.transition("m", 1, "Production", false).expect(200);
}

#[test]
fn replicas_migrating_the_same_fresh_database_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (database, url) = create_database(dir.path());
    let url = db::DbUrl::parse(&url).unwrap_or_else(|e| panic!("{e}"));
    let applied: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                scope.spawn(move || {
                    let manager = db::ConnectionManager::new(url, 5000);
                    let mut conn = manager
                        .establish()
                        .unwrap_or_else(|e| panic!("connect: {e}"));
                    db::run_migrations(&mut conn).unwrap_or_else(|e| panic!("migrate: {e}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("migrator panicked")))
            .collect()
    });
    drop_database(&database);
    use diesel::migration::MigrationSource;
    let embedded = match url {
        db::DbUrl::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&db::SQLITE_MIGRATIONS)
                .map(|m| m.len())
        }
        db::DbUrl::Postgres(_) => {
            MigrationSource::<diesel::pg::Pg>::migrations(&db::POSTGRES_MIGRATIONS).map(|m| m.len())
        }
    }
    .unwrap_or_else(|e| panic!("{e}"));
    let total: usize = applied.iter().sum();
    assert_eq!(
        total, embedded,
        "each migration applied exactly once: {applied:?}"
    );
}

#[test]
fn the_data_directory_database_and_keys_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data_dir = dir.path().join("nested").join("data");
    let (database, url) = create_database(dir.path());
    let sqlite = url.starts_with("sqlite://");
    // on SQLite, the default database file inside the (new) data directory
    let url = if sqlite {
        format!("sqlite://{}/modelgate.db", data_dir.display())
    } else {
        url
    };
    let mut settings = test_settings(dir.path(), &url, "");
    settings.data_dir = data_dir.clone();
    let app = crate::helpers::start(settings, Some(database), Some(dir));
    app.create_model("m");
    app.create_version("m");
    assert_eq!(mode(&data_dir), 0o700, "the data directory");
    assert_eq!(
        mode(&data_dir.join(modelgate::auth::audit_key::KEY_FILE)),
        0o600,
        "the generated audit key"
    );
    if sqlite {
        for file in ["modelgate.db", "modelgate.db-wal", "modelgate.db-shm"] {
            assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
        }
    }
}

#[test]
fn a_replica_with_another_signing_key_refuses_to_start_until_the_keys_are_reset() {
    let app = crate::helpers::spawn_app();
    let mut other = app.settings.clone();
    other.auth.jwt_secret = Some(modelgate::config::Secret::from(
        "another-secret-of-at-least-32-bytes!!".to_owned(),
    ));
    let error = actix_web::rt::System::new()
        .block_on(async { Application::build(&other).err().map(|e| e.to_string()) })
        .unwrap_or_else(|| panic!("a replica with another key started"));
    assert!(error.contains("token signing key differs"), "{error}");
    assert!(error.contains("modelgate keys reset"), "{error}");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut other_audit = app.settings.clone();
    other_audit.data_dir = dir.path().to_path_buf();
    let error = actix_web::rt::System::new()
        .block_on(async {
            Application::build(&other_audit)
                .err()
                .map(|e| e.to_string())
        })
        .unwrap_or_else(|| panic!("a replica with another audit key started"));
    assert!(error.contains("audit signing key differs"), "{error}");

    // after a reset, the next start records its own keys
    let mut pooled = app.conn();
    assert_eq!(modelgate::domain::keys::reset(&mut pooled).ok(), Some(2));
    drop(pooled);
    let started = actix_web::rt::System::new()
        .block_on(async { Application::build(&other).map(|a| a.port()) });
    assert!(
        started.is_ok(),
        "{:?}",
        started.err().map(|e| e.to_string())
    );
}
