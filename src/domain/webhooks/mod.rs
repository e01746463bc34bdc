//! Webhooks: subscriptions to the event log, and their deliveries.
//!
//! A subscription names event types or globs (`request.*`) and optionally
//! one model. Deliveries are recorded by [`fan_out`], which follows the event
//! log from a stored cursor (the log is the outbox: nothing lives only in
//! memory), and sent by the delivery worker (`crate::webhooks`), which leases
//! a subscription ([`claim`]) so that one worker at a time sends its
//! deliveries, oldest event first. Changes to subscriptions are events
//! (`webhook.*`, listed to admins only); delivery bookkeeping is not.
//! Subscriptions made through MLflow's webhooks API ([`mlflow`]) are rows of
//! the same table, told apart by their MLflow id, and share all of this.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Actor;
use crate::db::event::{EventKind, NativeSubscription, Subject, Subscription, SubscriptionUpdate};
use crate::db::rows::EventRow;
use crate::db::chain;
use crate::db::schema::{events, webhook_cursor, webhook_deliveries, webhooks};
use crate::db::{self, DbConn, now_ms};
use crate::domain::policy::glob_matches;
use crate::domain::sql::{Page, PageToken};
use crate::domain::types::ModelName;
use crate::error::{Entity, Error, Result};

pub mod mlflow;

/// How many events one fan-out step reads.
const FAN_OUT_BATCH: i64 = 500;

/// A subscription as the API shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Id.
    pub id: i64,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types or globs (`request.*`, `*`).
    pub events: Vec<String>,
    /// Only events of this model, when set.
    pub model: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Why it was disabled by the server (a receiver answered 410).
    pub disabled_reason: Option<String>,
    /// Until when the previous secret still signs beside the new one (ms).
    pub previous_secret_until: Option<i64>,
    /// Who created it.
    pub created_by: String,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: i64,
}

/// A subscription's row.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    pub events: String,
    pub model_name: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub disabled_reason: Option<String>,
    pub from_event_id: i64,
    pub created_by: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// Set for a subscription made through MLflow's API (its webhook_id).
    pub mlflow_id: Option<String>,
    /// Its MLflow name.
    pub name: Option<String>,
}

impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRow")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl WebhookRow {
    /// The patterns it subscribes to.
    pub fn patterns(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    /// Whether an event of this type and model is for this subscription.
    pub fn wants(&self, event_type: &str, model: Option<&str>) -> bool {
        self.wants_by(&self.patterns(), event_type, model)
    }

    /// [`WebhookRow::wants`] with its patterns already read (the fan-out
    /// reads them once per batch, not once per event).
    fn wants_by(&self, patterns: &[String], event_type: &str, model: Option<&str>) -> bool {
        let model_ok = self
            .model_name
            .as_deref()
            .is_none_or(|wanted| model == Some(wanted));
        model_ok
            && patterns
                .iter()
                .any(|p| glob_matches(p.as_bytes(), event_type.as_bytes()))
    }

    /// The secrets that sign now: the current one, and the previous one
    /// while its overlap lasts.
    pub fn signing_secrets(&self, now: i64) -> Vec<String> {
        let mut secrets = vec![self.secret.clone()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            secrets.push(previous.clone());
        }
        secrets
    }

    fn api(self) -> Webhook {
        Webhook {
            events: self.patterns(),
            id: self.id,
            url: self.url,
            model: self.model_name,
            description: self.description,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            previous_secret_until: self.previous_secret_until,
            created_by: self.created_by,
            creation_timestamp: self.creation_timestamp,
            last_updated_timestamp: self.last_updated_timestamp,
        }
    }
}

/// A new subscription.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// The receiver.
    pub url: String,
    /// Event types or globs.
    pub events: Vec<String>,
    /// Only this model's events.
    pub model: Option<ModelName>,
    /// Free text.
    pub description: Option<String>,
    /// Deliver at once.
    pub enabled: bool,
}

/// Changes to a subscription (`None`: leave as is).
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    /// A new receiver.
    pub url: Option<String>,
    /// New patterns.
    pub events: Option<Vec<String>>,
    /// A new model filter (`Some(None)`: every model).
    pub model: Option<Option<ModelName>>,
    /// A new description (`Some(None)`: none).
    pub description: Option<Option<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Make a new secret; the old one signs beside it for `overlap_ms`.
    pub rotate_secret: bool,
}

/// What the receiver rules allow (`[webhooks]`).
#[derive(Debug, Clone, Copy)]
pub struct UrlRules {
    /// `http://` receivers.
    pub allow_http: bool,
    /// Loopback, private, link-local and metadata addresses.
    pub allow_private_networks: bool,
}

/// Checks a receiver's address: `https://` (or `http://` when allowed), a
/// host, no credentials in it; a literal address must be a public one unless
/// private networks are allowed (names are checked again on every
/// connection, on the address actually connected).
pub fn check_url(url: &str, rules: UrlRules) -> Result<()> {
    let bad = |why: &str| Error::invalid(format!("webhook url '{url}' {why}"));
    if url.len() > 2048 || url.chars().any(char::is_control) {
        return Err(bad("is too long or holds control characters"));
    }
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad("is not a URL"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if rules.allow_http => {}
        Some("http") => return Err(bad("must use https (webhooks.allow_http is false)")),
        _ => return Err(bad("must be an https:// URL")),
    }
    let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("must not carry credentials"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>()
        && !rules.allow_private_networks
        && !is_public(ip)
    {
        return Err(bad(
            "points at a loopback, private, link-local or metadata address \
             (webhooks.allow_private_networks is false)",
        ));
    }
    if !rules.allow_private_networks && host.eq_ignore_ascii_case("localhost") {
        return Err(bad(
            "points at a loopback address (webhooks.allow_private_networks is false)",
        ));
    }
    Ok(())
}

/// Whether an address is a public one: not loopback, private, link-local,
/// unique-local, shared (CGNAT), unspecified, broadcast, documentation or a
/// cloud metadata address.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254))
        }
    }
}

/// Checks the patterns: 1 to 50, each 1-100 characters of `a-z`, `_`, `.`,
/// `*` and `?`.
fn check_patterns(patterns: &[String]) -> Result<()> {
    if patterns.is_empty() || patterns.len() > 50 {
        return Err(Error::invalid(
            "events must name 1 to 50 event types or globs (e.g. \"request.*\")",
        ));
    }
    for pattern in patterns {
        let fine = !pattern.is_empty()
            && pattern.len() <= 100
            && pattern
                .bytes()
                .all(|b| b.is_ascii_lowercase() || matches!(b, b'_' | b'.' | b'*' | b'?'));
        if !fine {
            return Err(Error::invalid(format!(
                "'{pattern}' is not an event type or glob (a-z, '_', '.', '*', '?')"
            )));
        }
    }
    Ok(())
}

fn check_description(description: &Option<String>) -> Result<()> {
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        return Err(Error::invalid("description is longer than 1000 characters"));
    }
    Ok(())
}

/// A new secret: `whsec_` and the base64 of 32 random bytes.
fn new_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn not_found(id: i64) -> Error {
    Error::NotFound(Entity::Webhook(id))
}

/// A subscription of the native API (MLflow's are its API's alone).
fn find(conn: &mut DbConn, id: i64) -> Result<WebhookRow> {
    webhooks::table
        .find(id)
        .filter(webhooks::mlflow_id.is_null())
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found(id))
}

/// What an event about a subscription says (never the secret).
fn described(row: &WebhookRow) -> NativeSubscription {
    NativeSubscription {
        id: row.id,
        url: row.url.clone(),
        events: row.patterns(),
        model: row.model_name.clone(),
        enabled: row.enabled,
    }
}

/// The id of the last event appended (0 before the first): a new
/// subscription gets the events after it, its own creation included.
fn chain_head(conn: &mut DbConn) -> Result<i64> {
    Ok(chain::head(conn)?.0)
}

/// Creates a subscription; answers it and its secret (shown this once).
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    new: NewWebhook,
    rules: UrlRules,
) -> Result<(Webhook, String)> {
    check_url(&new.url, rules)?;
    check_patterns(&new.events)?;
    check_description(&new.description)?;
    let secret = new_secret();
    let events = serde_json::to_string(&new.events)
        .map_err(|e| Error::internal_from("cannot encode the patterns", e))?;
    let row = db::write(conn, &actor.username, |tx| {
        let head = chain_head(tx.conn())?;
        let now = now_ms();
        let row: WebhookRow = diesel::insert_into(webhooks::table)
            .values((
                webhooks::url.eq(&new.url),
                webhooks::events.eq(&events),
                webhooks::model_name.eq(new.model.as_ref().map(|m| m.as_str().to_owned())),
                webhooks::description.eq(&new.description),
                webhooks::enabled.eq(new.enabled),
                webhooks::secret.eq(&secret),
                // the events appended from now on, this one's creation included
                webhooks::from_event_id.eq(head),
                webhooks::created_by.eq(&actor.username),
                webhooks::creation_timestamp.eq(now),
                webhooks::last_updated_timestamp.eq(now),
            ))
            .returning(webhooks::all_columns)
            .get_result(tx.conn())?;
        tx.emit(
            Subject::Registry,
            EventKind::WebhookCreated(Subscription::Native(described(&row))),
        )?;
        Ok(row)
    })?;
    Ok((row.api(), secret))
}

/// Lists subscriptions, oldest first.
pub fn list(
    conn: &mut DbConn,
    max_results: i64,
    page_token: Option<&str>,
) -> Result<Page<Webhook>> {
    let mut select = webhooks::table
        .filter(webhooks::mlflow_id.is_null())
        .select(WebhookRow::as_select())
        .order(webhooks::id.asc())
        .limit(max_results + 1)
        .into_boxed();
    if let Some(token) = page_token {
        select = select.filter(webhooks::id.gt(PageToken::decode(token, "webhooks")?.int_key()?));
    }
    let items = select
        .load(conn)?
        .into_iter()
        .map(WebhookRow::api)
        .collect();
    Ok(Page::from_overfetch(items, max_results, |w: &Webhook| {
        PageToken::int("webhooks", w.id)
    }))
}

/// Reads one subscription.
pub fn get(conn: &mut DbConn, id: i64) -> Result<Webhook> {
    Ok(find(conn, id)?.api())
}

/// Reads one subscription's row (the worker's and the test delivery's view).
pub fn row(conn: &mut DbConn, id: i64) -> Result<WebhookRow> {
    find(conn, id)
}

/// Changes a subscription; answers it and, when the secret was rotated, the
/// new secret (shown this once).
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    changes: WebhookChanges,
    rules: UrlRules,
    overlap_ms: i64,
) -> Result<(Webhook, Option<String>)> {
    if let Some(url) = &changes.url {
        check_url(url, rules)?;
    }
    if let Some(patterns) = &changes.events {
        check_patterns(patterns)?;
    }
    if let Some(description) = &changes.description {
        check_description(description)?;
    }
    let rotated = changes.rotate_secret.then(new_secret);
    let row = db::write(conn, &actor.username, |tx| {
        let current = find(tx.conn(), id)?;
        let now = now_ms();
        let events = match &changes.events {
            Some(patterns) => serde_json::to_string(patterns)
                .map_err(|e| Error::internal_from("cannot encode the patterns", e))?,
            None => current.events.clone(),
        };
        let (secret, previous, previous_until) = match &rotated {
            Some(new) => (
                new.clone(),
                Some(current.secret.clone()),
                Some(now.saturating_add(overlap_ms)),
            ),
            None => (
                current.secret.clone(),
                current.previous_secret.clone(),
                current.previous_secret_until,
            ),
        };
        let enabled = changes.enabled.unwrap_or(current.enabled);
        let row: WebhookRow = diesel::update(webhooks::table.find(id))
            .set((
                webhooks::url.eq(changes.url.clone().unwrap_or(current.url.clone())),
                webhooks::events.eq(events),
                webhooks::model_name.eq(match &changes.model {
                    Some(model) => model.as_ref().map(|m| m.as_str().to_owned()),
                    None => current.model_name.clone(),
                }),
                webhooks::description.eq(match &changes.description {
                    Some(description) => description.clone(),
                    None => current.description.clone(),
                }),
                webhooks::enabled.eq(enabled),
                // enabling again clears the server's reason for disabling
                webhooks::disabled_reason.eq(if enabled {
                    None
                } else {
                    current.disabled_reason.clone()
                }),
                webhooks::secret.eq(secret),
                webhooks::previous_secret.eq(previous),
                webhooks::previous_secret_until.eq(previous_until),
                webhooks::last_updated_timestamp.eq(now),
            ))
            .returning(webhooks::all_columns)
            .get_result(tx.conn())?;
        tx.emit(
            Subject::Registry,
            EventKind::WebhookUpdated(SubscriptionUpdate::Native {
                subscription: described(&row),
                secret_rotated: rotated.is_some(),
            }),
        )?;
        Ok(row)
    })?;
    Ok((row.api(), rotated))
}

/// Deletes a subscription and its deliveries.
pub fn delete(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = find(tx.conn(), id)?;
        delete_row(tx.conn(), id)?;
        tx.emit(
            Subject::Registry,
            EventKind::WebhookDeleted(Subscription::Native(described(&row))),
        )
    })
}

/// Removes a subscription's row and its deliveries.
fn delete_row(conn: &mut DbConn, id: i64) -> Result<()> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhooks::table.find(id)).execute(conn)?;
    Ok(())
}

/// A delivery's state.
pub mod state {
    /// Waiting for its next attempt.
    pub const PENDING: &str = "pending";
    /// A receiver answered 2xx.
    pub const DELIVERED: &str = "delivered";
    /// Every attempt of the schedule failed, or the receiver answered 410.
    pub const FAILED: &str = "failed";
}

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

/// A delivery's row with its event's type.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub message_id: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub creation_timestamp: i64,
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

/// Sends a delivery again: pending, due now, with the same `webhook-id`.
pub fn redeliver(conn: &mut DbConn, webhook_id: i64, delivery_id: i64) -> Result<Delivery> {
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

/// Follows the event log from the stored cursor: records a delivery for
/// every enabled subscription each event is for, and moves the cursor, in
/// one transaction (so a crash between the two loses nothing). Answers how
/// many events it read.
pub fn fan_out(conn: &mut DbConn) -> Result<usize> {
    // without a subscription nothing is written at all (the cursor jumps
    // ahead when the first one comes)
    let subscribed: i64 = webhooks::table
        .filter(webhooks::enabled.eq(true))
        .count()
        .get_result(conn)?;
    if subscribed == 0 {
        return Ok(0);
    }
    db::bookkeeping(conn, |conn| {
        // taken under the write lock (SQLite) or the cursor row's lock
        // (PostgreSQL): one fan-out at a time across replicas
        let cursor: i64 = match conn {
            DbConn::Postgresql(_) => {
                diesel::sql_query(
                    "SELECT last_event_id FROM webhook_cursor WHERE id = 1 FOR UPDATE",
                )
                .get_result::<Cursor>(conn)?
                .last_event_id
            }
            DbConn::Sqlite(_) => webhook_cursor::table
                .find(1)
                .select(webhook_cursor::last_event_id)
                .first(conn)?,
        };
        let subscriptions: Vec<WebhookRow> = webhooks::table
            .filter(webhooks::enabled.eq(true))
            .select(WebhookRow::as_select())
            .load(conn)?;
        // no subscription wants an event before its creation
        let Some(start) = subscriptions.iter().map(|s| s.from_event_id).min() else {
            return Ok(0);
        };
        let batch: Vec<EventRow> = events::table
            .filter(events::id.gt(cursor.max(start)))
            .order(events::id.asc())
            .limit(FAN_OUT_BATCH)
            .select(EventRow::as_select())
            .load(conn)?;
        let Some(last) = batch.last().map(|e| e.id) else {
            return Ok(0);
        };
        let now = now_ms();
        let any_mlflow = subscriptions.iter().any(|s| s.mlflow_id.is_some());
        let mut rows = Vec::new();
        let mut prompts = std::collections::HashMap::new();
        let patterns: Vec<Vec<String>> = subscriptions.iter().map(WebhookRow::patterns).collect();
        for event in &batch {
            // the MLflow name of the event, when an MLflow subscription may
            // want it (a prompt's events have names of their own)
            let mlflow_name = if any_mlflow {
                mlflow::event_name(&EventKind::of(event)?, || match &event.model_name {
                    Some(model) => match prompts.get(model) {
                        Some(known) => Ok(*known),
                        None => {
                            let known = mlflow::is_prompt(conn, model)?;
                            prompts.insert(model.clone(), known);
                            Ok(known)
                        }
                    },
                    None => Ok(false),
                })?
            } else {
                None
            };
            for (subscription, patterns) in subscriptions.iter().zip(&patterns) {
                let wanted = match subscription.mlflow_id {
                    Some(_) => mlflow_name.is_some_and(|name| patterns.iter().any(|p| p == name)),
                    None => subscription.wants_by(
                        patterns,
                        &event.event_type,
                        event.model_name.as_deref(),
                    ),
                };
                if event.id <= subscription.from_event_id || !wanted {
                    continue;
                }
                // MLflow's X-MLflow-Delivery-Id is a UUID
                let message_id = match subscription.mlflow_id {
                    Some(_) => uuid::Uuid::new_v4().to_string(),
                    None => format!("msg_{}_{}", subscription.id, event.id),
                };
                rows.push((
                    webhook_deliveries::webhook_id.eq(subscription.id),
                    webhook_deliveries::event_id.eq(event.id),
                    webhook_deliveries::message_id.eq(message_id),
                    webhook_deliveries::state.eq(state::PENDING),
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::next_attempt_at.eq(now),
                    webhook_deliveries::creation_timestamp.eq(now),
                ));
            }
        }
        // one statement per 100 deliveries
        // (Diesel's MultiConnection has no multi-row insert: each backend's own)
        for chunk in rows.chunks(100) {
            let insert = diesel::insert_into(webhook_deliveries::table).values(chunk);
            match conn {
                DbConn::Postgresql(pg) => insert.execute(pg)?,
                DbConn::Sqlite(lite) => insert.execute(lite)?,
            };
        }
        diesel::update(webhook_cursor::table.find(1))
            .set(webhook_cursor::last_event_id.eq(last))
            .execute(conn)?;
        Ok(batch.len())
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlRules = UrlRules {
        allow_http: false,
        allow_private_networks: false,
    };

    #[test]
    fn receivers_must_be_public_https_urls_unless_allowed() {
        assert!(check_url("https://hooks.example.com/in", STRICT).is_ok());
        for bad in [
            "http://hooks.example.com/in",
            "ftp://hooks.example.com/in",
            "https://user:pw@hooks.example.com/in",
            "https://127.0.0.1/in",
            "https://10.1.2.3/in",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/in",
            "https://[fd00:ec2::254]/in",
            "https://localhost:8080/in",
            "https://100.64.0.1/in",
            "not a url",
        ] {
            assert!(check_url(bad, STRICT).is_err(), "{bad}");
        }
        let open = UrlRules {
            allow_http: true,
            allow_private_networks: true,
        };
        assert!(check_url("http://127.0.0.1:9000/in", open).is_ok());
    }

    #[test]
    fn subscriptions_match_types_by_glob_and_their_model_only() {
        let row = WebhookRow {
            id: 1,
            url: String::new(),
            events: r#"["request.*", "version.created"]"#.to_owned(),
            model_name: Some("churn".to_owned()),
            description: None,
            enabled: true,
            secret: "whsec_x".to_owned(),
            previous_secret: Some("whsec_old".to_owned()),
            previous_secret_until: Some(2_000),
            disabled_reason: None,
            from_event_id: 0,
            created_by: "admin".to_owned(),
            creation_timestamp: 0,
            last_updated_timestamp: 0,
            lease_owner: None,
            lease_until: None,
            mlflow_id: None,
            name: None,
        };
        assert!(row.wants("request.approved", Some("churn")));
        assert!(row.wants("version.created", Some("churn")));
        assert!(!row.wants("version.created", Some("fraud")));
        assert!(!row.wants("version.stage_changed", Some("churn")));
        assert!(!row.wants("request.approved", None));
        assert_eq!(row.signing_secrets(1_000), vec!["whsec_x", "whsec_old"]);
        assert_eq!(row.signing_secrets(2_000), vec!["whsec_x"]);
    }
}
