//! Aliases: named pointers (`champion`, …) to one version of a model.
//! Moving an alias is audited like a transition: on the version it now
//! names and on the one it left.

use diesel::prelude::*;
use serde_json::json;

use crate::auth::Actor;
use crate::db::chain::NewEvent;
use crate::db::schema::{registered_model_aliases, registered_models};
use crate::db::{self, DbConn, WriteTx, now_ms};
use crate::domain::lifecycle::{Activity, activity_type, record_activity};
use crate::domain::lookup::{find_model, lock_model, version_exists, version_not_found};
use crate::domain::types::{Alias, ModelName, VersionNumber};
use crate::domain::versions::{self, ModelVersion};
use crate::error::{Error, Result};

fn alias_not_found(name: &ModelName, alias: &Alias) -> Error {
    Error::NotFound(format!(
        "registered model '{name}' has no alias '{}'",
        alias.as_str()
    ))
}

/// The version an alias of a model points at now.
fn current(conn: &mut DbConn, model_id: i64, alias: &Alias) -> Result<Option<i64>> {
    Ok(registered_model_aliases::table
        .filter(registered_model_aliases::model_id.eq(model_id))
        .filter(registered_model_aliases::alias.eq(alias.as_str()))
        .select(registered_model_aliases::version)
        .first(conn)
        .optional()?)
}

/// Points an alias at a version (moving it if it pointed elsewhere).
pub fn set_alias(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    alias: &Alias,
    version: VersionNumber,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = lock_model(tx, name)?;
        if !version_exists(tx.conn(), &row, version.get())? {
            return Err(version_not_found(name.as_str(), version.get()));
        }
        let named = registered_model_aliases::table
            .filter(registered_model_aliases::model_id.eq(row.id))
            .filter(registered_model_aliases::alias.eq(alias.as_str()));
        let previous = current(tx.conn(), row.id, alias)?;
        if previous.is_some() {
            diesel::update(named)
                .set(registered_model_aliases::version.eq(version.get()))
                .execute(tx.conn())?;
        } else {
            diesel::insert_into(registered_model_aliases::table)
                .values((
                    registered_model_aliases::model_id.eq(row.id),
                    registered_model_aliases::alias.eq(alias.as_str()),
                    registered_model_aliases::version.eq(version.get()),
                ))
                .execute(tx.conn())?;
        }
        let now = now_ms();
        diesel::update(registered_models::table.find(row.id))
            .set(registered_models::last_updated_timestamp.eq(now))
            .execute(tx.conn())?;
        let set = activity_type::ALIAS_SET;
        alias_activity(tx, actor, row.id, version.get(), set, alias, now)?;
        if let Some(previous) = previous.filter(|p| *p != version.get()) {
            let removed = activity_type::ALIAS_REMOVED;
            alias_activity(tx, actor, row.id, previous, removed, alias, now)?;
        }
        tx.emit(NewEvent::new(
            "alias.set",
            &row.name,
            Some(version.get()),
            json!({ "alias": alias.as_str(), "version": version.get(), "previous_version": previous }),
        ));
        Ok(())
    })
}

fn alias_activity(
    tx: &mut WriteTx<'_>,
    actor: &Actor,
    model_id: i64,
    version: i64,
    kind: &str,
    alias: &Alias,
    timestamp: i64,
) -> Result<()> {
    record_activity(
        tx,
        model_id,
        version,
        &Activity {
            activity_type: kind.to_owned(),
            from_stage: None,
            to_stage: None,
            user: actor.username.clone(),
            timestamp,
            comment: Some(format!("alias '{}'", alias.as_str())),
            request_id: None,
        },
    )
}

/// The version an alias points at.
pub fn get_alias(conn: &mut DbConn, name: &ModelName, alias: &Alias) -> Result<ModelVersion> {
    let version = db::read(conn, |conn| {
        let row = find_model(conn, name)?;
        current(conn, row.id, alias)?.ok_or_else(|| alias_not_found(name, alias))
    })?;
    versions::get(conn, name, VersionNumber::new(version)?)
}

/// Removes an alias; 404 if it does not exist.
pub fn delete_alias(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    alias: &Alias,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = lock_model(tx, name)?;
        let previous = current(tx.conn(), row.id, alias)?;
        let Some(previous) = previous else {
            return Err(alias_not_found(name, alias));
        };
        diesel::delete(
            registered_model_aliases::table
                .filter(registered_model_aliases::model_id.eq(row.id))
                .filter(registered_model_aliases::alias.eq(alias.as_str())),
        )
        .execute(tx.conn())?;
        let removed = activity_type::ALIAS_REMOVED;
        alias_activity(tx, actor, row.id, previous, removed, alias, now_ms())?;
        tx.emit(NewEvent::new(
            "alias.deleted",
            &row.name,
            Some(previous),
            json!({ "alias": alias.as_str(), "previous_version": previous }),
        ));
        Ok(())
    })
}
