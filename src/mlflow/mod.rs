//! The MLflow-compatible REST layer (`/api/2.0/mlflow/…`): translation only.
//! Requests are read the MLflow way (query parameters for GET, with repeated
//! keys for lists; a JSON body for POST/PATCH/DELETE), answered in MLflow's
//! shapes and error codes, and every operation goes through `domain` with
//! the same roles and lifecycle rules as the native API.

mod model_versions;
mod registered_models;
mod shapes;
mod sources;
pub mod tracking;
mod webhooks;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use serde_json::{Map, Value};

use crate::domain::types::TagKey;
use crate::error::{Entity, Error, ErrorBody};
use crate::web::Credentials;

/// An error answered the MLflow way.
#[derive(Debug)]
pub struct MlflowError(pub Error);

impl From<Error> for MlflowError {
    fn from(error: Error) -> Self {
        MlflowError(error)
    }
}

impl std::fmt::Display for MlflowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl MlflowError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match &self.0 {
            // the MLflow client's register_model relies on this code, at 400
            Error::AlreadyExists(_) => (StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS"),
            Error::InvalidParameter(_) | Error::InvalidPageToken => {
                (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
            }
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "RESOURCE_CONFLICT"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            Error::PermissionDenied(_) | Error::ApprovalRequired(_) => {
                (StatusCode::FORBIDDEN, "PERMISSION_DENIED")
            }
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "REQUEST_LIMIT_EXCEEDED"),
            Error::StorageFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "RESOURCE_EXHAUSTED"),
            Error::Timeout(_) | Error::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE")
            }
            Error::Internal { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }
}

impl ResponseError for MlflowError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        crate::web::error::log_fault(&self.0);
        let (status, code) = self.status_and_code();
        let mut response = HttpResponse::build(status);
        match &self.0 {
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
            }
            Error::Timeout(_) | Error::Unavailable(_) => {
                response.insert_header((RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        let body = ErrorBody {
            error_code: code.to_owned(),
            // MLflow's own words where it has them (tools match on them)
            message: mlflow_message(&self.0).unwrap_or_else(|| self.0.public_message()),
        };
        let mut json = serde_json::to_value(&body)
            .ok()
            .and_then(|value| match value {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .unwrap_or_default();
        if let Some((class, sqlstate)) = classification(code) {
            json.insert("sqlstate".into(), Value::String(sqlstate.to_owned()));
            json.insert("error_class".into(), Value::String(class.to_owned()));
        }
        response.json(json)
    }
}

/// The `error_class` and `sqlstate` MLflow's server (3.x) adds to an error
/// of this code (`mlflow.error_classification`); `None` where it adds none.
fn classification(code: &str) -> Option<(&'static str, &'static str)> {
    match code {
        "INVALID_PARAMETER_VALUE" => Some(("INVALID_PARAMETER_VALUE", "KAM00")),
        "RESOURCE_ALREADY_EXISTS" => Some(("RESOURCE_ALREADY_EXISTS", "KAM00")),
        "RESOURCE_DOES_NOT_EXIST" | "ENDPOINT_NOT_FOUND" => Some(("RESOURCE_NOT_FOUND", "KAM00")),
        "PERMISSION_DENIED" => Some(("PERMISSION_DENIED", "KAM00")),
        "INTERNAL_ERROR" | "TEMPORARILY_UNAVAILABLE" => Some(("CLIENT_INTERNAL_ERROR", "XXM00")),
        _ => None,
    }
}

/// A stage the MLflow way: any case, with MLflow's message when unknown.
pub(crate) fn stage(text: &str) -> MResult<crate::db::enums::Stage> {
    crate::db::enums::Stage::ALL
        .into_iter()
        .find(|stage| stage.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            Error::invalid(format!(
                "Invalid Model Version stage: {text}. Value must be one of None, Staging, \
                 Production, Archived."
            ))
            .into()
        })
}

/// A new model name the MLflow way: its server refuses `/` and `:`.
pub(crate) fn new_model_name(text: String) -> MResult<crate::domain::types::ModelName> {
    if text.contains(['/', ':']) {
        return Err(Error::invalid(format!(
            "Invalid model name '{text}'. Names cannot contain '/' or ':'."
        ))
        .into());
    }
    Ok(crate::domain::types::ModelName::parse(text)?)
}

/// An alias to set, with MLflow's messages for the reserved ones.
pub(crate) fn alias_to_set(text: String) -> MResult<crate::domain::types::Alias> {
    if text.eq_ignore_ascii_case("latest") {
        return Err(Error::invalid("'latest' alias name (case insensitive) is reserved.").into());
    }
    let digits = text.strip_prefix(['v', 'V']).unwrap_or_default();
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(format!("Version alias name '{text}' is reserved.")).into());
    }
    Ok(crate::domain::types::Alias::parse(text)?)
}

/// A tag key, with MLflow's message when it is too long.
pub(crate) fn tag_key(text: String) -> MResult<TagKey> {
    if text.chars().count() > 250 {
        return Err(Error::invalid("'key' exceeds the maximum length of 250 characters").into());
    }
    Ok(TagKey::parse(text)?)
}

/// Result of the MLflow layer.
pub type MResult<T> = std::result::Result<T, MlflowError>;

/// How an MLflow client authenticated: [`Credentials`] read by an extractor
/// that answers its refusals the MLflow way.
#[derive(Debug, Clone)]
pub struct MlflowCaller(pub Credentials);

impl From<MlflowCaller> for Credentials {
    fn from(caller: MlflowCaller) -> Self {
        caller.0
    }
}

impl FromRequest for MlflowCaller {
    type Error = MlflowError;
    type Future = std::future::Ready<MResult<Self>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            Credentials::from_request(req)
                .map(MlflowCaller)
                .map_err(MlflowError),
        )
    }
}

/// Request parameters: the query of a GET, the JSON body of anything else.
#[derive(Debug, Default)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Reads a query string; a repeated key becomes a list.
    pub fn from_query(query: &str) -> Self {
        let mut map = Map::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let key = key.trim_end_matches("[]").to_owned();
            match map.get_mut(&key) {
                Some(Value::Array(items)) => items.push(Value::String(value.into_owned())),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(value.into_owned())]);
                }
                None => {
                    map.insert(key, Value::String(value.into_owned()));
                }
            }
        }
        Params(map)
    }

    /// Reads a JSON body (an object).
    pub fn from_body(body: Value) -> MResult<Self> {
        match body {
            Value::Object(map) => Ok(Params(map)),
            Value::Null => Ok(Params::default()),
            _ => Err(Error::invalid("the request body must be a JSON object").into()),
        }
    }

    fn value(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A parameter as sent (absent or null: `None`).
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.value(key)
    }

    /// An optional text parameter (numbers are accepted as text).
    pub fn text(&self, key: &str) -> MResult<Option<String>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(Value::Array(items)) if items.len() == 1 => match &items[0] {
                Value::String(text) => Ok(Some(text.clone())),
                _ => Err(wrong_type(key, "a string")),
            },
            Some(_) => Err(wrong_type(key, "a string")),
        }
    }

    /// A required text parameter, with MLflow's message when it is missing.
    pub fn required(&self, key: &str) -> MResult<String> {
        self.text(key)?
            .filter(|text| !text.is_empty())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Missing value for required parameter '{key}'. See the API docs for more \
                     information about request parameters."
                ))
                .into()
            })
    }

    /// A list parameter (repeated query keys or a JSON array).
    pub fn list(&self, key: &str) -> MResult<Vec<String>> {
        match self.value(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    _ => Err(wrong_type(key, "a list of strings")),
                })
                .collect(),
            Some(Value::String(text)) => Ok(vec![text.clone()]),
            Some(_) => Err(wrong_type(key, "a list of strings")),
        }
    }

    /// An optional boolean (`true`/`false`, also as text).
    pub fn boolean(&self, key: &str) -> MResult<Option<bool>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(wrong_type(key, "a boolean")),
        }
    }

    /// An optional integer (also as text).
    pub fn integer(&self, key: &str) -> MResult<Option<i64>> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(key, "an integer")),
            Some(Value::String(text)) => text
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| wrong_type(key, "an integer")),
            Some(_) => Err(wrong_type(key, "an integer")),
        }
    }

    /// Tags as MLflow sends them: `[{"key", "value"}]`.
    pub fn tags(&self) -> MResult<Vec<(TagKey, String)>> {
        let Some(value) = self.value("tags") else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(wrong_type("tags", "a list of {key, value}"));
        };
        items
            .iter()
            .map(|item| {
                let key = item
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| wrong_type("tags", "a list of {key, value}"))?;
                let value = match item.get("value") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(text)) => text.clone(),
                    Some(_) => return Err(wrong_type("tags", "a list of {key, value}")),
                };
                Ok((
                    tag_key(key.to_owned())?,
                    crate::domain::types::tag_value(value)?,
                ))
            })
            .collect()
    }
}

fn wrong_type(key: &str, expected: &str) -> MlflowError {
    Error::invalid(format!(
        "Invalid value for request parameter '{key}': expected {expected}"
    ))
    .into()
}

/// The `version` parameter the MLflow way: integer text, with MLflow's
/// message when it is not; a number below 1 is a version `name` does not
/// have.
pub(crate) fn version_param(
    params: &Params,
    name: &crate::domain::types::ModelName,
) -> MResult<crate::domain::types::VersionNumber> {
    let text = params.required("version")?;
    let number: i64 = text.trim().parse().map_err(|_| {
        Error::invalid(format!(
            "Parameter 'version' must be an integer, got '{text}'."
        ))
    })?;
    crate::domain::types::VersionNumber::new(number)
        .map_err(|_| crate::domain::lookup::version_not_found(name.as_str(), number).into())
}

/// A page of a search: `{key: [...], "next_page_token"?}`, without the
/// list when it is empty (as protobuf's JSON printer, and so MLflow, does).
pub(crate) fn page_answer(key: &str, items: Vec<Value>, token: Option<String>) -> Value {
    let mut answer = Map::new();
    if !items.is_empty() {
        answer.insert(key.to_owned(), Value::Array(items));
    }
    if let Some(token) = token {
        answer.insert("next_page_token".into(), Value::String(token));
    }
    Value::Object(answer)
}

/// MLflow deletes a tag or alias that is not set without complaint (the
/// model or version itself must exist).
pub(crate) fn missing_is_fine(result: crate::error::Result<()>) -> crate::error::Result<()> {
    match result {
        Err(Error::NotFound(
            Entity::ModelTag { .. } | Entity::VersionTag { .. } | Entity::Alias { .. },
        )) => Ok(()),
        other => other,
    }
}

/// MLflow's words for an error, where its server has its own (tools match
/// on them); `None` where the native message serves.
fn mlflow_message(error: &Error) -> Option<String> {
    match error {
        Error::NotFound(Entity::Model(name)) => {
            Some(format!("Registered Model with name={name} not found"))
        }
        Error::NotFound(Entity::Version { model, version }) => Some(format!(
            "Model Version (name={model}, version={version}) not found"
        )),
        Error::NotFound(Entity::MlflowWebhook(id)) => {
            Some(format!("Webhook with ID {id} not found."))
        }
        Error::AlreadyExists(Entity::Model(name)) => {
            Some(format!("Registered Model (name={name}) already exists."))
        }
        Error::InvalidPageToken => Some("Invalid page token, could not base64-decode".to_owned()),
        _ => None,
    }
}

/// `{}`: MLflow's empty answer.
pub(crate) fn empty() -> HttpResponse {
    HttpResponse::Ok().json(Map::new())
}

/// The MLflow routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/2.0/mlflow")
            .configure(registered_models::configure)
            .configure(model_versions::configure)
            .configure(webhooks::configure),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_words_its_own_texts_from_the_entity() {
        let text = |e: Error| mlflow_message(&e).unwrap_or_default();
        assert_eq!(
            text(Error::NotFound(Entity::Model("it's".into()))),
            "Registered Model with name=it's not found"
        );
        assert_eq!(
            text(Error::NotFound(Entity::Version {
                model: "m".into(),
                version: 7
            })),
            "Model Version (name=m, version=7) not found"
        );
        assert_eq!(
            text(Error::AlreadyExists(Entity::Model("m".into()))),
            "Registered Model (name=m) already exists."
        );
        assert_eq!(
            text(Error::NotFound(Entity::MlflowWebhook("w1".into()))),
            "Webhook with ID w1 not found."
        );
        assert_eq!(
            text(Error::InvalidPageToken),
            "Invalid page token, could not base64-decode"
        );
        // where MLflow has no words of its own, the native message serves
        assert_eq!(
            mlflow_message(&Error::NotFound(Entity::User("x".into()))),
            None
        );
        // a missing tag or alias is fine to MLflow's deletes; a missing model is not
        let tag = Entity::ModelTag {
            model: "m".into(),
            key: "k".into(),
        };
        assert!(missing_is_fine(Err(Error::NotFound(tag))).is_ok());
        assert!(missing_is_fine(Err(Error::NotFound(Entity::Model("m".into())))).is_err());
    }
}
