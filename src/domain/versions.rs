//! Model versions: registration, edits, tags, stage transitions and their trail.

use std::collections::{BTreeMap, HashMap};

use diesel::dsl::case_when;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::auth::Actor;
use crate::db::rows::{ActivityRow, ModelRow, NewActivityRow, NewVersionRow, VersionRow};
use crate::db::schema::{
    activities, model_version_tags, model_versions, registered_model_aliases, registered_models,
};
use crate::db::{self, DbConn};
use crate::domain::events::{self, NewEvent};
use crate::domain::paging::{Page, PageToken};
use crate::domain::policy::{Decision, Policy};
use crate::domain::requests;
use crate::domain::stage::Stage;
use crate::domain::types::{ModelName, TagKey, VersionNumber, now_ms};
use crate::error::{Error, Result};

/// A registered version of a model.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
}

/// One entry of a version's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Activity {
    /// `APPLIED_TRANSITION`, `SYSTEM_TRANSITION`, `REQUESTED_TRANSITION`, …
    pub activity_type: String,
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
}

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

pub(crate) fn model_not_found(name: &str) -> Error {
    Error::NotFound(format!("registered model '{name}' does not exist"))
}

fn version_not_found(name: &str, version: i64) -> Error {
    Error::NotFound(format!(
        "version {version} of registered model '{name}' does not exist"
    ))
}

fn parse_stage(text: &str) -> Result<Stage> {
    text.parse::<Stage>()
        .map_err(|_| Error::Internal(format!("stored stage '{text}' is not a stage")))
}

/// Reads a model row without locking.
pub(crate) fn find_model(conn: &mut DbConn, name: &ModelName) -> Result<ModelRow> {
    registered_models::table
        .filter(registered_models::name.eq(name.as_str()))
        .select(ModelRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| model_not_found(name.as_str()))
}

/// Locks a model row by id (PostgreSQL; SQLite's write lock is already held).
pub(crate) fn lock_model_by_id(conn: &mut DbConn, id: i64) -> Result<Option<ModelRow>> {
    let query = registered_models::table
        .find(id)
        .select(registered_models::all_columns);
    Ok(match conn {
        DbConn::Postgresql(pg) => query.for_update().first(pg).optional()?,
        DbConn::Sqlite(sqlite) => query.first(sqlite).optional()?,
    })
}

/// Reads a model row and, on PostgreSQL, locks it for the rest of the
/// transaction: every change to a model's versions takes this lock first, so
/// concurrent writers serialize on the model and never deadlock.
pub(crate) fn lock_model(conn: &mut DbConn, name: &ModelName) -> Result<ModelRow> {
    let query = registered_models::table
        .filter(registered_models::name.eq(name.as_str()))
        .select(registered_models::all_columns);
    let row: Option<ModelRow> = match conn {
        DbConn::Postgresql(pg) => query.for_update().first(pg).optional()?,
        // SQLite's BEGIN IMMEDIATE (db::write_tx) already holds the write lock.
        DbConn::Sqlite(sqlite) => query.first(sqlite).optional()?,
    };
    row.ok_or_else(|| model_not_found(name.as_str()))
}

pub(crate) fn find_version(
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

/// Turns rows into API objects, loading tags and aliases in two queries.
pub(crate) fn hydrate(
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

    let mut tags: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
    let tag_rows: Vec<(i64, String, String)> = model_version_tags::table
        .filter(model_version_tags::version_id.eq_any(&version_ids))
        .select((
            model_version_tags::version_id,
            model_version_tags::key,
            model_version_tags::value,
        ))
        .load(conn)?;
    for (version_id, key, value) in tag_rows {
        tags.entry(version_id).or_default().insert(key, value);
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

    rows.into_iter()
        .map(|row| {
            let name = model_names.get(&row.model_id).cloned().unwrap_or_default();
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            let row_aliases = aliases
                .remove(&(row.model_id, row.version))
                .unwrap_or_default();
            version_of(row, name, row_tags, row_aliases)
        })
        .collect()
}

/// A version from its row, model name, tags and aliases.
fn version_of(
    row: VersionRow,
    name: String,
    tags: BTreeMap<String, String>,
    aliases: Vec<String>,
) -> Result<ModelVersion> {
    Ok(ModelVersion {
        name,
        tags,
        aliases,
        current_stage: parse_stage(&row.current_stage)?,
        version: row.version,
        source: row.source,
        run_id: row.run_id,
        run_link: row.run_link,
        description: row.description,
        status: row.status,
        created_by: row.created_by,
        creation_timestamp: row.creation_timestamp,
        last_updated_timestamp: row.last_updated_timestamp,
    })
}

fn hydrate_one(conn: &mut DbConn, model: &ModelRow, row: VersionRow) -> Result<ModelVersion> {
    let names = HashMap::from([(model.id, model.name.clone())]);
    hydrate(conn, vec![row], &names)?
        .pop()
        .ok_or_else(|| Error::Internal("hydrated version vanished".to_owned()))
}

/// Registers a new version with the model's next number.
#[tracing::instrument(skip_all, fields(model = %name))]
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    name: &ModelName,
    new: NewVersion,
) -> Result<ModelVersion> {
    db::write_tx(conn, |conn| {
        // Advancing the counter locks the model row, as `lock_model` would,
        // in the same statement. The clock was read before the lock was
        // granted, so the stamp never goes back behind the writer before.
        let now = now_ms();
        let stamp = case_when(
            registered_models::last_updated_timestamp.gt(now),
            registered_models::last_updated_timestamp,
        )
        .otherwise(now);
        let model: ModelRow = diesel::update(
            registered_models::table.filter(registered_models::name.eq(name.as_str())),
        )
        .set((
            registered_models::next_version.eq(registered_models::next_version + 1),
            registered_models::last_updated_timestamp.eq(stamp),
        ))
        .returning(registered_models::all_columns)
        .get_result(conn)
        .optional()?
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
                current_stage: Stage::None.as_str(),
                status: "READY",
                created_by: &actor.username,
                creation_timestamp: now,
                last_updated_timestamp: now,
            })
            .returning(model_versions::all_columns)
            .get_result(conn)?;
        insert_tags(conn, row.id, &new.tags)?;
        // A new number has no aliases (numbers are never reused and an alias
        // needs its version), and its tags are the ones just inserted.
        let tags = new
            .tags
            .iter()
            .map(|(key, value)| (key.as_str().to_owned(), value.clone()))
            .collect();
        let version = version_of(row, model.name.clone(), tags, Vec::new())?;
        events::append(
            conn,
            actor,
            vec![NewEvent::new(
                "version.created",
                &model.name,
                Some(number),
                json!({ "model_version": version }),
            )],
        )?;
        Ok(version)
    })
}

fn insert_tags(conn: &mut DbConn, version_id: i64, tags: &[(TagKey, String)]) -> Result<()> {
    for (key, value) in tags {
        diesel::insert_into(model_version_tags::table)
            .values((
                model_version_tags::version_id.eq(version_id),
                model_version_tags::key.eq(key.as_str()),
                model_version_tags::value.eq(value),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Reads one version.
pub fn get(conn: &mut DbConn, name: &ModelName, version: VersionNumber) -> Result<ModelVersion> {
    db::read_tx(conn, |conn| {
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
    db::read_tx(conn, |conn| {
        let model = find_model(conn, name)?;
        let mut select = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .select(VersionRow::as_select())
            .limit(query.max_results + 1)
            .into_boxed();
        if let Some(stage) = query.stage {
            select = select.filter(model_versions::current_stage.eq(stage.as_str()));
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
    db::read_tx(conn, |conn| {
        let model = find_model(conn, name)?;
        let mut select = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .order(model_versions::version.desc())
            .select(VersionRow::as_select())
            .into_boxed();
        if let Some(stage) = stage {
            select = select.filter(model_versions::current_stage.eq(stage.as_str()));
        }
        let row = select.first(conn).optional()?.ok_or_else(|| {
            Error::NotFound(match stage {
                Some(stage) => {
                    format!("no version of registered model '{name}' is in stage {stage}")
                }
                None => format!("registered model '{name}' has no versions"),
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
    db::write_tx(conn, |conn| {
        let model = lock_model(conn, name)?;
        let row = find_version(conn, &model, version)?;
        let Some(description) = description else {
            return hydrate_one(conn, &model, row);
        };
        let now = now_ms();
        let row: VersionRow = diesel::update(model_versions::table.find(row.id))
            .set((
                model_versions::description.eq(description.as_deref()),
                model_versions::last_updated_timestamp.eq(now),
            ))
            .returning(model_versions::all_columns)
            .get_result(conn)?;
        let updated = hydrate_one(conn, &model, row)?;
        events::append(
            conn,
            actor,
            vec![NewEvent::new(
                "version.updated",
                &model.name,
                Some(version.get()),
                json!({ "description": description }),
            )],
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
    db::write_tx(conn, |conn| {
        let model = lock_model(conn, name)?;
        let row = find_version(conn, &model, version)?;
        let removed_aliases: Vec<String> = registered_model_aliases::table
            .filter(registered_model_aliases::model_id.eq(model.id))
            .filter(registered_model_aliases::version.eq(version.get()))
            .select(registered_model_aliases::alias)
            .load(conn)?;
        diesel::delete(
            registered_model_aliases::table
                .filter(registered_model_aliases::model_id.eq(model.id))
                .filter(registered_model_aliases::version.eq(version.get())),
        )
        .execute(conn)?;
        diesel::delete(model_versions::table.find(row.id)).execute(conn)?;
        diesel::update(registered_models::table.find(model.id))
            .set(registered_models::last_updated_timestamp.eq(now_ms()))
            .execute(conn)?;
        let mut new_events = vec![NewEvent::new(
            "version.deleted",
            &model.name,
            Some(version.get()),
            json!({ "stage": row.current_stage, "removed_aliases": removed_aliases }),
        )];
        new_events.extend(requests::mark_stale(
            conn,
            &model,
            version.get(),
            None,
            None,
        )?);
        events::append(conn, actor, new_events)
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
    db::write_tx(conn, |conn| {
        let model = lock_model(conn, name)?;
        let row = find_version(conn, &model, version)?;
        let updated = diesel::update(
            model_version_tags::table
                .filter(model_version_tags::version_id.eq(row.id))
                .filter(model_version_tags::key.eq(key.as_str())),
        )
        .set(model_version_tags::value.eq(value))
        .execute(conn)?;
        if updated == 0 {
            insert_tags(conn, row.id, &[(key.clone(), value.to_owned())])?;
        }
        events::append(
            conn,
            actor,
            vec![NewEvent::new(
                "version.tag_set",
                &model.name,
                Some(version.get()),
                json!({ "key": key.as_str(), "value": value }),
            )],
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
    db::write_tx(conn, |conn| {
        let model = lock_model(conn, name)?;
        let row = find_version(conn, &model, version)?;
        let deleted = diesel::delete(
            model_version_tags::table
                .filter(model_version_tags::version_id.eq(row.id))
                .filter(model_version_tags::key.eq(key.as_str())),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(Error::NotFound(format!(
                "version {version} of registered model '{name}' has no tag '{}'",
                key.as_str()
            )));
        }
        events::append(
            conn,
            actor,
            vec![NewEvent::new(
                "version.tag_deleted",
                &model.name,
                Some(version.get()),
                json!({ "key": key.as_str() }),
            )],
        )
    })
}

/// Records one activity row.
pub(crate) fn record_activity(
    conn: &mut DbConn,
    model_id: i64,
    version: i64,
    activity: &Activity,
) -> Result<()> {
    diesel::insert_into(activities::table)
        .values(NewActivityRow {
            model_id,
            version,
            activity_type: &activity.activity_type,
            from_stage: activity.from_stage.map(Stage::as_str),
            to_stage: activity.to_stage.map(Stage::as_str),
            user_name: &activity.user,
            timestamp: activity.timestamp,
            comment: activity.comment.as_deref(),
            request_id: activity.request_id,
        })
        .execute(conn)?;
    Ok(())
}

/// Moves a version directly, where the policy lets the actor, inside the
/// caller's write transaction (the model row must already be locked).
/// Archives the versions in the target stage when asked; returns the events.
pub(crate) fn apply_transition(
    conn: &mut DbConn,
    actor: &Actor,
    model: &ModelRow,
    row: &VersionRow,
    transition: &Transition,
    request_id: Option<i64>,
) -> Result<(VersionRow, Vec<NewEvent>)> {
    let from = parse_stage(&row.current_stage)?;
    let to = transition.to;
    let now = now_ms();
    let mut new_events = Vec::new();
    if transition.archive_existing_versions {
        let others: Vec<VersionRow> = model_versions::table
            .filter(model_versions::model_id.eq(model.id))
            .filter(model_versions::current_stage.eq(to.as_str()))
            .filter(model_versions::id.ne(row.id))
            .order(model_versions::version.asc())
            .select(VersionRow::as_select())
            .load(conn)?;
        for other in others {
            diesel::update(model_versions::table.find(other.id))
                .set((
                    model_versions::current_stage.eq(Stage::Archived.as_str()),
                    model_versions::last_updated_timestamp.eq(now),
                ))
                .execute(conn)?;
            record_activity(
                conn,
                model.id,
                other.version,
                &Activity {
                    activity_type: "SYSTEM_TRANSITION".to_owned(),
                    from_stage: Some(to),
                    to_stage: Some(Stage::Archived),
                    user: actor.username.clone(),
                    timestamp: now,
                    comment: Some(format!(
                        "archived because version {} moved to {to}",
                        row.version
                    )),
                    request_id,
                },
            )?;
            new_events.push(NewEvent::new(
                "version.stage_changed",
                &model.name,
                Some(other.version),
                json!({
                    "from_stage": to,
                    "to_stage": Stage::Archived,
                    "system": true,
                    "caused_by_version": row.version,
                }),
            ));
            new_events.extend(requests::mark_stale(
                conn,
                model,
                other.version,
                Some(Stage::Archived),
                None,
            )?);
        }
    }
    let updated: VersionRow = diesel::update(model_versions::table.find(row.id))
        .set((
            model_versions::current_stage.eq(to.as_str()),
            model_versions::last_updated_timestamp.eq(now),
        ))
        .returning(model_versions::all_columns)
        .get_result(conn)?;
    diesel::update(registered_models::table.find(model.id))
        .set(registered_models::last_updated_timestamp.eq(now))
        .execute(conn)?;
    record_activity(
        conn,
        model.id,
        row.version,
        &Activity {
            activity_type: "APPLIED_TRANSITION".to_owned(),
            from_stage: Some(from),
            to_stage: Some(to),
            user: actor.username.clone(),
            timestamp: now,
            comment: transition.comment.clone(),
            request_id,
        },
    )?;
    new_events.push(NewEvent::new(
        "version.stage_changed",
        &model.name,
        Some(row.version),
        json!({
            "from_stage": from,
            "to_stage": to,
            "archive_existing_versions": transition.archive_existing_versions,
            "comment": transition.comment,
            "request_id": request_id,
        }),
    ));
    new_events.extend(requests::mark_stale(
        conn,
        model,
        row.version,
        Some(to),
        request_id,
    )?);
    Ok((updated, new_events))
}

/// Checks a move against the policy for this actor; `Ok(())` means direct.
pub(crate) fn check_direct_move(
    policy: &Policy,
    actor: &Actor,
    name: &ModelName,
    version: VersionNumber,
    from: Stage,
    transition: &Transition,
) -> Result<()> {
    if transition.archive_existing_versions && !transition.to.can_archive_existing() {
        return Err(Error::invalid(format!(
            "archive_existing_versions can only be used when moving to Staging or Production, not {}",
            transition.to
        )));
    }
    match policy
        .decide(actor.role, from, transition.to)
        .map_err(Error::InvalidParameter)?
    {
        Decision::Direct(_) => Ok(()),
        Decision::NeedsApproval(rule) => Err(Error::ApprovalRequired(format!(
            "moving {from} -> {} needs role {} or an approved request: \
             POST /api/v1/models/{}/versions/{version}/transition-requests",
            transition.to,
            rule.direct,
            crate::domain::types::percent_encode_segment(name.as_str()),
        ))),
    }
}

/// Moves a version to another stage where the policy lets the actor do so directly.
#[tracing::instrument(skip_all, fields(model = %name, version = %version, to = %transition.to))]
pub fn transition(
    conn: &mut DbConn,
    actor: &Actor,
    policy: &Policy,
    name: &ModelName,
    version: VersionNumber,
    transition: Transition,
) -> Result<ModelVersion> {
    let (result, moves) = db::write_tx(conn, |conn| {
        let model = lock_model(conn, name)?;
        let row = find_version(conn, &model, version)?;
        let from = parse_stage(&row.current_stage)?;
        check_direct_move(policy, actor, name, version, from, &transition)?;
        let (updated, new_events) = apply_transition(conn, actor, &model, &row, &transition, None)?;
        let result = hydrate_one(conn, &model, updated)?;
        let moves = stage_moves(&new_events);
        events::append(conn, actor, new_events)?;
        Ok((result, moves))
    })?;
    count_moves(&moves);
    Ok(result)
}

/// The target stages of the moves among `events` (for metrics, counted
/// after the transaction commits).
pub(crate) fn stage_moves(events: &[NewEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.event_type == "version.stage_changed")
        .filter_map(|event| event.payload["to_stage"].as_str().map(str::to_owned))
        .collect()
}

/// Counts committed moves in `modelgate_transitions_total{to_stage}`.
pub(crate) fn count_moves(moves: &[String]) {
    for stage in moves {
        metrics::counter!("modelgate_transitions_total", "to_stage" => stage.clone()).increment(1);
    }
}

/// A version's audit trail, oldest first.
pub fn activity(
    conn: &mut DbConn,
    name: &ModelName,
    version: VersionNumber,
) -> Result<Vec<Activity>> {
    db::read_tx(conn, |conn| {
        let model = find_model(conn, name)?;
        find_version(conn, &model, version)?;
        let rows: Vec<ActivityRow> = activities::table
            .filter(activities::model_id.eq(model.id))
            .filter(activities::version.eq(version.get()))
            .order((activities::timestamp.asc(), activities::id.asc()))
            .select(ActivityRow::as_select())
            .load(conn)?;
        rows.into_iter()
            .map(|row| {
                Ok(Activity {
                    from_stage: row.from_stage.as_deref().map(parse_stage).transpose()?,
                    to_stage: row.to_stage.as_deref().map(parse_stage).transpose()?,
                    activity_type: row.activity_type,
                    user: row.user_name,
                    timestamp: row.timestamp,
                    comment: row.comment,
                    request_id: row.request_id,
                })
            })
            .collect()
    })
}

/// The sort key of a cross-model version search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSortKey {
    /// The model's name.
    Name,
    /// The version number.
    VersionNumber,
    /// Registration time.
    CreationTimestamp,
    /// Last change.
    LastUpdatedTimestamp,
}

/// A version search's order; ties break on the version's row id (newest
/// first), which keeps keyset pages exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionOrder {
    /// Sort key.
    pub key: VersionSortKey,
    /// Descending?
    pub descending: bool,
}

impl VersionOrder {
    /// Parses `name`, `version_number`, `creation_timestamp`,
    /// `last_updated_timestamp` (alias `timestamp`), optionally `ASC`/`DESC`.
    pub fn parse(text: &str) -> Result<Self> {
        const EXPECTED: &str = "name, version_number, creation_timestamp or last_updated_timestamp";
        let (key, descending) = crate::domain::paging::order_words(text, EXPECTED)?;
        let key = match key.as_str() {
            "name" => VersionSortKey::Name,
            "version_number" => VersionSortKey::VersionNumber,
            "creation_timestamp" => VersionSortKey::CreationTimestamp,
            "last_updated_timestamp" | "timestamp" => VersionSortKey::LastUpdatedTimestamp,
            _ => {
                return Err(Error::invalid(format!(
                    "invalid order_by '{}': expected {EXPECTED}, optionally followed by ASC or DESC",
                    text.escape_debug()
                )));
            }
        };
        Ok(VersionOrder { key, descending })
    }
}

/// A search over the versions of every model.
#[derive(Debug, Clone)]
pub struct VersionSearch {
    /// Comparisons on `name`, `version_number`, `run_id`, `source_path`, `tags.<key>`.
    pub filter: Vec<crate::domain::filter::Comparison>,
    /// Order (default: name ascending).
    pub order: VersionOrder,
    /// Page size.
    pub max_results: i64,
    /// Continuation.
    pub page_token: Option<String>,
}

/// Searches versions across models with MLflow's filter attributes.
pub fn search(conn: &mut DbConn, query: VersionSearch) -> Result<Page<ModelVersion>> {
    use crate::domain::filter::{Field, Op, Value};
    use crate::domain::models::{like_pattern, lower};
    use model_version_tags::dsl as t;
    use model_versions::dsl as v;
    use registered_models::dsl as m;

    let scope = format!(
        "mlversions:{:?}:{}",
        query.order.key,
        if query.order.descending {
            "desc"
        } else {
            "asc"
        }
    );
    let mut select = v::model_versions
        .inner_join(m::registered_models)
        .select((VersionRow::as_select(), m::name))
        .limit(query.max_results + 1)
        .into_boxed();
    let unsupported = |c: &crate::domain::filter::Comparison| {
        Error::invalid(format!(
            "invalid filter: operator not supported for {}",
            c.describe_field()
        ))
    };
    for comparison in &query.filter {
        let op = comparison.op;
        match &comparison.field {
            Field::Attribute(attr) => match attr.to_ascii_lowercase().as_str() {
                "name" => {
                    let value = comparison.text()?.to_owned();
                    select = match op {
                        Op::Eq => select.filter(m::name.eq(value)),
                        Op::Ne => select.filter(m::name.ne(value)),
                        Op::Like => select.filter(m::name.like(like_pattern(value)?).escape('\\')),
                        Op::ILike => select.filter(
                            lower(m::name)
                                .like(lower(like_pattern(value)?))
                                .escape('\\'),
                        ),
                        _ => return Err(unsupported(comparison)),
                    };
                }
                "version_number" | "version" => {
                    let number = match &comparison.value {
                        Value::Number(n) => *n,
                        Value::Text(text) => text.trim().parse::<i64>().map_err(|_| {
                            Error::invalid(format!(
                                "invalid filter: version_number must be an integer, got '{text}'"
                            ))
                        })?,
                        Value::List(_) => return Err(unsupported(comparison)),
                    };
                    select = match op {
                        Op::Eq => select.filter(v::version.eq(number)),
                        Op::Ne => select.filter(v::version.ne(number)),
                        Op::Lt => select.filter(v::version.lt(number)),
                        Op::Le => select.filter(v::version.le(number)),
                        Op::Gt => select.filter(v::version.gt(number)),
                        Op::Ge => select.filter(v::version.ge(number)),
                        _ => return Err(unsupported(comparison)),
                    };
                }
                "run_id" => {
                    select = match (op, &comparison.value) {
                        (Op::In, Value::List(items)) => {
                            select.filter(v::run_id.eq_any(items.clone()))
                        }
                        (Op::NotIn, Value::List(items)) => {
                            select.filter(v::run_id.ne_all(items.clone()))
                        }
                        (Op::Eq, _) => select.filter(v::run_id.eq(comparison.text()?.to_owned())),
                        (Op::Ne, _) => select.filter(v::run_id.ne(comparison.text()?.to_owned())),
                        (Op::Like, _) => select.filter(
                            v::run_id
                                .like(like_pattern(comparison.text()?.to_owned())?)
                                .escape('\\'),
                        ),
                        (Op::ILike, _) => select.filter(
                            lower(v::run_id.assume_not_null())
                                .like(lower(like_pattern(comparison.text()?.to_owned())?))
                                .escape('\\'),
                        ),
                        _ => return Err(unsupported(comparison)),
                    };
                }
                "source_path" | "source" => {
                    let value = comparison.text()?.to_owned();
                    select = match op {
                        Op::Eq => select.filter(v::source.eq(value)),
                        Op::Ne => select.filter(v::source.ne(value)),
                        Op::Like => {
                            select.filter(v::source.like(like_pattern(value)?).escape('\\'))
                        }
                        Op::ILike => select.filter(
                            lower(v::source)
                                .like(lower(like_pattern(value)?))
                                .escape('\\'),
                        ),
                        _ => return Err(unsupported(comparison)),
                    };
                }
                other => {
                    return Err(Error::invalid(format!(
                        "invalid filter: model versions can be filtered by name, version_number, \
                         run_id, source_path and tags.<key>, not '{other}'"
                    )));
                }
            },
            Field::Tag(key) => {
                let value = comparison.text()?.to_owned();
                let tagged = t::model_version_tags
                    .filter(t::key.eq(key.clone()))
                    .select(t::version_id);
                select =
                    match op {
                        Op::Eq => select.filter(v::id.eq_any(tagged.filter(t::value.eq(value)))),
                        // MLflow: `!=` also matches versions without the tag
                        Op::Ne => select.filter(diesel::dsl::not(
                            v::id.eq_any(tagged.filter(t::value.eq(value))),
                        )),
                        Op::Like => select.filter(v::id.eq_any(
                            tagged.filter(t::value.like(like_pattern(value)?).escape('\\')),
                        )),
                        Op::ILike => select.filter(
                            v::id.eq_any(
                                tagged.filter(
                                    lower(t::value)
                                        .like(lower(like_pattern(value)?))
                                        .escape('\\'),
                                ),
                            ),
                        ),
                        _ => return Err(unsupported(comparison)),
                    };
            }
        }
    }

    let token = match &query.page_token {
        Some(text) => Some(PageToken::decode(text, &scope)?),
        None => None,
    };
    let descending = query.order.descending;
    // Keyset: (key, id) with the key in the asked direction and id descending.
    // The redundant `key >= after` (or `<=`) lets the database start an index
    // range scan at the page boundary; with the OR alone it walks from the
    // first row (a 500th page of a million versions took 13 ms, not 0.2).
    if let Some(token) = &token {
        let id = token.id;
        select = match query.order.key {
            VersionSortKey::Name => {
                let after = token.text_key()?;
                if descending {
                    select.filter(m::name.le(after.clone())).filter(
                        m::name
                            .lt(after.clone())
                            .or(m::name.eq(after).and(v::id.lt(id))),
                    )
                } else {
                    select.filter(m::name.ge(after.clone())).filter(
                        m::name
                            .gt(after.clone())
                            .or(m::name.eq(after).and(v::id.lt(id))),
                    )
                }
            }
            key => {
                let after = token.int_key()?;
                match (key, descending) {
                    (VersionSortKey::VersionNumber, false) => {
                        select.filter(v::version.ge(after)).filter(
                            v::version
                                .gt(after)
                                .or(v::version.eq(after).and(v::id.lt(id))),
                        )
                    }
                    (VersionSortKey::VersionNumber, true) => {
                        select.filter(v::version.le(after)).filter(
                            v::version
                                .lt(after)
                                .or(v::version.eq(after).and(v::id.lt(id))),
                        )
                    }
                    (VersionSortKey::CreationTimestamp, false) => {
                        select.filter(v::creation_timestamp.ge(after)).filter(
                            v::creation_timestamp
                                .gt(after)
                                .or(v::creation_timestamp.eq(after).and(v::id.lt(id))),
                        )
                    }
                    (VersionSortKey::CreationTimestamp, true) => {
                        select.filter(v::creation_timestamp.le(after)).filter(
                            v::creation_timestamp
                                .lt(after)
                                .or(v::creation_timestamp.eq(after).and(v::id.lt(id))),
                        )
                    }
                    (_, false) => select.filter(v::last_updated_timestamp.ge(after)).filter(
                        v::last_updated_timestamp
                            .gt(after)
                            .or(v::last_updated_timestamp.eq(after).and(v::id.lt(id))),
                    ),
                    (_, true) => select.filter(v::last_updated_timestamp.le(after)).filter(
                        v::last_updated_timestamp
                            .lt(after)
                            .or(v::last_updated_timestamp.eq(after).and(v::id.lt(id))),
                    ),
                }
            }
        };
    }
    select = match (query.order.key, descending) {
        (VersionSortKey::Name, false) => select.order((m::name.asc(), v::id.desc())),
        (VersionSortKey::Name, true) => select.order((m::name.desc(), v::id.desc())),
        (VersionSortKey::VersionNumber, false) => select.order((v::version.asc(), v::id.desc())),
        (VersionSortKey::VersionNumber, true) => select.order((v::version.desc(), v::id.desc())),
        (VersionSortKey::CreationTimestamp, false) => {
            select.order((v::creation_timestamp.asc(), v::id.desc()))
        }
        (VersionSortKey::CreationTimestamp, true) => {
            select.order((v::creation_timestamp.desc(), v::id.desc()))
        }
        (VersionSortKey::LastUpdatedTimestamp, false) => {
            select.order((v::last_updated_timestamp.asc(), v::id.desc()))
        }
        (VersionSortKey::LastUpdatedTimestamp, true) => {
            select.order((v::last_updated_timestamp.desc(), v::id.desc()))
        }
    };

    db::read_tx(conn, |conn| {
        let rows: Vec<(VersionRow, String)> = select.load(conn)?;
        let names: HashMap<i64, String> =
            rows.iter().map(|(r, n)| (r.model_id, n.clone())).collect();
        let keys: HashMap<i64, PageToken> = rows
            .iter()
            .map(|(row, name)| {
                let key: serde_json::Value = match query.order.key {
                    VersionSortKey::Name => name.clone().into(),
                    VersionSortKey::VersionNumber => row.version.into(),
                    VersionSortKey::CreationTimestamp => row.creation_timestamp.into(),
                    VersionSortKey::LastUpdatedTimestamp => row.last_updated_timestamp.into(),
                };
                (row.id, PageToken::new(&scope, key, row.id))
            })
            .collect();
        let ids: Vec<i64> = rows.iter().map(|(row, _)| row.id).collect();
        let items = hydrate(conn, rows.into_iter().map(|(row, _)| row).collect(), &names)?;
        let items: Vec<(i64, ModelVersion)> = ids.into_iter().zip(items).collect();
        let page = Page::from_overfetch(items, query.max_results, |(id, _)| {
            keys.get(id)
                .cloned()
                .unwrap_or_else(|| PageToken::int(&scope, 0))
        });
        Ok(page.map(|(_, version)| version))
    })
}
