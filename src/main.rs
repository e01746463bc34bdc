//! The `modelgate` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use modelgate::cli;
use modelgate::config::Settings;
use modelgate::domain::tokens::DEFAULT_DAYS;
use modelgate::domain::users::UserChanges;
use modelgate::startup::{self, Application};

/// A model registry with approval gates and an MLflow-compatible API.
#[derive(Debug, Parser)]
#[command(name = "modelgate", version, about)]
struct Cli {
    /// Configuration file (default: ./modelgate.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve the API.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users directly in the configured database.
    Users {
        #[command(subcommand)]
        action: UsersCommand,
    },
    /// Manage pipeline tokens directly in the configured database.
    Tokens {
        #[command(subcommand)]
        action: TokensCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user; prints a generated password unless --password-stdin.
    Add {
        /// Login name.
        username: String,
        /// viewer, contributor, approver or admin.
        #[arg(long)]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role.
    SetRole {
        /// Login name.
        username: String,
        /// viewer, contributor, approver or admin.
        role: String,
    },
    /// Disable a user: it cannot log in and its tokens stop working.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Login name.
        username: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create a pipeline token acting as a user; prints it once.
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
    Revoke {
        /// The token's id.
        id: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("modelgate: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = modelgate::telemetry::init(&settings.log) {
        eprintln!("modelgate: {error}");
        return ExitCode::from(2);
    }
    let outcome = match cli.command {
        Command::Serve => serve(&settings),
        Command::Migrate => startup::connect(&settings)
            .and_then(|(url, pool)| startup::migrate(&pool, &url))
            .map(|applied| println!("applied {applied} migration(s); the schema is current"))
            .map_err(|e| e.to_string()),
        Command::Users { action } => users(&settings, action),
        Command::Tokens { action } => match action {
            TokensCommand::Create {
                name,
                user,
                expires_in_days,
            } => cli::tokens_create(&settings, &name, &user, expires_in_days),
            TokensCommand::Revoke { id } => cli::tokens_revoke(&settings, id),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "modelgate stopped");
            eprintln!("modelgate: {error}");
            ExitCode::FAILURE
        }
    }
}

fn users(settings: &Settings, action: UsersCommand) -> Result<(), String> {
    match action {
        UsersCommand::Add {
            username,
            role,
            password_stdin,
        } => cli::users_add(settings, &username, &role, password_stdin),
        UsersCommand::SetRole { username, role } => {
            let changes = UserChanges {
                role: Some(cli::parse_role(&role)?),
                ..UserChanges::default()
            };
            cli::users_update(settings, &username, changes)
        }
        UsersCommand::Disable { username } => {
            let changes = UserChanges {
                disabled: Some(true),
                ..UserChanges::default()
            };
            cli::users_update(settings, &username, changes)
        }
        UsersCommand::Enable { username } => {
            let changes = UserChanges {
                disabled: Some(false),
                ..UserChanges::default()
            };
            cli::users_update(settings, &username, changes)
        }
    }
}

fn serve(settings: &Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings).map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}
