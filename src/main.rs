//! The `modelgate` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use modelgate::config::Settings;
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

fn serve(settings: &Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings).map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}
