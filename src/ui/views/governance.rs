//! What the audit and policy pages show.

use askama::Template;

use super::{StageBadge, machine_time, model_href, version_href, when};
use crate::ui::Viewer;

/// An event in the audit feed.
#[derive(Debug, Clone)]
pub struct EventItem {
    /// Position in the chain.
    pub id: i64,
    /// When.
    pub at: String,
    /// When, for machines.
    pub at_iso: String,
    /// Its type.
    pub event_type: String,
    /// The model concerned and its page.
    pub model: Option<(String, String)>,
    /// The version concerned and its page.
    pub version: Option<(i64, String)>,
    /// Who.
    pub actor: String,
    /// The payload, compact.
    pub details: String,
    /// The start of its chain hash.
    pub hash: String,
}

impl From<crate::domain::events::Event> for EventItem {
    fn from(e: crate::domain::events::Event) -> Self {
        let mut details = e.payload.to_string();
        if details.chars().count() > 240 {
            details = details.chars().take(240).collect::<String>() + "…";
        }
        EventItem {
            id: e.id,
            at: when(e.timestamp),
            at_iso: machine_time(e.timestamp),
            version: match (&e.model_name, e.version) {
                (Some(name), Some(v)) => Some((v, version_href(name, v))),
                _ => None,
            },
            model: e.model_name.map(|name| {
                let href = model_href(&name);
                (name, href)
            }),
            event_type: e.event_type,
            actor: e.actor,
            details,
            hash: e.hash.chars().take(12).collect(),
        }
    }
}

/// The audit page.
#[derive(Template)]
#[template(path = "audit.html", config = "src/ui/askama.toml")]
pub struct AuditPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The model filter, as typed.
    pub model: String,
    /// The type filter, as typed.
    pub event_type: String,
    /// From, as typed.
    pub since: String,
    /// To, as typed.
    pub until: String,
    /// This page of events, oldest first.
    pub events: Vec<EventItem>,
    /// The next page's address.
    pub next: Option<String>,
    /// The chain's head.
    pub head_id: i64,
    /// Its hash.
    pub head_hash: String,
    /// The newest signed checkpoint: the event it covers and when.
    pub checkpoint: Option<(i64, String)>,
    /// A verification just run: whether it held, and what it found.
    pub verdict: Option<(bool, String)>,
    /// Whether the viewer may run one.
    pub can_verify: bool,
}

/// A rule on the policy page.
#[derive(Debug, Clone)]
pub struct RuleItem {
    /// From.
    pub from: StageBadge,
    /// To.
    pub to: StageBadge,
    /// The lowest role that moves directly.
    pub direct: String,
    /// Approvals a request needs.
    pub approvals: u32,
    /// Whether it is the gate into a guarded stage.
    pub gate: bool,
}

/// The policy page.
#[derive(Template)]
#[template(path = "policy.html", config = "src/ui/askama.toml")]
pub struct PolicyPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The rules.
    pub rules: Vec<RuleItem>,
    /// Guarded stages and their gates, described.
    pub guards: Vec<(String, String)>,
    /// Alias rules: alias, direct role, approvals, required stage.
    pub alias_rules: Vec<(String, String, u32, String)>,
    /// The stage graph (SVG, made on the server).
    pub graph: String,
}
