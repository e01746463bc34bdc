//! Server-side commands: serving, migrations, and the maintenance commands
//! that work on the configured database directly, without the API — for
//! bootstrapping and break-glass.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::auth::audit_key::AuditKey;
use crate::auth::tokens::TokenKeys;
use crate::auth::{Actor, password};
use crate::config::Settings;
use crate::db::PooledConn;
use crate::db::enums::Role;
use crate::domain::audit::{self, Checkpoint, Verdict};
use crate::domain::tokens::{self, DEFAULT_DAYS};
use crate::domain::types::Username;
use crate::domain::users::{self, UserChanges};
use crate::startup::{self, Application};

/// Exit code when the settings cannot be loaded or logging cannot start.
const SETTINGS_ERROR: u8 = 2;

/// `modelgate serve`.
#[derive(Debug, Args)]
pub struct Serve {}

impl Serve {
    /// Migrates, creates the first admin if needed, and serves until stopped.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        if let Some(error) = restart_with_two_arenas() {
            eprintln!(
                "modelgate: could not restart with MALLOC_ARENA_MAX=2 ({error}); serving as is"
            );
        }
        with_settings(config, |settings| {
            actix_web::rt::System::new().block_on(async {
                let app = Application::build(settings).map_err(|e| e.to_string())?;
                app.run_until_stopped().await.map_err(|e| e.to_string())
            })
        })
    }
}

/// The variable that caps glibc's malloc arenas; glibc reads it once, as
/// the process starts.
const ARENA_MAX: &str = "MALLOC_ARENA_MAX";

/// glibc's allocator gives each thread that allocates an arena of its own
/// (up to eight per core) and keeps the memory an arena once held: each
/// actix worker kept ~4 MB freed while it built its routes, and under load
/// every arena keeps its high-water mark. Two arenas bound that (idle RSS
/// 28 MB instead of 32, see README "Memory"). Unless the operator set the
/// variable (any value wins), `serve` starts its own program again, in the
/// same process, with it set; answers the error if that could not be done.
fn restart_with_two_arenas() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    if !cfg!(target_os = "linux") || std::env::var_os(ARENA_MAX).is_some() {
        return None;
    }
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => return Some(error),
    };
    Some(
        std::process::Command::new(program)
            .args(std::env::args_os().skip(1))
            .env(ARENA_MAX, "2")
            .exec(),
    )
}

/// `modelgate migrate`.
#[derive(Debug, Args)]
pub struct Migrate {}

impl Migrate {
    /// Applies pending migrations.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        with_settings(config, |settings| {
            let (url, pool) = startup::connect(settings).map_err(|e| e.to_string())?;
            let applied = startup::migrate(&pool, &url, settings).map_err(|e| e.to_string())?;
            outln!("applied {applied} migration(s); the schema is current");
            Ok(())
        })
    }
}

/// `modelgate openapi`.
#[derive(Debug, Args)]
pub struct Openapi {}

impl Openapi {
    /// Prints the spec; needs no settings.
    pub fn run(self) -> ExitCode {
        match crate::api::openapi().to_pretty_json() {
            Ok(spec) => {
                outln!("{spec}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("modelgate: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

/// `modelgate audit …`.
#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Check the whole record: every link of the event chain, every signed
    /// checkpoint (stored, and those given), and that the models, versions,
    /// stages and aliases equal a replay of the events. Exit 0 intact, 1
    /// tampered (the first bad row named), 3 error.
    ///
    /// Example: `modelgate audit verify --checkpoint kept/checkpoint-1042.json`
    Verify {
        /// A checkpoint exported earlier (`audit checkpoint` or
        /// `GET /api/v1/audit/checkpoints`): one JSON object, or a list of them.
        #[arg(long, value_name = "FILE")]
        checkpoint: Vec<PathBuf>,
    },
    /// Sign a checkpoint of the chain's head now (unless it has one) and
    /// print the newest checkpoint as JSON, to keep outside the database.
    ///
    /// Example: `modelgate audit checkpoint > kept/checkpoint.json`
    Checkpoint,
    /// List a server's signed checkpoints, oldest first, to keep elsewhere
    /// (over the API: needs a login, not the database).
    Checkpoints(super::client::Checkpoints),
}

/// `audit verify`'s exit codes: tampered, and any other error.
const TAMPERED: u8 = 1;
const AUDIT_ERROR: u8 = 3;

impl Audit {
    /// Verifies the record or takes a checkpoint.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        if let Audit::Checkpoints(command) = self {
            return command.run();
        }
        let settings = match Settings::load(config) {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("modelgate: {error}");
                return ExitCode::from(AUDIT_ERROR);
            }
        };
        match self.audit(&settings) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("modelgate: {error}");
                ExitCode::from(AUDIT_ERROR)
            }
        }
    }

    fn audit(self, settings: &Settings) -> Result<ExitCode, String> {
        let key = AuditKey::from_settings(&settings.audit, &settings.data_dir)?;
        let mut conn = connection(settings)?;
        match self {
            Audit::Verify { checkpoint } => {
                let mut kept = Vec::new();
                for path in &checkpoint {
                    kept.extend(read_checkpoints(path)?);
                }
                match audit::verify(&mut conn, &key, &kept).map_err(|e| e.public_message())? {
                    Verdict::Intact {
                        events,
                        checkpoints,
                    } => {
                        outln!(
                            "the audit record is intact: {events} events, every hash matches; \
                             {checkpoints} signed checkpoints hold; the tables and the history index equal a replay of the events"
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Verdict::Tampered(what) => {
                        eprintln!("modelgate: the audit record has been tampered with: {what}");
                        Ok(ExitCode::from(TAMPERED))
                    }
                }
            }
            Audit::Checkpoint => {
                audit::checkpoint(&mut conn, &key).map_err(|e| e.public_message())?;
                let newest = audit::latest(&mut conn).map_err(|e| e.public_message())?;
                match newest {
                    Some(checkpoint) => print_json(&checkpoint).map(|()| ExitCode::SUCCESS),
                    None => Err("the event chain is empty: nothing to checkpoint".to_owned()),
                }
            }
            Audit::Checkpoints(command) => Ok(command.run()),
        }
    }
}

/// Reads exported checkpoints: one JSON object or a list of them.
fn read_checkpoints(path: &Path) -> Result<Vec<Checkpoint>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let value = match value {
        serde_json::Value::Object(mut map) if map.contains_key("checkpoints") => {
            map.remove("checkpoints").unwrap_or_default()
        }
        other => other,
    };
    let items = match value {
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            serde_json::from_value(item).map_err(|e| {
                format!(
                    "{} holds something that is not a checkpoint: {e}",
                    path.display()
                )
            })
        })
        .collect()
}

/// `modelgate keys …`.
#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Forget the recorded fingerprints of the deployment's token and audit
    /// signing keys, to move every replica to new keys: stop them all, run
    /// this, start them with the new keys (the first start records them).
    ///
    /// Example: `modelgate keys reset`
    Reset,
}

impl Keys {
    /// Forgets the recorded key fingerprints.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        let Keys::Reset = self;
        with_settings(config, |settings| {
            let mut conn = connection(settings)?;
            let forgotten =
                crate::domain::keys::reset(&mut conn).map_err(|e| e.public_message())?;
            outln!("forgot {forgotten} recorded key fingerprints; the next start records its keys");
            Ok(())
        })
    }
}

/// `modelgate policy …`.
#[derive(Debug, Subcommand)]
pub enum Policy {
    /// Check the configured lifecycle policy as a graph and print what each
    /// role can do on its own and which rules are rollback-only; exit 1 if
    /// the server would refuse it.
    ///
    /// Example: `modelgate policy check --config modelgate.toml`
    Check,
    /// Show the rules a server enforces: stage rules, guarded stages and
    /// alias rules (over the API).
    Show(super::client::PolicyShow),
}

impl Policy {
    /// Builds the policy from the settings and prints its report.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        if let Policy::Show(command) = self {
            return command.run();
        }
        with_settings(config, |settings| {
            let policy = crate::domain::policy::Policy::from_settings(&settings.lifecycle)?;
            let guards: Vec<String> = policy
                .guards()
                .map(|g| format!("{} (gate: {})", g.stage, g.describe()))
                .collect();
            outln!(
                "the lifecycle policy is valid: {} rules; guarded: {}",
                policy.rules().count(),
                if guards.is_empty() {
                    "none".to_owned()
                } else {
                    guards.join(", ")
                }
            );
            out!("{}", policy.report());
            Ok(())
        })
    }
}

/// `modelgate db users|tokens …`: directly in the configured database.
#[derive(Debug, Subcommand)]
pub enum Db {
    /// Manage users directly in the configured database.
    #[command(subcommand)]
    Users(Users),
    /// Manage pipeline tokens directly in the configured database.
    #[command(subcommand)]
    Tokens(Tokens),
}

impl Db {
    /// Runs the user or token command.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        match self {
            Db::Users(command) => command.run(config),
            Db::Tokens(command) => command.run(config),
        }
    }
}

/// `modelgate db users …`.
#[derive(Debug, Subcommand)]
pub enum Users {
    /// Create a user; prints a generated password unless --password-stdin.
    #[command(
        after_help = "Example:\n  echo \"$ADMIN_PASSWORD\" | modelgate db users add ops --role admin --password-stdin"
    )]
    Add {
        /// Login name.
        username: String,
        /// viewer, contributor, approver or admin.
        #[arg(long)]
        role: Role,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role.
    #[command(after_help = "Example:\n  modelgate db users set-role april approver")]
    SetRole {
        /// Login name.
        username: String,
        /// viewer, contributor, approver or admin.
        role: Role,
    },
    /// Disable a user: it cannot log in and its tokens stop working.
    #[command(after_help = "Example:\n  modelgate db users disable mallory")]
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user.
    #[command(after_help = "Example:\n  modelgate db users enable april")]
    Enable {
        /// Login name.
        username: String,
    },
}

impl Users {
    /// Creates or changes the user and prints it as JSON.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        with_settings(config, |settings| match self {
            Users::Add {
                username,
                role,
                password_stdin,
            } => add_user(settings, &username, role, password_stdin),
            Users::SetRole { username, role } => {
                let changes = UserChanges {
                    role: Some(role),
                    ..UserChanges::default()
                };
                update_user(settings, &username, changes)
            }
            Users::Disable { username } => {
                let changes = UserChanges {
                    disabled: Some(true),
                    ..UserChanges::default()
                };
                update_user(settings, &username, changes)
            }
            Users::Enable { username } => {
                let changes = UserChanges {
                    disabled: Some(false),
                    ..UserChanges::default()
                };
                update_user(settings, &username, changes)
            }
        })
    }
}

/// `modelgate db tokens …`.
#[derive(Debug, Subcommand)]
pub enum Tokens {
    /// Create a pipeline token acting as a user; prints it once.
    #[command(
        after_help = "Example:\n  modelgate db tokens create fraud-pipeline --user ci-bot --expires-in-days 30"
    )]
    Create {
        /// What the token is for.
        name: String,
        /// The user it acts as.
        #[arg(long)]
        user: String,
        /// Lifetime in days (1-3650).
        #[arg(long, default_value_t = DEFAULT_DAYS)]
        expires_in_days: i64,
    },
    /// Revoke a pipeline token at once.
    #[command(after_help = "Example:\n  modelgate db tokens revoke 4")]
    Revoke {
        /// The token's id.
        id: i64,
    },
}

impl Tokens {
    /// Creates or revokes the token and prints it as JSON.
    pub fn run(self, config: Option<&Path>) -> ExitCode {
        with_settings(config, |settings| match self {
            Tokens::Create {
                name,
                user,
                expires_in_days,
            } => {
                let user = username(&user)?;
                let keys = TokenKeys::from_settings(&settings.auth, &settings.data_dir)?;
                let mut conn = connection(settings)?;
                let created = tokens::create(
                    &mut conn,
                    &Actor::system(),
                    &keys,
                    &name,
                    &user,
                    expires_in_days,
                )
                .map_err(|e| e.public_message())?;
                print_json(&created)
            }
            Tokens::Revoke { id } => {
                let mut conn = connection(settings)?;
                let token = tokens::revoke(&mut conn, &Actor::system(), id)
                    .map_err(|e| e.public_message())?;
                print_json(&token)
            }
        })
    }
}

/// Loads the settings and starts logging (exit 2 if either fails), then
/// runs `command`: its error is logged and printed, and the exit code is 1.
fn with_settings(
    config: Option<&Path>,
    command: impl FnOnce(&Settings) -> Result<(), String>,
) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("modelgate: {error}");
            return ExitCode::from(SETTINGS_ERROR);
        }
    };
    if let Err(error) = crate::telemetry::init(&settings.log) {
        eprintln!("modelgate: {error}");
        return ExitCode::from(SETTINGS_ERROR);
    }
    match command(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // the target the binary's log lines have always had
            tracing::error!(target: "modelgate", %error, "modelgate stopped");
            eprintln!("modelgate: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Connects and brings the schema up to date (quietly).
fn connection(settings: &Settings) -> Result<PooledConn, String> {
    let (url, pool) = startup::connect(settings).map_err(|e| e.to_string())?;
    startup::migrate(&pool, &url, settings).map_err(|e| e.to_string())?;
    pool.get().map_err(|e| format!("cannot connect: {e}"))
}

fn username(text: &str) -> Result<Username, String> {
    Username::parse(text).map_err(|e| e.public_message())
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    outln!("{text}");
    Ok(())
}

/// `modelgate users add NAME --role ROLE [--password-stdin]`.
fn add_user(
    settings: &Settings,
    name: &str,
    role: Role,
    password_stdin: bool,
) -> Result<(), String> {
    let name = username(name)?;
    let (password, generated) = if password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        (text.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (users::random_password(), true)
    };
    password::check_policy(&password).map_err(|e| e.public_message())?;
    let hash = password::hash(&password).map_err(|e| e.public_message())?;
    let mut conn = connection(settings)?;
    let user = users::create(&mut conn, &Actor::system(), &name, &hash, role)
        .map_err(|e| e.public_message())?;
    print_json(&user)?;
    if generated {
        outln!("password: {password}\n(shown this once)");
    }
    Ok(())
}

/// `modelgate users set-role NAME ROLE`, `disable NAME`, `enable NAME`.
fn update_user(settings: &Settings, name: &str, changes: UserChanges) -> Result<(), String> {
    let name = username(name)?;
    let mut conn = connection(settings)?;
    let user = users::update(&mut conn, &Actor::system(), &name, changes)
        .map_err(|e| e.public_message())?;
    print_json(&user)
}
