//! Client commands, for pipelines and people at a terminal: they talk to a
//! modelgate server over HTTP(S) with a bearer token and read its answers as
//! the server's own response types.

use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

mod admin;
mod credentials;
mod feed;
mod gate;
mod history;
mod http;
mod login;
mod output;
mod promote;
mod registry;
mod requests;

pub use admin::{Tokens, Users, Webhooks};
pub use feed::{Checkpoints, Events, PolicyShow};
pub use gate::Gate;
#[cfg(test)]
pub(crate) use gate::parse_duration;
pub use history::History;
pub use login::{Login, Logout, Whoami};
pub use promote::Promote;
pub use registry::{Aliases, Models, Tags, Versions};
pub use requests::Requests;

use credentials::Credentials;
use http::{Client, ClientError};
use output::{OutputArgs, View};

/// Exit code of a client command that fails for any reason but a refusal:
/// the gate's "any other error".
pub const FAILED: u8 = 3;

/// Where the server is and who is calling (client commands).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Server URL (default: the server you logged in to last, else http://127.0.0.1:8080).
    #[arg(long, env = "MODELGATE_URL", global = true)]
    url: Option<String>,
    /// Bearer token (default: the token `modelgate login` stored for the server).
    #[arg(long, env = "MODELGATE_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
}

impl ServerArgs {
    /// A client for the server with the token given, or the one stored for
    /// it; exit 3 when there is none.
    fn connect(&self) -> Result<Client, ExitCode> {
        let credentials = Credentials::load().map_err(|e| failed(&e))?;
        let explicit = self
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        // a token given outright goes to the server given with it (or the
        // default), never to whichever server was logged in to last
        let given_url = self.url.as_deref().filter(|u| !u.trim().is_empty());
        let url = match (&explicit, given_url) {
            (Some(_), None) => credentials::DEFAULT_URL.to_owned(),
            (_, url) => credentials.server(url),
        };
        let token = explicit.or_else(|| credentials.servers.get(&url).map(|l| l.token.clone()));
        match token {
            Some(token) => Ok(Client::new(&url, &token)),
            None => Err(failed(&format!(
                "not logged in to {url}: run `modelgate login --url {url}`, or set MODELGATE_TOKEN"
            ))),
        }
    }
}

/// The server and the output options, for commands that print an answer.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    output: OutputArgs,
}

impl Common {
    /// Runs `call` and prints its answer as `view` and the options say;
    /// a refusal exits 1, anything else that fails 3.
    fn show(
        &self,
        view: &View,
        call: impl FnOnce(&Client) -> Result<Value, ClientError>,
    ) -> ExitCode {
        let client = match self.server.connect() {
            Ok(client) => client,
            Err(code) => return code,
        };
        match call(&client) {
            Ok(answer) => {
                out!("{}", self.output.render(&answer, view));
                ExitCode::SUCCESS
            }
            Err(error) => refused(&error),
        }
    }

    /// [`Common::show`] for an answer of one of the server's own types.
    fn show_typed<T: Serialize>(
        &self,
        view: &View,
        call: impl FnOnce(&Client) -> Result<T, ClientError>,
    ) -> ExitCode {
        self.show(view, |client| {
            let answer = call(client)?;
            serde_json::to_value(answer)
                .map_err(|e| ClientError::Transport(format!("cannot show the answer: {e}")))
        })
    }
}

/// Reads up to `limit` rows of a paged list: `path` (with its query, if
/// any), the rows under `rows`, page after page. The answer has the rows and,
/// when more are left, the `next_page_token` to go on from.
fn paged(client: &Client, path: &str, rows: &str, limit: usize) -> Result<Value, ClientError> {
    let mut collected = Vec::new();
    let mut token: Option<String> = None;
    let separator = if path.contains('?') { '&' } else { '?' };
    loop {
        let want = (limit - collected.len()).min(1000);
        let mut page_path = format!("{path}{separator}max_results={want}");
        if let Some(token) = &token {
            page_path.push_str(&format!(
                "&page_token={}",
                crate::domain::types::percent_encode_segment(token)
            ));
        }
        let mut page = client.call("GET", &page_path, None)?;
        if let Some(items) = page.get_mut(rows).and_then(Value::as_array_mut) {
            collected.append(items);
        }
        token = page["next_page_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() || collected.len() >= limit {
            break;
        }
    }
    let mut answer = serde_json::Map::new();
    answer.insert(rows.to_owned(), Value::Array(collected));
    if let Some(token) = token {
        answer.insert("next_page_token".to_owned(), Value::String(token));
    }
    Ok(Value::Object(answer))
}

/// The most rows a list prints (`--limit`).
fn limit_in_range(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(format!("must be a number from 1 to 100000, got '{text}'")),
    }
}

/// Asks before deleting on a terminal; without one, `--yes` must say so.
fn confirm(what: &str, yes: bool) -> Result<(), ExitCode> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(failed(&format!(
            "not deleting {what} without --yes (standard input is not a terminal to ask on)"
        )));
    }
    eprint!("Delete {what}? Type 'yes' to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(failed(&format!("{what} was not deleted")))
    }
}

/// Runs a delete (asking first unless `yes`) and says on standard error
/// what went; nothing is printed on standard output.
fn delete(common: &Common, path: &str, what: &str, yes: bool) -> ExitCode {
    remove(common, path, what, yes, "deleted")
}

/// [`delete`], saying `done` (`deleted`, `revoked`) when it went.
fn remove(common: &Common, path: &str, what: &str, yes: bool, done: &str) -> ExitCode {
    if let Err(code) = confirm(what, yes) {
        return code;
    }
    let client = match common.server.connect() {
        Ok(client) => client,
        Err(code) => return code,
    };
    match client.call("DELETE", path, None) {
        Ok(_) => {
            eprintln!("modelgate: {done} {what}");
            ExitCode::SUCCESS
        }
        Err(error) => refused(&error),
    }
}

/// Says what the server refused (or what failed) and gives its exit code.
fn refused(error: &ClientError) -> ExitCode {
    eprintln!("modelgate: {error}");
    ExitCode::from(error.exit_code())
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
