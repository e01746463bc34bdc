//! The webhook outbox: the delivery queue over `webhook_deliveries`, its
//! cursor on the event log, and the leases that keep one worker at a time
//! on a subscription. Every statement of the queue is here, the backends'
//! differences with them (PostgreSQL's `FOR UPDATE … SKIP LOCKED`, SQLite's
//! write lock); which subscription wants which event is the domain's
//! (`domain::webhooks::fan_out`).

use diesel::prelude::*;

use crate::db::rows::{DeliveryRow, EventRow, WebhookRow};
use crate::db::schema::{events, webhook_cursor, webhook_deliveries, webhooks};
use crate::db::{self, DbConn, now_ms};
use crate::error::Result;

/// A delivery's state.
pub mod state {
    /// Waiting for its next attempt.
    pub const PENDING: &str = "pending";
    /// A receiver answered 2xx.
    pub const DELIVERED: &str = "delivered";
    /// Every attempt of the schedule failed, or the receiver answered 410.
    pub const FAILED: &str = "failed";
}

/// Whether any subscription is enabled (a plain read: without one the
/// fan-out writes nothing at all).
pub fn any_enabled(conn: &mut DbConn) -> Result<bool> {
    Ok(webhooks::table
        .filter(webhooks::enabled.eq(true))
        .select(webhooks::id)
        .first::<i64>(conn)
        .optional()?
        .is_some())
}

/// The last event fanned out, taken under the write lock (SQLite) or the
/// cursor row's lock (PostgreSQL): one fan-out at a time across replicas.
/// Inside a [`db::bookkeeping`] transaction.
pub fn lock_cursor(conn: &mut DbConn) -> Result<i64> {
    Ok(match conn {
        DbConn::Postgresql(_) => {
            diesel::sql_query("SELECT last_event_id FROM webhook_cursor WHERE id = 1 FOR UPDATE")
                .get_result::<Cursor>(conn)?
                .last_event_id
        }
        DbConn::Sqlite(_) => webhook_cursor::table
            .find(1)
            .select(webhook_cursor::last_event_id)
            .first(conn)?,
    })
}

/// Moves the cursor to `last` (in the fan-out's transaction).
pub fn advance_cursor(conn: &mut DbConn, last: i64) -> Result<()> {
    diesel::update(webhook_cursor::table.find(1))
        .set(webhook_cursor::last_event_id.eq(last))
        .execute(conn)?;
    Ok(())
}

/// The enabled subscriptions.
pub fn enabled_subscriptions(conn: &mut DbConn) -> Result<Vec<WebhookRow>> {
    Ok(webhooks::table
        .filter(webhooks::enabled.eq(true))
        .select(WebhookRow::as_select())
        .load(conn)?)
}

/// Up to `limit` events after `after`, in order.
pub fn events_after(conn: &mut DbConn, after: i64, limit: i64) -> Result<Vec<EventRow>> {
    Ok(events::table
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)?)
}

/// A delivery to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The subscription.
    pub webhook_id: i64,
    /// The event.
    pub event_id: i64,
    /// The id its receiver sees on every attempt.
    pub message_id: String,
}

/// Queues deliveries, pending and due `now`.
pub fn enqueue(conn: &mut DbConn, deliveries: &[NewDelivery], now: i64) -> Result<()> {
    let rows: Vec<_> = deliveries
        .iter()
        .map(|d| {
            (
                webhook_deliveries::webhook_id.eq(d.webhook_id),
                webhook_deliveries::event_id.eq(d.event_id),
                webhook_deliveries::message_id.eq(&d.message_id),
                webhook_deliveries::state.eq(state::PENDING),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::creation_timestamp.eq(now),
            )
        })
        .collect();
    // one statement per 100 deliveries
    // (Diesel's MultiConnection has no multi-row insert: each backend's own)
    for chunk in rows.chunks(100) {
        let insert = diesel::insert_into(webhook_deliveries::table).values(chunk);
        match conn {
            DbConn::Postgresql(pg) => insert.execute(pg)?,
            DbConn::Sqlite(lite) => insert.execute(lite)?,
        };
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Cursor {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_event_id: i64,
}

/// Leases up to `limit` enabled subscriptions that have a delivery due, for
/// `owner` until `lease_ms` from now: a subscription whose lease is held and
/// unexpired is skipped, an expired one is taken over. Answers the leased
/// ids. The lease is what keeps one worker at a time on a subscription
/// (and so its deliveries in event order).
pub fn claim(conn: &mut DbConn, owner: &str, lease_ms: i64, limit: i64) -> Result<Vec<i64>> {
    // a plain read first (one index probe): no write lock while nothing is due
    let any_due = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq(state::PENDING))
        .filter(webhook_deliveries::next_attempt_at.le(now_ms()))
        .select(webhook_deliveries::id)
        .first::<i64>(conn)
        .optional()?;
    if any_due.is_none() {
        return Ok(Vec::new());
    }
    db::bookkeeping(conn, |conn| {
        let now = now_ms();
        let due: Vec<i64> = match conn {
            // rows another replica is leasing right now are skipped, not
            // waited for
            DbConn::Postgresql(_) => diesel::sql_query(
                "SELECT w.id FROM webhooks w \
                 WHERE w.enabled AND (w.lease_until IS NULL OR w.lease_until < $1) \
                 AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id \
                 AND d.state = 'pending' AND d.next_attempt_at <= $1) \
                 ORDER BY w.id LIMIT $2 FOR UPDATE OF w SKIP LOCKED",
            )
            .bind::<diesel::sql_types::BigInt, _>(now)
            .bind::<diesel::sql_types::BigInt, _>(limit)
            .load::<Leasable>(conn)?
            .into_iter()
            .map(|row| row.id)
            .collect(),
            // SQLite: the write lock taken by this transaction serializes
            // claims
            DbConn::Sqlite(_) => webhook_deliveries::table
                .inner_join(webhooks::table)
                .filter(webhook_deliveries::state.eq(state::PENDING))
                .filter(webhook_deliveries::next_attempt_at.le(now))
                .filter(webhooks::enabled.eq(true))
                .filter(
                    webhooks::lease_until
                        .is_null()
                        .or(webhooks::lease_until.lt(now)),
                )
                .select(webhook_deliveries::webhook_id)
                .distinct()
                .limit(limit)
                .load(conn)?,
        };
        let mut leased = Vec::new();
        for id in due {
            // conditional: a replica that leased it meanwhile keeps it
            let taken = diesel::update(
                webhooks::table.find(id).filter(
                    webhooks::lease_until
                        .is_null()
                        .or(webhooks::lease_until.lt(now)),
                ),
            )
            .set((
                webhooks::lease_owner.eq(owner),
                webhooks::lease_until.eq(now.saturating_add(lease_ms)),
            ))
            .execute(conn)?;
            if taken == 1 {
                leased.push(id);
            }
        }
        Ok(leased)
    })
}

#[derive(QueryableByName)]
struct Leasable {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Gives a lease back.
pub fn release(conn: &mut DbConn, owner: &str, webhook_id: i64) -> Result<()> {
    diesel::update(
        webhooks::table
            .find(webhook_id)
            .filter(webhooks::lease_owner.eq(owner)),
    )
    .set((
        webhooks::lease_owner.eq(None::<String>),
        webhooks::lease_until.eq(None::<i64>),
    ))
    .execute(conn)?;
    Ok(())
}

/// A leased subscription as it is now and its due deliveries, oldest first,
/// each with its event.
pub struct Due {
    /// The subscription.
    pub subscription: WebhookRow,
    /// Its deliveries to send now, in event order.
    pub deliveries: Vec<(DeliveryRow, EventRow)>,
}

/// Up to `limit` of a subscription's pending deliveries, oldest first, as
/// long as each is due (a later one never overtakes an earlier one that
/// waits for its retry); `None` once the lease is not `owner`'s (the worker
/// renews it, [`renew`], before each attempt).
pub fn due(conn: &mut DbConn, owner: &str, webhook_id: i64, limit: i64) -> Result<Option<Due>> {
    let now = now_ms();
    let Some(subscription) = webhooks::table
        .find(webhook_id)
        .filter(webhooks::lease_owner.eq(owner))
        .filter(webhooks::lease_until.gt(now))
        .filter(webhooks::enabled.eq(true))
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let deliveries: Vec<(DeliveryRow, EventRow)> = webhook_deliveries::table
        .inner_join(events::table.on(events::id.eq(webhook_deliveries::event_id)))
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .filter(webhook_deliveries::state.eq(state::PENDING))
        .order(webhook_deliveries::id.asc())
        .limit(limit)
        .select((DeliveryRow::as_select(), EventRow::as_select()))
        .load(conn)?;
    let deliveries = deliveries
        .into_iter()
        .take_while(|(delivery, _)| delivery.next_attempt_at <= now)
        .collect();
    Ok(Some(Due {
        subscription,
        deliveries,
    }))
}

/// Extends `owner`'s unexpired lease on a subscription to `lease_ms` from
/// now: each attempt starts with at least half a lease (longer than an
/// attempt can take) left, so no other worker takes the subscription while
/// one is in flight. Answers the new end, or `None` when the lease was lost.
pub fn renew(
    conn: &mut DbConn,
    owner: &str,
    webhook_id: i64,
    lease_ms: i64,
) -> Result<Option<i64>> {
    db::bookkeeping(conn, |conn| {
        let now = now_ms();
        let until = now.saturating_add(lease_ms);
        let renewed = diesel::update(
            webhooks::table
                .find(webhook_id)
                .filter(webhooks::lease_owner.eq(owner))
                .filter(webhooks::lease_until.gt(now))
                .filter(webhooks::enabled.eq(true)),
        )
        .set(webhooks::lease_until.eq(until))
        .execute(conn)?;
        Ok((renewed == 1).then_some(until))
    })
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The status code, when an answer came.
    pub status: Option<u16>,
    /// What went wrong, when something did.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
    /// The receiver's `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
}

impl Attempt {
    /// Whether the receiver accepted it (a 2xx).
    pub fn accepted(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// An attempt that never reached the receiver.
    pub fn failed(error: String) -> Self {
        Attempt {
            status: None,
            error: Some(error),
            latency_ms: 0,
            retry_after: None,
        }
    }
}

/// One attempt to record: the delivery, what came of it, and when to try
/// again (`None` when the schedule is used up).
pub struct Outcome<'a> {
    /// The delivery attempted.
    pub delivery: &'a DeliveryRow,
    /// What came of it.
    pub attempt: Attempt,
    /// The next attempt, if any is left.
    pub retry_at: Option<i64>,
}

/// Records attempts, in one transaction: delivered on 2xx; on 410 the
/// subscription is disabled and the delivery failed; otherwise pending again
/// at `retry_at`, or failed when the schedule is used up.
pub fn record(conn: &mut DbConn, outcomes: &[Outcome<'_>]) -> Result<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    db::bookkeeping(conn, |conn| {
        let now = now_ms();
        for Outcome {
            delivery,
            attempt,
            retry_at,
        } in outcomes
        {
            let delivered = attempt.accepted();
            let gone = attempt.status == Some(410);
            let state = if delivered {
                state::DELIVERED
            } else if gone || retry_at.is_none() {
                state::FAILED
            } else {
                state::PENDING
            };
            diesel::update(webhook_deliveries::table.find(delivery.id))
                .set((
                    webhook_deliveries::state.eq(state),
                    webhook_deliveries::attempts.eq(delivery.attempts + 1),
                    webhook_deliveries::next_attempt_at.eq(retry_at.unwrap_or(now)),
                    webhook_deliveries::last_status.eq(attempt.status.map(i64::from)),
                    webhook_deliveries::last_error.eq(&attempt.error),
                    webhook_deliveries::last_latency_ms.eq(attempt.latency_ms),
                    webhook_deliveries::last_attempt_at.eq(now),
                    webhook_deliveries::finished_at.eq((state != state::PENDING).then_some(now)),
                ))
                .execute(conn)?;
            if gone {
                diesel::update(webhooks::table.find(delivery.webhook_id))
                    .set((
                        webhooks::enabled.eq(false),
                        webhooks::disabled_reason
                            .eq("the receiver answered 410 Gone: disabled by the server"),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// Removes deliveries that finished before `before` (ms); answers how many.
pub fn purge(conn: &mut DbConn, before: i64) -> Result<usize> {
    Ok(diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::state.ne(state::PENDING))
            .filter(webhook_deliveries::finished_at.lt(before)),
    )
    .execute(conn)?)
}

/// Pending deliveries and the age of the oldest (ms), for the metrics.
pub fn backlog(conn: &mut DbConn) -> Result<(i64, i64)> {
    let (count, oldest): (i64, Option<i64>) = webhook_deliveries::table
        .filter(webhook_deliveries::state.eq(state::PENDING))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(webhook_deliveries::creation_timestamp),
        ))
        .first(conn)?;
    Ok((count, oldest.map_or(0, |t| (now_ms() - t).max(0))))
}
