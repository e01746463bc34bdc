//! A native delivery as the Standard Webhooks specification has it: the
//! body `{"type", "timestamp", "data"}` and the signed headers.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::db::event::{EventKind, StageChange};
use crate::db::rows::EventRow;

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
}
