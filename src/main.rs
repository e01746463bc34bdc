//! The `modelgate` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use modelgate::cli;
use modelgate::client::{self, Client, GateOutcome};
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
    /// Print the OpenAPI spec of the native API.
    Openapi,
    /// Check the tamper-evident event log.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
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
    /// Move a version where the policy lets you, otherwise open a transition request.
    Promote {
        /// Registered model name.
        model: String,
        /// Version number.
        version: String,
        /// Target stage: Staging, Production, Archived or None.
        #[arg(long)]
        to: String,
        /// Why (recorded in the audit trail).
        #[arg(long)]
        comment: Option<String>,
        /// Archive the versions now in the target stage.
        #[arg(long)]
        archive_existing: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Wait until a version is in a stage. Exit 0: it is; 1: denied; 2: still
    /// pending when the wait ran out; 3: any other error.
    Gate {
        /// Registered model name.
        model: String,
        /// Version number.
        version: String,
        /// The stage to wait for.
        #[arg(long)]
        stage: String,
        /// How long to wait for a pending request: 90s, 30m, 2h, 1h30m (default: do not wait).
        #[arg(long, value_parser = client::parse_duration)]
        wait: Option<Duration>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List and decide transition requests.
    Requests {
        #[command(subcommand)]
        action: RequestsCommand,
    },
}

/// Where the server is and who is calling (client commands).
#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// Server URL.
    #[arg(long, env = "MODELGATE_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Bearer token (a login or pipeline token).
    #[arg(long, env = "MODELGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, Subcommand)]
enum RequestsCommand {
    /// List requests, newest first.
    List {
        /// pending, applied, rejected, cancelled or stale.
        #[arg(long)]
        status: Option<String>,
        /// Only requests for this model.
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Approve a request (approver or admin, not its requester).
    Approve {
        /// Request id.
        id: String,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Reject a request (approver or admin).
    Reject {
        /// Request id.
        id: String,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Cancel a request (its requester or an admin).
    Cancel {
        /// Request id.
        id: String,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
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
enum AuditCommand {
    /// Recompute the event hash chain; exit 1 at the first edited, deleted or reordered event.
    Verify,
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                // `gate` promises 0/1/2 a meaning; a usage error is "any other error"
                _ if std::env::args().nth(1).as_deref() == Some("gate") => {
                    ExitCode::from(CLIENT_ERROR)
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let command = match cli.command {
        Command::Promote {
            model,
            version,
            to,
            comment,
            archive_existing,
            server,
        } => {
            return client_command(&server, |client| {
                client::promote(
                    client,
                    &model,
                    &version,
                    &to,
                    comment.as_deref(),
                    archive_existing,
                )
            });
        }
        Command::Gate {
            model,
            version,
            stage,
            wait,
            server,
        } => return gate(&server, &model, &version, &stage, wait.unwrap_or_default()),
        Command::Requests { action } => return requests(action),
        Command::Openapi => {
            return match modelgate::api::openapi().to_pretty_json() {
                Ok(spec) => {
                    println!("{spec}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("modelgate: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        server_side => server_side,
    };
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
    let outcome = match command {
        Command::Serve => serve(&settings),
        Command::Migrate => startup::connect(&settings)
            .and_then(|(url, pool)| startup::migrate(&pool, &url))
            .map(|applied| println!("applied {applied} migration(s); the schema is current"))
            .map_err(|e| e.to_string()),
        Command::Users { action } => users(&settings, action),
        Command::Audit {
            action: AuditCommand::Verify,
        } => cli::audit_verify(&settings),
        Command::Tokens { action } => match action {
            TokensCommand::Create {
                name,
                user,
                expires_in_days,
            } => cli::tokens_create(&settings, &name, &user, expires_in_days),
            TokensCommand::Revoke { id } => cli::tokens_revoke(&settings, id),
        },
        Command::Promote { .. }
        | Command::Gate { .. }
        | Command::Requests { .. }
        | Command::Openapi => Err("a client command reached the server side".to_owned()),
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

/// Exit code of client commands that fail: the gate's "any other error".
const CLIENT_ERROR: u8 = 3;

fn connect(server: &ServerArgs) -> Result<Client, ExitCode> {
    match server.token.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(token) => Ok(Client::new(&server.url, token.trim())),
        None => {
            eprintln!("modelgate: no token: set MODELGATE_TOKEN or pass --token");
            Err(ExitCode::from(CLIENT_ERROR))
        }
    }
}

/// Runs a client call and prints its JSON answer on one line.
fn client_command(
    server: &ServerArgs,
    call: impl FnOnce(&Client) -> Result<serde_json::Value, client::ClientError>,
) -> ExitCode {
    let client = match connect(server) {
        Ok(client) => client,
        Err(code) => return code,
    };
    match call(&client) {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("modelgate: {error}");
            ExitCode::from(CLIENT_ERROR)
        }
    }
}

fn gate(server: &ServerArgs, model: &str, version: &str, stage: &str, wait: Duration) -> ExitCode {
    let client = match connect(server) {
        Ok(client) => client,
        Err(code) => return code,
    };
    let outcome = client::gate(&client, model, version, stage, wait, |line| {
        eprintln!("modelgate gate: {line}");
    });
    match &outcome {
        GateOutcome::Passed => {}
        GateOutcome::Denied(why) => eprintln!("modelgate gate: denied: {why}"),
        GateOutcome::Pending(why) => eprintln!("modelgate gate: still pending: {why}"),
        GateOutcome::Failed(why) => eprintln!("modelgate gate: error: {why}"),
    }
    ExitCode::from(outcome.exit_code())
}

fn requests(action: RequestsCommand) -> ExitCode {
    match action {
        RequestsCommand::List {
            status,
            model,
            server,
        } => client_command(&server, |client| {
            client::list_requests(client, status.as_deref(), model.as_deref())
        }),
        RequestsCommand::Approve {
            id,
            comment,
            server,
        } => client_command(&server, |client| {
            client::decide(client, &id, "approve", comment.as_deref())
        }),
        RequestsCommand::Reject {
            id,
            comment,
            server,
        } => client_command(&server, |client| {
            client::decide(client, &id, "reject", comment.as_deref())
        }),
        RequestsCommand::Cancel {
            id,
            comment,
            server,
        } => client_command(&server, |client| {
            client::decide(client, &id, "cancel", comment.as_deref())
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a shell command line into words: quotes group, and the command
    /// ends at an unquoted `|`, `&`, `;`, `)` or `#`.
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut current = String::new();
        let mut quote = None;
        let mut started = false;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => current.push(c),
                (None, '"' | '\'') => {
                    quote = Some(c);
                    started = true;
                }
                (None, '|' | '&' | ';' | ')' | '#') => break,
                (None, c) if c.is_whitespace() => {
                    if started {
                        words.push(std::mem::take(&mut current));
                        started = false;
                    }
                }
                (None, c) => {
                    current.push(c);
                    started = true;
                }
            }
        }
        if started {
            words.push(current);
        }
        words
    }

    #[test]
    fn every_modelgate_command_in_the_readme_parses() {
        let readme = include_str!("../README.md");
        let mut language: Option<&str> = None;
        let mut parsed = Vec::new();
        for line in readme.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("```") {
                language = match language {
                    Some(_) => None,
                    None => Some(rest.trim()),
                };
                continue;
            }
            if !matches!(language, Some("sh" | "yaml")) {
                continue;
            }
            let mut text = line.trim();
            text = text.strip_prefix("run: ").unwrap_or(text);
            if let Some(at) = text.find("$(modelgate ") {
                text = &text[at + 2..];
            }
            if !text.starts_with("modelgate ") {
                continue;
            }
            let args = words(text);
            if let Err(error) = Cli::try_parse_from(&args) {
                panic!("README: `{text}` does not parse: {error}");
            }
            parsed.push(args[1].clone());
        }
        for command in ["promote", "gate", "requests"] {
            let uses = parsed.iter().filter(|c| *c == command).count();
            assert!(
                uses >= 2,
                "the README shows `modelgate {command}` {uses} times"
            );
        }
    }

    #[test]
    fn a_misspelled_flag_is_caught() {
        let args = words("modelgate gate churn 1 --stag Production");
        assert!(Cli::try_parse_from(&args).is_err());
        let args =
            words(r#"modelgate promote churn "$VERSION" --to Staging --comment "a b" | sed x"#);
        assert_eq!(args.len(), 8);
        assert_eq!(args[7], "a b");
        assert!(Cli::try_parse_from(&args).is_ok());
    }
}
