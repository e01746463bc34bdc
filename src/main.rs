//! The `modelgate` command line: parse it, run the command.

use std::process::ExitCode;

use clap::Parser;

use modelgate::cli::{self, Cli};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => cli::run(cli),
        Err(error) => cli::usage_error(&error, &args),
    }
}
