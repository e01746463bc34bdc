//! Model versions: registration, reads, edits, tags, deletion and direct
//! stage moves (whose rules are in `lifecycle`). Cross-model search is in
//! `version_search`.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Actor;
use crate::db::enums::Stage;
use crate::db::event::{EventKind, Snapshot, Subject};
use crate::db::rows::{ModelRow, NewVersionRow, VersionRow};
use crate::db::schema::{
    model_version_tags, model_versions, registered_model_aliases, registered_models,
    stage_clearances,
};
use crate::db::{self, DbConn, WriteTx, now_ms};
use crate::domain::lifecycle::{self, Transition};
use crate::domain::lookup::{find_model, find_version, lock_version, model_not_found};
use crate::domain::policy::Policy;
use crate::domain::sql::{Page, PageToken};
use crate::domain::types::{ModelName, TagKey, VersionNumber};
use crate::error::{Entity, Error, Result};

/// A registered version of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelVersion {
    /// The model's name.
    pub name: String,
    /// Version number, from 1, never reused.
    pub version: i64,
    /// Artifact URI.
    pub source: String,
    /// Run that produced it.
    pub run_id: Option<String>,
    /// Link to that run.
    pub run_link: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The tags' keys in the order they were first set (MLflow lists them so).
    #[serde(skip)]
    pub tag_order: Vec<String>,
    /// Lifecycle stage.
    pub current_stage: Stage,
    /// Registration status (`READY`).
    pub status: String,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
    /// Who registered it.
    pub created_by: String,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: i64,
    /// The MLflow logged model it was registered from (MLflow 3's `model_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Where its files are when that is not `source` (registered from a
    /// `models:/` source): what MLflow's download URI answers.
    #[serde(skip)]
    pub storage_location: Option<String>,
}

/// What a new version is registered with.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Artifact URI.
    pub source: String,
    /// Producing run.
    pub run_id: Option<String>,
    /// Link to the run.
    pub run_link: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Initial tags.
    pub tags: Vec<(TagKey, String)>,
    /// Where the files are, when that is not `source` (a `models:/` source
    /// resolved by the MLflow layer).
    pub storage_location: Option<String>,
    /// The MLflow logged model it comes from.
    pub model_id: Option<String>,
}

/// Turns rows into API objects, loading tags and aliases in two queries.
pub fn hydrate(
    conn: &mut DbConn,
    rows: Vec<VersionRow>,
    model_names: &HashMap<i64, String>,
) -> Result<Vec<ModelVersion>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let version_ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut model_ids: Vec<i64> = rows.iter().map(|row| row.model_id).collect();
    model_ids.sort_unstable();
    model_ids.dedup();

    let mut tags: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    let tag_rows: Vec<(i64, String, String)> = model_version_tags::table
        .filter(model_version_tags::version_id.eq_any(&version_ids))
        .select((
            model_version_tags::version_id,
            model_version_tags::key,
            model_version_tags::value,
        ))
        .order((
            model_version_tags::position.asc(),
            model_version_tags::key.asc(),
        ))
        .load(conn)?;
    for (version_id, key, value) in tag_rows {
        tags.entry(version_id).or_default().push((key, value));
    }

    let mut aliases: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    let alias_rows: Vec<(i64, String, i64)> = registered_model_aliases::table
        .filter(registered_model_aliases::model_id.eq_any(&model_ids))
        .select((
            registered_model_aliases::model_id,
            registered_model_aliases::alias,
            registered_model_aliases::version,
        ))
        .order(registered_model_aliases::alias.asc())
        .load(conn)?;
    for (model_id, alias, version) in alias_rows {
        aliases.entry((model_id, version)).or_default().push(alias);
    }

    Ok(rows
        .into_iter()
        .map(|row| {
            let name = model_names.get(&row.model_id).cloned().unwrap_or_default();
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            let row_aliases = aliases
                .remove(&(row.model_id, row.version))
                .unwrap_or_default();
            version_of(row, name, row_tags, row_aliases)
        })
        .collect())
}

/// A version from its row, model name, tags (in the order they were set)
/// and aliases.
fn version_of(
    row: VersionRow,
    name: String,
    tags: Vec<(String, String)>,
    aliases: Vec<String>,
) -> ModelVersion {
    let tag_order = tags.iter().map(|(key, _)| key.clone()).collect();
    let tags = tags.into_iter().collect();
    ModelVersion {
        name,
        tag_order,
        tags,
        aliases,
        current_stage: row.current_stage,
        version: row.version,
        source: row.source,
        run_id: row.run_id,
        run_link: row.run_link,
        description: row.description,
        status: row.status,
        created_by: row.created_by,
        creation_timestamp: row.creation_timestamp,
        last_updated_timestamp: row.last_updated_timestamp,
        model_id: row.logged_model_id,
        storage_location: row.storage_location,
    }
}

/// One row as an API object.
pub fn hydrate_one(conn: &mut DbConn, model: &ModelRow, row: VersionRow) -> Result<ModelVersion> {
    let names = HashMap::from([(model.id, model.name.clone())]);
    hydrate(conn, vec![row], &names)?
        .pop()
        .ok_or_else(|| Error::internal("hydrated version vanished".to_owned()))
}

/// Registers a new version with the model's next number.
#[tracing::instrument(skip_all, fields(model = %name))]
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    new: NewVersion,
) -> Result<ModelVersion> {
    db::write(conn, &actor.username, |tx| {
        let model = tx
            .lock_model_for_new_version(name.as_str())?
            .ok_or_else(|| model_not_found(name.as_str()))?;
        let number = model.next_version - 1;
        let now = model.last_updated_timestamp;
        let row: VersionRow = diesel::insert_into(model_versions::table)
            .values(NewVersionRow {
                model_id: model.id,
                version: number,
                source: &new.source,
                run_id: new.run_id.as_deref(),
                run_link: new.run_link.as_deref(),
                description: new.description.as_deref(),
                current_stage: Stage::None,
                status: "READY",
                created_by: &actor.username,
                creation_timestamp: now,
                last_updated_timestamp: now,
                storage_location: new.storage_location.as_deref(),
                logged_model_id: new.model_id.as_deref(),
            })
            .returning(model_versions::all_columns)
            .get_result(tx.conn())?;
        insert_tags(tx, row.id, &new.tags)?;
        // A new number has no aliases (numbers are never reused and an alias
        // needs its version), and its tags are the ones just inserted.
        let tags = new
            .tags
            .iter()
            .map(|(key, value)| (key.as_str().to_owned(), value.clone()))
            .collect();
        let version = version_of(row, model.name.clone(), tags, Vec::new());
        tx.emit(
            Subject::Version(&model.name, number),
            EventKind::VersionCreated {
                model_version: Snapshot::of(&version)?,
            },
        )?;
        Ok(version)
    })
}

/// Inserts new tags of a version after the ones it has (in the order given).
fn insert_tags(tx: &mut WriteTx<'_>, version_id: i64, tags: &[(TagKey, String)]) -> Result<()> {
    let last: Option<i64> = model_version_tags::table
        .filter(model_version_tags::version_id.eq(version_id))
        .select(diesel::dsl::max(model_version_tags::position))
        .first(tx.conn())?;
    for (position, (key, value)) in (last.unwrap_or(0) + 1..).zip(tags) {
        diesel::insert_into(model_version_tags::table)
            .values((
                model_version_tags::version_id.eq(version_id),
                model_version_tags::key.eq(key.as_str()),
                model_version_tags::value.eq(value),
                model_version_tags::position.eq(position),
            ))
            .execute(tx.conn())?;
    }
    Ok(())
}

/// Reads one version.
pub fn get(conn: &mut DbConn, name: &ModelName, version: VersionNumber) -> Result<ModelVersion> {
    db::read(conn, |conn| {
        let model = find_model(conn, name)?;
        let row = find_version(conn, &model, version)?;
        hydrate_one(conn, &model, row)
    })
}

/// Filters of a version list.
#[derive(Debug, Clone)]
pub struct VersionQuery {
    /// Only versions in this stage.
    pub stage: Option<Stage>,
    /// Newest first (default) or oldest first.
    pub descending: bool,
    /// Page size.
    pub max_results: i64,
    /// Continuation.
    pub page_token: Option<String>,
}

/// Lists a model's versions, newest first unless asked otherwise.
pub fn list(
    conn: &mut DbConn,
    name: &ModelName,
    query: VersionQuery,
) -> Result<Page<ModelVersion>> {
    let scope = format!(
        "versions:{}:{}",
        query.stage.map_or("any", Stage::as_str),
        if query.descending { "desc" } else { "asc" }
    );
    db::read(conn, |conn| {
        let model = find_model(conn, name)?;
        let mut select = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .select(VersionRow::as_select())
            .limit(query.max_results + 1)
            .into_boxed();
        if let Some(stage) = query.stage {
            select = select.filter(model_versions::current_stage.eq(stage));
        }
        let after = match &query.page_token {
            Some(token) => Some(PageToken::decode(token, &scope)?.int_key()?),
            None => None,
        };
        select = if query.descending {
            if let Some(after) = after {
                select = select.filter(model_versions::version.lt(after));
            }
            select.order(model_versions::version.desc())
        } else {
            if let Some(after) = after {
                select = select.filter(model_versions::version.gt(after));
            }
            select.order(model_versions::version.asc())
        };
        let rows = select.load(conn)?;
        let names = HashMap::from([(model.id, model.name.clone())]);
        let items = hydrate(conn, rows, &names)?;
        Ok(Page::from_overfetch(items, query.max_results, |v| {
            PageToken::int(&scope, v.version)
        }))
    })
}

/// The newest version of a model, in one stage or in any.
pub fn latest(conn: &mut DbConn, name: &ModelName, stage: Option<Stage>) -> Result<ModelVersion> {
    db::read(conn, |conn| {
        let model = find_model(conn, name)?;
        let mut select = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .order(model_versions::version.desc())
            .select(VersionRow::as_select())
            .into_boxed();
        if let Some(stage) = stage {
            select = select.filter(model_versions::current_stage.eq(stage));
        }
        let row = select.first(conn).optional()?.ok_or_else(|| {
            Error::NotFound(Entity::NewestVersion {
                model: name.as_str().to_owned(),
                stage: stage.map(|stage| stage.to_string()),
            })
        })?;
        hydrate_one(conn, &model, row)
    })
}

/// Changes a version's description (`None`: leave it; `Some(None)`: clear it).
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    version: VersionNumber,
    description: Option<Option<String>>,
) -> Result<ModelVersion> {
    db::write(conn, &actor.username, |tx| {
        let (model, row) = lock_version(tx, name, version)?;
        let Some(description) = description else {
            tx.unchanged();
            return hydrate_one(tx.conn(), &model, row);
        };
        let row: VersionRow = diesel::update(model_versions::table.find(row.id))
            .set((
                model_versions::description.eq(description.as_deref()),
                model_versions::last_updated_timestamp.eq(now_ms()),
            ))
            .returning(model_versions::all_columns)
            .get_result(tx.conn())?;
        let updated = hydrate_one(tx.conn(), &model, row)?;
        tx.emit(
            Subject::Version(&model.name, version.get()),
            EventKind::VersionUpdated { description },
        )?;
        Ok(updated)
    })
}

/// Deletes a version (and the aliases pointing at it). Its number is not reused.
pub fn delete(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    version: VersionNumber,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let (model, row) = lock_version(tx, name, version)?;
        let aliases_of_it = registered_model_aliases::table
            .filter(registered_model_aliases::model_id.eq(model.id))
            .filter(registered_model_aliases::version.eq(version.get()));
        let removed_aliases: Vec<String> = aliases_of_it
            .select(registered_model_aliases::alias)
            .load(tx.conn())?;
        diesel::delete(aliases_of_it).execute(tx.conn())?;
        diesel::delete(model_versions::table.find(row.id)).execute(tx.conn())?;
        diesel::delete(
            stage_clearances::table
                .filter(stage_clearances::model_id.eq(model.id))
                .filter(stage_clearances::version.eq(version.get())),
        )
        .execute(tx.conn())?;
        diesel::update(registered_models::table.find(model.id))
            .set(registered_models::last_updated_timestamp.eq(now_ms()))
            .execute(tx.conn())?;
        tx.emit(
            Subject::Version(&model.name, version.get()),
            EventKind::VersionDeleted {
                stage: row.current_stage,
                removed_aliases,
            },
        )?;
        lifecycle::mark_stale(tx, &model, version.get(), None, None)
    })
}

/// Sets (or replaces) a tag on a version.
pub fn set_tag(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    version: VersionNumber,
    key: &TagKey,
    value: &str,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let (model, row) = lock_version(tx, name, version)?;
        let updated = diesel::update(
            model_version_tags::table
                .filter(model_version_tags::version_id.eq(row.id))
                .filter(model_version_tags::key.eq(key.as_str())),
        )
        .set(model_version_tags::value.eq(value))
        .execute(tx.conn())?;
        if updated == 0 {
            insert_tags(tx, row.id, &[(key.clone(), value.to_owned())])?;
        }
        tx.emit(
            Subject::Version(&model.name, version.get()),
            EventKind::VersionTagSet {
                key: key.as_str().to_owned(),
                value: value.to_owned(),
            },
        )
    })
}

/// Removes a tag from a version; 404 if it is not set.
pub fn delete_tag(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    version: VersionNumber,
    key: &TagKey,
) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let (model, row) = lock_version(tx, name, version)?;
        let deleted = diesel::delete(
            model_version_tags::table
                .filter(model_version_tags::version_id.eq(row.id))
                .filter(model_version_tags::key.eq(key.as_str())),
        )
        .execute(tx.conn())?;
        if deleted == 0 {
            return Err(Error::NotFound(Entity::VersionTag {
                model: name.as_str().to_owned(),
                version: version.get(),
                key: key.as_str().to_owned(),
            }));
        }
        tx.emit(
            Subject::Version(&model.name, version.get()),
            EventKind::VersionTagDeleted {
                key: key.as_str().to_owned(),
            },
        )
    })
}

/// Moves a version to another stage where the policy lets the actor do so
/// directly (the rules are in [`lifecycle`]).
#[tracing::instrument(skip_all, fields(model = %name, version = %version, to = %transition.to))]
pub fn transition(
    conn: &mut DbConn,
    actor: &Actor,
    policy: &Policy,
    name: &ModelName,
    version: VersionNumber,
    transition: Transition,
) -> Result<ModelVersion> {
    db::write(conn, &actor.username, |tx| {
        let (model, row) = lock_version(tx, name, version)?;
        lifecycle::check_direct_move(tx.conn(), policy, actor, &model, &row, &transition)?;
        let updated = lifecycle::apply(tx, actor, &model, &row, &transition, None)?;
        hydrate_one(tx.conn(), &model, updated)
    })
}
