//! `modelgate login|logout|whoami`: a token per server, kept in the
//! credentials file, so the other commands need no `--token`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::credentials::{self, Credentials};
use super::http::{Client, ClientError};
use super::output::View;
use super::{Common, admin, failed, refused};

/// `modelgate login`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  modelgate login --url https://modelgate.internal --username april\n  echo \"$CI_PASSWORD\" | modelgate login --url https://modelgate.internal --username ci-bot --password-stdin\n  modelgate login --url https://modelgate.internal --token \"$PIPELINE_TOKEN\""
)]
pub struct Login {
    /// Server URL (default: MODELGATE_URL, else the server you logged in to last, else http://127.0.0.1:8080).
    #[arg(long, env = "MODELGATE_URL")]
    url: Option<String>,
    /// Login name (asked for when not given).
    #[arg(long, short = 'u', conflicts_with = "token")]
    username: Option<String>,
    /// Read the password from the first line of standard input (otherwise it is asked for, without echo).
    #[arg(long, conflicts_with = "token")]
    password_stdin: bool,
    /// Keep this token (a pipeline token) instead of logging in with a password.
    #[arg(long)]
    token: Option<String>,
}

impl Login {
    /// Gets or checks the token, stores it for the server, says who you are.
    pub fn run(self) -> ExitCode {
        let mut stored = match Credentials::load() {
            Ok(stored) => stored,
            Err(error) => return failed(&error),
        };
        let url = stored.server(self.url.as_deref());
        let token = match self.token.as_deref().map(str::trim) {
            Some("") => return failed(&"--token is empty"),
            Some(token) => token.to_owned(),
            None => match self.password_login(&url) {
                Ok(token) => token,
                Err(code) => return code,
            },
        };
        let me = match Client::new(&url, &token).call("GET", "/api/v1/me", None) {
            Ok(me) => me,
            Err(ClientError::Api {
                status: 401,
                message,
                ..
            }) => {
                return refusal(&format!("{url} refused the token: {message}"));
            }
            Err(error) => return refused(&error),
        };
        let login = credentials::Login {
            token,
            username: me["username"].as_str().unwrap_or_default().to_owned(),
            token_kind: me["token_kind"].as_str().unwrap_or_default().to_owned(),
            expires_at: me["token_expires_at"].as_i64().unwrap_or_default(),
        };
        let said = format!(
            "Logged in to {url} as {} ({}); the {} token expires {}",
            login.username,
            me["role"].as_str().unwrap_or_default(),
            login.token_kind,
            crate::domain::history::format_instant(login.expires_at),
        );
        stored.servers.insert(url.clone(), login);
        stored.current = Some(url);
        match stored.save() {
            Ok(path) => {
                outln!("{said} (kept in {})", path.display());
                ExitCode::SUCCESS
            }
            Err(error) => failed(&error),
        }
    }

    /// Exchanges a username and password for a login token.
    fn password_login(&self, url: &str) -> Result<String, ExitCode> {
        let username = match &self.username {
            Some(username) => username.clone(),
            None if self.password_stdin || !std::io::stdin().is_terminal() => {
                return Err(failed(
                    &"give --username (standard input is not a terminal to ask on)",
                ));
            }
            None => {
                eprint!("Username: ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                line.trim().to_owned()
            }
        };
        let password = admin::password(self.password_stdin, false)?;
        let body = json!({"username": username, "password": password});
        match Client::anonymous(url).call("POST", "/api/v1/auth/token", Some(&body)) {
            Ok(answer) => answer["access_token"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| failed(&format!("{url} answered the login without a token"))),
            Err(ClientError::Api {
                status: 401,
                message,
                ..
            }) => Err(refusal(&message)),
            Err(error) => Err(refused(&error)),
        }
    }
}

/// A refusal of the login itself (wrong password, a bad token): exit 1.
fn refusal(message: &str) -> ExitCode {
    eprintln!("modelgate: {message}");
    ExitCode::from(1)
}

/// `modelgate logout`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  modelgate logout --url https://modelgate.internal")]
pub struct Logout {
    /// Server URL (default: MODELGATE_URL, else the server you logged in to last).
    #[arg(long, env = "MODELGATE_URL")]
    url: Option<String>,
}

impl Logout {
    /// Forgets the server's token.
    pub fn run(self) -> ExitCode {
        let mut stored = match Credentials::load() {
            Ok(stored) => stored,
            Err(error) => return failed(&error),
        };
        let url = stored.server(self.url.as_deref());
        if stored.servers.remove(&url).is_none() {
            outln!("Not logged in to {url}");
            return ExitCode::SUCCESS;
        }
        if stored.current.as_deref() == Some(url.as_str()) {
            stored.current = None;
        }
        match stored.save() {
            Ok(_) => {
                outln!("Logged out of {url}");
                ExitCode::SUCCESS
            }
            Err(error) => failed(&error),
        }
    }
}

/// `modelgate whoami`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  modelgate whoami")]
pub struct Whoami {
    #[command(flatten)]
    common: Common,
}

impl Whoami {
    /// Asks the server who the token belongs to.
    pub fn run(self) -> ExitCode {
        self.common.show(&View::one("username"), |client| {
            let mut me = client.call("GET", "/api/v1/me", None)?;
            if let Value::Object(fields) = &mut me {
                fields.insert("url".to_owned(), Value::String(client.base().to_owned()));
            }
            Ok(me)
        })
    }
}
