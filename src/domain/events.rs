//! The event feed and the check of its chain. Every change appends events in
//! its own transaction (`db::tx`, `db::chain`): ids follow commit order, so a
//! reader paging with `after=<id>` never skips a late commit.

use std::ops::ControlFlow;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::chain::{self, chain_hash, genesis_hash};
use crate::db::rows::EventRow;
use crate::db::schema::events;
use crate::db::{self, DbConn};
use crate::domain::sql::{Page, PageToken};
use crate::error::{Error, Result};

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Include `user.*`, `token.*` and `webhook.*` events (the user
    /// directory, the token inventory, the subscriptions): for admins only.
    pub include_identity: bool,
    /// Only events at or after this instant (ms since the epoch).
    pub since: Option<i64>,
    /// Only events at or before this instant (ms since the epoch).
    pub until: Option<i64>,
}

/// Reads the feed, oldest first.
pub fn list(conn: &mut DbConn, query: EventQuery) -> Result<Page<Event>> {
    let mut after = query.after.unwrap_or(0);
    if let Some(token) = &query.page_token {
        after = after.max(PageToken::decode(token, "events")?.int_key()?);
    }
    // Event time grows along the chain, so a time range is an id range: its
    // ends are one index probe each, and the page reads only inside it.
    if let Some(since) = query.since {
        let first: Option<i64> = events::table
            .filter(events::timestamp.ge(since))
            .order((events::timestamp.asc(), events::id.asc()))
            .select(events::id)
            .first(conn)
            .optional()?;
        match first {
            Some(first) => after = after.max(first - 1),
            None => {
                return Ok(Page::from_overfetch(
                    Vec::new(),
                    query.max_results,
                    |e: &Event| PageToken::int("events", e.id),
                ));
            }
        }
    }
    let mut select = events::table
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(query.max_results + 1)
        .into_boxed();
    if let Some(until) = query.until {
        let last: Option<i64> = events::table
            .filter(events::timestamp.le(until))
            .order((events::timestamp.desc(), events::id.desc()))
            .select(events::id)
            .first(conn)
            .optional()?;
        select = select.filter(events::id.le(last.unwrap_or(0)));
    }
    if let Some(model) = query.model {
        select = select.filter(events::model_name.eq(model));
    }
    if let Some(event_type) = query.event_type {
        select = select.filter(events::event_type.eq(event_type));
    }
    if !query.include_identity {
        // filtered in the query, so pages and their tokens skip them too
        select = select
            .filter(events::event_type.not_like("user.%"))
            .filter(events::event_type.not_like("token.%"))
            .filter(events::event_type.not_like("webhook.%"));
    }
    let rows: Vec<EventRow> = select.load(conn)?;
    let items = rows
        .into_iter()
        .map(|row| {
            let payload = serde_json::from_str(&row.payload)
                .map_err(|e| Error::internal_from(format!("event {} payload", row.id), e))?;
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
    db::read(conn, check_links)
}

/// [`verify_chain`] inside the caller's snapshot: every event follows the
/// one before, hashes as stored, and the head names the last.
pub fn check_links(conn: &mut DbConn) -> Result<std::result::Result<i64, String>> {
    let mut prev = genesis_hash();
    let mut expected_id = 1;
    let mut broken = None;
    chain::walk(conn, |row| {
        if row.id != expected_id {
            broken = Some(format!(
                "event {expected_id} is missing (found {} next)",
                row.id
            ));
        } else if row.prev_hash != prev || chain_hash(&prev, row) != row.hash {
            broken = Some(format!("event {} does not match the chain", row.id));
        } else {
            prev.clone_from(&row.hash);
            expected_id += 1;
            return Ok(ControlFlow::Continue(()));
        }
        Ok(ControlFlow::Break(()))
    })?;
    if let Some(broken) = broken {
        return Ok(Err(broken));
    }
    let (last_id, last_hash) = chain::head(conn)?;
    if last_id != expected_id - 1 || last_hash != prev {
        return Ok(Err(format!(
            "the chain head names event {last_id}, but the log ends at {}",
            expected_id - 1
        )));
    }
    Ok(Ok(expected_id - 1))
}
