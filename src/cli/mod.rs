//! The `modelgate` command line. Server-side commands (`server`) work on
//! the configured database; client commands (`client`) talk to a server
//! over HTTP(S). Each subcommand parses into its own type and runs itself;
//! only the commands that need the settings load them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

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
    Serve(server::Serve),
    /// Apply pending database migrations and exit.
    Migrate(server::Migrate),
    /// Print the OpenAPI spec of the native API.
    Openapi(server::Openapi),
    /// Check the tamper-evident event log.
    #[command(subcommand)]
    Audit(server::Audit),
    /// Check the configured lifecycle policy.
    #[command(subcommand)]
    Policy(server::Policy),
    /// The signing keys every replica must share.
    #[command(subcommand)]
    Keys(server::Keys),
    /// Manage users directly in the configured database.
    #[command(subcommand)]
    Users(server::Users),
    /// Manage pipeline tokens directly in the configured database.
    #[command(subcommand)]
    Tokens(server::Tokens),
    /// Move a version where the policy lets you, otherwise open a transition request.
    Promote(client::Promote),
    /// Wait until a version is in a stage. Exit 0: it is; 1: denied; 2: still
    /// pending when the wait ran out; 3: any other error.
    Gate(client::Gate),
    /// List and decide transition requests.
    #[command(subcommand)]
    Requests(client::Requests),
    /// What a model's stages and aliases resolved to at an instant.
    History(client::History),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve(command) => command.run(config),
        Command::Migrate(command) => command.run(config),
        Command::Openapi(command) => command.run(),
        Command::Audit(command) => command.run(config),
        Command::Policy(command) => command.run(config),
        Command::Keys(command) => command.run(config),
        Command::Users(command) => command.run(config),
        Command::Tokens(command) => command.run(config),
        Command::Promote(command) => command.run(),
        Command::Gate(command) => command.run(),
        Command::Requests(command) => command.run(),
        Command::History(command) => command.run(),
    }
}

/// Prints why `args` did not parse (or the help or version they asked for)
/// and gives the exit code.
pub fn usage_error(error: &clap::Error, args: &[OsString]) -> ExitCode {
    let _ = error.print();
    ExitCode::from(usage_exit_code(error.kind(), args))
}

/// 0 for help and version, clap's 2 for a usage error, except under `gate`,
/// whose 0, 1 and 2 have meanings: there a usage error is "any other error".
fn usage_exit_code(kind: ErrorKind, args: &[OsString]) -> u8 {
    match kind {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        _ if subcommand(args).is_some_and(|command| command == "gate") => client::FAILED,
        _ => 2,
    }
}

/// The subcommand of a command line: its first word that is not a global
/// option (`--config FILE`, `--config=FILE`) or its value.
fn subcommand(args: &[OsString]) -> Option<&OsString> {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--config" {
            words.next();
        } else if !word.to_string_lossy().starts_with("--config=") {
            return Some(word);
        }
    }
    None
}
