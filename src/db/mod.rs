//! Storage: one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations, the stored enumerations and the transactions (the
//! write transaction, which carries its events, is in [`tx`]).
//! No HTTP here, and nothing of the domain's rules.

pub mod chain;
pub mod enums;
pub mod event;
pub mod fold;
pub mod history;
pub mod outbox;
pub mod rows;
pub mod schema;
pub mod storage;
pub mod tx;
pub mod version_pages;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{Error, Result};

/// Migrations for SQLite, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Migrations for PostgreSQL, embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the advisory lock that serializes migrations of replicas starting together.
const MIGRATION_LOCK_KEY: i64 = 0x6d6f_6465_6c67_6174; // "modelgat"

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL (production).
    Postgresql(PgConnection),
    /// SQLite (embedded default).
    Sqlite(SqliteConnection),
}

/// The query backend of [`DbConn`] (dispatches to the connected database).
pub type Backend = <DbConn as Connection>::Backend;

/// Which backend a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// A `postgres://` or `postgresql://` URL, passed to libpq as is.
    Postgres(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
}

impl DbUrl {
    /// Picks the backend from the scheme; anything else is an error, never a guess.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") {
                return Err(
                    "sqlite:// needs a file path (in-memory databases are not shared by the pool)"
                        .to_owned(),
                );
            }
            Ok(DbUrl::Sqlite(PathBuf::from(path)))
        } else {
            Err("database.url must start with sqlite:// or postgres://".to_owned())
        }
    }

    /// Short backend name for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            DbUrl::Postgres(_) => "postgres",
            DbUrl::Sqlite(_) => "sqlite",
        }
    }
}

/// Opens connections of the backend the URL names, with SQLite's pragmas set.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DbUrl,
    busy_timeout_ms: u32,
    sqlite_max_bytes: u64,
    postgres_timeouts: PostgresTimeouts,
}

/// The bounds every statement on a PostgreSQL connection of the pool runs
/// under, in ms (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostgresTimeouts {
    /// `statement_timeout`.
    pub statement_ms: u64,
    /// `lock_timeout`.
    pub lock_ms: u64,
}

impl PostgresTimeouts {
    /// The `SET` statements that apply them to a session.
    pub fn set_sql(&self) -> String {
        format!(
            "SET statement_timeout = {}; SET lock_timeout = {};",
            self.statement_ms, self.lock_ms
        )
    }

    /// Applies them to this connection's session (PostgreSQL; SQLite has no
    /// statement bounds and ignores them).
    pub fn apply(&self, conn: &mut DbConn) -> diesel::QueryResult<()> {
        match conn {
            DbConn::Postgresql(pg) => pg.batch_execute(&self.set_sql()),
            DbConn::Sqlite(_) => Ok(()),
        }
    }
}

impl ConnectionManager {
    /// A manager for `url`.
    pub fn new(url: DbUrl, busy_timeout_ms: u32) -> Self {
        ConnectionManager {
            url,
            busy_timeout_ms,
            sqlite_max_bytes: 0,
            postgres_timeouts: PostgresTimeouts::default(),
        }
    }

    /// Bounds every statement of a PostgreSQL connection.
    pub fn with_postgres_timeouts(mut self, timeouts: PostgresTimeouts) -> Self {
        self.postgres_timeouts = timeouts;
        self
    }

    /// Caps a SQLite file's size (0: no cap): a write past it fails as on a
    /// full disk.
    pub fn with_sqlite_max_bytes(mut self, bytes: u64) -> Self {
        self.sqlite_max_bytes = bytes;
        self
    }

    /// Opens one connection outside the pool.
    pub fn establish(&self) -> Result<DbConn, diesel::r2d2::Error> {
        use diesel::r2d2::Error as E;
        match &self.url {
            DbUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).map_err(E::ConnectionError)?;
                if self.postgres_timeouts != PostgresTimeouts::default() {
                    conn.batch_execute(&self.postgres_timeouts.set_sql())
                        .map_err(E::QueryError)?;
                }
                Ok(DbConn::Postgresql(conn))
            }
            DbUrl::Sqlite(path) => {
                let text = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&text).map_err(E::ConnectionError)?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON;",
                    self.busy_timeout_ms
                ))
                .map_err(E::QueryError)?;
                fold::register(&mut conn).map_err(E::QueryError)?;
                if self.sqlite_max_bytes > 0 {
                    // SQLite's pages are 4096 bytes unless a file says otherwise
                    let pages = self.sqlite_max_bytes.div_ceil(4096).max(1);
                    conn.batch_execute(&format!("PRAGMA max_page_count = {pages};"))
                        .map_err(E::QueryError)?;
                }
                // WAL lets readers run beside the writer; synchronous=NORMAL in WAL
                // keeps every committed transaction across a process crash.
                // Switching a new file to WAL needs a lock that SQLite does not
                // wait for with the busy timeout, so connections opening a fresh
                // database together retry it.
                let deadline = std::time::Instant::now()
                    + Duration::from_millis(u64::from(self.busy_timeout_ms.max(1000)));
                loop {
                    match conn.batch_execute("PRAGMA journal_mode = WAL;") {
                        Ok(()) => break,
                        Err(error)
                            if error.to_string().contains("locked")
                                && std::time::Instant::now() < deadline =>
                        {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(error) => return Err(E::QueryError(error)),
                    }
                }
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// The connection pool.
pub type Pool = r2d2::Pool<ConnectionManager>;
/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Largest number of open connections.
    pub max_size: u32,
    /// How long a checkout waits before the request answers 503.
    pub connect_timeout: Duration,
    /// SQLite's busy timeout.
    pub sqlite_busy_timeout_ms: u32,
    /// The SQLite file's size cap in bytes (0: none).
    pub sqlite_max_bytes: u64,
    /// PostgreSQL's per-statement bounds.
    pub postgres_timeouts: PostgresTimeouts,
}

/// Creates a directory (and its parents) readable by its owner only (0700).
pub fn private_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Builds the pool without connecting yet (so `serve` can start while the database is down).
pub fn build_pool(url: &DbUrl, options: &PoolOptions) -> Result<Pool, String> {
    if let DbUrl::Sqlite(path) = url {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            private_dir(parent)?;
        }
        // Created here, readable by its owner only, so the password hashes
        // inside are never world-readable; SQLite gives its WAL and shared
        // memory files the database file's permissions.
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
        }
    }
    let manager = ConnectionManager::new(url.clone(), options.sqlite_busy_timeout_ms)
        .with_sqlite_max_bytes(options.sqlite_max_bytes)
        .with_postgres_timeouts(options.postgres_timeouts);
    Ok(r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(options.connect_timeout)
        .build_unchecked(manager))
}

type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration. On PostgreSQL an advisory lock makes
/// replicas that start together take turns; the later ones find nothing to do.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, MigrationError> {
    match conn {
        DbConn::Postgresql(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|applied| applied.len());
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result
        }
        // BEGIN IMMEDIATE makes concurrent migrators of one file take turns;
        // the harness's own per-migration transactions become savepoints.
        DbConn::Sqlite(sqlite) => sqlite.immediate_transaction(|sqlite| {
            sqlite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|applied| applied.len())
        }),
    }
}

/// Reverts every applied migration (used by the migration round-trip test).
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<usize, MigrationError> {
    match conn {
        DbConn::Postgresql(pg) => pg
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map(|reverted| reverted.len()),
        DbConn::Sqlite(sqlite) => sqlite
            .revert_all_migrations(SQLITE_MIGRATIONS)
            .map(|reverted| reverted.len()),
    }
}

pub use tx::{WriteTx, bookkeeping, read, write};

/// Milliseconds since the Unix epoch, now: how every time is stored.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Whether the database answers a trivial query within `timeout`.
pub fn ping(pool: &Pool, timeout: Duration) -> Result<()> {
    let mut conn = pool.get_timeout(timeout).map_err(Error::from)?;
    conn.ping()
        .map_err(|e| Error::Unavailable(format!("database did not answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend_by_scheme() {
        assert_eq!(
            DbUrl::parse("postgres://u@h/db"),
            Ok(DbUrl::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            DbUrl::parse("postgresql://h/db").map(|u| u.backend()),
            Ok("postgres")
        );
        assert_eq!(
            DbUrl::parse("sqlite://./data/x.db"),
            Ok(DbUrl::Sqlite(PathBuf::from("./data/x.db")))
        );
        assert!(DbUrl::parse("mysql://h/db").is_err());
        assert!(DbUrl::parse("./x.db").is_err());
        assert!(DbUrl::parse("sqlite://:memory:").is_err());
    }
}
