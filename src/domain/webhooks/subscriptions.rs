//! Subscriptions: their rules (receiver URLs, event patterns), and
//! creating, reading, changing and deleting them through the native API.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Actor;
use crate::db::chain;
use crate::db::event::{EventKind, NativeSubscription, Subject, Subscription, SubscriptionUpdate};
use crate::db::rows::WebhookRow;
use crate::db::schema::{webhook_deliveries, webhooks};
use crate::db::{self, DbConn, now_ms};
use crate::domain::policy::glob_matches;
use crate::domain::sql::{Page, PageToken};
use crate::domain::types::ModelName;
use crate::error::{Entity, Error, Result};

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
    pub(super) fn wants_by(
        &self,
        patterns: &[String],
        event_type: &str,
        model: Option<&str>,
    ) -> bool {
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

pub(super) fn check_description(description: &Option<String>) -> Result<()> {
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
pub(super) fn find(conn: &mut DbConn, id: i64) -> Result<WebhookRow> {
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
pub(super) fn chain_head(conn: &mut DbConn) -> Result<i64> {
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
pub(super) fn delete_row(conn: &mut DbConn, id: i64) -> Result<()> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhooks::table.find(id)).execute(conn)?;
    Ok(())
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
