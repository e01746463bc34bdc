//! Row structs: what Diesel reads from and writes to each table.

use diesel::prelude::*;

use crate::db::enums::{ActivityType, RequestStatus, Role, Stage};
use crate::db::schema::*;

/// A row of `registered_models`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registered_models)]
pub struct ModelRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub next_version: i64,
}

/// A new `registered_models` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = registered_models)]
pub struct NewModelRow<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub next_version: i64,
}

/// A row of `model_versions`.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = model_versions)]
pub struct VersionRow {
    pub id: i64,
    pub model_id: i64,
    pub version: i64,
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub current_stage: Stage,
    pub status: String,
    pub created_by: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    /// Where the files are when that is not `source` (a `models:/` source).
    pub storage_location: Option<String>,
    /// The MLflow logged model it was registered from (MLflow's `model_id`).
    pub logged_model_id: Option<String>,
}

/// A new `model_versions` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = model_versions)]
pub struct NewVersionRow<'a> {
    pub model_id: i64,
    pub version: i64,
    pub source: &'a str,
    pub run_id: Option<&'a str>,
    pub run_link: Option<&'a str>,
    pub description: Option<&'a str>,
    pub current_stage: Stage,
    pub status: &'a str,
    pub created_by: &'a str,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub storage_location: Option<&'a str>,
    pub logged_model_id: Option<&'a str>,
}

/// A row of `activities`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = activities)]
pub struct ActivityRow {
    pub id: i64,
    pub model_id: i64,
    pub version: i64,
    pub activity_type: ActivityType,
    pub from_stage: Option<Stage>,
    pub to_stage: Option<Stage>,
    pub user_name: String,
    pub timestamp: i64,
    pub comment: Option<String>,
    pub request_id: Option<i64>,
}

/// A new `activities` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = activities)]
pub struct NewActivityRow<'a> {
    pub model_id: i64,
    pub version: i64,
    pub activity_type: ActivityType,
    pub from_stage: Option<Stage>,
    pub to_stage: Option<Stage>,
    pub user_name: &'a str,
    pub timestamp: i64,
    pub comment: Option<&'a str>,
    pub request_id: Option<i64>,
}

/// A row of `events` (also what is inserted: ids are assigned by the chain).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub event_type: String,
    pub model_name: Option<String>,
    pub version: Option<i64>,
    pub actor: String,
    pub timestamp: i64,
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A row of `users`. Its `Debug` leaves out the password hash.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub session_generation: i64,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("session_generation", &self.session_generation)
            .finish_non_exhaustive()
    }
}

/// A row of `api_tokens`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiTokenRow {
    pub id: i64,
    pub jti: String,
    pub name: String,
    pub user_id: i64,
    pub created_by: String,
    pub creation_timestamp: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A row of `transition_requests`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = transition_requests)]
pub struct RequestRow {
    pub id: i64,
    pub model_id: i64,
    pub version: i64,
    pub from_stage: Stage,
    pub to_stage: Stage,
    pub archive_existing_versions: bool,
    pub status: RequestStatus,
    pub requested_by: String,
    pub required_approvals: i64,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub alias: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_row_prints_without_its_password_hash() {
        let row = UserRow {
            id: 7,
            username: "vera".to_owned(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$secret-hash".to_owned(),
            role: Role::Viewer,
            disabled: false,
            creation_timestamp: 1,
            last_updated_timestamp: 1,
            session_generation: 0,
        };
        let printed = format!("{row:?} {row:#?}");
        assert!(!printed.contains("secret-hash"), "{printed}");
        assert!(!printed.contains("argon2"), "{printed}");
        assert!(printed.contains("vera"), "{printed}");
    }
}

/// A row of `webhooks`: a subscription (its rules are in
/// `domain::webhooks::subscriptions`).
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

/// A row of `webhook_deliveries`.
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
