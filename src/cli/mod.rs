//! The `modelgate` command line. Server-side commands (`server`) work on
//! the configured database; client commands (`client`) talk to a server
//! over HTTP(S). Each subcommand parses into its own type and runs itself;
//! only the commands that need the settings load them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

/// `print!` to standard output through [`stdout`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::stdout(format_args!($($arg)*))
    };
}

/// `println!` to standard output through [`stdout`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod client;
#[cfg(test)]
pub(crate) use client::parse_duration;
mod server;
#[cfg(test)]
mod tests;

/// A model registry with approval gates and an MLflow-compatible API.
#[derive(Debug, Parser)]
#[command(name = "modelgate", version, about)]
pub struct Cli {
    /// Configuration file (default: ./modelgate.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve the API.
    #[command(after_help = "Example:\n  modelgate serve --config modelgate.toml")]
    Serve(server::Serve),
    /// Apply pending database migrations and exit.
    #[command(after_help = "Example:\n  MODELGATE__DATABASE__URL=postgres://… modelgate migrate")]
    Migrate(server::Migrate),
    /// Print the OpenAPI spec of the native API.
    #[command(after_help = "Example:\n  modelgate openapi > openapi.json")]
    Openapi(server::Openapi),
    /// Log in to a server and remember the token (per server, mode 0600).
    Login(client::Login),
    /// Forget a server's token.
    Logout(client::Logout),
    /// Who the token belongs to, on which server.
    Whoami(client::Whoami),
    /// Registered models: create, list, get, update, rename, delete, latest.
    Models(client::Models),
    /// Model versions: create, list, get, update, delete, activity.
    Versions(client::Versions),
    /// Tags of a model or a version: set, delete.
    Tags(client::Tags),
    /// Aliases: set, get, delete.
    Aliases(client::Aliases),
    /// Move a version (or point an alias at it) where the policy lets you,
    /// otherwise open a transition request.
    Promote(client::Promote),
    /// Wait until a version is in a stage. Exit 0: it is; 1: denied; 2: still
    /// pending when the wait ran out; 3: any other error.
    #[command(
        after_help = "Example:\n  modelgate gate fraud-detector 7 --stage Production --wait 2h"
    )]
    Gate(client::Gate),
    /// List, show and decide transition requests.
    #[command(subcommand)]
    Requests(client::Requests),
    /// What a model's stages and aliases resolved to at an instant.
    History(client::History),
    /// The event feed: list, or follow as it grows.
    Events(client::Events),
    /// The lifecycle policy: show the server's, check a configuration's.
    #[command(subcommand)]
    Policy(server::Policy),
    /// The tamper-evident event log: verify it, sign and list checkpoints.
    #[command(subcommand)]
    Audit(server::Audit),
    /// Users on a server (admin): list, get, create, update, delete.
    Users(client::Users),
    /// Pipeline tokens on a server: list, get, create, revoke.
    Tokens(client::Tokens),
    /// Webhook subscriptions on a server (admin), their deliveries and tests.
    Webhooks(client::Webhooks),
    /// Directly in the configured database, no server needed (the first
    /// admin, recovery): users and pipeline tokens.
    #[command(subcommand)]
    Db(server::Db),
    /// The signing keys every replica must share.
    #[command(subcommand)]
    Keys(server::Keys),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  modelgate completions bash > /etc/bash_completion.d/modelgate\n  modelgate completions zsh > \"${fpath[1]}/_modelgate\"\n  modelgate completions fish > ~/.config/fish/completions/modelgate.fish"
    )]
    Completions {
        /// bash, zsh or fish (also elvish, powershell).
        shell: clap_complete::Shell,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve(command) => command.run(config),
        Command::Migrate(command) => command.run(config),
        Command::Openapi(command) => command.run(),
        Command::Login(command) => command.run(),
        Command::Logout(command) => command.run(),
        Command::Whoami(command) => command.run(),
        Command::Models(command) => command.run(),
        Command::Versions(command) => command.run(),
        Command::Tags(command) => command.run(),
        Command::Aliases(command) => command.run(),
        Command::Promote(command) => command.run(),
        Command::Gate(command) => command.run(),
        Command::Requests(command) => command.run(),
        Command::History(command) => command.run(),
        Command::Events(command) => command.run(),
        Command::Policy(command) => command.run(config),
        Command::Audit(command) => command.run(config),
        Command::Users(command) => command.run(),
        Command::Tokens(command) => command.run(),
        Command::Webhooks(command) => command.run(),
        Command::Db(command) => command.run(config),
        Command::Keys(command) => command.run(config),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "modelgate",
                &mut script,
            );
            out!("{}", String::from_utf8_lossy(&script));
            ExitCode::SUCCESS
        }
    }
}

/// Writes a command's output. A reader that went away (`modelgate … |
/// head`) ends the command quietly, with the status a closed pipe gives any
/// Unix tool (141), instead of a panic.
pub(crate) fn stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(text).and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("modelgate: cannot write the output: {error}");
        std::process::exit(1);
    }
}

/// Prints why `args` did not parse (or the help or version they asked for)
/// and gives the exit code: 0 for help and version, otherwise 3, "any other
/// error" (1 and 2 mean refused and pending).
pub fn usage_error(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    ExitCode::from(usage_exit_code(error.kind()))
}

fn usage_exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        _ => client::FAILED,
    }
}
