//! Registered models: create, read, rename, describe, delete, tags.
//! Searching them is in `model_search`, aliases in `aliases`.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Actor;
use crate::db::enums::{RequestStatus, Stage};
use crate::db::event::{DeletedRequest, EventKind, Snapshot, Subject};
use crate::db::rows::{ModelRow, NewModelRow, VersionRow};
use crate::db::schema::{
    model_versions, registered_model_aliases, registered_model_tags, registered_models,
    transition_requests,
};
use crate::db::version_pages;
use crate::db::{self, DbConn, now_ms};
use crate::domain::lifecycle;
use crate::domain::lookup::{find_model, lock_model};
use crate::domain::policy::Policy;
use crate::domain::types::{ModelName, TagKey};
use crate::domain::versions::{self, ModelVersion};
use crate::error::{Entity, Error, Result};

/// A registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The tags' keys in the order they were first set (MLflow lists them so).
    #[serde(skip)]
    pub tag_order: Vec<String>,
    /// Aliases and the versions they point at.
    pub aliases: BTreeMap<String, i64>,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: i64,
    /// The newest version in each stage that has one.
    pub latest_versions: Vec<ModelVersion>,
}

/// What a new model is created with.
#[derive(Debug, Clone)]
pub struct NewModel {
    /// Unique name.
    pub name: ModelName,
    /// Free text.
    pub description: Option<String>,
    /// Initial tags.
    pub tags: Vec<(TagKey, String)>,
}

/// Changes to a model; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ModelChanges {
    /// Rename to this.
    pub new_name: Option<ModelName>,
    /// Replace the description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
}

/// Turns model rows into API objects with a fixed number of queries.
pub(crate) fn hydrate(conn: &mut DbConn, rows: Vec<ModelRow>) -> Result<Vec<RegisteredModel>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let names: HashMap<i64, String> = rows.iter().map(|r| (r.id, r.name.clone())).collect();

    let mut tags: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
    let mut tag_order: HashMap<i64, Vec<String>> = HashMap::new();
    let tag_rows: Vec<(i64, String, String)> = registered_model_tags::table
        .filter(registered_model_tags::model_id.eq_any(&ids))
        .select((
            registered_model_tags::model_id,
            registered_model_tags::key,
            registered_model_tags::value,
        ))
        .order((
            registered_model_tags::position.asc(),
            registered_model_tags::key.asc(),
        ))
        .load(conn)?;
    for (model_id, key, value) in tag_rows {
        tag_order.entry(model_id).or_default().push(key.clone());
        tags.entry(model_id).or_default().insert(key, value);
    }

    let mut aliases: HashMap<i64, BTreeMap<String, i64>> = HashMap::new();
    let alias_rows: Vec<(i64, String, i64)> = registered_model_aliases::table
        .filter(registered_model_aliases::model_id.eq_any(&ids))
        .select((
            registered_model_aliases::model_id,
            registered_model_aliases::alias,
            registered_model_aliases::version,
        ))
        .load(conn)?;
    for (model_id, alias, version) in alias_rows {
        aliases.entry(model_id).or_default().insert(alias, version);
    }

    let latest_ids = version_pages::newest_per_stage(conn, &ids)?;
    let mut latest: HashMap<String, Vec<ModelVersion>> = HashMap::new();
    if !latest_ids.is_empty() {
        let version_rows: Vec<VersionRow> = model_versions::table
            .filter(model_versions::id.eq_any(&latest_ids))
            .order(model_versions::version.asc())
            .select(VersionRow::as_select())
            .load(conn)?;
        for version in versions::hydrate(conn, version_rows, &names)? {
            latest
                .entry(version.name.clone())
                .or_default()
                .push(version);
        }
    }

    Ok(rows
        .into_iter()
        .map(|row| {
            let mut latest_versions = latest.remove(&row.name).unwrap_or_default();
            latest_versions.sort_by_key(|v| v.current_stage);
            RegisteredModel {
                tags: tags.remove(&row.id).unwrap_or_default(),
                tag_order: tag_order.remove(&row.id).unwrap_or_default(),
                aliases: aliases.remove(&row.id).unwrap_or_default(),
                latest_versions,
                name: row.name,
                description: row.description,
                creation_timestamp: row.creation_timestamp,
                last_updated_timestamp: row.last_updated_timestamp,
            }
        })
        .collect())
}

fn hydrate_one(conn: &mut DbConn, row: ModelRow) -> Result<RegisteredModel> {
    hydrate(conn, vec![row])?
        .pop()
        .ok_or_else(|| Error::internal("hydrated model vanished".to_owned()))
}

fn already_exists(name: &str) -> Error {
    crate::domain::lookup::model_exists(name)
}

fn name_taken(conn: &mut DbConn, name: &ModelName) -> Result<bool> {
    Ok(registered_models::table
        .filter(registered_models::name.eq(name.as_str()))
        .select(registered_models::id)
        .first::<i64>(conn)
        .optional()?
        .is_some())
}

/// Maps a unique violation on the model name to a clear 409.
fn on_unique_name(name: &ModelName) -> impl Fn(diesel::result::Error) -> Error + '_ {
    move |error| match error {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => already_exists(name.as_str()),
        other => other.into(),
    }
}

/// Creates a model.
#[tracing::instrument(skip_all, fields(model = %new.name))]
pub fn create(conn: &mut DbConn, actor: &Actor, new: NewModel) -> Result<RegisteredModel> {
    db::write(conn, &actor.username, |tx| {
        if name_taken(tx.conn(), &new.name)? {
            return Err(already_exists(new.name.as_str()));
        }
        let now = now_ms();
        let row: ModelRow = diesel::insert_into(registered_models::table)
            .values(NewModelRow {
                name: new.name.as_str(),
                description: new.description.as_deref(),
                creation_timestamp: now,
                last_updated_timestamp: now,
                next_version: 1,
            })
            .returning(registered_models::all_columns)
            .get_result(tx.conn())
            .map_err(on_unique_name(&new.name))?;
        for (position, (key, value)) in (1_i64..).zip(&new.tags) {
            diesel::insert_into(registered_model_tags::table)
                .values((
                    registered_model_tags::model_id.eq(row.id),
                    registered_model_tags::key.eq(key.as_str()),
                    registered_model_tags::value.eq(value),
                    registered_model_tags::position.eq(position),
                ))
                .execute(tx.conn())?;
        }
        let model = hydrate_one(tx.conn(), row)?;
        tx.emit(
            Subject::Model(&model.name),
            EventKind::ModelCreated {
                registered_model: Snapshot::of(&model)?,
            },
        )?;
        Ok(model)
    })
}

/// Reads a model.
pub fn get(conn: &mut DbConn, name: &ModelName) -> Result<RegisteredModel> {
    db::read(conn, |conn| {
        let row = find_model(conn, name)?;
        hydrate_one(conn, row)
    })
}

/// The stages `name`'s versions are in, ordered by the lowest version number
/// in each: the order MLflow's server lists a model's latest versions in.
/// One index probe per stage.
pub fn stages_by_first_version(conn: &mut DbConn, name: &ModelName) -> Result<Vec<Stage>> {
    use crate::db::schema::model_versions::dsl as v;
    db::read(conn, |conn| {
        let model = find_model(conn, name)?;
        let mut firsts = Vec::new();
        for stage in Stage::ALL {
            let first: Option<i64> = v::model_versions
                .filter(v::model_id.eq(model.id))
                .filter(v::current_stage.eq(stage))
                .select(v::version)
                .order(v::version.asc())
                .first(conn)
                .optional()?;
            if let Some(first) = first {
                firsts.push((first, stage));
            }
        }
        firsts.sort();
        Ok(firsts.into_iter().map(|(_, stage)| stage).collect())
    })
}

/// Renames a model and/or changes its description. A rename that moves a
/// guarded stage's version to another name needs that stage's gate role
/// ([`lifecycle::check_rename`]).
#[tracing::instrument(skip_all, fields(model = %name))]
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    policy: &Policy,
    name: &ModelName,
    changes: ModelChanges,
) -> Result<RegisteredModel> {
    db::write(conn, &actor.username, |tx| {
        let row = lock_model(tx, name)?;
        let now = now_ms();
        let mut changed = false;
        let mut current_name = row.name.clone();
        if let Some(new_name) = &changes.new_name
            && new_name.as_str() != row.name
        {
            if name_taken(tx.conn(), new_name)? {
                return Err(already_exists(new_name.as_str()));
            }
            lifecycle::check_rename(tx.conn(), policy, actor, &row, new_name.as_str())?;
            diesel::update(registered_models::table.find(row.id))
                .set(registered_models::name.eq(new_name.as_str()))
                .execute(tx.conn())
                .map_err(on_unique_name(new_name))?;
            tx.emit(
                Subject::Model(new_name.as_str()),
                EventKind::ModelRenamed {
                    from: row.name.clone(),
                    to: new_name.as_str().to_owned(),
                },
            )?;
            changed = true;
            current_name = new_name.as_str().to_owned();
        }
        if let Some(description) = &changes.description {
            diesel::update(registered_models::table.find(row.id))
                .set(registered_models::description.eq(description.as_deref()))
                .execute(tx.conn())?;
            tx.emit(
                Subject::Model(&current_name),
                EventKind::ModelUpdated {
                    description: description.clone(),
                },
            )?;
            changed = true;
        }
        if changed {
            diesel::update(registered_models::table.find(row.id))
                .set(registered_models::last_updated_timestamp.eq(now))
                .execute(tx.conn())?;
        } else {
            tx.unchanged();
        }
        let row: ModelRow = registered_models::table
            .find(row.id)
            .select(ModelRow::as_select())
            .first(tx.conn())?;
        hydrate_one(tx.conn(), row)
    })
}

/// Deletes a model with all its versions, tags and aliases.
#[tracing::instrument(skip_all, fields(model = %name))]
pub fn delete(conn: &mut DbConn, actor: &Actor, name: &ModelName) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = lock_model(tx, name)?;
        let version_count: i64 = model_versions::table
            .filter(model_versions::model_id.eq(row.id))
            .count()
            .get_result(tx.conn())?;
        // The requests (and their approvals) go with the model: the event
        // keeps which ones, for the audit.
        let requests: Vec<(i64, i64, RequestStatus)> = transition_requests::table
            .filter(transition_requests::model_id.eq(row.id))
            .select((
                transition_requests::id,
                transition_requests::version,
                transition_requests::status,
            ))
            .order(transition_requests::id.asc())
            .load(tx.conn())?;
        diesel::delete(registered_models::table.find(row.id)).execute(tx.conn())?;
        let deleted_requests = requests
            .into_iter()
            .map(|(id, version, status)| DeletedRequest {
                id,
                version,
                status,
            })
            .collect();
        tx.emit(
            Subject::Model(&row.name),
            EventKind::ModelDeleted {
                deleted_versions: version_count,
                deleted_requests,
            },
        )
    })
}

/// Sets (or replaces) a tag on a model.
pub fn set_tag(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    key: &TagKey,
    value: &str,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = lock_model(tx, name)?;
        let updated = diesel::update(
            registered_model_tags::table
                .filter(registered_model_tags::model_id.eq(row.id))
                .filter(registered_model_tags::key.eq(key.as_str())),
        )
        .set(registered_model_tags::value.eq(value))
        .execute(tx.conn())?;
        if updated == 0 {
            // a new tag goes after the others; one set again keeps its place
            let last: Option<i64> = registered_model_tags::table
                .filter(registered_model_tags::model_id.eq(row.id))
                .select(diesel::dsl::max(registered_model_tags::position))
                .first(tx.conn())?;
            diesel::insert_into(registered_model_tags::table)
                .values((
                    registered_model_tags::model_id.eq(row.id),
                    registered_model_tags::key.eq(key.as_str()),
                    registered_model_tags::value.eq(value),
                    registered_model_tags::position.eq(last.unwrap_or(0) + 1),
                ))
                .execute(tx.conn())?;
        }
        tx.emit(
            Subject::Model(&row.name),
            EventKind::ModelTagSet {
                key: key.as_str().to_owned(),
                value: value.to_owned(),
            },
        )
    })
}

/// Removes a tag from a model; 404 if it is not set.
pub fn delete_tag(conn: &mut DbConn, actor: &Actor, name: &ModelName, key: &TagKey) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = lock_model(tx, name)?;
        let deleted = diesel::delete(
            registered_model_tags::table
                .filter(registered_model_tags::model_id.eq(row.id))
                .filter(registered_model_tags::key.eq(key.as_str())),
        )
        .execute(tx.conn())?;
        if deleted == 0 {
            return Err(Error::NotFound(Entity::ModelTag {
                model: name.as_str().to_owned(),
                key: key.as_str().to_owned(),
            }));
        }
        tx.emit(
            Subject::Model(&row.name),
            EventKind::ModelTagDeleted {
                key: key.as_str().to_owned(),
            },
        )
    })
}
