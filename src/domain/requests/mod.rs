//! Transition requests: the approval gate. A request records the stage its
//! version was in; distinct approvers (never the requester) approve it; the
//! approval that reaches the required count applies the move in the same
//! transaction. Every step goes to the version's trail and the event log.
//!
//! Locking: every change to a request first locks its model's row (as every
//! change to a model's versions does), so racing approvers serialize and the
//! last approval applies the move exactly once.

mod decisions;

pub use decisions::{approve, cancel, reject};

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Actor;
use crate::db::enums::{ActivityType, RequestStatus, Stage};
use crate::db::event::{EventKind, Snapshot, Subject};
use crate::db::rows::{ModelRow, RequestRow};
use crate::db::schema::{registered_models, request_approvals, transition_requests};
use crate::db::{self, DbConn, WriteTx, now_ms};
use crate::domain::aliases;
use crate::domain::lifecycle::{self, Activity, Transition, record_activity};
use crate::domain::lookup::{find_version, lock_model};
use crate::domain::policy::Policy;
use crate::domain::sql::{Page, PageToken};
use crate::domain::types::{
    Alias, ModelId, ModelName, RequestId, VersionNumber, percent_encode_segment,
};
use crate::error::{Entity, Error, Result};

/// One approval of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Approval {
    /// The approver.
    pub user: String,
    /// When, in milliseconds since the epoch.
    pub timestamp: i64,
    /// The approver's comment.
    pub comment: Option<String>,
}

/// A transition request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransitionRequest {
    /// Id.
    pub id: i64,
    /// The model's name.
    pub name: String,
    /// The version to move.
    pub version: i64,
    /// The stage the version was in when the request was made.
    pub from_stage: Stage,
    /// The stage it should move to (for an alias request: the stage it was in).
    pub to_stage: Stage,
    /// For an alias request: the guarded alias that should name the version.
    pub alias: Option<String>,
    /// Archive the versions in the target stage when applied.
    pub archive_existing_versions: bool,
    /// pending, applied, rejected, cancelled or stale.
    pub status: RequestStatus,
    /// Who asked.
    pub requested_by: String,
    /// The requester's comment.
    pub comment: Option<String>,
    /// Distinct approvals needed.
    pub required_approvals: i64,
    /// Approvals so far, oldest first.
    pub approvals: Vec<Approval>,
    /// Who rejected, cancelled or applied it.
    pub decided_by: Option<String>,
    /// Their comment.
    pub decision_comment: Option<String>,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: i64,
}

/// What an approval did.
#[derive(Debug, Clone, PartialEq)]
pub enum ApproveOutcome {
    /// Recorded; more approvals are needed.
    Approved(TransitionRequest),
    /// The last approval: the move was applied.
    Applied(TransitionRequest),
    /// The version had moved or gone: the request is now stale (a conflict).
    Stale(TransitionRequest),
}

fn not_found(id: RequestId) -> Error {
    Error::NotFound(Entity::Request(id.get()))
}

fn hydrate(conn: &mut DbConn, rows: Vec<(RequestRow, String)>) -> Result<Vec<TransitionRequest>> {
    let ids: Vec<i64> = rows.iter().map(|(row, _)| row.id).collect();
    let mut approvals: HashMap<i64, Vec<Approval>> = HashMap::new();
    if !ids.is_empty() {
        let approval_rows: Vec<(i64, String, i64, Option<String>)> = request_approvals::table
            .filter(request_approvals::request_id.eq_any(&ids))
            .order((
                request_approvals::timestamp.asc(),
                request_approvals::user_name.asc(),
            ))
            .select((
                request_approvals::request_id,
                request_approvals::user_name,
                request_approvals::timestamp,
                request_approvals::comment,
            ))
            .load(conn)?;
        for (request_id, user, timestamp, comment) in approval_rows {
            approvals.entry(request_id).or_default().push(Approval {
                user,
                timestamp,
                comment,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|(row, name)| TransitionRequest {
            id: row.id,
            name,
            version: row.version,
            from_stage: row.from_stage,
            to_stage: row.to_stage,
            alias: row.alias,
            archive_existing_versions: row.archive_existing_versions,
            status: row.status,
            requested_by: row.requested_by,
            comment: row.comment,
            required_approvals: row.required_approvals,
            approvals: approvals.remove(&row.id).unwrap_or_default(),
            decided_by: row.decided_by,
            decision_comment: row.decision_comment,
            creation_timestamp: row.creation_timestamp,
            last_updated_timestamp: row.last_updated_timestamp,
        })
        .collect())
}

fn load_one(conn: &mut DbConn, id: RequestId) -> Result<TransitionRequest> {
    let row: Option<(RequestRow, String)> = transition_requests::table
        .inner_join(registered_models::table)
        .filter(transition_requests::id.eq(id))
        .select((RequestRow::as_select(), registered_models::name))
        .first(conn)
        .optional()?;
    let row = row.ok_or_else(|| not_found(id))?;
    hydrate(conn, vec![row])?.pop().ok_or_else(|| not_found(id))
}

/// What a request asks for.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// A stage move.
    Move(Transition),
    /// That a guarded alias names the version.
    Alias {
        /// The alias.
        alias: Alias,
        /// The requester's comment.
        comment: Option<String>,
    },
}

impl Wanted {
    fn comment(&self) -> Option<String> {
        match self {
            Wanted::Move(transition) => transition.comment.clone(),
            Wanted::Alias { comment, .. } => comment.clone(),
        }
    }
}

/// Opens a request: any allowed move may be requested, and any guarded
/// alias.
#[tracing::instrument(skip_all, fields(model = %name, version = %version))]
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    policy: &Policy,
    name: &ModelName,
    version: VersionNumber,
    wanted: Wanted,
) -> Result<TransitionRequest> {
    db::write(conn, &actor.username, |tx| {
        let model = lock_model(tx, name)?;
        let row = find_version(tx.conn(), &model, version)?;
        let from = row.current_stage;
        let pending = transition_requests::table
            .filter(transition_requests::model_id.eq(model.id))
            .filter(transition_requests::version.eq(version.get()))
            .filter(transition_requests::status.eq(RequestStatus::Pending))
            .select(transition_requests::id)
            .into_boxed();
        let (to, alias, archive, required, duplicate) = match &wanted {
            Wanted::Move(transition) => {
                let to = transition.to;
                lifecycle::check_archive_flag(transition)?;
                let needed = lifecycle::requirement(tx.conn(), policy, &model, &row, to)?;
                let implied = lifecycle::check_implied_moves(
                    tx.conn(),
                    policy,
                    &model,
                    &row,
                    transition,
                    None,
                )?;
                let duplicate: Option<i64> = pending
                    .filter(transition_requests::to_stage.eq(to))
                    .filter(transition_requests::alias.is_null())
                    .first(tx.conn())
                    .optional()?;
                let what = format!("move version {version} of '{name}' to {to}");
                let required = needed.approvals.max(implied);
                (
                    to,
                    None,
                    transition.archive_existing_versions,
                    required,
                    duplicate.map(|id| (id, what)),
                )
            }
            Wanted::Alias { alias, .. } => {
                let rule = policy.alias_rule(alias.as_str()).ok_or_else(|| {
                    Error::invalid(format!(
                        "alias '{}' is not guarded: set it directly with \
                         PUT /api/v1/models/{}/aliases/{}",
                        alias.as_str(),
                        percent_encode_segment(name.as_str()),
                        alias.as_str()
                    ))
                })?;
                aliases::check_stage(policy, alias, &row)?;
                let duplicate: Option<i64> = pending
                    .filter(transition_requests::alias.eq(alias.as_str()))
                    .first(tx.conn())
                    .optional()?;
                let what = format!(
                    "point alias '{}' at version {version} of '{name}'",
                    alias.as_str()
                );
                (
                    from,
                    Some(alias.as_str().to_owned()),
                    false,
                    rule.approvals,
                    duplicate.map(|id| (id, what)),
                )
            }
        };
        if let Some((existing, what)) = duplicate {
            return Err(Error::Conflict(format!(
                "request {existing} to {what} is already pending"
            )));
        }
        let comment = wanted.comment();
        let now = now_ms();
        let id: i64 = diesel::insert_into(transition_requests::table)
            .values((
                transition_requests::model_id.eq(model.id),
                transition_requests::version.eq(version.get()),
                transition_requests::from_stage.eq(from),
                transition_requests::to_stage.eq(to),
                transition_requests::alias.eq(alias.as_deref()),
                transition_requests::archive_existing_versions.eq(archive),
                transition_requests::status.eq(RequestStatus::Pending),
                transition_requests::requested_by.eq(&actor.username),
                transition_requests::required_approvals.eq(i64::from(required)),
                transition_requests::comment.eq(comment.as_deref()),
                transition_requests::creation_timestamp.eq(now),
                transition_requests::last_updated_timestamp.eq(now),
            ))
            .returning(transition_requests::id)
            .get_result(tx.conn())?;
        let requested = ActivityType::RequestedTransition;
        step(
            tx,
            actor,
            &model,
            version.get(),
            requested,
            (from, to),
            comment,
            RequestId::new(id),
            now,
        )?;
        let request = load_one(tx.conn(), RequestId::new(id))?;
        tx.emit(
            Subject::Version(&model.name, version.get()),
            EventKind::RequestCreated {
                request: Snapshot::of(&request)?,
            },
        )?;
        count_request(tx, "opened");
        Ok(request)
    })
}

/// Records a step of a request in its version's trail.
#[expect(
    clippy::too_many_arguments,
    reason = "one trail entry has this many facts"
)]
fn step(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    model: &ModelRow,
    version: i64,
    kind: ActivityType,
    (from, to): (Stage, Stage),
    comment: Option<String>,
    request_id: RequestId,
    timestamp: i64,
) -> Result<()> {
    record_activity(
        tx,
        ModelId::of(model),
        version,
        &Activity {
            activity_type: kind,
            from_stage: Some(from),
            to_stage: Some(to),
            user: actor.username.clone(),
            timestamp,
            comment,
            request_id: Some(request_id.get()),
        },
    )
}

/// Counts a step in `modelgate_transition_requests_total{event}` once committed.
fn count_request(tx: &mut WriteTx<'_>, event: &'static str) {
    tx.after_commit(move || {
        metrics::counter!("modelgate_transition_requests_total", "event" => event).increment(1);
    });
}

/// Filters of a request list.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// Only requests in this status.
    pub status: Option<RequestStatus>,
    /// Only requests for this model.
    pub model: Option<ModelName>,
    /// Only requests for this version (with `model`).
    pub version: Option<VersionNumber>,
    /// Only requests to this stage.
    pub to_stage: Option<Stage>,
    /// Only requests this user opened.
    pub requested_by: Option<String>,
    /// Only requests this user could still approve: opened by someone else
    /// and not approved by them yet (with `status` pending, the inbox).
    pub awaiting: Option<String>,
    /// Page size.
    pub max_results: i64,
    /// Continuation.
    pub page_token: Option<String>,
}

/// Lists requests, newest first.
pub fn list(conn: &mut DbConn, query: RequestQuery) -> Result<Page<TransitionRequest>> {
    let mut select = transition_requests::table
        .inner_join(registered_models::table)
        .select((RequestRow::as_select(), registered_models::name))
        .order(transition_requests::id.desc())
        .limit(query.max_results + 1)
        .into_boxed();
    if let Some(status) = query.status {
        select = select.filter(transition_requests::status.eq(status));
    }
    if let Some(model) = &query.model {
        select = select.filter(registered_models::name.eq(model.as_str().to_owned()));
    }
    if let Some(version) = query.version {
        select = select.filter(transition_requests::version.eq(version.get()));
    }
    if let Some(to) = query.to_stage {
        select = select.filter(transition_requests::to_stage.eq(to));
    }
    if let Some(user) = &query.requested_by {
        select = select.filter(transition_requests::requested_by.eq(user.clone()));
    }
    if let Some(user) = &query.awaiting {
        select = select
            .filter(transition_requests::requested_by.ne(user.clone()))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                request_approvals::table
                    .filter(request_approvals::request_id.eq(transition_requests::id))
                    .filter(request_approvals::user_name.eq(user.clone())),
            )));
    }
    if let Some(token) = &query.page_token {
        let before = PageToken::decode(token, "requests")?.int_key()?;
        select = select.filter(transition_requests::id.lt(before));
    }
    db::read(conn, |conn| {
        let rows = select.load(conn)?;
        let items = hydrate(conn, rows)?;
        Ok(Page::from_overfetch(items, query.max_results, |r| {
            PageToken::int("requests", r.id)
        }))
    })
}

/// Reads one request.
pub fn get(conn: &mut DbConn, id: RequestId) -> Result<TransitionRequest> {
    db::read(conn, |conn| load_one(conn, id))
}
