//! What the pages show: one template struct per page (templates under
//! `src/ui/templates/`, compiled in), and the rows they list, with every
//! value already in the form a person reads.

use askama::Template;

use crate::db::enums::{ActivityType, RequestStatus, Stage};
use crate::domain::lifecycle::Activity;
use crate::domain::models::RegisteredModel;
use crate::domain::requests::TransitionRequest;
use crate::domain::types::percent_encode_segment as enc;
use crate::domain::versions::ModelVersion;

use super::{PREFIX, Viewer};

/// Milliseconds since the epoch as a person reads them (UTC, to the minute).
pub fn when(ms: i64) -> String {
    use time::OffsetDateTime;
    use time::macros::format_description;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// The same instant for machines (`<time datetime>`).
pub fn machine_time(ms: i64) -> String {
    crate::domain::history::format_instant(ms)
}

/// A model's page.
pub fn model_href(name: &str) -> String {
    format!("{PREFIX}/models/{}", enc(name))
}

/// A version's page.
pub fn version_href(name: &str, version: i64) -> String {
    format!("{PREFIX}/models/{}/versions/{version}", enc(name))
}

/// A request's page.
pub fn request_href(id: i64) -> String {
    format!("{PREFIX}/requests/{id}")
}

/// The CSS class of a stage's badge.
pub fn stage_class(stage: Stage) -> &'static str {
    match stage {
        Stage::None => "stage stage-none",
        Stage::Staging => "stage stage-staging",
        Stage::Production => "stage stage-production",
        Stage::Archived => "stage stage-archived",
    }
}

/// A stage with its badge class.
#[derive(Debug, Clone)]
pub struct StageBadge {
    /// The stage's name.
    pub name: String,
    /// CSS class.
    pub class: &'static str,
}

impl From<Stage> for StageBadge {
    fn from(stage: Stage) -> Self {
        StageBadge {
            name: stage.as_str().to_owned(),
            class: stage_class(stage),
        }
    }
}

/// A model in a list.
#[derive(Debug, Clone)]
pub struct ModelItem {
    /// Name.
    pub name: String,
    /// Its page.
    pub href: String,
    /// Description (may be empty).
    pub description: String,
    /// The newest version in each stage that has one.
    pub latest: Vec<(StageBadge, i64, String)>,
    /// Aliases and their versions.
    pub aliases: Vec<(String, i64)>,
    /// Last change.
    pub updated: String,
    /// Last change, for machines.
    pub updated_iso: String,
}

impl From<RegisteredModel> for ModelItem {
    fn from(model: RegisteredModel) -> Self {
        ModelItem {
            href: model_href(&model.name),
            latest: model
                .latest_versions
                .iter()
                .map(|v| {
                    (
                        StageBadge::from(v.current_stage),
                        v.version,
                        version_href(&v.name, v.version),
                    )
                })
                .collect(),
            aliases: model.aliases.into_iter().collect(),
            description: model.description.unwrap_or_default(),
            updated: when(model.last_updated_timestamp),
            updated_iso: machine_time(model.last_updated_timestamp),
            name: model.name,
        }
    }
}

/// A version in a list or on its page.
#[derive(Debug, Clone)]
pub struct VersionItem {
    /// The model's name.
    pub name: String,
    /// Number.
    pub version: i64,
    /// Its page.
    pub href: String,
    /// Stage.
    pub stage: StageBadge,
    /// Where the artifacts are.
    pub source: String,
    /// The training run.
    pub run_id: String,
    /// A link to the run, when it is a web address.
    pub run_link: Option<String>,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Aliases naming it.
    pub aliases: Vec<String>,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created: String,
    /// When, for machines.
    pub created_iso: String,
    /// Last change.
    pub updated: String,
    /// Last change, for machines.
    pub updated_iso: String,
}

impl From<ModelVersion> for VersionItem {
    fn from(v: ModelVersion) -> Self {
        VersionItem {
            href: version_href(&v.name, v.version),
            stage: v.current_stage.into(),
            run_link: v
                .run_link
                .filter(|link| link.starts_with("https://") || link.starts_with("http://")),
            run_id: v.run_id.unwrap_or_default(),
            description: v.description.unwrap_or_default(),
            tags: v.tags.into_iter().collect(),
            aliases: v.aliases,
            created: when(v.creation_timestamp),
            created_iso: machine_time(v.creation_timestamp),
            updated: when(v.last_updated_timestamp),
            updated_iso: machine_time(v.last_updated_timestamp),
            created_by: v.created_by,
            source: v.source,
            version: v.version,
            name: v.name,
        }
    }
}

/// One entry of a version's trail.
#[derive(Debug, Clone)]
pub struct TrailItem {
    /// What happened, in words.
    pub what: String,
    /// The kind (APPLIED_TRANSITION, …).
    pub kind: String,
    /// Who.
    pub user: String,
    /// When.
    pub at: String,
    /// When, for machines.
    pub at_iso: String,
    /// Their comment.
    pub comment: String,
    /// The request it belongs to.
    pub request: Option<(i64, String)>,
}

impl From<Activity> for TrailItem {
    fn from(a: Activity) -> Self {
        let stages = match (a.from_stage, a.to_stage) {
            (Some(from), Some(to)) => format!("{from} → {to}"),
            (None, Some(to)) => format!("→ {to}"),
            _ => String::new(),
        };
        let what = match a.activity_type {
            ActivityType::AppliedTransition => format!("Moved {stages}"),
            ActivityType::SystemTransition => format!("Archived by another promotion {stages}"),
            ActivityType::RequestedTransition => format!("Requested {stages}"),
            ActivityType::ApprovedRequest => "Approved the request".to_owned(),
            ActivityType::RejectedRequest => "Rejected the request".to_owned(),
            ActivityType::CancelledRequest => "Cancelled the request".to_owned(),
            ActivityType::AliasSet => "Alias set on this version".to_owned(),
            ActivityType::AliasRemoved => "Alias taken off this version".to_owned(),
        };
        TrailItem {
            what,
            kind: a.activity_type.to_string(),
            user: a.user,
            at: when(a.timestamp),
            at_iso: machine_time(a.timestamp),
            comment: a.comment.unwrap_or_default(),
            request: a.request_id.map(|id| (id, request_href(id))),
        }
    }
}

/// A transition request in a list or on its page.
#[derive(Debug, Clone)]
pub struct RequestItem {
    /// Id.
    pub id: i64,
    /// Its page.
    pub href: String,
    /// The model's name.
    pub name: String,
    /// The model's page.
    pub model_href: String,
    /// The version.
    pub version: i64,
    /// The version's page.
    pub version_href: String,
    /// From.
    pub from: StageBadge,
    /// To.
    pub to: StageBadge,
    /// An alias request's alias.
    pub alias: Option<String>,
    /// Archive the versions in the target stage.
    pub archive: bool,
    /// Status.
    pub status: String,
    /// Whether it still waits.
    pub pending: bool,
    /// Who asked.
    pub requested_by: String,
    /// Their comment.
    pub comment: String,
    /// Approvals needed.
    pub required: i64,
    /// Approvals so far: who, when, comment.
    pub approvals: Vec<(String, String, String)>,
    /// Who decided it, and their comment.
    pub decided_by: String,
    /// The decision's comment.
    pub decision_comment: String,
    /// Opened.
    pub created: String,
    /// Opened, for machines.
    pub created_iso: String,
}

impl From<TransitionRequest> for RequestItem {
    fn from(r: TransitionRequest) -> Self {
        RequestItem {
            href: request_href(r.id),
            model_href: model_href(&r.name),
            version_href: version_href(&r.name, r.version),
            from: r.from_stage.into(),
            to: r.to_stage.into(),
            archive: r.archive_existing_versions,
            status: r.status.as_str().to_owned(),
            pending: r.status == RequestStatus::Pending,
            required: r.required_approvals,
            approvals: r
                .approvals
                .into_iter()
                .map(|a| (a.user, when(a.timestamp), a.comment.unwrap_or_default()))
                .collect(),
            decided_by: r.decided_by.unwrap_or_default(),
            decision_comment: r.decision_comment.unwrap_or_default(),
            created: when(r.creation_timestamp),
            created_iso: machine_time(r.creation_timestamp),
            comment: r.comment.unwrap_or_default(),
            requested_by: r.requested_by,
            alias: r.alias,
            version: r.version,
            name: r.name,
            id: r.id,
        }
    }
}

/// An error page (no navigation: it may come before any sign-in).
#[derive(Template)]
#[template(path = "error.html", config = "src/ui/askama.toml")]
pub struct ErrorPage {
    /// HTTP status.
    pub status: u16,
    /// Its reason.
    pub title: String,
    /// What went wrong.
    pub message: String,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "signin.html", config = "src/ui/askama.toml")]
pub struct SignInPage {
    /// Where to go after signing in.
    pub next: String,
    /// The form's CSRF token.
    pub csrf: String,
    /// Why the last attempt failed.
    pub problem: Option<String>,
}

/// The models list.
#[derive(Template)]
#[template(path = "models.html", config = "src/ui/askama.toml")]
pub struct ModelsPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The search, as typed.
    pub filter: String,
    /// This page's models.
    pub models: Vec<ModelItem>,
    /// The next page's address.
    pub next: Option<String>,
    /// Whether this is the first page.
    pub first: bool,
}

/// A model's page.
#[derive(Template)]
#[template(path = "model.html", config = "src/ui/askama.toml")]
pub struct ModelPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The model.
    pub model: ModelItem,
    /// Its tags.
    pub tags: Vec<(String, String)>,
    /// Created.
    pub created: String,
    /// This page of versions.
    pub versions: Vec<VersionItem>,
    /// The stage filter ("" for all).
    pub stage: String,
    /// The stages to filter by.
    pub stages: Vec<&'static str>,
    /// The next page's address.
    pub next: Option<String>,
    /// Whether this is the first page.
    pub first: bool,
}

/// A version's page.
#[derive(Template)]
#[template(path = "version.html", config = "src/ui/askama.toml")]
pub struct VersionPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The version.
    pub version: VersionItem,
    /// The model's page.
    pub model_href: String,
    /// Its trail, oldest first.
    pub trail: Vec<TrailItem>,
    /// Its pending requests.
    pub pending: Vec<RequestItem>,
    /// The stages the policy has a rule to move it to (for the request form).
    pub targets: Vec<&'static str>,
    /// Whether the viewer may open a request.
    pub can_request: bool,
    /// Where the request form posts.
    pub request_action: String,
}

/// The requests inbox.
#[derive(Template)]
#[template(path = "requests.html", config = "src/ui/askama.toml")]
pub struct InboxPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// Whether the viewer approves at all.
    pub approver: bool,
    /// Pending requests the viewer may approve.
    pub awaiting: Vec<RequestItem>,
    /// The viewer's own requests, newest first.
    pub mine: Vec<RequestItem>,
}

/// A request's page.
#[derive(Template)]
#[template(path = "request.html", config = "src/ui/askama.toml")]
pub struct RequestPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The request.
    pub request: RequestItem,
    /// Whether the viewer may approve or reject it now.
    pub can_decide: bool,
    /// Whether the viewer may cancel it now.
    pub can_cancel: bool,
    /// Why the viewer cannot decide, when pending.
    pub why_not: String,
}

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

/// A user on the admin page.
#[derive(Debug, Clone)]
pub struct UserItem {
    /// Login name.
    pub username: String,
    /// Its address.
    pub href: String,
    /// Role.
    pub role: String,
    /// Disabled.
    pub disabled: bool,
    /// Created.
    pub created: String,
}

impl From<crate::domain::users::User> for UserItem {
    fn from(u: crate::domain::users::User) -> Self {
        UserItem {
            href: format!("{PREFIX}/admin/users/{}", enc(&u.username)),
            role: u.role.as_str().to_owned(),
            disabled: u.disabled,
            created: when(u.creation_timestamp),
            username: u.username,
        }
    }
}

/// The users page.
#[derive(Template)]
#[template(path = "users.html", config = "src/ui/askama.toml")]
pub struct UsersPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The users.
    pub users: Vec<UserItem>,
    /// Every role.
    pub roles: Vec<&'static str>,
    /// Whether more users exist than shown.
    pub more: bool,
}

/// A pipeline token on the admin page (never its value).
#[derive(Debug, Clone)]
pub struct TokenItem {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Whose.
    pub username: String,
    /// Created by.
    pub created_by: String,
    /// Created.
    pub created: String,
    /// Expires.
    pub expires: String,
    /// Revoked, when.
    pub revoked: String,
    /// Where its revoke form posts.
    pub revoke_action: String,
}

impl From<crate::domain::tokens::ApiToken> for TokenItem {
    fn from(t: crate::domain::tokens::ApiToken) -> Self {
        TokenItem {
            revoke_action: format!("{PREFIX}/admin/tokens/{}/revoke", t.id),
            id: t.id,
            created: when(t.creation_timestamp),
            expires: when(t.expires_at),
            revoked: t.revoked_at.map(when).unwrap_or_default(),
            name: t.name,
            username: t.username,
            created_by: t.created_by,
        }
    }
}

/// The tokens page.
#[derive(Template)]
#[template(path = "tokens.html", config = "src/ui/askama.toml")]
pub struct TokensPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The tokens, newest first.
    pub tokens: Vec<TokenItem>,
    /// A token just created: name, value (shown this once), user.
    pub created: Option<(String, String, String)>,
    /// Whether more tokens exist than shown.
    pub more: bool,
    /// The default lifetime in days.
    pub default_days: i64,
}

/// One compared field: its label, the two values, and whether they differ.
#[derive(Debug, Clone)]
pub struct CompareRow {
    /// What.
    pub label: String,
    /// The left version's value.
    pub a: String,
    /// The right version's value.
    pub b: String,
    /// Whether they differ.
    pub differs: bool,
}

impl CompareRow {
    /// A row.
    pub fn new(label: impl Into<String>, a: impl Into<String>, b: impl Into<String>) -> Self {
        let (a, b) = (a.into(), b.into());
        CompareRow {
            label: label.into(),
            differs: a != b,
            a,
            b,
        }
    }
}

/// Two versions side by side.
#[derive(Template)]
#[template(path = "compare.html", config = "src/ui/askama.toml")]
pub struct ComparePage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The model.
    pub name: String,
    /// The model's page.
    pub model_href: String,
    /// The left version.
    pub a: VersionItem,
    /// The right version.
    pub b: VersionItem,
    /// Metadata, stages and tags, row by row.
    pub rows: Vec<CompareRow>,
    /// The left version's trail.
    pub trail_a: Vec<TrailItem>,
    /// The right version's trail.
    pub trail_b: Vec<TrailItem>,
}
