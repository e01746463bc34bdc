//! Building the application: pool, migrations, policy, listener, server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::api;
use crate::auth::audit_key::AuditKey;
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::db::{self, DbUrl, Pool, PoolOptions, PostgresTimeouts};
use crate::domain::audit;
use crate::domain::policy::Policy;
use crate::web::auth::TrustedProxies;
use crate::web::read_cache::ReadCache;
use crate::web::routes::RouteTable;
use crate::web::{self as edge, AppState, AuthContext};

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    checkpointer: Checkpointer,
    webhooks: crate::webhooks::Worker,
}

/// Signs checkpoints of the event chain while the server runs: once
/// `every_events` events have been appended since the last, or
/// `every_seconds` after it when any have, and once more at shutdown.
#[derive(Clone)]
struct Checkpointer {
    pool: Pool,
    key: Arc<AuditKey>,
    every_events: i64,
    every_seconds: u64,
}

impl Checkpointer {
    /// Checkpoints when due; `force` at shutdown.
    async fn tick(&self, since: &mut std::time::Instant, force: bool) {
        let (pool, key) = (self.pool.clone(), self.key.clone());
        let (every_events, due_by_time) = (
            self.every_events,
            force || since.elapsed() >= Duration::from_secs(self.every_seconds.max(1)),
        );
        let outcome = web::block(move || -> crate::error::Result<bool> {
            let mut conn = pool.get()?;
            let pending = audit::uncheckpointed(&mut conn)?;
            if pending <= 0 || !(due_by_time || pending >= every_events) {
                return Ok(false);
            }
            Ok(audit::checkpoint(&mut conn, &key)?.is_some())
        })
        .await;
        match outcome {
            Ok(Ok(true)) => *since = std::time::Instant::now(),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = %crate::error::chain(&error), "cannot checkpoint the event chain")
            }
            Err(_) => tracing::warn!("cannot checkpoint the event chain: the server is stopping"),
        }
    }
}

/// File in `data_dir` that receives a generated first admin password when
/// standard output is not a terminal.
pub const ADMIN_PASSWORD_FILE: &str = "admin_password";

/// Why the server could not start; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Database(String),
    /// The listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// host:port
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Opens the pool for the configured database.
pub fn connect(settings: &Settings) -> Result<(DbUrl, Pool), StartupError> {
    let url = DbUrl::parse(&settings.database_url()).map_err(StartupError::Config)?;
    let pool = db::build_pool(
        &url,
        &PoolOptions {
            max_size: settings.pool_size(),
            connect_timeout: Duration::from_secs(settings.database.connect_timeout_seconds.max(1)),
            sqlite_busy_timeout_ms: settings.database.sqlite_busy_timeout_ms,
            sqlite_max_bytes: settings.database.sqlite_max_size_mb.saturating_mul(1 << 20),
            postgres_timeouts: request_timeouts(settings),
        },
    )
    .map_err(StartupError::Config)?;
    Ok((url, pool))
}

/// The bounds of a request's statements on PostgreSQL.
fn request_timeouts(settings: &Settings) -> PostgresTimeouts {
    PostgresTimeouts {
        statement_ms: settings.database.statement_timeout_ms,
        lock_ms: settings.database.lock_timeout_ms,
    }
}

/// Applies pending migrations (serialized across replicas on PostgreSQL)
/// and builds the history index if it is missing, on PostgreSQL under the
/// migrations' own bounds (no statement bound, `migration_lock_timeout_ms`
/// for locks) instead of a request's.
pub fn migrate(pool: &Pool, url: &DbUrl, settings: &Settings) -> Result<usize, StartupError> {
    let mut conn = pool
        .get()
        .map_err(|e| StartupError::Database(format!("cannot connect: {e}")))?;
    let bounds = |conn: &mut db::DbConn, timeouts: PostgresTimeouts| {
        timeouts
            .apply(conn)
            .map_err(|e| StartupError::Database(format!("cannot set timeouts: {e}")))
    };
    let migrating = PostgresTimeouts {
        statement_ms: 0,
        lock_ms: settings.database.migration_lock_timeout_ms,
    };
    bounds(&mut conn, migrating)?;
    let applied = migrate_on(&mut conn, url)?;
    bounds(&mut conn, request_timeouts(settings))?;
    Ok(applied)
}

fn migrate_on(conn: &mut db::DbConn, url: &DbUrl) -> Result<usize, StartupError> {
    let applied = db::run_migrations(conn)
        .map_err(|e| StartupError::Database(format!("migration failed: {e}")))?;
    tracing::info!(
        backend = url.backend(),
        applied,
        "database schema is current"
    );
    let indexed = db::history::rebuild_if_empty(conn)
        .map_err(|e| StartupError::Database(format!("building the history index failed: {e}")))?;
    if indexed > 0 {
        tracing::info!(rows = indexed, "history index built from the event chain");
    }
    let trails = crate::domain::audit::alias_trails_if_missing(conn).map_err(|e| {
        StartupError::Database(format!("adding the alias moves to the trails failed: {e}"))
    })?;
    if trails > 0 {
        tracing::info!(
            rows = trails,
            "alias moves of an older release added to the trails"
        );
    }
    Ok(applied)
}

/// Warns when the data directory or a file in it (the SQLite database with
/// its WAL and shared memory, generated secrets and keys) can be read by
/// anyone but its owner: they hold password hashes and signing keys.
fn warn_if_readable_by_others(data_dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    let paths = std::iter::once(data_dir.to_path_buf()).chain(entries.flatten().map(|e| e.path()));
    for path in paths {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "readable by others than its owner: chmod {} it",
                if metadata.is_dir() { "700" } else { "600" }
            );
        }
    }
}

/// Every replica of a deployment must sign with the same keys: the first
/// start records their fingerprints, and a replica whose key differs stops
/// here, saying how to fix it.
fn pin_keys(pool: &Pool, keys: &TokenKeys, audit_key: &AuditKey) -> Result<(), StartupError> {
    let mut conn = pool
        .get()
        .map_err(|e| StartupError::Database(format!("cannot connect: {e}")))?;
    let pinned = [
        (
            "token signing key",
            "auth.jwt_secret (or the auth.jwt_*_key_file pair)",
            keys.fingerprint().to_owned(),
        ),
        (
            "audit signing key",
            "audit.signing_key_file",
            audit_key.public_key(),
        ),
    ];
    for (name, setting, fingerprint) in pinned {
        let recorded = crate::domain::keys::pin(&mut conn, name, &fingerprint)
            .map_err(|e| StartupError::Database(crate::error::chain(&e)))?;
        if let Some(recorded) = recorded {
            return Err(StartupError::Config(format!(
                "this replica's {name} differs from the one the database records for this \
                 deployment (fingerprint {}…, this replica's {}…): give every replica the same \
                 {setting}; to move every replica to a new key, stop them all and run \
                 `modelgate keys reset`",
                &recorded[..recorded.len().min(12)],
                &fingerprint[..fingerprint.len().min(12)]
            )));
        }
    }
    Ok(())
}

/// Creates `admin` on first start. A generated password is printed once on
/// a terminal; otherwise (a container, whose standard output is its log
/// stream) it is written to `<data_dir>/admin_password` (mode 0600) and only
/// the file's path is printed and logged.
fn bootstrap(pool: &Pool, settings: &Settings) -> Result<(), StartupError> {
    let mut conn = pool
        .get()
        .map_err(|e| StartupError::Database(format!("cannot connect: {e}")))?;
    let generated = crate::domain::users::bootstrap_admin(
        &mut conn,
        settings
            .auth
            .bootstrap_admin_password
            .as_ref()
            .map(crate::config::Secret::expose),
    )
    .map_err(|e| StartupError::Config(e.public_message()))?;
    let Some(password) = generated else {
        return Ok(());
    };
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!(
            "created user 'admin' with password {password}\n\
             (shown this once; set auth.bootstrap_admin_password to choose it)"
        );
        return Ok(());
    }
    let path = settings.data_dir.join(ADMIN_PASSWORD_FILE);
    // a file left from an earlier database holds a password that is no more
    let _ = std::fs::remove_file(&path);
    crate::auth::create_secret_file(&path, "the first admin's password file", || {
        Ok(format!("{password}\n").into_bytes())
    })
    .map_err(StartupError::Config)?;
    tracing::warn!(
        path = %path.display(),
        "created user 'admin' with a generated password, written to this file (mode 0600): \
         read it, then delete the file"
    );
    println!(
        "created user 'admin'; its generated password is in {} (mode 0600)",
        path.display()
    );
    Ok(())
}

/// `GET /openapi.json`: the document built at start-up.
async fn serve_spec(spec: web::Data<web::Bytes>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(spec.get_ref().clone())
}

impl Application {
    /// Connects, migrates, validates the policy and binds the listener.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let policy = Policy::from_settings(&settings.lifecycle).map_err(StartupError::Config)?;
        warn_if_readable_by_others(&settings.data_dir);
        for rule in policy.report().rollback_only {
            tracing::info!(
                "lifecycle rule {} -> {} ({}) is rollback-only: the gate of {} guards it",
                rule.from,
                rule.to,
                rule.direct,
                rule.to
            );
        }
        let keys = TokenKeys::from_settings(&settings.auth, &settings.data_dir)
            .map_err(StartupError::Config)?;
        let trusted_proxies =
            TrustedProxies::parse(settings.server.trusted_proxies.as_deref().unwrap_or(""))
                .map_err(|e| StartupError::Config(format!("server.trusted_proxies: {e}")))?;
        let audit_key = Arc::new(
            AuditKey::from_settings(&settings.audit, &settings.data_dir)
                .map_err(StartupError::Config)?,
        );
        let token_ttl_seconds = i64::try_from(settings.auth.token_ttl_seconds)
            .ok()
            .filter(|ttl| (60..=31_536_000).contains(ttl))
            .ok_or_else(|| {
                StartupError::Config(
                    "auth.token_ttl_seconds must be between 60 and 31536000".to_owned(),
                )
            })?;
        let deliveries = Arc::new(
            crate::webhooks::Delivery::from_settings(&settings.webhooks)
                .map_err(StartupError::Config)?,
        );
        crate::telemetry::prometheus();
        let (url, pool) = connect(settings)?;
        migrate(&pool, &url, settings)?;
        pin_keys(&pool, &keys, &audit_key)?;
        bootstrap(&pool, settings)?;

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                address: address.clone(),
                source,
            })?
            .port();

        let state = AppState {
            pool: pool.clone(),
            policy: Arc::new(policy),
            auth: Arc::new(AuthContext {
                keys: Arc::new(keys),
                throttle: LoginThrottle::new(
                    settings.auth.login_max_failures_per_user,
                    settings.auth.login_max_failures_per_address,
                    Duration::from_secs(settings.auth.login_failure_window_seconds.max(1)),
                ),
                token_ttl_seconds,
                hashing: Arc::new(tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
                )),
                basic_cache: crate::web::auth::BasicCache::default(),
                trusted_proxies,
            }),
            cache: Arc::new(ReadCache::new(settings.server.read_cache)),
            webhooks: deliveries.clone(),
            tracking: settings
                .mlflow
                .tracking_uri
                .as_deref()
                .filter(|uri| !uri.trim().is_empty())
                .map(|uri| Arc::new(crate::mlflow::tracking::Tracking::new(uri))),
            health: Arc::default(),
            request_timeout: (settings.database.request_timeout_ms > 0)
                .then(|| Duration::from_millis(settings.database.request_timeout_ms)),
            readiness: crate::web::Readiness {
                pool_exhausted_ms: i64::try_from(settings.server.ready_pool_exhausted_seconds)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1000),
                // a stall shows for two bounds (or 10 s without one)
                stall_window_ms: i64::try_from(settings.database.statement_timeout_ms)
                    .unwrap_or(5000)
                    .max(5000)
                    .saturating_mul(2),
            },
        };
        let max_body = settings.server.max_body_bytes;
        let body_deadline = crate::web::deadline::BodyDeadline(Duration::from_secs(
            settings.server.body_read_timeout_seconds.max(1),
        ));
        let head_deadline = Duration::from_secs(settings.server.head_read_timeout_seconds.max(1));
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let pool_size = settings.pool_size() as usize;
        let spec = api::openapi();
        let route_table = web::Data::new(RouteTable::from_spec(&spec));
        // serialized once and shared: a copy of the spec per worker costs MBs
        let spec_json = web::Bytes::from(serde_json::to_vec(&spec).map_err(|e| {
            StartupError::Config(format!("cannot serialize the OpenAPI document: {e}"))
        })?);
        drop(spec);
        let requests = web::Data::new(crate::telemetry::RequestCount::default());
        let counted = requests.clone();
        let server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .configure(|cfg| edge::configure(cfg, state.clone(), max_body))
                .configure(api::routes)
                .split_for_parts();
            let app = app
                .configure(crate::mlflow::configure)
                .configure(crate::ui::configure);
            app.wrap(from_fn(edge::deadline::body_deadline))
                .wrap(from_fn(edge::error::json_errors))
                .app_data(body_deadline)
                .wrap(from_fn(crate::telemetry::request_span))
                .app_data(counted.clone())
                .app_data(route_table.clone())
                .app_data(web::Data::new(spec_json.clone()))
                .route("/openapi.json", web::get().to(serve_spec))
                .service(web::redirect("/docs", "/docs/"))
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(SwaggerConfig::new(["/openapi.json"]).validator_url("none")),
                )
                .default_service(web::to(edge::error::fallback))
        })
        .tcp_nodelay(true)
        .client_request_timeout(head_deadline)
        .workers(workers)
        // Each worker gets its share of the pool's connections as blocking
        // threads, so a request's database work waits in tokio's FIFO queue
        // rather than in the pool, whose waiters wake in no fair order (that
        // put a 50-300 ms tail on reads at 32 connections); more threads than
        // connections would only idle and hold memory.
        .worker_max_blocking_threads(pool_size.div_ceil(workers).max(1))
        .shutdown_timeout(10);
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                address: address.clone(),
                source,
            })?
            .run();
        tracing::info!(%address, port, backend = url.backend(), "modelgate is listening");
        let checkpointer = Checkpointer {
            pool: pool.clone(),
            key: audit_key,
            every_events: i64::try_from(settings.audit.checkpoint_every_events.max(1))
                .unwrap_or(i64::MAX),
            every_seconds: settings.audit.checkpoint_every_seconds,
        };
        Ok(Application {
            port,
            server,
            webhooks: crate::webhooks::Worker::new(pool.clone(), deliveries, requests.into_inner()),
            pool,
            checkpointer,
        })
    }

    /// The bound port (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pool the server uses.
    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM/SIGINT stop it gracefully), checkpointing
    /// the event chain as it goes and once more at the end.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // the webhook deliveries, on a thread of their own (blocking HTTP)
        let stop_webhooks = self.webhooks.stopper();
        let webhooks = self.webhooks.spawn()?;
        let checkpointer = self.checkpointer.clone();
        let ticker = actix_web::rt::spawn(async move {
            let mut since = std::time::Instant::now();
            loop {
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                checkpointer.tick(&mut since, false).await;
            }
        });
        let result = self.server.await;
        ticker.abort();
        stop_webhooks.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = actix_web::rt::task::spawn_blocking(move || webhooks.join()).await;
        self.checkpointer
            .tick(&mut std::time::Instant::now(), true)
            .await;
        result
    }
}
