//! Webhooks: subscriptions to the event log, and their deliveries.
//!
//! A subscription names event types or globs (`request.*`) and optionally
//! one model. Deliveries are recorded by [`fan_out`], which follows the event
//! log from a stored cursor (the log is the outbox: nothing lives only in
//! memory), and sent by the delivery worker (`crate::webhooks`), which leases
//! a subscription ([`claim`]) so that one worker at a time sends its
//! deliveries, oldest event first. Changes to subscriptions are events
//! (`webhook.*`, listed to admins only); delivery bookkeeping is not.
//! Subscriptions made through MLflow's webhooks API ([`mlflow_subscriptions`]) are rows of
//! the same table, told apart by their MLflow id, and share all of this.

//!
//! - [`subscriptions`]: the rules and the native API's operations;
//! - [`mlflow_subscriptions`]: the same through MLflow's API, and MLflow's
//!   names of events;
//! - [`fan_out`]: which subscription wants which event;
//! - [`deliveries`]: the delivery log as the API reads it;
//! - the queue itself (leases, due deliveries, attempts) is `db::outbox`.

pub mod deliveries;
pub mod fan_out;
pub mod mlflow_subscriptions;
pub mod subscriptions;

pub use crate::db::outbox::{
    Attempt, Due, Outcome, backlog, claim, due, purge, record, release, renew, state,
};
pub use crate::db::rows::{DeliveryRow, WebhookRow};
pub use deliveries::{Delivery, DeliveryOf, deliveries, redeliver};
pub use fan_out::fan_out;
pub use subscriptions::{
    NewWebhook, UrlRules, Webhook, WebhookChanges, check_url, create, delete, get, is_public, list,
    row, update,
};
