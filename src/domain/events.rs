//! The event feed: every change appends events in its own transaction.
//!
//! Events form a hash chain: each row stores the hash of the one before, and
//! ids are handed out under a lock on the chain head, so they follow commit
//! order and a reader paging with `after=<id>` never skips a late commit.

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Actor;
use crate::db::rows::EventRow;
use crate::db::schema::{event_chain_head, events};
use crate::db::{self, DbConn};
use crate::domain::paging::{Page, PageToken};
use crate::domain::types::now_ms;
use crate::error::{Error, Result};

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `model.created`, `version.stage_changed`, …
    pub event_type: &'static str,
    /// The model it concerns.
    pub model_name: Option<String>,
    /// The version it concerns.
    pub version: Option<i64>,
    /// Details: the object after the change, previous values, …
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event about a model (and optionally one of its versions).
    pub fn new(
        event_type: &'static str,
        model_name: &str,
        version: Option<i64>,
        payload: serde_json::Value,
    ) -> Self {
        NewEvent {
            event_type,
            model_name: Some(model_name.to_owned()),
            version,
            payload,
        }
    }
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Position in the feed; increases with commit order.
    pub id: i64,
    /// What happened, e.g. `version.stage_changed`.
    pub event_type: String,
    /// The model concerned.
    pub model_name: Option<String>,
    /// The version concerned.
    pub version: Option<i64>,
    /// Who did it.
    pub actor: String,
    /// When, in milliseconds since the epoch.
    pub timestamp: i64,
    /// Details of the change.
    pub payload: serde_json::Value,
    /// SHA-256 of the previous event's hash and this event's fields.
    pub hash: String,
    /// The previous event's hash.
    pub prev_hash: String,
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

/// Appends events at the end of the caller's write transaction. Call it last:
/// the chain head is the last lock a transaction takes, so writers never deadlock.
pub fn append(conn: &mut DbConn, actor: &Actor, new_events: Vec<NewEvent>) -> Result<()> {
    if new_events.is_empty() {
        return Ok(());
    }
    let head = event_chain_head::table.filter(event_chain_head::id.eq(1));
    let (mut last_id, mut last_hash): (i64, String) = match conn {
        DbConn::Postgresql(pg) => head
            .select((event_chain_head::last_id, event_chain_head::last_hash))
            .for_update()
            .first(pg)?,
        // BEGIN IMMEDIATE already holds SQLite's write lock.
        DbConn::Sqlite(sqlite) => head
            .select((event_chain_head::last_id, event_chain_head::last_hash))
            .first(sqlite)?,
    };
    let timestamp = now_ms();
    let mut rows = Vec::with_capacity(new_events.len());
    for event in new_events {
        last_id += 1;
        let mut row = EventRow {
            id: last_id,
            event_type: event.event_type.to_owned(),
            model_name: event.model_name,
            version: event.version,
            actor: actor.username.clone(),
            timestamp,
            payload: event.payload.to_string(),
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
    diesel::update(event_chain_head::table.filter(event_chain_head::id.eq(1)))
        .set((
            event_chain_head::last_id.eq(last_id),
            event_chain_head::last_hash.eq(&last_hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// Filters of the event feed.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events after this id.
    pub after: Option<i64>,
    /// Only events of this model.
    pub model: Option<String>,
    /// Only events of this type.
    pub event_type: Option<String>,
    /// Page size.
    pub max_results: i64,
    /// Continuation from a previous page.
    pub page_token: Option<String>,
}

/// Reads the feed, oldest first.
pub fn list(conn: &mut DbConn, query: EventQuery) -> Result<Page<Event>> {
    let mut after = query.after.unwrap_or(0);
    if let Some(token) = &query.page_token {
        after = after.max(PageToken::decode(token, "events")?.int_key()?);
    }
    let mut select = events::table
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(query.max_results + 1)
        .into_boxed();
    if let Some(model) = query.model {
        select = select.filter(events::model_name.eq(model));
    }
    if let Some(event_type) = query.event_type {
        select = select.filter(events::event_type.eq(event_type));
    }
    let rows: Vec<EventRow> = select.load(conn)?;
    let items = rows
        .into_iter()
        .map(|row| {
            let payload = serde_json::from_str(&row.payload)
                .map_err(|e| Error::Internal(format!("event {} payload: {e}", row.id)))?;
            Ok(Event {
                id: row.id,
                event_type: row.event_type,
                model_name: row.model_name,
                version: row.version,
                actor: row.actor,
                timestamp: row.timestamp,
                payload,
                hash: row.hash,
                prev_hash: row.prev_hash,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, query.max_results, |event| {
        PageToken::int("events", event.id)
    }))
}

/// Checks the whole chain; returns the number of events verified or the first broken id.
pub fn verify_chain(conn: &mut DbConn) -> Result<std::result::Result<i64, String>> {
    db::read_tx(conn, |conn| {
        let mut prev = "0".repeat(64);
        let mut expected_id = 1;
        let mut after = 0;
        loop {
            let batch: Vec<EventRow> = events::table
                .filter(events::id.gt(after))
                .order(events::id.asc())
                .limit(1000)
                .load(conn)?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for row in &batch {
                if row.id != expected_id {
                    return Ok(Err(format!(
                        "event {expected_id} is missing (found {} next)",
                        row.id
                    )));
                }
                if row.prev_hash != prev || chain_hash(&prev, row) != row.hash {
                    return Ok(Err(format!("event {} does not match the chain", row.id)));
                }
                prev.clone_from(&row.hash);
                expected_id += 1;
            }
        }
        let (last_id, last_hash): (i64, String) = event_chain_head::table
            .select((event_chain_head::last_id, event_chain_head::last_hash))
            .first(conn)?;
        if last_id != expected_id - 1 || last_hash != prev {
            return Ok(Err(format!(
                "the chain head names event {last_id}, but the log ends at {}",
                expected_id - 1
            )));
        }
        Ok(Ok(expected_id - 1))
    })
}
