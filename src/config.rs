//! Configuration: built-in defaults < `modelgate.toml` (or `--config FILE`)
//! < `MODELGATE__SECTION__KEY` environment variables.
//!
//! Every struct denies unknown fields, so a typo in the file or in an
//! environment variable stops the server at start instead of being ignored.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file read from the working directory when no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "modelgate.toml";

/// All settings of one modelgate process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Directory for the SQLite database and generated secrets.
    pub data_dir: PathBuf,
    /// HTTP listener.
    pub server: ServerSettings,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Authentication.
    pub auth: AuthSettings,
    /// Logging.
    pub log: LogSettings,
    /// Lifecycle policy.
    #[serde(default)]
    pub lifecycle: LifecycleSettings,
    /// Signed checkpoints of the event chain.
    pub audit: AuditSettings,
    /// Webhook deliveries.
    pub webhooks: WebhookSettings,
    /// The MLflow layer.
    #[serde(default)]
    pub mlflow: MlflowSettings,
}

/// `[mlflow]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlflowSettings {
    /// MLflow's tracking server (`http(s)://host[:port]`), read for the
    /// logged models versions are registered from; unset: not read.
    pub tracking_uri: Option<String>,
}

/// `[webhooks]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Deliver to loopback, private, link-local and metadata addresses.
    pub allow_private_networks: bool,
    /// Accept `http://` receivers (otherwise `https://` only).
    pub allow_http: bool,
    /// The waits between attempts (`5s,5m,30m,…`); after the last, a
    /// delivery has failed. Each wait varies by up to a fifth, at random.
    pub retry_schedule: String,
    /// How long one attempt may take, in seconds.
    pub timeout_seconds: u64,
    /// Delivered and failed deliveries are purged after this many days.
    pub retention_days: u64,
    /// After a secret is rotated, the old one keeps signing beside the new
    /// one for this many seconds.
    pub rotation_overlap_seconds: u64,
    /// Run the delivery worker at the lowest CPU priority (nice 19), so
    /// requests come first when the cores are busy and deliveries use the
    /// spare time (they wait, never lost, while the server is saturated).
    pub yield_cpu: bool,
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// The Ed25519 key (PKCS#8 PEM) that signs checkpoints, kept outside the
    /// database; absent: generated into `data_dir` (mode 0600) and kept.
    pub signing_key_file: Option<PathBuf>,
    /// Checkpoint once this many events have been appended since the last.
    pub checkpoint_every_events: u64,
    /// Checkpoint at least this often (seconds) while events are appended.
    pub checkpoint_every_seconds: u64,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a client has to send a request's head (line and headers)
    /// after connecting.
    pub head_read_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body, from the end of
    /// its head.
    pub body_read_timeout_seconds: u64,
    /// Seconds every database connection may stay busy before `/readyz`
    /// says not ready.
    pub ready_pool_exhausted_seconds: u64,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Whether answers of hot reads are kept until the next write (see
    /// `api::read_cache`); off only to measure the database path.
    pub read_cache: bool,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers name the
    /// client (comma-separated addresses or CIDRs); none by default.
    #[serde(default)]
    pub trusted_proxies: Option<String>,
}

/// A secret setting (a password, a signing secret): readable through
/// [`Secret::expose`], never printed — its `Debug` says `[redacted]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A database URL with its password (in the authority or a `password=`
/// parameter) replaced, for printing.
pub fn redacted_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some(scheme_end) = shown.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = shown[authority_start..]
            .find(['/', '?'])
            .map_or(shown.len(), |i| authority_start + i);
        if let Some(at) = shown[authority_start..authority_end].rfind('@') {
            let userinfo = &shown[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = authority_start + colon + 1;
                shown.replace_range(start..authority_start + at, "[redacted]");
            }
        }
    }
    if let Some(start) = shown.find("password=") {
        let value_start = start + "password=".len();
        let value_end = shown[value_start..]
            .find('&')
            .map_or(shown.len(), |i| value_start + i);
        shown.replace_range(value_start..value_end, "[redacted]");
    }
    shown
}

/// `[database]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://…`; empty means `sqlite://<data_dir>/modelgate.db`.
    pub url: Option<String>,
    /// Connections in the pool; 0 or absent sizes it to the machine.
    pub pool_size: Option<u32>,
    /// Seconds a request waits for a connection before answering 503.
    pub connect_timeout_seconds: u64,
    /// Milliseconds SQLite waits on a locked database before giving up.
    pub sqlite_busy_timeout_ms: u32,
    /// The longest a request waits on the database, in ms, whatever the
    /// database does (0: no bound).
    pub request_timeout_ms: u64,
    /// PostgreSQL: longest a statement of a request may run, in ms (0: no bound).
    pub statement_timeout_ms: u64,
    /// PostgreSQL: longest a statement of a request may wait for a lock, in ms.
    pub lock_timeout_ms: u64,
    /// PostgreSQL: longest a migration may wait for a lock, in ms (migrations
    /// have no statement bound).
    pub migration_lock_timeout_ms: u64,
    /// Largest size of the SQLite file in MiB (0: no cap but the disk's);
    /// writes past it answer 507 like a full disk.
    pub sqlite_max_size_mb: u64,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url.as_deref().map(redacted_url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_seconds", &self.connect_timeout_seconds)
            .field("sqlite_busy_timeout_ms", &self.sqlite_busy_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("lock_timeout_ms", &self.lock_timeout_ms)
            .field("migration_lock_timeout_ms", &self.migration_lock_timeout_ms)
            .field("sqlite_max_size_mb", &self.sqlite_max_size_mb)
            .finish()
    }
}

/// Token signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret (default).
    HS256,
    /// Ed25519 signatures from a PEM key pair.
    EdDSA,
    /// RSA PKCS#1 v1.5 SHA-256 signatures from a PEM key pair.
    RS256,
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 signing secret; generated and kept in `data_dir` when absent.
    pub jwt_secret: Option<Secret>,
    /// A file holding the HS256 secret (instead of `jwt_secret`).
    pub jwt_secret_file: Option<PathBuf>,
    /// `HS256`, `EdDSA` or `RS256`.
    pub jwt_algorithm: JwtAlgorithm,
    /// PEM private key for EdDSA/RS256.
    pub jwt_private_key_file: Option<PathBuf>,
    /// PEM public key for EdDSA/RS256.
    pub jwt_public_key_file: Option<PathBuf>,
    /// The `iss` claim issued and required.
    pub issuer: String,
    /// Password of the `admin` user created on first start.
    pub bootstrap_admin_password: Option<Secret>,
    /// Lifetime of login tokens, in seconds.
    pub token_ttl_seconds: u64,
    /// Failed logins per username within the window before 429.
    pub login_max_failures_per_user: u32,
    /// Failed logins per client address within the window before 429 (0: no limit).
    pub login_max_failures_per_address: u32,
    /// The window failed logins are counted in, in seconds.
    pub login_failure_window_seconds: u64,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// A tracing filter: `info`, `debug`, `modelgate=debug,actix_web=info`, …
    pub level: String,
}

/// `[lifecycle]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSettings {
    /// The transition rules; absent means the built-in default table.
    pub rules: Option<Vec<RuleSettings>>,
    /// The guarded stages and their gates; absent means Production, gated
    /// by its Staging -> Production rule (when the rules have one).
    pub guards: Option<Vec<GuardSettings>>,
    /// The guarded aliases; absent means `champion`, guarded like entering
    /// Production.
    pub alias_rules: Option<Vec<AliasRuleSettings>>,
}

/// One `[[lifecycle.alias_rules]]` entry: who may set, move or delete the
/// aliases it names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasRuleSettings {
    /// An alias, or a glob of aliases (`prod-*`, `?` for one character).
    pub alias: String,
    /// Lowest role that may set, move or delete it directly.
    pub direct: String,
    /// Distinct approvals a request for it needs.
    #[serde(default = "default_approvals")]
    pub approvals: u32,
    /// The stage the version it names must be in, if any.
    pub stage: Option<String>,
}

/// One `[[lifecycle.guards]]` entry: a stage versions enter only through
/// its gate (or, once cleared, by a rollback).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSettings {
    /// The guarded stage.
    pub stage: String,
    /// The rules into the stage whose crossing is the decision, named by
    /// the stage they come from.
    pub gate: Vec<GateSettings>,
}

/// One rule of a gate: `{ from = "Staging" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSettings {
    /// The stage the gate's rule moves from.
    pub from: String,
}

/// One `[[lifecycle.rules]]` entry, validated into a policy rule at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// Stage the version is in.
    pub from: String,
    /// Stage it moves to.
    pub to: String,
    /// Lowest role that may move it directly.
    pub direct: String,
    /// Distinct approvals a request for this move needs.
    #[serde(default = "default_approvals")]
    pub approvals: u32,
}

fn default_approvals() -> u32 {
    1
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The explicitly named file does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// The sources could not be read or did not fit the settings.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

impl Settings {
    /// Loads the layered configuration. `explicit` is the `--config` path;
    /// without it `modelgate.toml` is read from the working directory if it exists.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(explicit, None)
    }

    /// Like [`Settings::load`], with the environment given as a map (tests).
    pub fn load_with_env(
        explicit: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("data_dir", "./modelgate-data")?
            .set_default("server.host", "127.0.0.1")?
            .set_default("server.port", 8080)?
            .set_default("server.max_body_bytes", 1_048_576)?
            .set_default("server.head_read_timeout_seconds", 5)?
            .set_default("server.body_read_timeout_seconds", 30)?
            .set_default("server.workers", 0)?
            .set_default("server.read_cache", true)?
            .set_default("database.connect_timeout_seconds", 3)?
            .set_default("database.sqlite_busy_timeout_ms", 5000)?
            .set_default("database.sqlite_max_size_mb", 0)?
            .set_default("database.statement_timeout_ms", 5000)?
            .set_default("database.request_timeout_ms", 10_000)?
            .set_default("database.lock_timeout_ms", 3000)?
            .set_default("database.migration_lock_timeout_ms", 60_000)?
            .set_default("server.ready_pool_exhausted_seconds", 10)?
            .set_default("auth.token_ttl_seconds", 3600)?
            .set_default("auth.jwt_algorithm", "HS256")?
            .set_default("auth.issuer", "modelgate")?
            .set_default("auth.login_max_failures_per_user", 5)?
            .set_default("auth.login_max_failures_per_address", 20)?
            .set_default("auth.login_failure_window_seconds", 300)?
            .set_default("audit.checkpoint_every_events", 1000)?
            .set_default("audit.checkpoint_every_seconds", 300)?
            .set_default("webhooks.allow_private_networks", false)?
            .set_default("webhooks.allow_http", false)?
            .set_default(
                "webhooks.retry_schedule",
                "5s,5m,30m,2h,5h,10h,10h,12h,12h,12h",
            )?
            .set_default("webhooks.timeout_seconds", 10)?
            .set_default("webhooks.retention_days", 14)?
            .set_default("webhooks.rotation_overlap_seconds", 86_400)?
            .set_default("webhooks.yield_cpu", true)?
            .set_default("log.format", "pretty")?
            .set_default("log.level", "info")?;
        match explicit {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::MissingFile(path.to_path_buf()));
                }
                builder = builder.add_source(config::File::from(path).required(true));
            }
            None => {
                builder = builder.add_source(
                    config::File::from(Path::new(DEFAULT_CONFIG_FILE))
                        .format(config::FileFormat::Toml)
                        .required(false),
                );
            }
        }
        let environment = config::Environment::with_prefix("MODELGATE")
            .prefix_separator("__")
            .separator("__")
            .source(env);
        builder = builder.add_source(environment);
        Ok(builder.build()?.try_deserialize()?)
    }

    /// The database URL in force: the configured one or the default SQLite file.
    pub fn database_url(&self) -> String {
        match self.database.url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => format!("sqlite://{}", self.data_dir.join("modelgate.db").display()),
        }
    }

    /// Pool size in force: the configured one or one sized to the machine.
    pub fn pool_size(&self) -> u32 {
        match self.database.pool_size {
            Some(size) if size > 0 => size,
            _ => {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                u32::try_from(cores * 4).unwrap_or(16).clamp(8, 64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn write_file(contents: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut file = tempfile::Builder::new()
            .suffix(".toml")
            .tempfile()
            .unwrap_or_else(|e| panic!("temp file: {e}"));
        file.write_all(contents.as_bytes())
            .unwrap_or_else(|e| panic!("write: {e}"));
        file
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let settings = Settings::load_with_env(None, env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.data_dir, PathBuf::from("./modelgate-data"));
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.server.port, 8080);
        assert!(settings.server.read_cache);
        assert_eq!(settings.auth.token_ttl_seconds, 3600);
        assert_eq!(settings.log.format, LogFormat::Pretty);
        assert_eq!(settings.log.level, "info");
        assert_eq!(
            settings.database_url(),
            "sqlite://./modelgate-data/modelgate.db"
        );
        assert!(settings.pool_size() >= 8);
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = write_file("data_dir = \"/tmp/a\"\n[server]\nport = 9000\n");
        let settings = Settings::load_with_env(
            Some(file.path()),
            env(&[
                ("MODELGATE__SERVER__PORT", "9100"),
                ("MODELGATE__SERVER__READ_CACHE", "false"),
                ("MODELGATE__DATABASE__URL", "postgres://u@h/db"),
                ("MODELGATE__AUTH__JWT_SECRET", "12345"),
                ("MODELGATE__AUTH__BOOTSTRAP_ADMIN_PASSWORD", "00001234"),
                ("MODELGATE_URL", "http://client-side-only"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.data_dir, PathBuf::from("/tmp/a"));
        assert_eq!(settings.server.port, 9100);
        assert!(!settings.server.read_cache);
        assert_eq!(settings.database_url(), "postgres://u@h/db");
        assert_eq!(
            settings.auth.jwt_secret.as_ref().map(Secret::expose),
            Some("12345")
        );
        assert_eq!(
            settings
                .auth
                .bootstrap_admin_password
                .as_ref()
                .map(Secret::expose),
            Some("00001234"),
            "values that look like numbers stay text"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_in_the_file_and_the_environment() {
        let file = write_file("[server]\nprot = 9000\n");
        let error = Settings::load_with_env(Some(file.path()), env(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("prot"), "{error}");

        let error = Settings::load_with_env(None, env(&[("MODELGATE__SERVER__PROT", "1")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("prot"), "{error}");
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let result = Settings::load_with_env(Some(Path::new("/nonexistent/x.toml")), env(&[]));
        assert!(matches!(result, Err(ConfigError::MissingFile(_))));
    }

    #[test]
    fn settings_print_without_their_secrets() {
        let mut settings = Settings::load_with_env(
            None,
            Some(std::collections::HashMap::from([
                (
                    "MODELGATE__DATABASE__URL".to_owned(),
                    "postgres://mg:db-pass-1234@h:5432/mg?sslmode=require&password=q-pass-5678"
                        .to_owned(),
                ),
                (
                    "MODELGATE__AUTH__JWT_SECRET".to_owned(),
                    "jwt-secret-abcdefghijklmnopqrstuvwxyz".to_owned(),
                ),
                (
                    "MODELGATE__AUTH__BOOTSTRAP_ADMIN_PASSWORD".to_owned(),
                    "bootstrap-pass-9876".to_owned(),
                ),
            ])),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let printed = format!("{settings:?} {:#?}", settings.clone());
        for secret in [
            "db-pass-1234",
            "q-pass-5678",
            "jwt-secret-abcdefg",
            "bootstrap-pass-9876",
        ] {
            assert!(!printed.contains(secret), "{secret} printed in {printed}");
        }
        assert!(
            printed.contains("postgres://mg:[redacted]@h:5432/mg"),
            "{printed}"
        );
        settings.database.url = Some("sqlite://./x.db".to_owned());
        assert!(format!("{settings:?}").contains("sqlite://./x.db"));
    }
}
