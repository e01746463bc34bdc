//! MLflow's JSON shapes: string versions, `[{key, value}]` tags, aliases as
//! `[{alias, version}]` on a model and `[alias]` on a version, unset fields
//! omitted (as protobuf's JSON printer does) — except where MLflow's server
//! sets them to `""`: a version's run id and run link (and a description
//! registered empty, which is stored as `""`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::domain::models::RegisteredModel;
use crate::domain::versions::ModelVersion;

fn put_text(object: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// Tags in the order they were first set (as MLflow lists them); by key
/// when that order is not known.
fn tags(tags: &BTreeMap<String, String>, order: &[String]) -> Value {
    let keys: Vec<&String> = if order.len() == tags.len() {
        order.iter().collect()
    } else {
        tags.keys().collect()
    };
    Value::Array(
        keys.into_iter()
            .filter_map(|key| {
                tags.get(key)
                    .map(|value| json!({ "key": key, "value": value }))
            })
            .collect(),
    )
}

/// A model version as MLflow prints it.
pub fn model_version(version: &ModelVersion) -> Value {
    version_shape(version, true)
}

/// A model version as MLflow prints it inside a model's latest versions and
/// in search results: without its aliases (MLflow fills them only where a
/// version is read on its own, or by get-latest-versions).
pub fn listed_version(version: &ModelVersion) -> Value {
    version_shape(version, false)
}

fn version_shape(version: &ModelVersion, with_aliases: bool) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(version.name));
    object.insert("version".into(), json!(version.version.to_string()));
    object.insert(
        "creation_timestamp".into(),
        json!(version.creation_timestamp),
    );
    object.insert(
        "last_updated_timestamp".into(),
        json!(version.last_updated_timestamp),
    );
    object.insert("user_id".into(), json!(version.created_by));
    object.insert(
        "current_stage".into(),
        json!(version.current_stage.as_str()),
    );
    let text = |value: &Option<String>| json!(value.as_deref().unwrap_or_default());
    put_text(&mut object, "description", version.description.as_deref());
    object.insert("source".into(), json!(version.source));
    object.insert("run_id".into(), text(&version.run_id));
    object.insert("status".into(), json!(version.status));
    object.insert("run_link".into(), text(&version.run_link));
    put_text(&mut object, "model_id", version.model_id.as_deref());
    if !version.tags.is_empty() {
        object.insert("tags".into(), tags(&version.tags, &version.tag_order));
    }
    if with_aliases && !version.aliases.is_empty() {
        object.insert("aliases".into(), json!(version.aliases));
    }
    Value::Object(object)
}

/// A registered model as MLflow prints it.
pub fn registered_model(model: &RegisteredModel) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(model.name));
    object.insert("creation_timestamp".into(), json!(model.creation_timestamp));
    object.insert(
        "last_updated_timestamp".into(),
        json!(model.last_updated_timestamp),
    );
    put_text(
        &mut object,
        "description",
        model.description.as_deref().filter(|d| !d.is_empty()),
    );
    if !model.latest_versions.is_empty() {
        object.insert(
            "latest_versions".into(),
            Value::Array(model.latest_versions.iter().map(listed_version).collect()),
        );
    }
    if !model.tags.is_empty() {
        object.insert("tags".into(), tags(&model.tags, &model.tag_order));
    }
    if !model.aliases.is_empty() {
        object.insert(
            "aliases".into(),
            Value::Array(
                model
                    .aliases
                    .iter()
                    .map(|(alias, version)| json!({ "alias": alias, "version": version.to_string() }))
                    .collect(),
            ),
        );
    }
    Value::Object(object)
}
