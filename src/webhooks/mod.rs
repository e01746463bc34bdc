//! The webhook delivery worker, one per server: it follows the event log
//! into deliveries ([`webhooks::fan_out`]), leases subscriptions with a
//! delivery due ([`webhooks::claim`]) and sends each one's deliveries in
//! event order, signed as the Standard Webhooks specification says:
//! `webhook-id` (the same on every attempt), `webhook-timestamp` (seconds)
//! and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
//! `id.timestamp.body` under each signing secret, space-separated). A 2xx is
//! delivered; 410 disables the subscription; anything else, a timeout or a
//! refused connection waits for the next step of the retry schedule (with
//! jitter, or the receiver's `Retry-After` when longer). Redirects are not
//! followed, at most 1 KiB of an answer is kept, and every address a name
//! resolves to is checked before it is connected to.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::WebhookSettings;
use crate::db::event::{EventKind, StageChange};
use crate::db::rows::EventRow;
use crate::db::{Pool, now_ms};
use crate::domain::webhooks::{self, Attempt, UrlRules, WebhookRow, is_public};
use crate::error::{Error, Result};

pub mod mlflow;

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
/// At most this much of a receiver's answer is kept.
const KEEP_BYTES: usize = 1024;
/// While requests arrive (and `webhooks.yield_cpu`), the worker rests this
/// many times as long as its last round took: it takes at most a tenth of
/// the time, and the database work its deliveries cost with it.
const YIELD_FACTOR: u32 = 9;
/// The longest such rest.
const MAX_YIELD: Duration = Duration::from_secs(1);

/// The parsed `[webhooks]` settings.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Receiver rules.
    pub rules: UrlRules,
    /// Waits between attempts.
    pub schedule: Vec<Duration>,
    /// Per-attempt bound.
    pub timeout: Duration,
    /// How long finished deliveries are kept.
    pub retention: Duration,
    /// How long a rotated-out secret keeps signing.
    pub overlap: Duration,
    /// Deliver at the lowest CPU priority.
    pub yield_cpu: bool,
}

impl Delivery {
    /// Reads the settings; the error names the bad one.
    pub fn from_settings(settings: &WebhookSettings) -> std::result::Result<Self, String> {
        let schedule = settings
            .retry_schedule
            .split(',')
            .map(str::trim)
            .filter(|step| !step.is_empty())
            .map(crate::domain::types::parse_duration)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("webhooks.retry_schedule: {e}"))?;
        if schedule.is_empty() || schedule.len() > 50 {
            return Err("webhooks.retry_schedule must list 1 to 50 waits, e.g. 5s,5m,30m".into());
        }
        if settings.timeout_seconds == 0 || settings.timeout_seconds > 300 {
            return Err("webhooks.timeout_seconds must be between 1 and 300".into());
        }
        Ok(Delivery {
            rules: UrlRules {
                allow_http: settings.allow_http,
                allow_private_networks: settings.allow_private_networks,
            },
            schedule,
            timeout: Duration::from_secs(settings.timeout_seconds),
            retention: Duration::from_secs(settings.retention_days.saturating_mul(86_400)),
            overlap: Duration::from_secs(settings.rotation_overlap_seconds),
            yield_cpu: settings.yield_cpu,
        })
    }

    /// When the next attempt is due after `attempts` failed ones, or `None`
    /// when the schedule is used up: the step's wait, up to a fifth more or
    /// less at random, or the receiver's `Retry-After` when that is longer.
    pub fn retry_at(&self, attempts: usize, retry_after: Option<u64>, now: i64) -> Option<i64> {
        let step = self.schedule.get(attempts.checked_sub(1)?)?;
        let base = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        let jitter = base / 5;
        let spread = if jitter > 0 {
            rand::random_range(-jitter..=jitter)
        } else {
            0
        };
        let wait = base.saturating_add(spread).max(0);
        let asked = retry_after
            .map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Some(now.saturating_add(wait.max(asked.min(86_400_000))))
    }
}

/// The signature header value for `message_id.timestamp.body` under each
/// secret (`whsec_` and base64).
pub fn sign(secrets: &[String], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    secrets
        .iter()
        .filter_map(|secret| {
            let key = engine
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(message_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!("v1,{}", engine.encode(mac.finalize().into_bytes())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stages and the request an event is about, as a delivery names them.
fn stages_and_request(kind: &EventKind) -> (Value, Value, Value) {
    match kind {
        EventKind::VersionStageChanged(change) => {
            let (from, to) = change.stages();
            let request = match change {
                StageChange::System { .. } => Value::Null,
                StageChange::Move { request_id, .. } => json!(request_id),
            };
            (json!(from), json!(to), request)
        }
        EventKind::RequestCreated { request } => {
            let request = request.json();
            (
                request["from_stage"].clone(),
                request["to_stage"].clone(),
                request["id"].clone(),
            )
        }
        EventKind::RequestApproved { id, .. }
        | EventKind::RequestRejected { id, .. }
        | EventKind::RequestCancelled { id, .. } => (Value::Null, Value::Null, json!(id)),
        EventKind::RequestStale { id, from_stage, .. } => {
            (json!(from_stage), Value::Null, json!(id))
        }
        EventKind::AliasSet { request_id, .. } => (Value::Null, Value::Null, json!(request_id)),
        EventKind::ModelCreated { .. }
        | EventKind::ModelRenamed { .. }
        | EventKind::ModelUpdated { .. }
        | EventKind::ModelDeleted { .. }
        | EventKind::ModelTagSet { .. }
        | EventKind::ModelTagDeleted { .. }
        | EventKind::VersionCreated { .. }
        | EventKind::VersionUpdated { .. }
        | EventKind::VersionDeleted { .. }
        | EventKind::VersionTagSet { .. }
        | EventKind::VersionTagDeleted { .. }
        | EventKind::AliasDeleted { .. }
        | EventKind::UserCreated { .. }
        | EventKind::UserUpdated { .. }
        | EventKind::UserDeleted { .. }
        | EventKind::TokenCreated { .. }
        | EventKind::TokenRevoked { .. }
        | EventKind::WebhookCreated(_)
        | EventKind::WebhookUpdated(_)
        | EventKind::WebhookDeleted(_) => (Value::Null, Value::Null, Value::Null),
    }
}

/// The body of a delivery: `{"type", "timestamp", "data"}` (`kind`: the
/// event, parsed).
pub fn body(event: &EventRow, kind: &EventKind) -> std::result::Result<Value, String> {
    let details: Value = serde_json::from_str(&event.payload)
        .map_err(|e| format!("event {} payload: {e}", event.id))?;
    let (from_stage, to_stage, request_id) = stages_and_request(kind);
    Ok(json!({
        "type": event.event_type,
        "timestamp": crate::domain::history::format_instant(event.timestamp),
        "data": {
            "event_id": event.id,
            "event_hash": event.hash,
            "model": event.model_name,
            "version": event.version,
            "from_stage": from_stage,
            "to_stage": to_stage,
            "actor": event.actor,
            "request_id": request_id,
            "details": details,
        }
    }))
}

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

/// Resolves names like the default resolver, then drops every address that
/// is not public (unless private networks are allowed): the connection can
/// only go to an address checked here, so a name that resolves elsewhere on
/// a second lookup (DNS rebinding) gains nothing.
#[derive(Debug)]
struct CheckedResolver {
    allow_private_networks: bool,
}

impl ureq::unversioned::resolver::Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let resolved = ureq::unversioned::resolver::DefaultResolver::default()
            .resolve(uri, config, timeout)?;
        let mut allowed = self.empty();
        for address in resolved.iter().copied() {
            if self.allow_private_networks || is_public(address.ip()) {
                allowed.push(address);
            }
        }
        if allowed.is_empty() {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves only to loopback, private, link-local or metadata addresses \
                     (webhooks.allow_private_networks is false)",
                    uri.host().unwrap_or_default()
                ),
            )));
        }
        Ok(allowed)
    }
}

/// An HTTP agent for receivers: the checked resolver, no redirects, no
/// proxy from the environment, the attempt's time bound.
pub fn agent(delivery: &Delivery) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(delivery.timeout))
        .user_agent("modelgate-webhooks")
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        CheckedResolver {
            allow_private_networks: delivery.rules.allow_private_networks,
        },
    )
}

/// The Standard Webhooks headers of a native delivery.
pub fn standard_headers(
    secrets: &[String],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", message_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            sign(secrets, message_id, timestamp, body),
        ),
    ]
}

/// Sends one POST of `body` with `headers` (and `content-type:
/// application/json`); never fails (what happened is in the attempt).
pub fn send(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> (Attempt, String) {
    let started = Instant::now();
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request.body(body.to_vec());
    let outcome = match request {
        Ok(request) => agent.run(request),
        Err(error) => {
            let attempt = Attempt::failed(format!("cannot build the request: {error}"));
            return (attempt, String::new());
        }
    };
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match outcome {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let mut kept = Vec::new();
            let _ = std::io::Read::read_to_end(
                &mut std::io::Read::take(response.body_mut().as_reader(), KEEP_BYTES as u64),
                &mut kept,
            );
            let text = String::from_utf8_lossy(&kept).into_owned();
            let error = (!(200..300).contains(&status))
                .then(|| format!("the receiver answered {status}: {text}"));
            (
                Attempt {
                    status: Some(status),
                    error,
                    latency_ms,
                    retry_after,
                },
                text,
            )
        }
        Err(error) => (
            Attempt {
                status: None,
                error: Some(format!("no answer: {error}")),
                latency_ms,
                retry_after: None,
            },
            String::new(),
        ),
    }
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
    fn signatures_follow_the_standard_webhooks_example() {
        // the specification's published example
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn the_worker_rests_nine_times_its_round_only_while_requests_arrive() {
        let took = Duration::from_millis(40);
        assert_eq!(rest_after(took, (7, 9), true), Duration::from_millis(360));
        assert_eq!(rest_after(took, (7, 7), true), Duration::ZERO);
        assert_eq!(rest_after(took, (7, 9), false), Duration::ZERO);
        assert_eq!(rest_after(Duration::from_secs(2), (0, 1), true), MAX_YIELD);
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_and_end() {
        let delivery = Delivery::from_settings(&WebhookSettings {
            allow_private_networks: false,
            allow_http: false,
            retry_schedule: "10s,1m".to_owned(),
            timeout_seconds: 5,
            retention_days: 1,
            rotation_overlap_seconds: 60,
            yield_cpu: true,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..100 {
            let first = delivery.retry_at(1, None, 0).unwrap_or_default();
            assert!((8_000..=12_000).contains(&first), "{first}");
            let second = delivery.retry_at(2, None, 0).unwrap_or_default();
            assert!((48_000..=72_000).contains(&second), "{second}");
        }
        assert_eq!(delivery.retry_at(3, None, 0), None);
        // a longer Retry-After wins
        assert_eq!(delivery.retry_at(1, Some(600), 0), Some(600_000));
    }
}
