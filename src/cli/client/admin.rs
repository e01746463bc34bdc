//! `modelgate users|tokens|webhooks …` against a server (admin; a user may
//! manage their own tokens). The direct-database commands that need no
//! server are under `modelgate db …`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::output::View;
use super::{Common, delete, limit_in_range, paged, remove};
use crate::db::enums::Role;
use crate::domain::types::percent_encode_segment as enc;

const USER: View = View::one("username");
const USERS: View = View::list(
    "users",
    &[
        ("USERNAME", "username"),
        ("ROLE", "role"),
        ("DISABLED", "disabled"),
        ("CREATED", "creation_timestamp"),
        ("UPDATED", "last_updated_timestamp"),
    ],
    "username",
);
const TOKEN: View = View::one("id");
const TOKENS: View = View::list(
    "tokens",
    &[
        ("ID", "id"),
        ("NAME", "name"),
        ("USER", "username"),
        ("CREATED BY", "created_by"),
        ("EXPIRES", "expires_at"),
        ("REVOKED", "revoked_at"),
    ],
    "id",
);
const WEBHOOK: View = View::one("id");
const WEBHOOKS: View = View::list(
    "webhooks",
    &[
        ("ID", "id"),
        ("URL", "url"),
        ("EVENTS", "events"),
        ("MODEL", "model"),
        ("ENABLED", "enabled"),
        ("DESCRIPTION", "description"),
    ],
    "id",
);
const DELIVERIES: View = View::list(
    "deliveries",
    &[
        ("ID", "id"),
        ("EVENT", "event_id"),
        ("TYPE", "event_type"),
        ("STATE", "state"),
        ("ATTEMPTS", "attempts"),
        ("LAST STATUS", "last_status"),
        ("NEXT ATTEMPT", "next_attempt_at"),
        ("LAST ERROR", "last_error"),
    ],
    "id",
);

/// A password: the first line of standard input with `--password-stdin`,
/// else asked for twice on the terminal without echo.
pub(super) fn password(from_stdin: bool, confirm_it: bool) -> Result<String, ExitCode> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| super::failed(&format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").map_err(|e| {
            super::failed(&format!(
                "cannot ask for a password ({e}): pass --password-stdin"
            ))
        })?;
        if confirm_it {
            let again = rpassword::prompt_password("Password again: ")
                .map_err(|e| super::failed(&format!("cannot ask for a password: {e}")))?;
            if again != first {
                return Err(super::failed(&"the passwords differ"));
            }
        }
        first
    };
    if password.is_empty() {
        return Err(super::failed(&"the password is empty"));
    }
    Ok(password)
}

/// `modelgate users …` (admin).
#[derive(Debug, Args)]
pub struct Users {
    #[command(subcommand)]
    verb: UserVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum UserVerb {
    /// List users.
    #[command(after_help = "Example:\n  modelgate users list")]
    List {
        /// The most users to print.
        #[arg(long, default_value = "1000", value_parser = limit_in_range)]
        limit: usize,
    },
    /// Show a user.
    #[command(after_help = "Example:\n  modelgate users get april")]
    Get {
        /// Login name.
        username: String,
    },
    /// Create a user; the password is asked for (twice), or read from standard input.
    #[command(
        after_help = "Examples:\n  modelgate users create april --role approver\n  echo \"$CI_BOT_PASSWORD\" | modelgate users create ci-bot --role contributor --password-stdin"
    )]
    Create {
        /// Login name.
        username: String,
        /// viewer, contributor, approver or admin.
        #[arg(long)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role, password or disabled flag.
    #[command(
        after_help = "Examples:\n  modelgate users update april --role admin\n  modelgate users update bob --disable\n  echo \"$NEW\" | modelgate users update ci-bot --password-stdin"
    )]
    Update {
        /// Login name.
        username: String,
        /// The new role.
        #[arg(long)]
        role: Option<Role>,
        /// Disable: no login, and its tokens stop working.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable again.
        #[arg(long)]
        enable: bool,
        /// Set a new password (asked for on the terminal).
        #[arg(long, conflicts_with = "password_stdin")]
        password: bool,
        /// Set a new password read from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user and its pipeline tokens (asks first, unless --yes).
    #[command(after_help = "Example:\n  modelgate users delete bob --yes")]
    Delete {
        /// Login name.
        username: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

impl Users {
    /// Calls the server and prints the user(s).
    pub fn run(self) -> ExitCode {
        let common = &self.common;
        let path = |name: &str| format!("/api/v1/users/{}", enc(name));
        match self.verb {
            UserVerb::List { limit } => {
                common.show(&USERS, |c| paged(c, "/api/v1/users", "users", limit))
            }
            UserVerb::Get { username } => {
                common.show(&USER, |c| c.call("GET", &path(&username), None))
            }
            UserVerb::Create {
                username,
                role,
                password_stdin,
            } => {
                let password = match password(password_stdin, true) {
                    Ok(password) => password,
                    Err(code) => return code,
                };
                let body = json!({"username": username, "password": password, "role": role});
                common.show(&USER, |c| c.call("POST", "/api/v1/users", Some(&body)))
            }
            UserVerb::Update {
                username,
                role,
                disable,
                enable,
                password: ask,
                password_stdin,
            } => {
                let mut body = serde_json::Map::new();
                if let Some(role) = role {
                    body.insert("role".to_owned(), json!(role));
                }
                if disable || enable {
                    body.insert("disabled".to_owned(), Value::Bool(disable));
                }
                if ask || password_stdin {
                    match password(password_stdin, true) {
                        Ok(password) => body.insert("password".to_owned(), Value::String(password)),
                        Err(code) => return code,
                    };
                }
                if body.is_empty() {
                    return super::failed(
                        &"nothing to change: give --role, --disable, --enable, --password or --password-stdin",
                    );
                }
                let body = Value::Object(body);
                common.show(&USER, |c| c.call("PATCH", &path(&username), Some(&body)))
            }
            UserVerb::Delete { username, yes } => delete(
                common,
                &path(&username),
                &format!("user '{username}' and its tokens"),
                yes,
            ),
        }
    }
}

/// `modelgate tokens …`: pipeline tokens.
#[derive(Debug, Args)]
pub struct Tokens {
    #[command(subcommand)]
    verb: TokenVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum TokenVerb {
    /// List pipeline tokens (an admin sees everyone's, others their own).
    #[command(after_help = "Example:\n  modelgate tokens list")]
    List {
        /// The most tokens to print.
        #[arg(long, default_value = "1000", value_parser = limit_in_range)]
        limit: usize,
    },
    /// Show one token (never its value).
    #[command(after_help = "Example:\n  modelgate tokens get 4")]
    Get {
        /// The token's id.
        id: i64,
    },
    /// Create a pipeline token; its value is printed this once (`-q`: only the value).
    #[command(
        after_help = "Example:\n  MODELGATE_TOKEN=$(modelgate tokens create fraud-pipeline --user ci-bot --expires-in-days 30 -q)"
    )]
    Create {
        /// What it is for.
        name: String,
        /// The user it acts as (default: you; another user: admin only).
        #[arg(long)]
        user: Option<String>,
        /// Lifetime in days, 1–3650 (default 90).
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Revoke a token at once.
    #[command(after_help = "Example:\n  modelgate tokens revoke 4")]
    Revoke {
        /// The token's id.
        id: i64,
    },
}

impl Tokens {
    /// Calls the server and prints the token(s).
    pub fn run(self) -> ExitCode {
        let common = &self.common;
        match self.verb {
            TokenVerb::List { limit } => {
                common.show(&TOKENS, |c| paged(c, "/api/v1/tokens", "tokens", limit))
            }
            TokenVerb::Get { id } => common.show(&TOKEN, |c| {
                c.call("GET", &format!("/api/v1/tokens/{id}"), None)
            }),
            TokenVerb::Create {
                name,
                user,
                expires_in_days,
            } => {
                let body =
                    json!({"name": name, "username": user, "expires_in_days": expires_in_days});
                common.show(&View::one("token"), |c| {
                    c.call("POST", "/api/v1/tokens", Some(&body))
                })
            }
            TokenVerb::Revoke { id } => remove(
                common,
                &format!("/api/v1/tokens/{id}"),
                &format!("token {id}"),
                true,
                "revoked",
            ),
        }
    }
}

/// `modelgate webhooks …` (admin).
#[derive(Debug, Args)]
pub struct Webhooks {
    #[command(subcommand)]
    verb: WebhookVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum WebhookVerb {
    /// List subscriptions.
    #[command(after_help = "Example:\n  modelgate webhooks list")]
    List {
        /// The most subscriptions to print.
        #[arg(long, default_value = "1000", value_parser = limit_in_range)]
        limit: usize,
    },
    /// Show a subscription (never its secret).
    #[command(after_help = "Example:\n  modelgate webhooks get 3")]
    Get {
        /// The subscription's id.
        id: i64,
    },
    /// Subscribe a receiver; the signing secret is printed this once (`-q`: only the secret).
    #[command(
        after_help = "Example:\n  SECRET=$(modelgate webhooks create --endpoint https://hooks.example.com/modelgate --event 'version.*' --event 'request.*' --model fraud-detector -q)"
    )]
    Create {
        /// The receiver's URL (https://, public).
        #[arg(long)]
        endpoint: String,
        /// An event type or glob, e.g. version.stage_changed or request.* (repeat for more).
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        /// Only events about this model.
        #[arg(long)]
        model: Option<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Change a subscription, or rotate its secret (the new one is printed this once).
    #[command(
        after_help = "Examples:\n  modelgate webhooks update 3 --disable\n  modelgate webhooks update 3 --rotate-secret -o json"
    )]
    Update {
        /// The subscription's id.
        id: i64,
        /// A new receiver URL.
        #[arg(long)]
        endpoint: Option<String>,
        /// New event types or globs (repeat; replaces the old list).
        #[arg(long = "event")]
        events: Vec<String>,
        /// Only events about this model.
        #[arg(long, conflicts_with = "any_model")]
        model: Option<String>,
        /// Events about every model.
        #[arg(long)]
        any_model: bool,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// Stop delivering.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Deliver again.
        #[arg(long)]
        enable: bool,
        /// A new secret; the old one signs beside it for webhooks.rotation_overlap_seconds.
        #[arg(long)]
        rotate_secret: bool,
    },
    /// Delete a subscription and its deliveries (asks first, unless --yes).
    #[command(after_help = "Example:\n  modelgate webhooks delete 3 --yes")]
    Delete {
        /// The subscription's id.
        id: i64,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Send a signed test delivery now and show what the receiver answered.
    #[command(after_help = "Example:\n  modelgate webhooks test 3")]
    Test {
        /// The subscription's id.
        id: i64,
    },
    /// A subscription's deliveries, newest first: state, attempts, last answer.
    #[command(after_help = "Example:\n  modelgate webhooks deliveries 3 --limit 20")]
    Deliveries {
        /// The subscription's id.
        id: i64,
        /// The most deliveries to print.
        #[arg(long, default_value = "100", value_parser = limit_in_range)]
        limit: usize,
    },
    /// Send a delivery again (the same webhook-id).
    #[command(after_help = "Example:\n  modelgate webhooks redeliver 3 1042")]
    Redeliver {
        /// The subscription's id.
        id: i64,
        /// The delivery's id.
        delivery: i64,
    },
}

impl Webhooks {
    /// Calls the server and prints the subscription(s) or deliveries.
    pub fn run(self) -> ExitCode {
        let common = &self.common;
        let path = |id: i64| format!("/api/v1/webhooks/{id}");
        match self.verb {
            WebhookVerb::List { limit } => common.show(&WEBHOOKS, |c| {
                paged(c, "/api/v1/webhooks", "webhooks", limit)
            }),
            WebhookVerb::Get { id } => common.show(&WEBHOOK, |c| c.call("GET", &path(id), None)),
            WebhookVerb::Create {
                endpoint,
                events,
                model,
                description,
                disabled,
            } => {
                let body = json!({
                    "url": endpoint, "events": events, "model": model,
                    "description": description, "enabled": !disabled,
                });
                common.show(&View::one("secret"), |c| {
                    c.call("POST", "/api/v1/webhooks", Some(&body))
                })
            }
            WebhookVerb::Update {
                id,
                endpoint,
                events,
                model,
                any_model,
                description,
                disable,
                enable,
                rotate_secret,
            } => {
                let mut body = serde_json::Map::new();
                if let Some(endpoint) = endpoint {
                    body.insert("url".to_owned(), Value::String(endpoint));
                }
                if !events.is_empty() {
                    body.insert("events".to_owned(), json!(events));
                }
                if let Some(model) = model {
                    body.insert("model".to_owned(), Value::String(model));
                } else if any_model {
                    body.insert("model".to_owned(), Value::Null);
                }
                if let Some(description) = description {
                    body.insert("description".to_owned(), Value::String(description));
                }
                if disable || enable {
                    body.insert("enabled".to_owned(), Value::Bool(enable));
                }
                if rotate_secret {
                    body.insert("rotate_secret".to_owned(), Value::Bool(true));
                }
                if body.is_empty() {
                    return super::failed(&"nothing to change: give what to change (see --help)");
                }
                let body = Value::Object(body);
                let key = if rotate_secret { "secret" } else { "id" };
                common.show(&View::one(key), |c| c.call("PATCH", &path(id), Some(&body)))
            }
            WebhookVerb::Delete { id, yes } => delete(
                common,
                &path(id),
                &format!("webhook {id} and its deliveries"),
                yes,
            ),
            WebhookVerb::Test { id } => common.show(&View::one("status"), |c| {
                c.call("POST", &format!("{}/test", path(id)), Some(&json!({})))
            }),
            WebhookVerb::Deliveries { id, limit } => {
                let deliveries = format!("{}/deliveries", path(id));
                common.show(&DELIVERIES, |c| paged(c, &deliveries, "deliveries", limit))
            }
            WebhookVerb::Redeliver { id, delivery } => {
                let redeliver = format!("{}/deliveries/{delivery}/redeliver", path(id));
                common.show(&View::one("id"), |c| {
                    c.call("POST", &redeliver, Some(&json!({})))
                })
            }
        }
    }
}
