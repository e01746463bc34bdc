//! `modelgate events list [--follow]`, `modelgate policy show` and
//! `modelgate audit checkpoints`: what happened, and the rules it happened
//! under.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::output::{Format, View, table};
use super::{Common, limit_in_range, paged, refused};
use crate::domain::types::percent_encode_segment as enc;

const EVENT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("WHEN", "timestamp"),
    ("TYPE", "event_type"),
    ("MODEL", "model_name"),
    ("VERSION", "version"),
    ("ACTOR", "actor"),
];
const EVENTS: View = View::list("events", EVENT_COLUMNS, "id");
/// How often `--follow` asks for new events.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// `modelgate events list`.
#[derive(Debug, Args)]
pub struct Events {
    #[command(subcommand)]
    verb: EventVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum EventVerb {
    /// The event feed, oldest first; `--follow` keeps printing new events as they happen.
    #[command(
        after_help = "Examples:\n  modelgate events list --model fraud-detector --type version.stage_changed\n  modelgate events list --follow --after 1042 --output json   # one JSON event per line"
    )]
    List {
        /// Only events about this model.
        #[arg(long)]
        model: Option<String>,
        /// Only events of this type, e.g. version.stage_changed.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only events after this id (the last one you saw).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// The most events to print (without --follow).
        #[arg(long, default_value = "100", value_parser = limit_in_range)]
        limit: usize,
        /// Keep going: print new events as they are recorded, until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
    },
}

impl Events {
    /// Prints the feed, or follows it.
    pub fn run(self) -> ExitCode {
        let EventVerb::List {
            model,
            event_type,
            after,
            limit,
            follow,
        } = self.verb;
        let mut filters = String::new();
        if let Some(model) = &model {
            filters.push_str(&format!("&model={}", enc(model)));
        }
        if let Some(event_type) = &event_type {
            filters.push_str(&format!("&type={}", enc(event_type)));
        }
        if !follow {
            let path = format!("/api/v1/events?after={after}{filters}");
            return self
                .common
                .show(&EVENTS, |c| paged(c, &path, "events", limit));
        }
        let client = match self.common.server.connect() {
            Ok(client) => client,
            Err(code) => return code,
        };
        let output = &self.common.output;
        if output.format() == Format::Table && !output.quiet() {
            out!("{}", table(&[], EVENT_COLUMNS));
        }
        let mut last = after;
        loop {
            let path = format!("/api/v1/events?after={last}{filters}&max_results=1000");
            let events = match client.call("GET", &path, None) {
                Ok(mut page) => page.get_mut("events").map(Value::take).unwrap_or_default(),
                Err(error) => return refused(&error),
            };
            let events = events.as_array().map_or(&[][..], Vec::as_slice);
            for event in events {
                out!("{}", follow_line(output, event));
            }
            if let Some(id) = events.last().and_then(|e| e["id"].as_i64()) {
                last = id;
            } else {
                std::thread::sleep(FOLLOW_EVERY);
            }
        }
    }
}

/// One followed event: a table row (no header), a JSON line, or its id.
fn follow_line(output: &super::OutputArgs, event: &Value) -> String {
    if output.quiet() {
        return format!("{}\n", event["id"]);
    }
    match output.format() {
        Format::Json => format!("{event}\n"),
        Format::Table => table(std::slice::from_ref(event), EVENT_COLUMNS)
            .lines()
            .nth(1)
            .map(|row| format!("{row}\n"))
            .unwrap_or_default(),
    }
}

/// `modelgate policy show`: the lifecycle rules the server enforces.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  modelgate policy show --url https://modelgate.internal")]
pub struct PolicyShow {
    #[command(flatten)]
    common: Common,
}

impl PolicyShow {
    /// Prints the rules, guards and alias rules.
    pub fn run(self) -> ExitCode {
        let output = &self.common.output;
        if output.quiet() || output.format() == Format::Json {
            return self.common.show(&View::one("rules"), |c| {
                c.call("GET", "/api/v1/policy", None)
            });
        }
        let client = match self.common.server.connect() {
            Ok(client) => client,
            Err(code) => return code,
        };
        match client.call("GET", "/api/v1/policy", None) {
            Ok(policy) => {
                out!("{}", policy_tables(&policy));
                ExitCode::SUCCESS
            }
            Err(error) => refused(&error),
        }
    }
}

fn rows(value: &Value) -> &[Value] {
    value.as_array().map_or(&[][..], Vec::as_slice)
}

/// The policy as three tables: stage rules, guarded stages, alias rules.
fn policy_tables(policy: &Value) -> String {
    let rules = table(
        rows(&policy["rules"]),
        &[
            ("FROM", "from"),
            ("TO", "to"),
            ("DIRECT", "direct"),
            ("APPROVALS", "approvals"),
        ],
    );
    let guards: Vec<Value> = rows(&policy["guards"])
        .iter()
        .map(|guard| {
            let gate = rows(&guard["gate"])
                .iter()
                .map(|rule| {
                    format!(
                        "{} → {}",
                        super::output::cell("", &rule["from"]),
                        super::output::cell("", &rule["to"])
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            serde_json::json!({"stage": guard["stage"], "gate": gate})
        })
        .collect();
    let guards = table(&guards, &[("GUARDED STAGE", "stage"), ("GATE", "gate")]);
    let aliases = table(
        rows(&policy["alias_rules"]),
        &[
            ("ALIAS", "alias"),
            ("DIRECT", "direct"),
            ("APPROVALS", "approvals"),
            ("STAGE", "stage"),
        ],
    );
    format!("{rules}\n{guards}\n{aliases}")
}

/// `modelgate audit checkpoints`: the signed checkpoints, to keep elsewhere.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  modelgate audit checkpoints --output json > kept/checkpoints.json\n  modelgate audit verify --checkpoint kept/checkpoints.json   # on the server's host"
)]
pub struct Checkpoints {
    /// The most checkpoints to print.
    #[arg(long, default_value = "1000", value_parser = limit_in_range)]
    limit: usize,
    #[command(flatten)]
    common: Common,
}

impl Checkpoints {
    /// Prints the checkpoints, oldest first.
    pub fn run(self) -> ExitCode {
        let view = View::list(
            "checkpoints",
            &[
                ("ID", "id"),
                ("EVENT", "event_id"),
                ("HASH", "event_hash"),
                ("SIGNED", "created_at"),
            ],
            "id",
        );
        let limit = self.limit;
        self.common.show(&view, |c| {
            paged(c, "/api/v1/audit/checkpoints", "checkpoints", limit)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_policy_prints_as_rules_guards_and_alias_rules() {
        let policy = json!({
            "rules": [{"from": "Staging", "to": "Production", "direct": "admin", "approvals": 2}],
            "guards": [{"stage": "Production", "gate": [{"from": "Staging", "to": "Production"}]}],
            "alias_rules": [{"alias": "champion", "direct": "admin", "approvals": 1, "stage": "Production"}],
        });
        assert_eq!(
            policy_tables(&policy),
            "FROM     TO          DIRECT  APPROVALS\n\
             Staging  Production  admin   2\n\
             \n\
             GUARDED STAGE  GATE\n\
             Production     Staging → Production\n\
             \n\
             ALIAS     DIRECT  APPROVALS  STAGE\n\
             champion  admin   1          Production\n"
        );
    }
}
