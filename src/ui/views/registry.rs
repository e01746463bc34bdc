//! What the registry's pages show: models, versions, their trails,
//! requests and the comparison of two versions.

use askama::Template;

use super::{StageBadge, machine_time, model_href, request_href, version_href, when};
use crate::db::enums::{ActivityType, RequestStatus};
use crate::domain::lifecycle::Activity;
use crate::domain::models::RegisteredModel;
use crate::domain::requests::TransitionRequest;
use crate::domain::versions::ModelVersion;
use crate::ui::Viewer;

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
