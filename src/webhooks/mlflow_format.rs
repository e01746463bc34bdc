//! Deliveries to subscriptions made through MLflow's webhooks API, as
//! MLflow 3.17's server sends them: the body `{"entity", "action",
//! "timestamp", "data"}` written the way Python's `json.dumps` writes it
//! (`", "` and `": "`, non-ASCII as `\uXXXX`), and the headers
//! `X-MLflow-Delivery-Id` (a UUID, the same on every attempt),
//! `X-MLflow-Timestamp` (seconds) and, when the subscription has a secret,
//! `X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
//! keyed with the secret's UTF-8 bytes.

use std::io;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::db::event::EventKind;
use crate::db::rows::EventRow;
use crate::domain::webhooks::WebhookRow;
use crate::domain::webhooks::mlflow_subscriptions::event_name;

/// Tags MLflow keeps out of a prompt's payload.
const PROMPT_INTERNAL_TAGS: &[&str] = &["mlflow.prompt.is_prompt", "_mlflow_prompt_type"];
/// The tag holding a prompt version's template.
const PROMPT_TEXT: &str = "mlflow.prompt.text";

/// Python's `json.dumps` defaults: `", "`, `": "`, ASCII only.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// `value` as Python's `json.dumps` writes it.
pub fn python_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // writing a Value to memory cannot fail
    let _ = value.serialize(&mut serializer);
    out
}

/// An instant as Python's `datetime.isoformat()` writes one in UTC:
/// microseconds when there are any, `+00:00`.
pub fn isoformat(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    let micros = t.microsecond();
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The MLflow event a delivery of `event` to `subscription` is: of the
/// names the event can have (a prompt's or a model's), the one subscribed to.
pub fn subscribed_name(subscription: &WebhookRow, kind: &EventKind) -> Option<&'static str> {
    let patterns = subscription.patterns();
    let wanted =
        |name: &Option<&'static str>| name.is_some_and(|n| patterns.iter().any(|p| p == n));
    // which of the two it is was settled by the fan-out: no lookup here
    let model = event_name(kind, || Ok(false)).ok().flatten();
    if wanted(&model) {
        return model;
    }
    let prompt = event_name(kind, || Ok(true)).ok().flatten();
    if wanted(&prompt) { prompt } else { model }
}

fn without(tags: &Value, drop: &[&str]) -> Value {
    let mut kept = tags.as_object().cloned().unwrap_or_default();
    for key in drop {
        kept.remove(*key);
    }
    Value::Object(kept)
}

/// The `data` of a delivery, field for field as MLflow fills it (`name`:
/// the MLflow event it is delivered as; `kind`: the event, parsed).
pub fn data(name: &str, event: &EventRow, kind: &EventKind) -> Value {
    let model = json!(event.model_name);
    let version = event.version.map_or(Value::Null, |v| json!(v.to_string()));
    let prompt = name.starts_with("prompt");
    match kind {
        EventKind::ModelCreated { registered_model } => {
            let registered = registered_model.json();
            let tags = if prompt {
                without(&registered["tags"], PROMPT_INTERNAL_TAGS)
            } else {
                registered["tags"].clone()
            };
            json!({
                "name": model,
                "tags": if tags.is_null() { json!({}) } else { tags },
                "description": registered["description"].as_str().unwrap_or(""),
            })
        }
        EventKind::VersionCreated { model_version } if prompt => {
            let created = model_version.json();
            let mut drop = PROMPT_INTERNAL_TAGS.to_vec();
            drop.push(PROMPT_TEXT);
            json!({
                "name": model,
                "version": version,
                "template": created["tags"][PROMPT_TEXT],
                "tags": without(&created["tags"], &drop),
                "description": created["description"],
            })
        }
        EventKind::VersionCreated { model_version } => {
            let created = model_version.json();
            json!({
                "name": model,
                "version": version,
                "source": created["source"],
                "run_id": created["run_id"],
                "tags": if created["tags"].is_null() { json!({}) } else { created["tags"].clone() },
                "description": created["description"],
            })
        }
        EventKind::VersionTagSet { key, value } => json!({
            "name": model, "version": version, "key": key, "value": value,
        }),
        EventKind::VersionTagDeleted { key } => json!({
            "name": model, "version": version, "key": key,
        }),
        EventKind::ModelTagSet { key, value } => {
            json!({"name": model, "key": key, "value": value})
        }
        EventKind::ModelTagDeleted { key } => json!({"name": model, "key": key}),
        EventKind::AliasSet { alias, version, .. } => json!({
            "name": model, "alias": alias, "version": version.to_string(),
        }),
        EventKind::AliasDeleted { alias, .. } => json!({"name": model, "alias": alias}),
        // no MLflow event is delivered for these (see `event_name`)
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
        | EventKind::WebhookDeleted(_) => Value::Object(Map::new()),
    }
}

/// MLflow's example `data` for an event (what its test endpoint sends).
pub fn example(name: &str) -> Value {
    let tags = json!({"example_key": "example_value"});
    match name {
        "registered_model.created" => json!({
            "name": "example_model", "tags": tags, "description": "An example registered model",
        }),
        "model_version.created" => json!({
            "name": "example_model", "version": "1", "source": "models:/123",
            "run_id": "abcd1234abcd5678", "tags": tags, "description": "An example model version",
        }),
        "model_version_tag.set" => json!({
            "name": "example_model", "version": "1", "key": "example_key", "value": "example_value",
        }),
        "model_version_tag.deleted" => {
            json!({"name": "example_model", "version": "1", "key": "example_key"})
        }
        "model_version_alias.created" => {
            json!({"name": "example_model", "alias": "example_alias", "version": "1"})
        }
        "model_version_alias.deleted" => json!({"name": "example_model", "alias": "example_alias"}),
        "prompt.created" => json!({
            "name": "example_prompt", "tags": tags, "description": "An example prompt",
        }),
        "prompt_version.created" => json!({
            "name": "example_prompt", "version": "1", "template": "Hello {{name}}!", "tags": tags,
            "description": "An example prompt version",
        }),
        "prompt_tag.set" => {
            json!({"name": "example_prompt", "key": "example_key", "value": "example_value"})
        }
        "prompt_tag.deleted" => json!({"name": "example_prompt", "key": "example_key"}),
        "prompt_version_tag.set" => json!({
            "name": "example_prompt", "version": "1", "key": "example_key", "value": "example_value",
        }),
        "prompt_version_tag.deleted" => {
            json!({"name": "example_prompt", "version": "1", "key": "example_key"})
        }
        "prompt_alias.created" => {
            json!({"name": "example_prompt", "alias": "example_alias", "version": "1"})
        }
        "prompt_alias.deleted" => json!({"name": "example_prompt", "alias": "example_alias"}),
        "budget_policy.exceeded" => json!({
            "budget_policy_id": "bp-abc123", "budget_unit": "USD", "budget_amount": 100.0,
            "current_spend": 105.5, "duration_unit": "MONTHS", "duration_value": 1,
            "target_scope": "ENDPOINT", "workspace": "default", "target_value": "ep-abc123",
            "window_start": 1_704_067_200_000_i64,
        }),
        _ => Value::Object(Map::new()),
    }
}

/// The body of a delivery of event `name` with `data`, at `ms`.
pub fn body(name: &str, data: Value, ms: i64) -> Vec<u8> {
    let (entity, action) = name.split_once('.').unwrap_or((name, ""));
    python_json(&json!({
        "entity": entity,
        "action": action,
        "timestamp": isoformat(ms),
        "data": data,
    }))
}

/// MLflow's headers for a delivery.
pub fn headers(
    secret: &str,
    delivery_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("X-MLflow-Delivery-Id", delivery_id.to_owned()),
        ("X-MLflow-Timestamp", timestamp.to_string()),
    ];
    if !secret.is_empty()
        && let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
    {
        mac.update(delivery_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        headers.push(("X-MLflow-Signature", format!("v1,{signature}")));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_bodies_match_mlflows_own() {
        // computed with MLflow 3.17.2's _generate_hmac_signature
        let body = br#"{"entity": "model_version", "action": "created", "timestamp": "2025-01-01T00:00:00.123456+00:00", "data": {"name": "example_model", "version": "1", "source": "models:/123", "run_id": "abcd1234abcd5678", "tags": {"example_key": "example_value"}, "description": "An example model version"}}"#;
        let headers = headers(
            "my-secret",
            "123e4567-e89b-12d3-a456-426614174000",
            1_735_689_600,
            body,
        );
        assert_eq!(
            headers[2],
            (
                "X-MLflow-Signature",
                "v1,1OGMDYgy/GqbHIOz8cuTKHQDGgEDUEAe6VDTyo4Xcqs=".to_owned()
            )
        );
        assert_eq!(headers.len(), 3);
        assert_eq!(
            self::headers("", "id", 1, b"{}").len(),
            2,
            "no secret, no signature"
        );

        let data = example("model_version.created");
        let written = String::from_utf8(body_at("model_version.created", data)).unwrap_or_default();
        assert_eq!(written.as_bytes(), body);
        assert_eq!(
            String::from_utf8(python_json(&json!({"a": ["é", 1], "b": "\u{1F600}\u{7f}"})))
                .unwrap_or_default(),
            r#"{"a": ["\u00e9", 1], "b": "\ud83d\ude00\u007f"}"#
        );
        assert_eq!(isoformat(1_735_689_600_000), "2025-01-01T00:00:00+00:00");
        assert_eq!(
            isoformat(1_735_689_600_123),
            "2025-01-01T00:00:00.123000+00:00"
        );
    }

    fn body_at(name: &str, data: Value) -> Vec<u8> {
        let written = body(name, data, 1_735_689_600_123);
        // the vector's timestamp has microseconds of its own
        String::from_utf8(written)
            .unwrap_or_default()
            .replace("00.123000+00:00", "00.123456+00:00")
            .into_bytes()
    }
}
