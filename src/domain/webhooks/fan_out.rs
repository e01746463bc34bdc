//! The fan-out: which subscription wants which event, queued in the
//! outbox (`db::outbox`) as the event log is followed.

use crate::db::event::EventKind;
use crate::db::outbox::{self, NewDelivery};
use crate::db::rows::WebhookRow;
use crate::db::{self, DbConn, now_ms};
use crate::domain::webhooks::mlflow_subscriptions as mlflow;
use crate::error::Result;

/// How many events one fan-out step reads.
const FAN_OUT_BATCH: i64 = 500;

/// Follows the event log from the stored cursor: records a delivery for
/// every enabled subscription each event is for, and moves the cursor, in
/// one transaction (so a crash between the two loses nothing). Answers how
/// many events it read.
pub fn fan_out(conn: &mut DbConn) -> Result<usize> {
    // without a subscription nothing is written at all (the cursor jumps
    // ahead when the first one comes)
    if !outbox::any_enabled(conn)? {
        return Ok(0);
    }
    db::bookkeeping(conn, |conn| {
        let cursor = outbox::lock_cursor(conn)?;
        let subscriptions = outbox::enabled_subscriptions(conn)?;
        // no subscription wants an event before its creation
        let Some(start) = subscriptions.iter().map(|s| s.from_event_id).min() else {
            return Ok(0);
        };
        let batch = outbox::events_after(conn, cursor.max(start), FAN_OUT_BATCH)?;
        let Some(last) = batch.last().map(|e| e.id) else {
            return Ok(0);
        };
        let any_mlflow = subscriptions.iter().any(|s| s.mlflow_id.is_some());
        let mut queued = Vec::new();
        let mut prompts = std::collections::HashMap::new();
        let patterns: Vec<Vec<String>> = subscriptions.iter().map(WebhookRow::patterns).collect();
        for event in &batch {
            // the MLflow name of the event, when an MLflow subscription may
            // want it (a prompt's events have names of their own)
            let kind = if any_mlflow {
                match EventKind::of(event) {
                    Ok(kind) => Some(kind),
                    // one unreadable event must not stop every delivery:
                    // it has no MLflow name, and native matching needs only
                    // its type and model
                    Err(error) => {
                        tracing::warn!(event = event.id, %error, "event without an MLflow name");
                        None
                    }
                }
            } else {
                None
            };
            let mlflow_name = if let Some(kind) = &kind {
                mlflow::event_name(kind, || match &event.model_name {
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
                queued.push(NewDelivery {
                    webhook_id: subscription.id,
                    event_id: event.id,
                    message_id,
                });
            }
        }
        outbox::enqueue(conn, &queued, now_ms())?;
        outbox::advance_cursor(conn, last)?;
        Ok(batch.len())
    })
}
