//! Deciding a request: approving (the approval that reaches the required
//! count applies it), rejecting, cancelling. Every step locks the request's
//! model first, so racing approvers serialize and the last approval applies
//! the move exactly once.

use diesel::prelude::*;

use super::{ApproveOutcome, TransitionRequest, count_request, load_one, not_found, step};
use crate::auth::Actor;
use crate::db::enums::{ActivityType, RequestStatus};
use crate::db::event::{EventKind, Subject};
use crate::db::rows::{ModelRow, RequestRow, VersionRow};
use crate::db::schema::{model_versions, request_approvals, transition_requests};
use crate::db::{self, DbConn, WriteTx, now_ms};
use crate::domain::access::Op;
use crate::domain::aliases;
use crate::domain::lifecycle::{self, Transition, set_request_status};
use crate::domain::policy::Policy;
use crate::domain::types::{Alias, RequestId};
use crate::error::{Error, Result};

/// Locks the request's model row, then reads the request and its version:
/// the same lock order as every other write to that model.
fn lock_request(tx: &mut WriteTx<'_>, id: RequestId) -> Result<(ModelRow, RequestRow)> {
    let model_id: i64 = transition_requests::table
        .find(id)
        .select(transition_requests::model_id)
        .first(tx.conn())
        .optional()?
        .ok_or_else(|| not_found(id))?;
    let model = tx
        .lock_model_by_id(model_id)?
        .ok_or_else(|| not_found(id))?;
    let row: RequestRow = transition_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(tx.conn())
        .optional()?
        .ok_or_else(|| not_found(id))?;
    Ok((model, row))
}

fn ensure_pending(row: &RequestRow) -> Result<()> {
    if row.status != RequestStatus::Pending {
        return Err(Error::Conflict(format!(
            "transition request {} is {}, not pending",
            row.id, row.status
        )));
    }
    Ok(())
}

/// Approves a request; the approval that reaches the required count applies
/// it. The policy in force now must still allow the move, and its approval
/// count applies if it has grown since the request was made.
#[tracing::instrument(skip_all, fields(request = id.get()))]
pub fn approve(
    conn: &mut DbConn,
    actor: &Actor,
    policy: &Policy,
    id: RequestId,
    comment: Option<String>,
) -> Result<ApproveOutcome> {
    db::write(conn, &actor.username, |tx| {
        let (model, row) = lock_request(tx, id)?;
        ensure_pending(&row)?;
        if row.requested_by == actor.username {
            return Err(Error::PermissionDenied(
                "you cannot approve your own request".to_owned(),
            ));
        }
        let already: Option<String> = request_approvals::table
            .filter(request_approvals::request_id.eq(id))
            .filter(request_approvals::user_name.eq(&actor.username))
            .select(request_approvals::user_name)
            .first(tx.conn())
            .optional()?;
        if already.is_some() {
            return Err(Error::Conflict(format!(
                "you have already approved request {id}"
            )));
        }
        let (from, to) = (row.from_stage, row.to_stage);
        let alias = row.alias.clone().map(Alias::parse).transpose()?;
        if alias.is_none() {
            policy.allowed(from, to).map_err(|why| {
                Error::Conflict(format!(
                    "the lifecycle policy no longer allows request {id}: {why}"
                ))
            })?;
        }
        let version: Option<VersionRow> = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .filter(model_versions::version.eq(row.version))
            .select(VersionRow::as_select())
            .first(tx.conn())
            .optional()?;
        // A move request goes stale when its version leaves the stage it was
        // made from; an alias request only when its version goes away.
        let current = version.as_ref().map(|v| v.current_stage);
        let Some(version) = version.filter(|v| alias.is_some() || v.current_stage == from) else {
            lifecycle::went_stale(tx, &model, row.version, id, from, current)?;
            return Ok(ApproveOutcome::Stale(load_one(tx.conn(), id)?));
        };
        // The policy in force now, the version's clearance now and the moves
        // archiving implies now decide how many approvals it takes.
        let transition = Transition {
            to,
            archive_existing_versions: row.archive_existing_versions,
            comment: comment.clone(),
        };
        let needed = match &alias {
            Some(alias) => policy
                .alias_rule(alias.as_str())
                .map_or(0, |rule| rule.approvals),
            None => {
                let needed = lifecycle::requirement(tx.conn(), policy, &model, &version, to)?;
                let implied = lifecycle::check_implied_moves(
                    tx.conn(),
                    policy,
                    &model,
                    &version,
                    &transition,
                    None,
                )?;
                needed.approvals.max(implied)
            }
        };
        let required = row.required_approvals.max(i64::from(needed));
        let now = now_ms();
        diesel::insert_into(request_approvals::table)
            .values((
                request_approvals::request_id.eq(id),
                request_approvals::user_name.eq(&actor.username),
                request_approvals::timestamp.eq(now),
                request_approvals::comment.eq(comment.as_deref()),
            ))
            .execute(tx.conn())?;
        let approved = ActivityType::ApprovedRequest;
        step(
            tx,
            actor,
            &model,
            row.version,
            approved,
            (from, to),
            comment.clone(),
            id,
            now,
        )?;
        let approvals: i64 = request_approvals::table
            .filter(request_approvals::request_id.eq(id))
            .count()
            .get_result(tx.conn())?;
        tx.emit(
            Subject::Version(&model.name, row.version),
            EventKind::RequestApproved {
                id: id.get(),
                approvals,
                required_approvals: required,
                comment: comment.clone(),
            },
        )?;
        count_request(tx, "approved");
        if approvals < required {
            diesel::update(transition_requests::table.find(id))
                .set((
                    transition_requests::required_approvals.eq(required),
                    transition_requests::last_updated_timestamp.eq(now),
                ))
                .execute(tx.conn())?;
            return Ok(ApproveOutcome::Approved(load_one(tx.conn(), id)?));
        }
        match &alias {
            Some(alias) => {
                aliases::apply_set(tx, actor, policy, &model, &version, alias, Some(id))?;
            }
            None => {
                lifecycle::apply(tx, actor, &model, &version, &transition, Some(id))?;
            }
        }
        let decided_by = Some(actor.username.as_str());
        set_request_status(
            tx,
            id,
            RequestStatus::Applied,
            decided_by,
            comment.as_deref(),
        )?;
        Ok(ApproveOutcome::Applied(load_one(tx.conn(), id)?))
    })
}

fn close(
    conn: &mut DbConn,
    actor: &Actor,
    id: RequestId,
    comment: Option<String>,
    status: RequestStatus,
) -> Result<TransitionRequest> {
    db::write(conn, &actor.username, |tx| {
        let (model, row) = lock_request(tx, id)?;
        ensure_pending(&row)?;
        let (kind, event, counted) = match status {
            RequestStatus::Rejected => {
                if row.requested_by == actor.username {
                    return Err(Error::PermissionDenied(
                        "you cannot reject your own request; cancel it instead".to_owned(),
                    ));
                }
                (
                    ActivityType::RejectedRequest,
                    EventKind::RequestRejected {
                        id: id.get(),
                        comment: comment.clone(),
                    },
                    "rejected",
                )
            }
            _ => {
                if row.requested_by != actor.username && !Op::CancelAnyRequest.allowed(actor.role) {
                    return Err(Error::PermissionDenied(
                        "only the requester or an admin may cancel a request".to_owned(),
                    ));
                }
                (
                    ActivityType::CancelledRequest,
                    EventKind::RequestCancelled {
                        id: id.get(),
                        comment: comment.clone(),
                    },
                    "cancelled",
                )
            }
        };
        set_request_status(tx, id, status, Some(&actor.username), comment.as_deref())?;
        let stages = (row.from_stage, row.to_stage);
        step(
            tx,
            actor,
            &model,
            row.version,
            kind,
            stages,
            comment.clone(),
            id,
            now_ms(),
        )?;
        tx.emit(Subject::Version(&model.name, row.version), event)?;
        count_request(tx, counted);
        load_one(tx.conn(), id)
    })
}

/// Rejects a pending request (an approver or admin, not the requester).
pub fn reject(
    conn: &mut DbConn,
    actor: &Actor,
    id: RequestId,
    comment: Option<String>,
) -> Result<TransitionRequest> {
    close(conn, actor, id, comment, RequestStatus::Rejected)
}

/// Cancels a pending request (the requester or an admin).
pub fn cancel(
    conn: &mut DbConn,
    actor: &Actor,
    id: RequestId,
    comment: Option<String>,
) -> Result<TransitionRequest> {
    close(conn, actor, id, comment, RequestStatus::Cancelled)
}
