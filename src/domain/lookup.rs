//! Finding models and versions, and locking a model for a write, with the
//! errors that say what was not found. Every module that reads or changes a
//! model or version starts here.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::WriteTx;
use crate::db::rows::{ModelRow, VersionRow};
use crate::db::schema::{model_versions, registered_models};
use crate::domain::types::{ModelName, VersionNumber};
use crate::error::{Entity, Error, Result};

/// The error for a model that does not exist.
pub fn model_not_found(name: &str) -> Error {
    Error::NotFound(Entity::Model(name.to_owned()))
}

/// The error for a version that does not exist.
pub fn version_not_found(name: &str, version: i64) -> Error {
    Error::NotFound(Entity::Version {
        model: name.to_owned(),
        version,
    })
}

/// The error for a name another model holds.
pub fn model_exists(name: &str) -> Error {
    Error::AlreadyExists(Entity::Model(name.to_owned()))
}

/// Reads a model row without locking.
pub fn find_model(conn: &mut DbConn, name: &ModelName) -> Result<ModelRow> {
    registered_models::table
        .filter(registered_models::name.eq(name.as_str()))
        .select(ModelRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| model_not_found(name.as_str()))
}

/// Reads a version row of a model.
pub fn find_version(
    conn: &mut DbConn,
    model: &ModelRow,
    version: VersionNumber,
) -> Result<VersionRow> {
    model_versions::table
        .filter(model_versions::model_id.eq(model.id))
        .filter(model_versions::version.eq(version.get()))
        .select(VersionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| version_not_found(&model.name, version.get()))
}

/// Locks a model for the rest of a write (see [`crate::db::tx`]).
pub fn lock_model(tx: &mut WriteTx<'_>, name: &ModelName) -> Result<ModelRow> {
    tx.lock_model(name.as_str())?
        .ok_or_else(|| model_not_found(name.as_str()))
}

/// Locks a model and reads one of its versions: the start of every change
/// to a version.
pub fn lock_version(
    tx: &mut WriteTx<'_>,
    name: &ModelName,
    version: VersionNumber,
) -> Result<(ModelRow, VersionRow)> {
    let model = lock_model(tx, name)?;
    let row = find_version(tx.conn(), &model, version)?;
    Ok((model, row))
}
