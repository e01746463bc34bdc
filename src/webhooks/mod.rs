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
//!
//! - [`standard`]: a native delivery's body and its signed headers;
//! - [`mlflow_format`]: a delivery to a subscription made through MLflow's
//!   API, as MLflow's server sends it;
//! - [`send`]: the HTTP agent and one attempt;
//! - [`worker`]: the loop that fans out, leases, sends and records.
//!
//! [`webhooks::fan_out`]: crate::domain::webhooks::fan_out
//! [`webhooks::claim`]: crate::domain::webhooks::claim

use std::time::Duration;

use crate::config::WebhookSettings;
use crate::domain::webhooks::UrlRules;

pub mod mlflow_format;
pub mod send;
pub mod standard;
pub mod worker;

pub use send::{agent, send};
pub use standard::{body, sign, standard_headers};
pub use worker::Worker;

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

#[cfg(test)]
mod tests {
    use super::*;

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
