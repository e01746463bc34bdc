//! The MLflow-compatible REST layer (`/api/2.0/mlflow/…`): translation only.
//! Requests are read the MLflow way (query parameters for GET, with repeated
//! keys for lists; a JSON body for POST/PATCH/DELETE), answered in MLflow's
//! shapes and error codes, and every operation goes through `domain` with
//! the same roles and lifecycle rules as the native API.

mod model_versions;
mod registered_models;
mod shapes;

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use base64::Engine;
use serde_json::{Map, Value};

use crate::api::AppState;
use crate::auth::{self, Actor, Authorized, Caller, Role, password};
use crate::db::DbConn;
use crate::domain::types::TagKey;
use crate::error::{Error, ErrorBody};

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
            Error::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
            Error::EndpointNotFound(_) | Error::MethodNotAllowed(_) => {
                (StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND")
            }
            Error::Conflict(_) => (StatusCode::CONFLICT, "RESOURCE_CONFLICT"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            Error::PermissionDenied(_) | Error::ApprovalRequired(_) => {
                (StatusCode::FORBIDDEN, "PERMISSION_DENIED")
            }
            Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "INVALID_PARAMETER_VALUE"),
            Error::UnsupportedMediaType(_) => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "REQUEST_LIMIT_EXCEEDED"),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }
}

impl ResponseError for MlflowError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let mut response = HttpResponse::build(status);
        match &self.0 {
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
            }
            Error::Unavailable(_) => {
                response.insert_header((RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error_code: code.to_owned(),
            message: self.0.public_message(),
        })
    }
}

/// Result of the MLflow layer.
pub type MResult<T> = std::result::Result<T, MlflowError>;

/// How an MLflow client authenticated: a bearer token (`MLFLOW_TRACKING_TOKEN`)
/// or HTTP Basic (`MLFLOW_TRACKING_USERNAME` / `_PASSWORD`).
#[derive(Clone)]
pub enum MlflowCaller {
    /// A verified bearer token.
    Token(Caller),
    /// Basic credentials, checked against the database (with a cache).
    Basic {
        /// Login name.
        username: String,
        /// Password (never logged).
        password: String,
        /// The client's address, for throttling failures.
        address: String,
    },
}

impl std::fmt::Debug for MlflowCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MlflowCaller::Token(caller) => {
                f.debug_tuple("Token").field(&caller.claims.sub).finish()
            }
            MlflowCaller::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

impl FromRequest for MlflowCaller {
    type Error = MlflowError;
    type Future = std::future::Ready<MResult<Self>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let basic = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, encoded)| encoded.trim().to_owned());
        let result = match basic {
            Some(encoded) => {
                decode_basic(&encoded).map(|(username, password)| MlflowCaller::Basic {
                    username,
                    password,
                    address: req
                        .peer_addr()
                        .map_or_else(|| "unknown".to_owned(), |peer| peer.ip().to_string()),
                })
            }
            None => Caller::from_request(req, payload)
                .into_inner()
                .map(MlflowCaller::Token),
        };
        std::future::ready(result.map_err(MlflowError))
    }
}

fn decode_basic(encoded: &str) -> crate::error::Result<(String, String)> {
    let bad = || Error::Unauthenticated("malformed Basic credentials".to_owned());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (username, password) = text.split_once(':').ok_or_else(bad)?;
    if username.is_empty() || username.contains('\0') || password.contains('\0') {
        return Err(bad());
    }
    Ok((username.to_owned(), password.to_owned()))
}

impl AppState {
    /// Runs MLflow-layer database work for an authenticated caller with role `need`.
    pub(crate) async fn mlflow<T, F>(&self, caller: MlflowCaller, need: Role, work: F) -> MResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, Actor) -> crate::error::Result<T> + Send + 'static,
    {
        let authorize = self.authorizer(caller, need).await?;
        self.db(move |conn| {
            let authorized = authorize(conn)?;
            work(conn, authorized.actor)
        })
        .await
        .map_err(MlflowError)
    }

    /// A read any viewer may make whose answer depends only on the request's
    /// path and query: answered from the read cache while nothing was written,
    /// otherwise rendered from `work` (see [`crate::api::read_cache`]).
    pub(crate) async fn mlflow_read<F>(
        &self,
        caller: MlflowCaller,
        req: &HttpRequest,
        work: F,
    ) -> MResult<HttpResponse>
    where
        F: FnOnce(&mut DbConn) -> crate::error::Result<Value> + Send + 'static,
    {
        let authorize = self.authorizer(caller, Role::Viewer).await?;
        self.read_through(req, authorize, work)
            .await
            .map_err(MlflowError)
    }

    /// What checks the caller on the database connection of the request's
    /// work. Basic credentials are verified first, off that connection.
    async fn authorizer(
        &self,
        caller: MlflowCaller,
        need: Role,
    ) -> MResult<impl FnOnce(&mut DbConn) -> crate::error::Result<Authorized> + Send + 'static>
    {
        let verified = match &caller {
            MlflowCaller::Token(_) => None,
            MlflowCaller::Basic {
                username,
                password,
                address,
            } => Some(self.verify_basic(username, password, address).await?),
        };
        Ok(move |conn: &mut DbConn| match (&caller, &verified) {
            (MlflowCaller::Token(caller), _) => auth::authorize(conn, caller, need),
            (MlflowCaller::Basic { username, .. }, Some(hash)) => {
                auth::resolve_verified(conn, username, hash, need)
            }
            (MlflowCaller::Basic { .. }, None) => Err(Error::Unauthenticated(
                "invalid username or password".to_owned(),
            )),
        })
    }

    /// Checks Basic credentials and answers the hash they matched. A cache hit
    /// costs one indexed read; a miss runs argon2 like a login — throttled,
    /// bounded in concurrency, and never while holding a database connection.
    async fn verify_basic(&self, username: &str, password: &str, address: &str) -> MResult<String> {
        let refused = || {
            MlflowError(Error::Unauthenticated(
                "invalid username or password".to_owned(),
            ))
        };
        if username.len() > 256 || password.len() > 4096 {
            return Err(refused());
        }
        let name = username.to_owned();
        let stored = self
            .db(move |conn| auth::stored_hash(conn, &name))
            .await
            .map_err(MlflowError)?;
        let auth = self.auth.clone();
        if let Some(hash) = &stored
            && auth.basic_cache.knows(username, password, hash)
        {
            return Ok(hash.clone());
        }
        let attempt = auth
            .throttle
            .begin(username, address)
            .map_err(|retry_after_secs| {
                MlflowError(Error::RateLimited {
                    message: "too many failed logins; try again later".to_owned(),
                    retry_after_secs,
                })
            })?;
        let (candidate, against) = (password.to_owned(), stored.clone());
        let verified = auth
            .hash_work(move || {
                Ok(match &against {
                    Some(hash) => password::verify(&candidate, hash),
                    None => {
                        password::verify_dummy(&candidate);
                        false
                    }
                })
            })
            .await;
        match (verified, stored) {
            (Ok(true), Some(hash)) => {
                auth.throttle.succeed(&attempt);
                auth.basic_cache.learn(username, password, &hash);
                Ok(hash)
            }
            (Ok(_), _) => {
                auth.throttle.fail(&attempt);
                tracing::warn!(user = %username, %address, "basic authentication failed");
                Err(refused())
            }
            (Err(error), _) => {
                auth.throttle.abandon(&attempt);
                Err(MlflowError(error))
            }
        }
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
                Ok((TagKey::parse(key)?, crate::domain::types::tag_value(value)?))
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

/// A page of a search: `{key: [...], "next_page_token"?}`.
pub(crate) fn page_answer(key: &str, items: Vec<Value>, token: Option<String>) -> Value {
    let mut answer = Map::new();
    answer.insert(key.to_owned(), Value::Array(items));
    if let Some(token) = token {
        answer.insert("next_page_token".into(), Value::String(token));
    }
    Value::Object(answer)
}

/// MLflow deletes a tag or alias that is not set without complaint (the
/// model or version itself must exist, which the caller checks first).
pub(crate) fn missing_is_fine(result: crate::error::Result<()>) -> crate::error::Result<()> {
    match result {
        Err(Error::NotFound(_)) => Ok(()),
        other => other,
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
            .configure(model_versions::configure),
    );
}
