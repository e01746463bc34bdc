//! Finding models and versions, and locking a model for a write, with the
//! errors that say what was not found. Every module that reads or changes a
//! model or version starts here.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::WriteTx;
use crate::db::rows::{ModelRow, VersionRow};
use crate::db::schema::{model_versions, registered_models};
use crate::domain::types::{ModelName, VersionNumber};
use crate::error::{Error, Result};

/// The error for a model that does not exist.
pub fn model_not_found(name: &str) -> Error {
    Error::NotFound(format!("registered model '{name}' does not exist"))
}

/// The error for a version that does not exist.
pub fn version_not_found(name: &str, version: i64) -> Error {
    Error::NotFound(format!(
        "version {version} of registered model '{name}' does not exist"
    ))
}

/// The error for a name another model holds.
pub fn model_exists(name: &str) -> Error {
    Error::AlreadyExists(format!("registered model '{name}' already exists"))
}

/// MLflow's text for an error made by [`model_not_found`],
/// [`version_not_found`] or [`model_exists`] (what its server says, and tools
/// match on); `None` for any other error.
pub fn mlflow_message(error: &Error) -> Option<String> {
    match error {
        Error::NotFound(message) => {
            if let Some(name) = message
                .strip_prefix("registered model '")
                .and_then(|m| m.strip_suffix("' does not exist"))
            {
                return Some(format!("Registered Model with name={name} not found"));
            }
            let (version, rest) = message.strip_prefix("version ")?.split_once(' ')?;
            let name = rest
                .strip_prefix("of registered model '")?
                .strip_suffix("' does not exist")?;
            version.parse::<i64>().ok()?;
            Some(format!(
                "Model Version (name={name}, version={version}) not found"
            ))
        }
        Error::InvalidParameter(message) if message == "invalid page_token" => {
            Some("Invalid page token, could not base64-decode".to_owned())
        }
        Error::AlreadyExists(message) => message
            .strip_prefix("registered model '")
            .and_then(|m| m.strip_suffix("' already exists"))
            .map(|name| format!("Registered Model (name={name}) already exists.")),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_texts_are_mlflows() {
        let text = |e: Error| mlflow_message(&e).unwrap_or_default();
        assert_eq!(
            text(model_not_found("it's")),
            "Registered Model with name=it's not found"
        );
        assert_eq!(
            text(version_not_found("m", 7)),
            "Model Version (name=m, version=7) not found"
        );
        assert_eq!(
            text(model_exists("m")),
            "Registered Model (name=m) already exists."
        );
        assert_eq!(
            mlflow_message(&Error::NotFound("user 'x' does not exist".into())),
            None
        );
    }
}
