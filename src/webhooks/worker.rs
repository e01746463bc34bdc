//! The worker of one server: fan out, lease, send, record, rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::standard::{body, standard_headers};
use super::{Delivery, agent, mlflow_format as mlflow, send};
use crate::db::event::EventKind;
use crate::db::rows::EventRow;
use crate::db::{Pool, now_ms};
use crate::domain::webhooks::{self, Attempt, WebhookRow};
use crate::error::{Error, Result};

/// The shortest lease on a subscription (see [`Worker::lease_ms`]); a
/// server that dies holding one leaves it to others after at most this, or
/// three attempts' time.
const MIN_LEASE_MS: i64 = 5_000;
/// Subscriptions one server leases, and sends to at once, per round: few,
/// so replicas share the subscriptions.
const PARALLEL: usize = 4;
/// Deliveries sent per subscription per round (others wait their turn).
const PER_ROUND: usize = 100;
/// Deliveries read, and recorded, at once.
const BATCH: i64 = 20;
/// Attempts are recorded at least this often while a batch is sent.
const RECORD_EVERY: Duration = Duration::from_millis(200);
/// While requests arrive (and `webhooks.yield_cpu`), the worker rests this
/// many times as long as its last round took: it takes at most a tenth of
/// the time, and the database work its deliveries cost with it.
const YIELD_FACTOR: u32 = 9;
/// The longest such rest.
const MAX_YIELD: Duration = Duration::from_secs(1);

/// The body of a delivery of `event` to `subscription`, in its flavour.
fn delivery_body(
    subscription: &WebhookRow,
    event: &EventRow,
) -> std::result::Result<Vec<u8>, String> {
    let kind = EventKind::of(event).map_err(|e| e.to_string())?;
    if subscription.mlflow_id.is_some() {
        let name = mlflow::subscribed_name(subscription, &kind)
            .ok_or_else(|| format!("event {} has no MLflow name", event.id))?;
        return Ok(mlflow::body(
            name,
            mlflow::data(name, event, &kind),
            event.timestamp,
        ));
    }
    serde_json::to_vec(&body(event, &kind)?).map_err(|e| format!("cannot encode the delivery: {e}"))
}

/// How long the worker rests after a round of `took` that had work, given
/// the server's request count before and after it: only when requests came
/// meanwhile and it is to yield to them.
pub fn rest_after(took: Duration, requests: (u64, u64), yield_cpu: bool) -> Duration {
    if yield_cpu && requests.1 != requests.0 {
        (took * YIELD_FACTOR).min(MAX_YIELD)
    } else {
        Duration::ZERO
    }
}

/// The worker of one server.
pub struct Worker {
    pool: Pool,
    /// The server's requests, to yield to.
    requests: Arc<crate::telemetry::RequestCount>,
    /// One agent for every attempt: connections to a receiver are reused.
    agent: ureq::Agent,
    delivery: Arc<Delivery>,
    owner: String,
    stop: Arc<AtomicBool>,
}

impl Worker {
    /// A worker with a lease-owner name of its own.
    pub fn new(
        pool: Pool,
        delivery: Arc<Delivery>,
        requests: Arc<crate::telemetry::RequestCount>,
    ) -> Self {
        Worker {
            pool,
            requests,
            agent: agent(&delivery),
            delivery,
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A handle that stops the loop.
    pub fn stopper(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Runs rounds until stopped, on a thread of its own.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("modelgate-webhooks".to_owned())
            .spawn(move || self.run())
    }

    fn run(self) {
        if self.delivery.yield_cpu {
            // nice 19 for this thread and the senders it starts (Linux
            // threads inherit it): requests take the cores first
            if let Err(error) = thread_priority::ThreadPriority::Min.set_for_current() {
                tracing::warn!(?error, "cannot lower the webhook worker's CPU priority");
            }
        }
        let mut last_purge = Instant::now();
        let mut last_gauge = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            let (began, before) = (Instant::now(), self.requests.get());
            let busy = match self.round() {
                Ok(busy) => busy,
                Err(error) => {
                    tracing::warn!(%error, "a webhook delivery round failed");
                    false
                }
            };
            if busy {
                let requests = (before, self.requests.get());
                std::thread::sleep(rest_after(
                    began.elapsed(),
                    requests,
                    self.delivery.yield_cpu,
                ));
            }
            if last_gauge.elapsed() >= Duration::from_secs(1) {
                last_gauge = Instant::now();
                self.gauge_backlog();
            }
            if last_purge.elapsed() > Duration::from_secs(600) {
                last_purge = Instant::now();
                self.purge();
            }
            if !busy {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    fn purge(&self) {
        let before =
            now_ms() - i64::try_from(self.delivery.retention.as_millis()).unwrap_or(i64::MAX / 2);
        match self
            .pool
            .get()
            .map_err(|e| Error::Unavailable(e.to_string()))
            .and_then(|mut conn| webhooks::purge(&mut conn, before))
        {
            Ok(purged) if purged > 0 => tracing::info!(purged, "old webhook deliveries removed"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "purging webhook deliveries failed"),
        }
    }

    /// How long a lease holds: well past the longest attempt.
    fn lease_ms(&self) -> i64 {
        let attempt = i64::try_from(self.delivery.timeout.as_millis()).unwrap_or(i64::MAX / 4);
        MIN_LEASE_MS.max(attempt.saturating_mul(3))
    }

    /// One round: fan out new events, lease what is due, send (up to
    /// [`PARALLEL`] subscriptions at once, each on a connection of its own,
    /// so a slow receiver does not hold the others up). Answers whether
    /// there was work (the next round follows at once).
    pub fn round(&self) -> Result<bool> {
        let (fanned, leased) = {
            let mut conn = self.connection()?;
            let fanned = webhooks::fan_out(&mut conn)?;
            let leased = webhooks::claim(&mut conn, &self.owner, self.lease_ms(), PARALLEL as i64)?;
            (fanned, leased)
        };
        let sent = std::thread::scope(|scope| {
            let senders: Vec<_> = leased
                .iter()
                .map(|&webhook_id| scope.spawn(move || self.drain(webhook_id)))
                .collect();
            senders.into_iter().try_fold(0, |sent, sender| {
                let drained = sender
                    .join()
                    .unwrap_or_else(|_| Err(Error::internal("a webhook sender panicked")))?;
                Ok::<_, Error>(sent + drained)
            })
        })?;
        Ok(fanned > 0 || sent > 0)
    }

    /// Sets the backlog gauges (a count of the pending deliveries: once a
    /// second at most, not every round).
    fn gauge_backlog(&self) {
        if let Ok((pending, oldest_ms)) = self
            .connection()
            .and_then(|mut conn| webhooks::backlog(&mut conn))
        {
            metrics::gauge!("modelgate_webhook_pending_deliveries").set(pending as f64);
            metrics::gauge!("modelgate_webhook_oldest_pending_seconds")
                .set(oldest_ms as f64 / 1000.0);
        }
    }

    fn connection(&self) -> Result<crate::db::PooledConn> {
        self.pool
            .get()
            .map_err(|e| Error::Unavailable(format!("no database connection: {e}")))
    }

    /// Sends a leased subscription's due deliveries in event order, stopping
    /// at the first that is not accepted (the next waits for its retry),
    /// and records them in one transaction per batch, or sooner when
    /// [`RECORD_EVERY`] has passed (what is sent but not yet recorded when a
    /// server dies is sent again: at least once). Gives the lease back.
    /// Answers how many were attempted.
    fn drain(&self, webhook_id: i64) -> Result<usize> {
        let mut conn = self.connection()?;
        let lease_ms = self.lease_ms();
        let mut sent = 0;
        while sent < PER_ROUND {
            let Some(due) = webhooks::due(&mut conn, &self.owner, webhook_id, BATCH)? else {
                break;
            };
            let full = due.deliveries.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
            let mut lease_until = due.subscription.lease_until.unwrap_or(0);
            let mut outcomes = Vec::new();
            let mut recorded = Instant::now();
            let mut go_on = full;
            for (delivery, event) in &due.deliveries {
                if self.stop.load(Ordering::Relaxed) {
                    go_on = false;
                    break;
                }
                if lease_until.saturating_sub(now_ms()) < lease_ms / 2 {
                    match webhooks::renew(&mut conn, &self.owner, webhook_id, lease_ms)? {
                        Some(until) => lease_until = until,
                        None => {
                            go_on = false;
                            break;
                        }
                    }
                }
                let outcome = self.attempt(&due.subscription, delivery, event);
                let accepted = outcome.attempt.accepted();
                outcomes.push(outcome);
                if !accepted {
                    go_on = false;
                    break;
                }
                if recorded.elapsed() >= RECORD_EVERY {
                    sent += outcomes.len();
                    webhooks::record(&mut conn, &std::mem::take(&mut outcomes))?;
                    recorded = Instant::now();
                }
            }
            sent += outcomes.len();
            webhooks::record(&mut conn, &outcomes)?;
            if !go_on {
                break;
            }
        }
        webhooks::release(&mut conn, &self.owner, webhook_id)?;
        Ok(sent)
    }

    /// One attempt at a delivery, counted in the metrics.
    fn attempt<'a>(
        &self,
        subscription: &WebhookRow,
        due: &'a webhooks::DeliveryRow,
        event: &EventRow,
    ) -> webhooks::Outcome<'a> {
        let (attempt, _) = match delivery_body(subscription, event) {
            Ok(body) => {
                let timestamp = now_ms() / 1000;
                let headers = match subscription.mlflow_id {
                    Some(_) => {
                        mlflow::headers(&subscription.secret, &due.message_id, timestamp, &body)
                    }
                    None => standard_headers(
                        &subscription.signing_secrets(now_ms()),
                        &due.message_id,
                        timestamp,
                        &body,
                    ),
                };
                send(&self.agent, &subscription.url, &headers, &body)
            }
            Err(error) => (Attempt::failed(error), String::new()),
        };
        let attempts = usize::try_from(due.attempts + 1).unwrap_or(usize::MAX);
        let retry_at = self
            .delivery
            .retry_at(attempts, attempt.retry_after, now_ms());
        let outcome = match attempt.status {
            _ if attempt.accepted() => "delivered",
            Some(410) => "gone",
            _ if retry_at.is_none() => "failed",
            _ => "retry",
        };
        metrics::counter!("modelgate_webhook_deliveries_total", "outcome" => outcome).increment(1);
        if outcome != "delivered" {
            tracing::info!(
                webhook = subscription.id,
                delivery = due.id,
                attempts,
                outcome,
                error = attempt.error.as_deref().unwrap_or_default(),
                "webhook delivery not accepted"
            );
        }
        webhooks::Outcome {
            delivery: due,
            attempt,
            retry_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_rests_nine_times_its_round_only_while_requests_arrive() {
        let took = Duration::from_millis(40);
        assert_eq!(rest_after(took, (7, 9), true), Duration::from_millis(360));
        assert_eq!(rest_after(took, (7, 7), true), Duration::ZERO);
        assert_eq!(rest_after(took, (7, 9), false), Duration::ZERO);
        assert_eq!(rest_after(Duration::from_secs(2), (0, 1), true), MAX_YIELD);
    }
}
