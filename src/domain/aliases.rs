//! Aliases: named pointers (`champion`, …) to one version of a model.
//! Moving an alias is audited like a transition: on the version it now
//! names and on the one it left. A guarded alias (an alias rule of the
//! policy names it) is set, moved or deleted only by the rule's role, or set
//! by an approved transition request for it (`requests`).

use diesel::prelude::*;

use crate::auth::Actor;
use crate::db::enums::ActivityType;
use crate::db::event::{EventKind, Subject};
use crate::db::rows::{ModelRow, VersionRow};
use crate::db::schema::{registered_model_aliases, registered_models};
use crate::db::{self, DbConn, WriteTx, now_ms};
use crate::domain::lifecycle::{Activity, record_activity};
use crate::domain::lookup::{find_model, find_version, lock_model};
use crate::domain::policy::Policy;
use crate::domain::types::{
    Alias, ModelId, ModelName, RequestId, VersionNumber, percent_encode_segment,
};
use crate::domain::versions::{self, ModelVersion};
use crate::error::{Entity, Error, Result};

fn alias_not_found(name: &ModelName, alias: &Alias) -> Error {
    Error::NotFound(Entity::Alias {
        model: name.as_str().to_owned(),
        alias: alias.as_str().to_owned(),
    })
}

/// The version an alias of a model points at now.
fn current(conn: &mut DbConn, model_id: ModelId, alias: &Alias) -> Result<Option<i64>> {
    Ok(registered_model_aliases::table
        .filter(registered_model_aliases::model_id.eq(model_id))
        .filter(registered_model_aliases::alias.eq(alias.as_str()))
        .select(registered_model_aliases::version)
        .first(conn)
        .optional()?)
}

/// Checks that the actor may set or move a guarded alias directly; the
/// refusal names the request that would do it.
fn check_set(
    policy: &Policy,
    actor: &Actor,
    model: &ModelRow,
    alias: &Alias,
    version: i64,
) -> Result<()> {
    match policy.alias_rule(alias.as_str()) {
        Some(rule) if !actor.role.reaches(rule.direct) => Err(Error::ApprovalRequired(format!(
            "alias '{}' is guarded: setting it needs role {} or an approved request: \
                 POST /api/v1/models/{}/versions/{version}/transition-requests \
                 with {{\"alias\": \"{}\"}}",
            alias.as_str(),
            rule.direct,
            percent_encode_segment(&model.name),
            alias.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Refuses to point a guarded alias at a version outside the stage its rule
/// names.
pub fn check_stage(policy: &Policy, alias: &Alias, row: &VersionRow) -> Result<()> {
    if let Some(stage) = policy
        .alias_rule(alias.as_str())
        .and_then(|rule| rule.stage)
        && row.current_stage != stage
    {
        return Err(Error::Conflict(format!(
            "alias '{}' may only name a version in {stage}; version {} is in {}",
            alias.as_str(),
            row.version,
            row.current_stage
        )));
    }
    Ok(())
}

/// Points an alias at a version (moving it if it pointed elsewhere).
pub fn set_alias(
    conn: &mut DbConn,
    actor: &Actor,
    policy: &Policy,
    name: &ModelName,
    alias: &Alias,
    version: VersionNumber,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let model = lock_model(tx, name)?;
        let row = find_version(tx.conn(), &model, version)?;
        check_set(policy, actor, &model, alias, version.get())?;
        apply_set(tx, actor, policy, &model, &row, alias, None)
    })
}

/// Points an alias at a version inside the caller's write (the model
/// locked), once who may do it is settled: the alias rule's stage is
/// checked, the trail of both versions records it, and `alias.set` is
/// emitted. `request_id` names the approved request that caused it.
pub fn apply_set(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    policy: &Policy,
    model: &ModelRow,
    row: &VersionRow,
    alias: &Alias,
    request_id: Option<RequestId>,
) -> Result<()> {
    check_stage(policy, alias, row)?;
    let version = row.version;
    let named = registered_model_aliases::table
        .filter(registered_model_aliases::model_id.eq(model.id))
        .filter(registered_model_aliases::alias.eq(alias.as_str()));
    let previous = current(tx.conn(), ModelId::of(model), alias)?;
    if previous.is_some() {
        diesel::update(named)
            .set(registered_model_aliases::version.eq(version))
            .execute(tx.conn())?;
    } else {
        diesel::insert_into(registered_model_aliases::table)
            .values((
                registered_model_aliases::model_id.eq(model.id),
                registered_model_aliases::alias.eq(alias.as_str()),
                registered_model_aliases::version.eq(version),
            ))
            .execute(tx.conn())?;
    }
    let now = now_ms();
    diesel::update(registered_models::table.find(model.id))
        .set(registered_models::last_updated_timestamp.eq(now))
        .execute(tx.conn())?;
    let set = ActivityType::AliasSet;
    alias_activity(
        tx,
        actor,
        ModelId::of(model),
        version,
        set,
        alias,
        now,
        request_id,
    )?;
    if let Some(previous) = previous.filter(|p| *p != version) {
        let removed = ActivityType::AliasRemoved;
        alias_activity(
            tx,
            actor,
            ModelId::of(model),
            previous,
            removed,
            alias,
            now,
            request_id,
        )?;
    }
    tx.emit(
        Subject::Version(&model.name, version),
        EventKind::AliasSet {
            alias: alias.as_str().to_owned(),
            version,
            previous_version: previous,
            request_id: request_id.map(RequestId::get),
        },
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "one trail entry has this many facts"
)]
fn alias_activity(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    model_id: ModelId,
    version: i64,
    kind: ActivityType,
    alias: &Alias,
    timestamp: i64,
    request_id: Option<RequestId>,
) -> Result<()> {
    record_activity(
        tx,
        model_id,
        version,
        &Activity {
            activity_type: kind,
            from_stage: None,
            to_stage: None,
            user: actor.username.clone(),
            timestamp,
            comment: Some(format!("alias '{}'", alias.as_str())),
            request_id: request_id.map(RequestId::get),
        },
    )
}

/// The version an alias points at.
pub fn get_alias(conn: &mut DbConn, name: &ModelName, alias: &Alias) -> Result<ModelVersion> {
    let version = db::read(conn, |conn| {
        let row = find_model(conn, name)?;
        current(conn, ModelId::of(&row), alias)?.ok_or_else(|| alias_not_found(name, alias))
    })?;
    versions::get(conn, name, VersionNumber::new(version)?)
}

/// Removes an alias; 404 if it does not exist. A guarded alias needs its
/// rule's role.
pub fn delete_alias(
    conn: &mut DbConn,
    actor: &Actor,
    policy: &Policy,
    name: &ModelName,
    alias: &Alias,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = lock_model(tx, name)?;
        if let Some(rule) = policy.alias_rule(alias.as_str())
            && !actor.role.reaches(rule.direct)
        {
            return Err(Error::PermissionDenied(format!(
                "alias '{}' is guarded: deleting it needs role {}; user '{}' has role {}",
                alias.as_str(),
                rule.direct,
                actor.username,
                actor.role
            )));
        }
        let previous = current(tx.conn(), ModelId::of(&row), alias)?;
        let Some(previous) = previous else {
            return Err(alias_not_found(name, alias));
        };
        diesel::delete(
            registered_model_aliases::table
                .filter(registered_model_aliases::model_id.eq(row.id))
                .filter(registered_model_aliases::alias.eq(alias.as_str())),
        )
        .execute(tx.conn())?;
        let removed = ActivityType::AliasRemoved;
        alias_activity(
            tx,
            actor,
            ModelId::of(&row),
            previous,
            removed,
            alias,
            now_ms(),
            None,
        )?;
        tx.emit(
            Subject::Version(&row.name, previous),
            EventKind::AliasDeleted {
                alias: alias.as_str().to_owned(),
                previous_version: previous,
            },
        )
    })
}
