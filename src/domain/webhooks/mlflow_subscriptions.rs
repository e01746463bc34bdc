//! Subscriptions made through MLflow's webhooks API (MLflow 3): an MLflow
//! id (a UUID) and name, MLflow's event names (`model_version.created`, …)
//! and a secret used as given (an HMAC key of its UTF-8 bytes; none: no
//! signature). They share the delivery machinery of the native ones: the
//! same rows, fan-out, leases, retries and history.

use diesel::prelude::*;

use super::subscriptions::{chain_head, check_description, delete_row};
use super::{UrlRules, WebhookRow, check_url};
use crate::auth::Actor;
use crate::db::event::{EventKind, MlflowSubscription, Subject, Subscription, SubscriptionUpdate};
use crate::db::schema::{registered_model_tags, registered_models, webhooks};
use crate::db::{self, DbConn, now_ms};
use crate::error::{Entity, Error, Result};

/// MLflow's entities and the actions each accepts (`VALID_ENTITY_ACTIONS`
/// of MLflow 3.17), in its enum order.
pub const ENTITY_ACTIONS: &[(&str, &[&str])] = &[
    ("registered_model", &["created"]),
    ("model_version", &["created"]),
    ("model_version_tag", &["deleted", "set"]),
    ("model_version_alias", &["created", "deleted"]),
    ("prompt", &["created"]),
    ("prompt_version", &["created"]),
    ("prompt_tag", &["deleted", "set"]),
    ("prompt_version_tag", &["deleted", "set"]),
    ("prompt_alias", &["created", "deleted"]),
    ("budget_policy", &["exceeded"]),
];

/// MLflow's action enum, in order (1-based on the wire).
pub const ACTIONS: &[&str] = &["created", "updated", "deleted", "set", "exceeded"];

/// The tag that makes a registered model a prompt.
const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// A subscription as MLflow's API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MlflowWebhook {
    /// The MLflow id (a UUID).
    pub webhook_id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The receiver.
    pub url: String,
    /// `entity.action` names, lower case.
    pub events: Vec<String>,
    /// ACTIVE (true) or DISABLED.
    pub active: bool,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: i64,
}

impl MlflowWebhook {
    fn of(row: WebhookRow) -> Self {
        MlflowWebhook {
            events: row.patterns(),
            webhook_id: row.mlflow_id.unwrap_or_default(),
            name: row.name.unwrap_or_default(),
            description: row.description,
            url: row.url,
            active: row.enabled,
            creation_timestamp: row.creation_timestamp,
            last_updated_timestamp: row.last_updated_timestamp,
        }
    }
}

/// A new MLflow subscription.
#[derive(Debug, Clone)]
pub struct NewMlflowWebhook {
    /// Its name.
    pub name: String,
    /// The receiver.
    pub url: String,
    /// `entity.action` names.
    pub events: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// The HMAC key (empty: deliveries are not signed).
    pub secret: String,
    /// ACTIVE.
    pub active: bool,
}

/// Changes to an MLflow subscription (`None`: as is).
#[derive(Debug, Clone, Default)]
pub struct MlflowChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new description (`Some(None)`: none).
    pub description: Option<Option<String>>,
    /// A new receiver.
    pub url: Option<String>,
    /// New events.
    pub events: Option<Vec<String>>,
    /// A new secret (empty: no signature).
    pub secret: Option<String>,
    /// ACTIVE or DISABLED.
    pub active: Option<bool>,
}

/// Whether `entity.action` is one MLflow accepts; the error is MLflow's.
pub fn check_event(entity: &str, action: &str) -> Result<()> {
    let Some((_, actions)) = ENTITY_ACTIONS.iter().find(|(e, _)| *e == entity) else {
        return Err(Error::invalid(format!(
            "Invalid entity '{entity}'. Valid entities are: {}",
            python_list(ENTITY_ACTIONS.iter().map(|(e, _)| *e))
        )));
    };
    if !actions.contains(&action) {
        return Err(Error::invalid(format!(
            "Invalid action '{action}' for entity '{entity}'. Valid actions are: {}",
            python_list(actions.iter().copied())
        )));
    }
    Ok(())
}

/// A list as Python prints one: `['a', 'b']`.
fn python_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.map(|item| format!("'{item}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// MLflow's name rule, with its message.
fn check_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let inner_ok = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    let fine = (1..=63).contains(&bytes.len())
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().all(inner_ok);
    if fine {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Webhook name '{name}' is invalid. It must start and end with a letter or digit, be \
             less than 63 characters long, and contain only letters, digits, dots (.), \
             underscores (_), and hyphens (-)."
        )))
    }
}

fn check_events(events: &[String]) -> Result<()> {
    if events.is_empty() {
        return Err(Error::invalid(
            "Webhook events must be a non-empty list of WebhookEvent objects: [].",
        ));
    }
    if events.len() > 50 {
        return Err(Error::invalid("a webhook subscribes to at most 50 events"));
    }
    for event in events {
        let (entity, action) = event.split_once('.').unwrap_or((event, ""));
        check_event(entity, action)?;
    }
    Ok(())
}

fn check_secret(secret: &str) -> Result<()> {
    if secret.len() > 1024 {
        return Err(Error::invalid("secret is longer than 1024 bytes"));
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::NotFound(Entity::MlflowWebhook(id.to_owned()))
}

fn find(conn: &mut DbConn, id: &str) -> Result<WebhookRow> {
    webhooks::table
        .filter(webhooks::mlflow_id.eq(id))
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found(id))
}

/// What an event about an MLflow subscription says (never the secret).
fn described(row: &WebhookRow) -> MlflowSubscription {
    MlflowSubscription {
        id: row.id,
        mlflow_webhook_id: row.mlflow_id.clone(),
        name: row.name.clone(),
        url: row.url.clone(),
        events: row.patterns(),
        enabled: row.enabled,
    }
}

fn encode(events: &[String]) -> Result<String> {
    serde_json::to_string(events).map_err(|e| Error::internal_from("cannot encode the events", e))
}

/// Creates a subscription.
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    new: NewMlflowWebhook,
    rules: UrlRules,
) -> Result<MlflowWebhook> {
    check_name(&new.name)?;
    check_url(&new.url, rules)?;
    check_events(&new.events)?;
    check_description(&new.description)?;
    check_secret(&new.secret)?;
    let events = encode(&new.events)?;
    let mlflow_id = uuid::Uuid::new_v4().to_string();
    let row = db::write(conn, &actor.username, |tx| {
        let head = chain_head(tx.conn())?;
        let now = now_ms();
        let row: WebhookRow = diesel::insert_into(webhooks::table)
            .values((
                webhooks::url.eq(&new.url),
                webhooks::events.eq(&events),
                webhooks::description.eq(&new.description),
                webhooks::enabled.eq(new.active),
                webhooks::secret.eq(&new.secret),
                webhooks::from_event_id.eq(head),
                webhooks::created_by.eq(&actor.username),
                webhooks::creation_timestamp.eq(now),
                webhooks::last_updated_timestamp.eq(now),
                webhooks::mlflow_id.eq(&mlflow_id),
                webhooks::name.eq(&new.name),
            ))
            .returning(webhooks::all_columns)
            .get_result(tx.conn())?;
        tx.emit(
            Subject::Registry,
            EventKind::WebhookCreated(Subscription::Mlflow(described(&row))),
        )?;
        Ok(row)
    })?;
    Ok(MlflowWebhook::of(row))
}

/// A page of subscriptions, newest first (MLflow's order), from `offset`;
/// answers the next page's offset when there is one.
pub fn list(
    conn: &mut DbConn,
    max_results: i64,
    offset: i64,
) -> Result<(Vec<MlflowWebhook>, Option<i64>)> {
    let mut rows: Vec<WebhookRow> = webhooks::table
        .filter(webhooks::mlflow_id.is_not_null())
        .order((webhooks::creation_timestamp.desc(), webhooks::id.desc()))
        .limit(max_results + 1)
        .offset(offset)
        .select(WebhookRow::as_select())
        .load(conn)?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > max_results;
    rows.truncate(usize::try_from(max_results).unwrap_or(usize::MAX));
    Ok((
        rows.into_iter().map(MlflowWebhook::of).collect(),
        more.then_some(offset + max_results),
    ))
}

/// Reads one subscription.
pub fn get(conn: &mut DbConn, id: &str) -> Result<MlflowWebhook> {
    Ok(MlflowWebhook::of(find(conn, id)?))
}

/// One subscription's row (for a test delivery).
pub fn row(conn: &mut DbConn, id: &str) -> Result<WebhookRow> {
    find(conn, id)
}

/// Changes a subscription.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: &str,
    changes: MlflowChanges,
    rules: UrlRules,
) -> Result<MlflowWebhook> {
    if let Some(name) = &changes.name {
        check_name(name)?;
    }
    if let Some(url) = &changes.url {
        check_url(url, rules)?;
    }
    if let Some(events) = &changes.events {
        check_events(events)?;
    }
    if let Some(description) = &changes.description {
        check_description(description)?;
    }
    if let Some(secret) = &changes.secret {
        check_secret(secret)?;
    }
    let events = changes.events.as_deref().map(encode).transpose()?;
    let row = db::write(conn, &actor.username, |tx| {
        let current = find(tx.conn(), id)?;
        let enabled = changes.active.unwrap_or(current.enabled);
        let row: WebhookRow = diesel::update(webhooks::table.find(current.id))
            .set((
                webhooks::name.eq(changes.name.clone().or(current.name.clone())),
                webhooks::description.eq(match &changes.description {
                    Some(description) => description.clone(),
                    None => current.description.clone(),
                }),
                webhooks::url.eq(changes.url.clone().unwrap_or(current.url.clone())),
                webhooks::events.eq(events.clone().unwrap_or(current.events.clone())),
                webhooks::secret.eq(changes.secret.clone().unwrap_or(current.secret.clone())),
                webhooks::enabled.eq(enabled),
                webhooks::disabled_reason.eq(if enabled {
                    None
                } else {
                    current.disabled_reason.clone()
                }),
                webhooks::last_updated_timestamp.eq(now_ms()),
            ))
            .returning(webhooks::all_columns)
            .get_result(tx.conn())?;
        tx.emit(
            Subject::Registry,
            EventKind::WebhookUpdated(SubscriptionUpdate::Mlflow {
                subscription: described(&row),
                secret_changed: changes.secret.is_some(),
            }),
        )?;
        Ok(row)
    })?;
    Ok(MlflowWebhook::of(row))
}

/// Deletes a subscription and its deliveries.
pub fn delete(conn: &mut DbConn, actor: &Actor, id: &str) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = find(tx.conn(), id)?;
        delete_row(tx.conn(), row.id)?;
        tx.emit(
            Subject::Registry,
            EventKind::WebhookDeleted(Subscription::Mlflow(described(&row))),
        )
    })
}

/// The MLflow event (`entity.action`) a registry event is, if any: MLflow
/// has events for model and version creation, version tags and aliases —
/// and the prompt variants of these for models tagged
/// `mlflow.prompt.is_prompt = true` — and none for stage moves, renames,
/// updates or deletions.
pub fn event_name(
    kind: &EventKind,
    is_prompt: impl FnOnce() -> Result<bool>,
) -> Result<Option<&'static str>> {
    let pick = |prompt: bool, as_prompt: &'static str, as_model: &'static str| {
        if prompt { as_prompt } else { as_model }
    };
    Ok(match kind {
        EventKind::ModelCreated { registered_model } => {
            let prompt = registered_model.json()["tags"][PROMPT_TAG]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            Some(pick(prompt, "prompt.created", "registered_model.created"))
        }
        EventKind::VersionCreated { .. } => Some(pick(
            is_prompt()?,
            "prompt_version.created",
            "model_version.created",
        )),
        EventKind::VersionTagSet { .. } => Some(pick(
            is_prompt()?,
            "prompt_version_tag.set",
            "model_version_tag.set",
        )),
        EventKind::VersionTagDeleted { .. } => Some(pick(
            is_prompt()?,
            "prompt_version_tag.deleted",
            "model_version_tag.deleted",
        )),
        EventKind::AliasSet { .. } => Some(pick(
            is_prompt()?,
            "prompt_alias.created",
            "model_version_alias.created",
        )),
        EventKind::AliasDeleted { .. } => Some(pick(
            is_prompt()?,
            "prompt_alias.deleted",
            "model_version_alias.deleted",
        )),
        EventKind::ModelTagSet { .. } => is_prompt()?.then_some("prompt_tag.set"),
        EventKind::ModelTagDeleted { .. } => is_prompt()?.then_some("prompt_tag.deleted"),
        // MLflow has no events for these
        EventKind::ModelRenamed { .. }
        | EventKind::ModelUpdated { .. }
        | EventKind::ModelDeleted { .. }
        | EventKind::VersionUpdated { .. }
        | EventKind::VersionDeleted { .. }
        | EventKind::VersionStageChanged(_)
        | EventKind::RequestCreated { .. }
        | EventKind::RequestApproved { .. }
        | EventKind::RequestRejected { .. }
        | EventKind::RequestCancelled { .. }
        | EventKind::RequestStale { .. }
        | EventKind::UserCreated { .. }
        | EventKind::UserUpdated { .. }
        | EventKind::UserDeleted { .. }
        | EventKind::TokenCreated { .. }
        | EventKind::TokenRevoked { .. }
        | EventKind::WebhookCreated(_)
        | EventKind::WebhookUpdated(_)
        | EventKind::WebhookDeleted(_) => None,
    })
}

/// Whether the model named so now is a prompt (its `mlflow.prompt.is_prompt`
/// tag is `true`).
pub fn is_prompt(conn: &mut DbConn, model: &str) -> Result<bool> {
    let value: Option<String> = registered_model_tags::table
        .inner_join(registered_models::table)
        .filter(registered_models::name.eq(model))
        .filter(registered_model_tags::key.eq(PROMPT_TAG))
        .select(registered_model_tags::value)
        .first(conn)
        .optional()?;
    Ok(value.is_some_and(|v| v.eq_ignore_ascii_case("true")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_names_follow_mlflow_rules() {
        assert!(check_event("model_version", "created").is_ok());
        assert!(check_event("model_version_tag", "set").is_ok());
        let wrong = check_event("registered_model", "deleted").err();
        assert_eq!(
            wrong.map(|e| e.to_string()).unwrap_or_default(),
            "Invalid action 'deleted' for entity 'registered_model'. Valid actions are: \
             ['created']"
        );
        assert!(check_event("model_version", "updated").is_err());
        assert!(check_events(&[]).is_err());
        assert!(check_name("deploy-hook_1.x").is_ok());
        assert!(check_name("A1").is_ok());
        for bad in ["", "-a", "a-", "a b", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(63)).is_ok());
    }
}
