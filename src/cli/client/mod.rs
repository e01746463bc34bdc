//! Client commands, for pipelines and people at a terminal: they talk to a
//! modelgate server over HTTP(S) with a bearer token and read its answers as
//! the server's own response types.

use std::process::ExitCode;

use serde::Serialize;

mod gate;
mod history;
mod http;
mod promote;
mod requests;

pub use gate::Gate;
#[cfg(test)]
pub(crate) use gate::parse_duration;
pub use history::History;
pub use promote::Promote;
pub use requests::Requests;

use http::{Client, ClientError};

/// Exit code of a client command that fails: the gate's "any other error".
pub const FAILED: u8 = 3;

/// Where the server is and who is calling (client commands).
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Server URL.
    #[arg(long, env = "MODELGATE_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Bearer token (a login or pipeline token).
    #[arg(long, env = "MODELGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl ServerArgs {
    /// A client for the server, or exit 3 when there is no token.
    fn connect(&self) -> Result<Client, ExitCode> {
        match self.token.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(token) => Ok(Client::new(&self.url, token.trim())),
            None => {
                eprintln!("modelgate: no token: set MODELGATE_TOKEN or pass --token");
                Err(ExitCode::from(FAILED))
            }
        }
    }

    /// Runs `call` and prints its answer as JSON on one line; exit 3 when
    /// anything fails.
    fn answer<T: Serialize>(
        &self,
        call: impl FnOnce(&Client) -> Result<T, ClientError>,
    ) -> ExitCode {
        let client = match self.connect() {
            Ok(client) => client,
            Err(code) => return code,
        };
        let printed = match call(&client) {
            Ok(answer) => serde_json::to_string(&answer),
            Err(error) => return failed(&error),
        };
        match printed {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => failed(&error),
        }
    }
}

fn failed(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("modelgate: {error}");
    ExitCode::from(FAILED)
}

#[cfg(test)]
mod tests {
    use crate::db::enums::RequestStatus;
    use crate::db::enums::Stage;

    #[test]
    fn every_status_and_stage_reads_back_as_the_server_writes_it() {
        for status in RequestStatus::ALL {
            let json = serde_json::to_string(&status).unwrap_or_default();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(
                serde_json::from_str::<RequestStatus>(&json).ok(),
                Some(status)
            );
        }
        for stage in Stage::ALL {
            let json = serde_json::to_string(&stage).unwrap_or_default();
            assert_eq!(json, format!("\"{stage}\""));
            assert_eq!(serde_json::from_str::<Stage>(&json).ok(), Some(stage));
        }
    }
}
