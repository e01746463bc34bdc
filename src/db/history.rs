//! The history index: which model held each name, and which version each
//! `models:/NAME/<stage>` and `models:/NAME@<alias>` resolved to, over time.
//! It is kept from the events themselves, so it is as trustworthy as the
//! chain and can be checked against it:
//!
//! - every write indexes the events it appends ([`index`], called by
//!   [`super::write`] in the write's own transaction);
//! - [`Replay`] builds the same rows from the whole chain: the audit check
//!   compares them with the stored ones, and [`rebuild_if_empty`] fills the
//!   index of a database written before it existed.
//!
//! Time has millisecond resolution and every event of one write carries the
//! same timestamp, never earlier than the event before it; "at T" means after
//! every event stamped T or earlier. So a change is recorded at most once per
//! millisecond (a later write in the same millisecond updates that row), and
//! no answer ever shows a write half done.
//!
//! A model's identity across renames is its *key*: the id of the event that
//! created it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use diesel::prelude::*;

use crate::db::chain;
use crate::db::enums::Stage;
use crate::db::event::EventKind;
use crate::db::rows::EventRow;
use crate::db::schema::{
    events, model_names, model_versions, registered_model_aliases, registered_models,
    resolution_history,
};
use crate::db::{DbConn, write};
use crate::error::Result;

/// What a row of `resolution_history` is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    /// `models:/NAME/<stage>`: the newest version in the stage.
    Stage(Stage),
    /// `models:/NAME@<alias>`.
    Alias(String),
}

impl Slot {
    /// The `kind` column.
    pub const STAGE: &'static str = "stage";
    /// The `kind` column.
    pub const ALIAS: &'static str = "alias";

    /// (kind, label) as stored.
    pub fn columns(&self) -> (&'static str, String) {
        match self {
            Slot::Stage(stage) => (Self::STAGE, stage.to_string()),
            Slot::Alias(alias) => (Self::ALIAS, alias.clone()),
        }
    }
}

/// A span during which a model held a name (a row of `model_names`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Queryable, Insertable)]
#[diesel(table_name = model_names)]
pub struct NameSpan {
    /// The name.
    pub name: String,
    /// The model.
    pub model_key: i64,
    /// Held from the end of this millisecond …
    pub from_ts: i64,
    /// … to the end of this one (`None`: still held).
    pub to_ts: Option<i64>,
    /// The event that gave it the name (its creation or a rename).
    pub event_id: i64,
}

/// A change of what a stage or alias resolves to (a row of `resolution_history`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Queryable, Insertable)]
#[diesel(table_name = resolution_history)]
pub struct Resolution {
    /// The model.
    pub model_key: i64,
    /// `stage` or `alias`.
    pub kind: String,
    /// The stage or alias name.
    pub label: String,
    /// From the end of this millisecond on …
    pub ts: i64,
    /// … it resolves to this version (`None`: to nothing).
    pub version: Option<i64>,
    /// The last event that touched it in that millisecond.
    pub event_id: i64,
}

/// What one event means to the index.
enum Effect {
    Created(String),
    Renamed {
        from: String,
        to: String,
    },
    Deleted(String),
    /// A change to the named model's versions or aliases, and the slots it
    /// may have changed.
    Touches(String, Vec<Slot>, Change),
    Nothing,
}

/// What an event did to a model's versions or aliases.
enum Change {
    /// A version was registered (in None).
    Registered(i64),
    /// A version entered a stage.
    Entered(i64, Stage),
    /// A version was deleted, and the aliases that named it.
    Deleted(i64),
    /// An alias now names a version.
    AliasSet(String, i64),
    /// An alias was removed.
    AliasDeleted(String),
}

fn effect(event: &EventRow, kind: &EventKind) -> Effect {
    let Some(name) = event.model_name.clone() else {
        return Effect::Nothing;
    };
    match kind {
        EventKind::ModelCreated { .. } => Effect::Created(name),
        EventKind::ModelRenamed { from, to } => Effect::Renamed {
            from: from.clone(),
            to: to.clone(),
        },
        EventKind::ModelDeleted { .. } => Effect::Deleted(name),
        EventKind::VersionCreated { .. } => match event.version {
            Some(version) => Effect::Touches(
                name,
                vec![Slot::Stage(Stage::None)],
                Change::Registered(version),
            ),
            None => Effect::Nothing,
        },
        EventKind::VersionStageChanged(change) => {
            let (from, to) = change.stages();
            match event.version {
                Some(version) => Effect::Touches(
                    name,
                    vec![Slot::Stage(from), Slot::Stage(to)],
                    Change::Entered(version, to),
                ),
                None => Effect::Nothing,
            }
        }
        EventKind::VersionDeleted {
            stage,
            removed_aliases,
        } => {
            let aliases = removed_aliases.iter().map(|a| Slot::Alias(a.clone()));
            let slots = Some(Slot::Stage(*stage))
                .into_iter()
                .chain(aliases)
                .collect();
            match event.version {
                Some(version) => Effect::Touches(name, slots, Change::Deleted(version)),
                None => Effect::Nothing,
            }
        }
        EventKind::AliasSet { alias, version, .. } => Effect::Touches(
            name,
            vec![Slot::Alias(alias.clone())],
            Change::AliasSet(alias.clone(), *version),
        ),
        EventKind::AliasDeleted { alias, .. } => Effect::Touches(
            name,
            vec![Slot::Alias(alias.clone())],
            Change::AliasDeleted(alias.clone()),
        ),
        EventKind::ModelUpdated { .. }
        | EventKind::ModelTagSet { .. }
        | EventKind::ModelTagDeleted { .. }
        | EventKind::VersionUpdated { .. }
        | EventKind::VersionTagSet { .. }
        | EventKind::VersionTagDeleted { .. }
        | EventKind::RequestCreated { .. }
        | EventKind::RequestApproved { .. }
        | EventKind::RequestRejected { .. }
        | EventKind::RequestCancelled { .. }
        | EventKind::RequestStale { .. }
        | EventKind::UserCreated { .. }
        | EventKind::UserUpdated { .. }
        | EventKind::UserDeleted { .. }
        | EventKind::TokenCreated { .. }
        | EventKind::TokenRevoked { .. }
        | EventKind::WebhookCreated(_)
        | EventKind::WebhookUpdated(_)
        | EventKind::WebhookDeleted(_) => Effect::Nothing,
    }
}

/// The model that holds `name` now: its key and its row id.
fn holder(conn: &mut DbConn, name: &str) -> Result<Option<(i64, Option<i64>)>> {
    Ok(model_names::table
        .filter(model_names::name.eq(name))
        .filter(model_names::to_ts.is_null())
        .order(model_names::id.desc())
        .select((model_names::model_key, model_names::model_id))
        .first(conn)
        .optional()?)
}

/// Ends the open span of `name` at `ts`; answers its model (key, row id).
fn release(conn: &mut DbConn, name: &str, ts: i64) -> Result<Option<(i64, Option<i64>)>> {
    let held = holder(conn, name)?;
    diesel::update(
        model_names::table
            .filter(model_names::name.eq(name))
            .filter(model_names::to_ts.is_null()),
    )
    .set(model_names::to_ts.eq(ts))
    .execute(conn)?;
    Ok(held)
}

/// Opens a span of `name` for a model from `ts` on.
fn hold(
    conn: &mut DbConn,
    name: &str,
    (model_key, model_id): (i64, Option<i64>),
    ts: i64,
    event_id: i64,
) -> Result<()> {
    diesel::insert_into(model_names::table)
        .values((
            model_names::name.eq(name),
            model_names::model_key.eq(model_key),
            model_names::from_ts.eq(ts),
            model_names::event_id.eq(event_id),
            model_names::model_id.eq(model_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// What a slot of the model (by id) resolves to now, from the tables.
fn resolve(conn: &mut DbConn, model_id: i64, slot: &Slot) -> Result<Option<i64>> {
    Ok(match slot {
        Slot::Stage(stage) => model_versions::table
            .filter(model_versions::model_id.eq(model_id))
            .filter(model_versions::current_stage.eq(*stage))
            .select(diesel::dsl::max(model_versions::version))
            .first(conn)?,
        Slot::Alias(alias) => registered_model_aliases::table
            .filter(registered_model_aliases::model_id.eq(model_id))
            .filter(registered_model_aliases::alias.eq(alias))
            .select(registered_model_aliases::version)
            .first(conn)
            .optional()?,
    })
}

/// Records that `slot` of model `key` resolves to `now` from `ts` on: a new
/// row when it changed, the same millisecond's row updated (or dropped when
/// the millisecond ends where it began).
fn record(
    conn: &mut DbConn,
    key: i64,
    slot: &Slot,
    ts: i64,
    now: Option<i64>,
    event_id: i64,
) -> Result<()> {
    let (kind, label) = slot.columns();
    let this = resolution_history::table
        .filter(resolution_history::model_key.eq(key))
        .filter(resolution_history::kind.eq(kind))
        .filter(resolution_history::label.eq(&label));
    let latest: Vec<(i64, Option<i64>)> = this
        .order(resolution_history::ts.desc())
        .limit(2)
        .select((resolution_history::ts, resolution_history::version))
        .load(conn)?;
    match latest.first() {
        Some(&(at, _)) if at == ts => {
            let before = latest.get(1).and_then(|&(_, version)| version);
            let row = this.filter(resolution_history::ts.eq(ts));
            if now == before {
                diesel::delete(row).execute(conn)?;
            } else {
                diesel::update(row)
                    .set((
                        resolution_history::version.eq(now),
                        resolution_history::event_id.eq(event_id),
                    ))
                    .execute(conn)?;
            }
        }
        Some(&(_, before)) if before == now => {}
        None if now.is_none() => {}
        _ => {
            diesel::insert_into(resolution_history::table)
                .values(Resolution {
                    model_key: key,
                    kind: kind.to_owned(),
                    label,
                    ts,
                    version: now,
                    event_id,
                })
                .execute(conn)?;
        }
    }
    Ok(())
}

/// A slot a write touched: its last event, and what it resolves to when
/// the events alone say (a version just registered is the newest in None).
type Touch = (i64, Option<i64>);

/// Indexes the events one write appended (all stamped alike), inside that
/// write: names from the events, what each touched slot resolves to from
/// the tables as the write leaves them.
pub(super) fn index(conn: &mut DbConn, appended: &[EventRow]) -> Result<()> {
    let Some(ts) = appended.first().map(|e| e.timestamp) else {
        return Ok(());
    };
    // by model key: its row id, and each touched slot
    let mut touched: BTreeMap<i64, (Option<i64>, BTreeMap<Slot, Touch>)> = BTreeMap::new();
    for event in appended {
        match effect(event, &EventKind::of(event)?) {
            Effect::Created(name) => {
                let model_id: Option<i64> = registered_models::table
                    .filter(registered_models::name.eq(&name))
                    .select(registered_models::id)
                    .first(conn)
                    .optional()?;
                hold(conn, &name, (event.id, model_id), ts, event.id)?;
            }
            Effect::Renamed { from, to } => match release(conn, &from, ts)? {
                Some(model) => hold(conn, &to, model, ts, event.id)?,
                None => tracing::warn!(event = event.id, "history index: no model holds '{from}'"),
            },
            Effect::Deleted(name) => {
                // its slots stay as they were: a deleted model resolves nothing
                release(conn, &name, ts)?;
            }
            Effect::Touches(name, slots, change) => {
                let Some((key, model_id)) = holder(conn, &name)? else {
                    tracing::warn!(event = event.id, "history index: no model holds '{name}'");
                    continue;
                };
                // a version just registered is the newest in None
                let known = if let Change::Registered(version) = change {
                    Some(version)
                } else {
                    None
                };
                let entry = touched
                    .entry(key)
                    .or_insert_with(|| (model_id, BTreeMap::new()));
                for slot in slots {
                    entry.1.insert(slot, (event.id, known));
                }
            }
            Effect::Nothing => {}
        }
    }
    for (key, (model_id, slots)) in touched {
        let Some(model_id) = model_id else { continue };
        for (slot, (event_id, known)) in slots {
            let now = match known {
                Some(version) => Some(version),
                None => resolve(conn, model_id, &slot)?,
            };
            record(conn, key, &slot, ts, now, event_id)?;
        }
    }
    Ok(())
}

/// One model as the replay sees it.
#[derive(Debug, Default)]
struct Model {
    stage_of: BTreeMap<i64, Stage>,
    in_stage: BTreeMap<Stage, BTreeSet<i64>>,
    aliases: BTreeMap<String, i64>,
}

impl Model {
    fn leave(&mut self, version: i64) {
        if let Some(stage) = self.stage_of.remove(&version)
            && let Some(versions) = self.in_stage.get_mut(&stage)
        {
            versions.remove(&version);
        }
    }

    fn enter(&mut self, version: i64, stage: Stage) {
        self.leave(version);
        self.stage_of.insert(version, stage);
        self.in_stage.entry(stage).or_default().insert(version);
    }

    fn resolve(&self, slot: &Slot) -> Option<i64> {
        match slot {
            Slot::Stage(stage) => self
                .in_stage
                .get(stage)
                .and_then(|versions| versions.last().copied()),
            Slot::Alias(alias) => self.aliases.get(alias).copied(),
        }
    }
}

/// The history index as the events alone produce it: fed every event in
/// chain order, it answers the rows [`index`] should have written.
#[derive(Debug, Default)]
pub struct Replay {
    holders: BTreeMap<String, i64>,
    open: BTreeMap<i64, usize>,
    names: Vec<NameSpan>,
    models: BTreeMap<i64, Model>,
    millisecond: Option<i64>,
    touched: BTreeMap<(i64, Slot), i64>,
    resolved: BTreeMap<(i64, Slot), Option<i64>>,
    resolutions: Vec<Resolution>,
}

impl Replay {
    /// Applies the next event (`kind`: its kind and payload, parsed).
    pub fn apply(&mut self, event: &EventRow, kind: &EventKind) {
        // events appended before time was kept monotonic may step back
        let ts = self
            .millisecond
            .map_or(event.timestamp, |last| last.max(event.timestamp));
        if self.millisecond != Some(ts) {
            self.settle();
            self.millisecond = Some(ts);
        }
        match effect(event, kind) {
            Effect::Created(name) => {
                self.models.insert(event.id, Model::default());
                self.hold(name, event.id, ts, event.id);
            }
            Effect::Renamed { from, to } => {
                if let Some(key) = self.release(&from, ts) {
                    self.hold(to, key, ts, event.id);
                }
            }
            Effect::Deleted(name) => {
                self.release(&name, ts);
            }
            Effect::Touches(name, slots, change) => {
                let Some(&key) = self.holders.get(&name) else {
                    return;
                };
                let model = self.models.entry(key).or_default();
                match change {
                    Change::Registered(version) => model.enter(version, Stage::None),
                    Change::Entered(version, stage) => model.enter(version, stage),
                    Change::Deleted(version) => {
                        model.leave(version);
                        model.aliases.retain(|_, v| *v != version);
                    }
                    Change::AliasSet(alias, version) => {
                        model.aliases.insert(alias, version);
                    }
                    Change::AliasDeleted(alias) => {
                        model.aliases.remove(&alias);
                    }
                }
                for slot in slots {
                    self.touched.insert((key, slot), event.id);
                }
            }
            Effect::Nothing => {}
        }
    }

    fn hold(&mut self, name: String, key: i64, ts: i64, event_id: i64) {
        self.holders.insert(name.clone(), key);
        self.open.insert(key, self.names.len());
        self.names.push(NameSpan {
            name,
            model_key: key,
            from_ts: ts,
            to_ts: None,
            event_id,
        });
    }

    fn release(&mut self, name: &str, ts: i64) -> Option<i64> {
        let key = self.holders.remove(name)?;
        if let Some(at) = self.open.remove(&key) {
            self.names[at].to_ts = Some(ts);
        }
        Some(key)
    }

    /// Ends a millisecond: records each touched slot that resolves
    /// differently than at the end of the last one.
    fn settle(&mut self) {
        let Some(ts) = self.millisecond else { return };
        for ((key, slot), event_id) in std::mem::take(&mut self.touched) {
            let now = self.models.get(&key).and_then(|m| m.resolve(&slot));
            let before = self.resolved.get(&(key, slot.clone())).copied().flatten();
            if now != before {
                let (kind, label) = slot.columns();
                self.resolutions.push(Resolution {
                    model_key: key,
                    kind: kind.to_owned(),
                    label,
                    ts,
                    version: now,
                    event_id,
                });
                self.resolved.insert((key, slot), now);
            }
        }
    }

    /// The rows, sorted.
    pub fn finish(mut self) -> (Vec<NameSpan>, Vec<Resolution>) {
        self.settle();
        self.names.sort();
        self.resolutions.sort();
        (self.names, self.resolutions)
    }
}

/// The stored index, sorted like [`Replay::finish`].
pub fn stored(conn: &mut DbConn) -> Result<(Vec<NameSpan>, Vec<Resolution>)> {
    let mut names: Vec<NameSpan> = model_names::table
        .select((
            model_names::name,
            model_names::model_key,
            model_names::from_ts,
            model_names::to_ts,
            model_names::event_id,
        ))
        .load(conn)?;
    names.sort();
    let mut resolutions: Vec<Resolution> = resolution_history::table
        .select(resolution_history::all_columns)
        .load(conn)?;
    resolutions.sort();
    Ok((names, resolutions))
}

/// Builds the index from the chain when it is empty but models were made
/// (a database written before the index existed). Runs at start, under the
/// chain-head lock, so no write slips in between; answers how many rows it
/// wrote.
pub fn rebuild_if_empty(conn: &mut DbConn) -> Result<usize> {
    write(conn, "modelgate", |tx| {
        tx.unchanged();
        let conn = tx.conn();
        chain::lock_head(conn)?;
        let indexed: i64 = model_names::table.count().get_result(conn)?;
        let created: Option<i64> = events::table
            .filter(events::event_type.eq("model.created"))
            .select(events::id)
            .first(conn)
            .optional()?;
        if indexed > 0 || created.is_none() {
            return Ok(0);
        }
        let mut replay = Replay::default();
        chain::walk(conn, |event| {
            replay.apply(event, &EventKind::of(event)?);
            Ok(ControlFlow::Continue(()))
        })?;
        let (names, resolutions) = replay.finish();
        let written = names.len() + resolutions.len();
        insert_all(conn, names, resolutions)?;
        // the models that hold a name now, by row id
        diesel::sql_query(
            "UPDATE model_names SET model_id = (SELECT id FROM registered_models \
             WHERE registered_models.name = model_names.name) WHERE to_ts IS NULL",
        )
        .execute(conn)?;
        Ok(written)
    })
}

/// Inserts rows into a table in batches of a thousand, each backend on its
/// own connection (batch inserts do not compile for the multi-backend one).
macro_rules! insert_batches {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(1000) {
            match &mut *$conn {
                DbConn::Postgresql(pg) => diesel::insert_into($table).values(chunk).execute(pg)?,
                DbConn::Sqlite(sqlite) => {
                    diesel::insert_into($table).values(chunk).execute(sqlite)?
                }
            };
        }
    };
}

/// Inserts the rebuilt index.
fn insert_all(conn: &mut DbConn, names: Vec<NameSpan>, resolutions: Vec<Resolution>) -> Result<()> {
    insert_batches!(conn, model_names::table, names);
    insert_batches!(conn, resolution_history::table, resolutions);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::event::{Snapshot, StageChange};
    use crate::db::{ConnectionManager, DbUrl, run_migrations};

    /// Writes done one after another in the same millisecond, each indexed
    /// as a write would: the index must equal the replay of their events,
    /// including a change undone within the millisecond.
    #[test]
    fn writes_within_one_millisecond_index_what_the_replay_makes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = DbUrl::Sqlite(dir.path().join("h.db"));
        let mut conn = ConnectionManager::new(url, 1000)
            .establish()
            .unwrap_or_else(|e| panic!("{e}"));
        run_migrations(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let sql = |conn: &mut DbConn, statement: &str| {
            diesel::sql_query(statement)
                .execute(conn)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        };
        let mut events: Vec<EventRow> = Vec::new();
        // one write: its table changes, then its events indexed
        let mut write = |conn: &mut DbConn,
                         ts: i64,
                         statements: &[&str],
                         made: &[(&str, Option<i64>, EventKind)]| {
            for statement in statements {
                sql(conn, statement);
            }
            let first = i64::try_from(events.len()).unwrap_or_default();
            let rows: Vec<EventRow> = (first + 1..)
                .zip(made)
                .map(|(id, (model, version, kind))| {
                    let encoded = kind.encode().unwrap_or_else(|e| panic!("{e}"));
                    EventRow {
                        id,
                        event_type: encoded.kind.to_owned(),
                        model_name: Some((*model).to_owned()),
                        version: *version,
                        actor: "t".to_owned(),
                        timestamp: ts,
                        payload: encoded.payload,
                        prev_hash: String::new(),
                        hash: String::new(),
                    }
                })
                .collect();
            index(conn, &rows).unwrap_or_else(|e| panic!("{e}"));
            events.extend(rows);
        };
        let moved = |from: Stage, to: Stage| {
            EventKind::VersionStageChanged(StageChange::Move {
                from_stage: from,
                to_stage: to,
                archive_existing_versions: false,
                comment: None,
                request_id: None,
            })
        };
        let created = || EventKind::ModelCreated {
            registered_model: Snapshot::of(&serde_json::json!({}))
                .unwrap_or_else(|e| panic!("{e}")),
        };
        let registered = || EventKind::VersionCreated {
            model_version: Snapshot::of(&serde_json::json!({})).unwrap_or_else(|e| panic!("{e}")),
        };
        let alias = || EventKind::AliasSet {
            alias: "champion".to_owned(),
            version: 1,
            previous_version: None,
            request_id: None,
        };
        let stage =
            |s: &str| format!("UPDATE model_versions SET current_stage = '{s}' WHERE version = 1");
        write(
            &mut conn,
            1000,
            &[
                "INSERT INTO registered_models (id, name, creation_timestamp, last_updated_timestamp, next_version) VALUES (1, 'm', 0, 0, 2)",
                "INSERT INTO model_versions (model_id, version, source, current_stage, status, created_by, creation_timestamp, last_updated_timestamp) VALUES (1, 1, 's', 'None', 'READY', 't', 0, 0)",
            ],
            &[("m", None, created()), ("m", Some(1), registered())],
        );
        // the same millisecond: to Staging and back
        let staging = stage("Staging");
        let none = stage("None");
        let back = [("m", Some(1), moved(Stage::Staging, Stage::None))];
        let there = [("m", Some(1), moved(Stage::None, Stage::Staging))];
        write(&mut conn, 1000, &[&staging], &there);
        write(&mut conn, 1000, &[&none], &back);
        // a later millisecond: champion set and removed; then to Staging
        let set = "INSERT INTO registered_model_aliases (model_id, alias, version) VALUES (1, 'champion', 1)";
        write(&mut conn, 2000, &[set], &[("m", Some(1), alias())]);
        let unset = "DELETE FROM registered_model_aliases";
        write(
            &mut conn,
            2000,
            &[unset],
            &[(
                "m",
                Some(1),
                EventKind::AliasDeleted {
                    alias: "champion".to_owned(),
                    previous_version: 1,
                },
            )],
        );
        write(&mut conn, 2000, &[&staging], &there);
        // renamed, then moved under the new name in the same millisecond
        let rename = "UPDATE registered_models SET name = 'n'";
        let renamed = EventKind::ModelRenamed {
            from: "m".to_owned(),
            to: "n".to_owned(),
        };
        write(&mut conn, 3000, &[rename], &[("n", None, renamed)]);
        write(&mut conn, 3000, &[set], &[("n", Some(1), alias())]);
        let back = [("n", Some(1), moved(Stage::Staging, Stage::None))];
        write(&mut conn, 3000, &[&none], &back);

        let mut replay = Replay::default();
        for event in &events {
            let kind = EventKind::of(event).unwrap_or_else(|e| panic!("{e}"));
            replay.apply(event, &kind);
        }
        let (names, resolutions) = replay.finish();
        assert_eq!(stored(&mut conn).ok(), Some((names, resolutions.clone())));
        let row = |label: &str, ts: i64, version: Option<i64>, event_id: i64| Resolution {
            model_key: 1,
            kind: if label == "champion" {
                Slot::ALIAS
            } else {
                Slot::STAGE
            }
            .to_owned(),
            label: label.to_owned(),
            ts,
            version,
            event_id,
        };
        let mut expected = vec![
            // at the end of 1000 only None held version 1 (the move back was the last touch)
            row("None", 1000, Some(1), 4),
            row("None", 2000, None, 7),
            row("Staging", 2000, Some(1), 7),
            row("None", 3000, Some(1), 10),
            row("Staging", 3000, None, 10),
            row("champion", 3000, Some(1), 9),
        ];
        expected.sort();
        assert_eq!(resolutions, expected);
    }
}
