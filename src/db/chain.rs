//! The event chain: every write appends its events last, under the lock on
//! the chain head, so event ids follow commit order and each row stores the
//! hash of the one before.

use std::ops::ControlFlow;

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::event::{Encoded, EventKind, Subject};
use crate::db::rows::EventRow;
use crate::db::schema::{event_chain_head, events};
use crate::db::{DbConn, now_ms};
use crate::error::Result;

/// An event a write appends: its subject and its encoded kind. Made only
/// from an [`EventKind`] (by [`super::tx::WriteTx::emit`]).
#[derive(Debug, Clone)]
pub struct NewEvent {
    model_name: Option<String>,
    version: Option<i64>,
    encoded: Encoded,
}

impl NewEvent {
    /// Encodes `event` about `subject`.
    pub fn new(subject: Subject<'_>, event: &EventKind) -> Result<Self> {
        let (model_name, version) = subject.columns();
        Ok(NewEvent {
            model_name,
            version,
            encoded: event.encode()?,
        })
    }
}

/// The head row of the event chain.
type HeadRow =
    diesel::dsl::Filter<event_chain_head::table, diesel::dsl::Eq<event_chain_head::id, i32>>;

fn head_row() -> HeadRow {
    event_chain_head::table.filter(event_chain_head::id.eq(1))
}

/// The chain's head: the last event's id and hash (0 and the genesis hash
/// before the first event).
pub fn head(conn: &mut DbConn) -> Result<(i64, String)> {
    Ok(head_row()
        .select((event_chain_head::last_id, event_chain_head::last_hash))
        .first(conn)?)
}

/// The id of the last event, as a subquery of a larger read.
pub fn head_id() -> diesel::dsl::SingleValue<diesel::dsl::Select<HeadRow, event_chain_head::last_id>>
{
    head_row().select(event_chain_head::last_id).single_value()
}

/// Takes the lock writers append under (PostgreSQL; SQLite's write lock is
/// the transaction's own), so no write slips in until the caller commits.
pub fn lock_head(conn: &mut DbConn) -> Result<()> {
    match conn {
        DbConn::Postgresql(pg) => {
            head_row()
                .select(event_chain_head::last_id)
                .for_update()
                .first::<i64>(pg)?;
        }
        DbConn::Sqlite(_) => {}
    }
    Ok(())
}

/// The chain hash of one event.
pub fn chain_hash(prev_hash: &str, row: &EventRow) -> String {
    let mut hasher = Sha256::new();
    for part in [
        prev_hash,
        &row.id.to_string(),
        &row.event_type,
        row.model_name.as_deref().unwrap_or(""),
        &row.version.map(|v| v.to_string()).unwrap_or_default(),
        &row.actor,
        &row.timestamp.to_string(),
        &row.payload,
    ] {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The hash the chain starts from.
pub fn genesis_hash() -> String {
    "0".repeat(64)
}

/// Appends events at the end of a write transaction (only [`super::write`]
/// calls it): the chain head is the last lock a transaction takes, so
/// writers never deadlock. Every event of the write is stamped with the
/// clock read under that lock, never earlier than the event before it, so
/// time never runs backwards along the chain. Answers the rows appended.
pub(super) fn append(
    conn: &mut DbConn,
    actor: &str,
    new_events: Vec<NewEvent>,
) -> Result<Vec<EventRow>> {
    let head = head_row();
    let columns = (
        event_chain_head::last_id,
        event_chain_head::last_hash,
        event_chain_head::last_timestamp,
    );
    let (mut last_id, mut last_hash, previous): (i64, String, i64) = match conn {
        DbConn::Postgresql(pg) => head.select(columns).for_update().first(pg)?,
        // BEGIN IMMEDIATE already holds SQLite's write lock.
        DbConn::Sqlite(sqlite) => head.select(columns).first(sqlite)?,
    };
    let timestamp = now_ms().max(previous);
    let mut rows = Vec::with_capacity(new_events.len());
    for event in new_events {
        last_id += 1;
        let mut row = EventRow {
            id: last_id,
            event_type: event.encoded.kind.to_owned(),
            model_name: event.model_name,
            version: event.version,
            actor: actor.to_owned(),
            timestamp,
            payload: event.encoded.payload,
            prev_hash: last_hash.clone(),
            hash: String::new(),
        };
        row.hash = chain_hash(&last_hash, &row);
        last_hash.clone_from(&row.hash);
        rows.push(row);
    }
    // One statement per event: batch inserts do not compile for the
    // multi-backend connection, and a transaction appends only a few.
    for row in &rows {
        diesel::insert_into(events::table)
            .values(row)
            .execute(conn)?;
    }
    diesel::update(head_row())
        .set((
            event_chain_head::last_id.eq(last_id),
            event_chain_head::last_hash.eq(&last_hash),
            event_chain_head::last_timestamp.eq(timestamp),
        ))
        .execute(conn)?;
    Ok(rows)
}

/// Visits every event in id order, a thousand at a time, until `visit`
/// says to stop.
pub fn walk(
    conn: &mut DbConn,
    mut visit: impl FnMut(&EventRow) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let mut after = 0;
    loop {
        let batch: Vec<EventRow> = events::table
            .filter(events::id.gt(after))
            .order(events::id.asc())
            .limit(1000)
            .load(conn)?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = last.id;
        for row in &batch {
            if visit(row)?.is_break() {
                return Ok(());
            }
        }
    }
}
