//! `modelgate history MODEL [--at T]`: what a name's stages and aliases
//! resolved to at an instant.

use std::process::ExitCode;

use clap::Args;

use super::Common;
use super::output::View;
use crate::domain::history::ModelHistory;
use crate::domain::types::percent_encode_segment as enc;

/// `modelgate history MODEL [--at T]`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  modelgate history fraud-detector --at 2026-11-30T12:00:00Z")]
pub struct History {
    /// The model's name (as it was at that instant).
    model: String,
    /// The instant: an RFC 3339 time or milliseconds since the epoch (default: now).
    #[arg(long)]
    at: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl History {
    /// Prints the model that held the name then and what each of its stages
    /// and aliases resolved to, with the events that made it so.
    pub fn run(self) -> ExitCode {
        let mut path = format!("/api/v1/models/{}/history", enc(&self.model));
        if let Some(at) = &self.at {
            path.push_str(&format!("?at={}", enc(at.trim())));
        }
        self.common.show_typed(&View::one("name"), |client| {
            client.get::<ModelHistory>(&path)
        })
    }
}
