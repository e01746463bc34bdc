//! The lifecycle: how a version moves between stages. Every rule of a move
//! is here: what the policy decides for an actor, applying a move (and
//! archiving the versions it displaces), the activity trail that records
//! each step, and marking requests stale when their version moves. Direct
//! moves (`versions`), approved requests (`requests`) and alias moves
//! (`aliases`) all go through this module.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Actor;
use crate::db::enums::{ActivityType, RequestStatus, Stage};
use crate::db::event::{EventKind, StageChange, Subject, True};
use crate::db::rows::{ActivityRow, ModelRow, NewActivityRow, VersionRow};
use crate::db::schema::{
    activities, model_versions, registered_model_aliases, registered_models, stage_clearances,
    transition_requests,
};
use crate::db::{self, DbConn, WriteTx, now_ms};
use crate::domain::lookup::{find_model, find_version};
use crate::domain::policy::{Policy, Requirement};
use crate::domain::types::{ModelId, ModelName, RequestId, VersionNumber, percent_encode_segment};
use crate::error::{Error, Result};

/// A stage move.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Target stage.
    pub to: Stage,
    /// Archive the versions now in the target stage (Staging/Production only).
    pub archive_existing_versions: bool,
    /// The actor's comment.
    pub comment: Option<String>,
}

/// One entry of a version's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    /// `APPLIED_TRANSITION`, `SYSTEM_TRANSITION`, `REQUESTED_TRANSITION`, …
    #[schema(value_type = String)]
    pub activity_type: ActivityType,
    /// Stage before.
    pub from_stage: Option<Stage>,
    /// Stage after (or requested).
    pub to_stage: Option<Stage>,
    /// Who acted.
    pub user: String,
    /// When, in milliseconds since the epoch.
    pub timestamp: i64,
    /// The actor's comment.
    pub comment: Option<String>,
    /// The transition request concerned, if any.
    pub request_id: Option<i64>,
}

/// Records one step in a version's trail.
pub fn record_activity(
    tx: &mut WriteTx<'_>,
    model_id: ModelId,
    version: i64,
    activity: &Activity,
) -> Result<()> {
    diesel::insert_into(activities::table)
        .values(NewActivityRow {
            model_id: model_id.get(),
            version,
            activity_type: activity.activity_type,
            from_stage: activity.from_stage,
            to_stage: activity.to_stage,
            user_name: &activity.user,
            timestamp: activity.timestamp,
            comment: activity.comment.as_deref(),
            request_id: activity.request_id,
        })
        .execute(tx.conn())?;
    Ok(())
}

/// A version's audit trail, oldest first.
pub fn trail(conn: &mut DbConn, name: &ModelName, version: VersionNumber) -> Result<Vec<Activity>> {
    db::read(conn, |conn| {
        let model = find_model(conn, name)?;
        find_version(conn, &model, version)?;
        let rows: Vec<ActivityRow> = activities::table
            .filter(activities::model_id.eq(model.id))
            .filter(activities::version.eq(version.get()))
            .order((activities::timestamp.asc(), activities::id.asc()))
            .select(ActivityRow::as_select())
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| Activity {
                from_stage: row.from_stage,
                to_stage: row.to_stage,
                activity_type: row.activity_type,
                user: row.user_name,
                timestamp: row.timestamp,
                comment: row.comment,
                request_id: row.request_id,
            })
            .collect())
    })
}

/// Refuses `archive_existing_versions` on a move where it means nothing.
pub fn check_archive_flag(transition: &Transition) -> Result<()> {
    if transition.archive_existing_versions
        && !matches!(transition.to, Stage::Staging | Stage::Production)
    {
        return Err(Error::invalid(format!(
            "archive_existing_versions can only be used when moving to Staging or Production, not {}",
            transition.to
        )));
    }
    Ok(())
}

/// Whether a version is cleared for a stage: it entered that stage before
/// (meeting the stage's gate, or by the rollback of a cleared version), so a
/// weaker rule back into it is a rollback.
pub fn cleared(conn: &mut DbConn, model_id: ModelId, version: i64, stage: Stage) -> Result<bool> {
    Ok(stage_clearances::table
        .filter(stage_clearances::model_id.eq(model_id))
        .filter(stage_clearances::version.eq(version))
        .filter(stage_clearances::stage.eq(stage))
        .select(stage_clearances::version)
        .first::<i64>(conn)
        .optional()?
        .is_some())
}

/// Records that a version entered a stage (every entry is allowed only
/// through the stage's gate or as a rollback, so every entry clears).
fn clear(tx: &mut WriteTx<'_>, model_id: ModelId, version: i64, stage: Stage) -> Result<()> {
    if !cleared(tx.conn(), model_id, version, stage)? {
        diesel::insert_into(stage_clearances::table)
            .values((
                stage_clearances::model_id.eq(model_id),
                stage_clearances::version.eq(version),
                stage_clearances::stage.eq(stage),
            ))
            .execute(tx.conn())?;
    }
    Ok(())
}

/// What moving this version to `to` needs under the policy, its clearance
/// for `to` considered. A move no rule allows is a 400.
pub fn requirement(
    conn: &mut DbConn,
    policy: &Policy,
    model: &ModelRow,
    row: &VersionRow,
    to: Stage,
) -> Result<Requirement> {
    let cleared = policy.guard(to).is_some() && cleared(conn, ModelId::of(model), row.version, to)?;
    policy
        .requirement(row.current_stage, to, cleared)
        .map_err(Error::InvalidParameter)
}

/// Checks the moves `archive_existing_versions` implies (each version now in
/// the target stage, other than this one, to Archived): each needs a rule,
/// and, for a direct move by `actor`, one the actor may make directly; a
/// request needs as many approvals as the most demanding of them. Answers
/// that count (0 when nothing would be archived). A refusal is a 400 naming
/// the implied move.
pub fn check_implied_moves(
    conn: &mut DbConn,
    policy: &Policy,
    model: &ModelRow,
    row: &VersionRow,
    transition: &Transition,
    actor: Option<&Actor>,
) -> Result<u32> {
    if !transition.archive_existing_versions {
        return Ok(0);
    }
    let to = transition.to;
    let others: Vec<VersionRow> = model_versions::table
        .filter(model_versions::model_id.eq(model.id))
        .filter(model_versions::current_stage.eq(to))
        .filter(model_versions::id.ne(row.id))
        .order(model_versions::version.asc())
        .select(VersionRow::as_select())
        .load(conn)?;
    let mut approvals = 0;
    for other in others {
        let implied = |why: String| {
            Error::invalid(format!(
                "archive_existing_versions would move version {} from {to} to Archived: {why}",
                other.version
            ))
        };
        let needed = requirement(conn, policy, model, &other, Stage::Archived)
            .map_err(|e| implied(e.public_message()))?;
        if let Some(actor) = actor
            && !actor.role.reaches(needed.direct)
        {
            return Err(implied(format!(
                "that move needs role {}; user '{}' has role {}",
                needed.direct, actor.username, actor.role
            )));
        }
        approvals = approvals.max(needed.approvals);
    }
    Ok(approvals)
}

/// Checks a direct move against the policy for this actor: `Ok(())` means
/// the actor may make it, and every move it implies, directly; otherwise it
/// needs an approved request (`APPROVAL_REQUIRED`, naming the gate when a
/// guarded stage's gate is what it lacks).
pub fn check_direct_move(
    conn: &mut DbConn,
    policy: &Policy,
    actor: &Actor,
    model: &ModelRow,
    row: &VersionRow,
    transition: &Transition,
) -> Result<()> {
    check_archive_flag(transition)?;
    let from = row.current_stage;
    let needed = requirement(conn, policy, model, row, transition.to)?;
    if actor.role.reaches(needed.direct) {
        check_implied_moves(conn, policy, model, row, transition, Some(actor))?;
        return Ok(());
    }
    let why = match &needed.raised_by {
        Some(guard) => format!(
            " ({} is guarded: version {} has not entered it before, so {from} -> {} \
             is not a rollback and needs what its gate {} needs)",
            guard.stage,
            row.version,
            transition.to,
            guard.describe()
        ),
        None => String::new(),
    };
    Err(Error::ApprovalRequired(format!(
        "moving {from} -> {} needs role {} or an approved request{why}: \
         POST /api/v1/models/{}/versions/{}/transition-requests",
        transition.to,
        needed.direct,
        percent_encode_segment(&model.name),
        row.version,
    )))
}

/// Renaming a model changes what `models:/NAME/<stage>` and
/// `models:/NAME@<alias>` resolve to, under the old name and the new one:
/// for a guarded stage it holds a version in, that needs the role its gate
/// needs; for a guarded alias it has, the alias rule's role (there is no
/// request for a rename).
pub fn check_rename(
    conn: &mut DbConn,
    policy: &Policy,
    actor: &Actor,
    model: &ModelRow,
    new_name: &str,
) -> Result<()> {
    for guard in policy.guards() {
        if actor.role.reaches(guard.direct()) {
            continue;
        }
        let holds = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .filter(model_versions::current_stage.eq(guard.stage))
            .select(model_versions::id)
            .first::<i64>(conn)
            .optional()?
            .is_some();
        if holds {
            let stage = guard.stage;
            return Err(Error::PermissionDenied(format!(
                "renaming '{}' to '{new_name}' changes what models:/{}/{stage} and \
                 models:/{new_name}/{stage} resolve to; {stage} is guarded, so this needs \
                 role {} (what its gate {} needs); user '{}' has role {}",
                model.name,
                model.name,
                guard.direct(),
                guard.describe(),
                actor.username,
                actor.role
            )));
        }
    }
    let aliases: Vec<String> = registered_model_aliases::table
        .filter(registered_model_aliases::model_id.eq(model.id))
        .select(registered_model_aliases::alias)
        .load(conn)?;
    for alias in aliases {
        if let Some(rule) = policy.alias_rule(&alias)
            && !actor.role.reaches(rule.direct)
        {
            return Err(Error::PermissionDenied(format!(
                "renaming '{}' to '{new_name}' changes what models:/{}@{alias} and \
                 models:/{new_name}@{alias} resolve to; alias '{alias}' is guarded, so this \
                 needs role {}; user '{}' has role {}",
                model.name, model.name, rule.direct, actor.username, actor.role
            )));
        }
    }
    Ok(())
}

/// Applies a move the caller has already decided on, inside its write (the
/// model row locked): archives the versions in the target stage when asked,
/// moves the version, records the trail, marks requests made from the stages
/// left stale, and emits the events. `request_id` names the approved request
/// that caused it. Answers the moved version's row.
pub fn apply(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    model: &ModelRow,
    row: &VersionRow,
    transition: &Transition,
    request_id: Option<RequestId>,
) -> Result<VersionRow> {
    let from = row.current_stage;
    let to = transition.to;
    let now = now_ms();
    if transition.archive_existing_versions {
        let others: Vec<VersionRow> = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .filter(model_versions::current_stage.eq(to))
            .filter(model_versions::id.ne(row.id))
            .order(model_versions::version.asc())
            .select(VersionRow::as_select())
            .load(tx.conn())?;
        for other in others {
            diesel::update(model_versions::table.find(other.id))
                .set((
                    model_versions::current_stage.eq(Stage::Archived),
                    model_versions::last_updated_timestamp.eq(now),
                ))
                .execute(tx.conn())?;
            record_activity(
                tx,
                ModelId::of(model),
                other.version,
                &Activity {
                    activity_type: ActivityType::SystemTransition,
                    from_stage: Some(to),
                    to_stage: Some(Stage::Archived),
                    user: actor.username.clone(),
                    timestamp: now,
                    comment: Some(format!(
                        "archived because version {} moved to {to}",
                        row.version
                    )),
                    request_id: request_id.map(RequestId::get),
                },
            )?;
            moved(
                tx,
                Subject::Version(&model.name, other.version),
                StageChange::System {
                    from_stage: to,
                    to_stage: Stage::Archived,
                    system: True,
                    caused_by_version: row.version,
                },
            )?;
            mark_stale(tx, model, other.version, Some(Stage::Archived), None)?;
            clear(tx, ModelId::of(model), other.version, Stage::Archived)?;
        }
    }
    let updated: VersionRow = diesel::update(model_versions::table.find(row.id))
        .set((
            model_versions::current_stage.eq(to),
            model_versions::last_updated_timestamp.eq(now),
        ))
        .returning(model_versions::all_columns)
        .get_result(tx.conn())?;
    diesel::update(registered_models::table.find(model.id))
        .set(registered_models::last_updated_timestamp.eq(now))
        .execute(tx.conn())?;
    record_activity(
        tx,
        ModelId::of(model),
        row.version,
        &Activity {
            activity_type: ActivityType::AppliedTransition,
            from_stage: Some(from),
            to_stage: Some(to),
            user: actor.username.clone(),
            timestamp: now,
            comment: transition.comment.clone(),
            request_id: request_id.map(RequestId::get),
        },
    )?;
    moved(
        tx,
        Subject::Version(&model.name, row.version),
        StageChange::Move {
            from_stage: from,
            to_stage: to,
            archive_existing_versions: transition.archive_existing_versions,
            comment: transition.comment.clone(),
            request_id: request_id.map(RequestId::get),
        },
    )?;
    mark_stale(tx, model, row.version, Some(to), request_id)?;
    clear(tx, ModelId::of(model), row.version, to)?;
    Ok(updated)
}

/// Emits a stage change and counts it in
/// `modelgate_transitions_total{to_stage}` once committed.
fn moved(tx: &mut WriteTx<'_>, subject: Subject<'_>, change: StageChange) -> Result<()> {
    let (_, to) = change.stages();
    tx.emit(subject, EventKind::VersionStageChanged(change))?;
    tx.after_commit(move || {
        metrics::counter!("modelgate_transitions_total", "to_stage" => to.as_str()).increment(1);
    });
    Ok(())
}

/// Sets a request's status, with who decided and their comment.
pub fn set_request_status(
    tx: &mut WriteTx<'_>,
    id: RequestId,
    status: RequestStatus,
    decided_by: Option<&str>,
    comment: Option<&str>,
) -> Result<()> {
    diesel::update(transition_requests::table.find(id))
        .set((
            transition_requests::status.eq(status),
            transition_requests::decided_by.eq(decided_by),
            transition_requests::decision_comment.eq(comment),
            transition_requests::last_updated_timestamp.eq(now_ms()),
        ))
        .execute(tx.conn())?;
    Ok(())
}

/// Marks the pending requests of a version stale when it has left their
/// from-stage (`current` is where it is now; `None` when it was deleted:
/// then its alias requests too), except the request `except` that is being
/// applied.
pub fn mark_stale(
    tx: &mut WriteTx<'_>,
    model: &ModelRow,
    version: i64,
    current: Option<Stage>,
    except: Option<RequestId>,
) -> Result<()> {
    let pending: Vec<(i64, Stage, Option<String>)> = transition_requests::table
        .filter(transition_requests::model_id.eq(model.id))
        .filter(transition_requests::version.eq(version))
        .filter(transition_requests::status.eq(RequestStatus::Pending))
        .select((
            transition_requests::id,
            transition_requests::from_stage,
            transition_requests::alias,
        ))
        .load(tx.conn())?;
    for (id, from, alias) in pending {
        // an alias request names the version, not a stage: it goes stale
        // only with the version
        let still_holds = current == Some(from) || (alias.is_some() && current.is_some());
        if Some(id) == except.map(RequestId::get) || still_holds {
            continue;
        }
        went_stale(tx, model, version, RequestId::new(id), from, current)?;
    }
    Ok(())
}

/// Marks a pending request stale: its version left the stage it was made
/// from and is now in `current` (`None`: deleted).
pub fn went_stale(
    tx: &mut WriteTx<'_>,
    model: &ModelRow,
    version: i64,
    id: RequestId,
    from: Stage,
    current: Option<Stage>,
) -> Result<()> {
    set_request_status(tx, id, RequestStatus::Stale, None, None)?;
    tx.emit(
        Subject::Version(&model.name, version),
        EventKind::RequestStale {
            id: id.get(),
            from_stage: from,
            current_stage: current,
        },
    )
}
