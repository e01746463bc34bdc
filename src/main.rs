//! The `modelgate` command line: parse it, run the command.

use std::process::ExitCode;

use clap::Parser;

use modelgate::cli::{self, Cli};

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => cli::run(cli),
        Err(error) => cli::usage_error(&error),
    }
}
