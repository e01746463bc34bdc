//! The delivery log as the API reads it: a subscription's deliveries, and
//! sending one again.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::subscriptions::find;
use crate::db::outbox::state;
use crate::db::rows::DeliveryRow;
use crate::db::schema::{events, webhook_deliveries};
use crate::db::{self, DbConn, now_ms};
use crate::domain::sql::{Page, PageToken};
use crate::error::{Entity, Error, Result};

/// One delivery as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The event delivered.
    pub event_id: i64,
    /// Its type.
    pub event_type: String,
    /// The `webhook-id` header (the same on every attempt).
    pub message_id: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (ms), while pending.
    pub next_attempt_at: Option<i64>,
    /// The last answer's status code.
    pub last_status: Option<i64>,
    /// The last failure, in words (and at most 1 KiB of the answer).
    pub last_error: Option<String>,
    /// How long the last attempt took.
    pub last_latency_ms: Option<i64>,
    /// When the last attempt was made (ms).
    pub last_attempt_at: Option<i64>,
    /// When it was recorded (ms).
    pub creation_timestamp: i64,
    /// When it was delivered or failed for good (ms).
    pub finished_at: Option<i64>,
}

fn delivery_api((row, event_type): (DeliveryRow, String)) -> Delivery {
    Delivery {
        next_attempt_at: (row.state == state::PENDING).then_some(row.next_attempt_at),
        id: row.id,
        event_id: row.event_id,
        event_type,
        message_id: row.message_id,
        state: row.state,
        attempts: row.attempts,
        last_status: row.last_status,
        last_error: row.last_error,
        last_latency_ms: row.last_latency_ms,
        last_attempt_at: row.last_attempt_at,
        creation_timestamp: row.creation_timestamp,
        finished_at: row.finished_at,
    }
}

/// Deliveries joined to their events.
type DeliveriesWithEvents = diesel::dsl::InnerJoinOn<
    webhook_deliveries::table,
    events::table,
    diesel::dsl::Eq<events::id, webhook_deliveries::event_id>,
>;

/// What the API shows of a delivery: its row and its event's type.
type DeliveryWithType = (
    diesel::dsl::AsSelect<DeliveryRow, db::Backend>,
    events::event_type,
);

/// Deliveries with their event's type, as one boxed query to filter further.
fn with_event_type() -> diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<DeliveriesWithEvents, DeliveryWithType>,
    db::Backend,
> {
    webhook_deliveries::table
        .inner_join(events::table.on(events::id.eq(webhook_deliveries::event_id)))
        .select((DeliveryRow::as_select(), events::event_type))
        .into_boxed()
}

/// A subscription's deliveries, newest first.
pub fn deliveries(
    conn: &mut DbConn,
    webhook_id: i64,
    max_results: i64,
    page_token: Option<&str>,
) -> Result<Page<Delivery>> {
    find(conn, webhook_id)?;
    let mut select = with_event_type()
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .limit(max_results + 1);
    if let Some(token) = page_token {
        select = select
            .filter(webhook_deliveries::id.lt(PageToken::decode(token, "deliveries")?.int_key()?));
    }
    let items = select.load(conn)?.into_iter().map(delivery_api).collect();
    Ok(Page::from_overfetch(items, max_results, |d: &Delivery| {
        PageToken::int("deliveries", d.id)
    }))
}

/// A delivery of a subscription (named, so the two ids cannot be swapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOf {
    /// The subscription.
    pub webhook_id: i64,
    /// The delivery.
    pub delivery_id: i64,
}

/// Sends a delivery again: pending, due now, with the same `webhook-id`.
pub fn redeliver(conn: &mut DbConn, delivery: DeliveryOf) -> Result<Delivery> {
    let DeliveryOf {
        webhook_id,
        delivery_id,
    } = delivery;
    db::bookkeeping(conn, |conn| {
        let updated = diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(delivery_id))
                .filter(webhook_deliveries::webhook_id.eq(webhook_id)),
        )
        .set((
            webhook_deliveries::state.eq(state::PENDING),
            webhook_deliveries::next_attempt_at.eq(now_ms()),
            webhook_deliveries::finished_at.eq(None::<i64>),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(Error::NotFound(Entity::Delivery {
                webhook: webhook_id,
                delivery: delivery_id,
            }));
        }
        with_event_type()
            .filter(webhook_deliveries::id.eq(delivery_id))
            .first(conn)
            .map(delivery_api)
            .map_err(Into::into)
    })
}
