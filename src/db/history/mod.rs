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

use std::collections::BTreeMap;
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

mod replay;
pub use replay::Replay;

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

/// What a change to the event's version means (nothing without a version).
fn touches_version(
    name: String,
    event: &EventRow,
    slots: Vec<Slot>,
    change: impl FnOnce(i64) -> Change,
) -> Effect {
    match event.version {
        Some(version) => Effect::Touches(name, slots, change(version)),
        None => Effect::Nothing,
    }
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
        EventKind::VersionCreated { .. } => touches_version(
            name,
            event,
            vec![Slot::Stage(Stage::None)],
            Change::Registered,
        ),
        EventKind::VersionStageChanged(change) => {
            let (from, to) = change.stages();
            let slots = vec![Slot::Stage(from), Slot::Stage(to)];
            touches_version(name, event, slots, |version| Change::Entered(version, to))
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
            touches_version(name, event, slots, Change::Deleted)
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
mod tests;
