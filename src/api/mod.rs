//! The native HTTP API (`/api/v1`): thin handlers that parse, authorize,
//! call `domain` off the async workers, and map the result.

pub mod auth;
pub mod events;
pub mod health;
pub mod models;
pub mod tokens;
pub mod transition_requests;
pub mod users;
pub mod versions;

use std::sync::Arc;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, Route, web};

use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::auth::{self as authn, Actor, Caller, Role};
use crate::db::{DbConn, Pool};
use crate::domain::policy::Policy;
use crate::error::{Error, Result};

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Database connections.
    pub pool: Pool,
    /// The lifecycle rules in force.
    pub policy: Arc<Policy>,
    /// Token keys, login throttling and token lifetime.
    pub auth: Arc<AuthContext>,
}

/// What authentication needs at run time.
#[derive(Debug)]
pub struct AuthContext {
    /// Signing and verification keys.
    pub keys: Arc<TokenKeys>,
    /// Failed-login throttle.
    pub throttle: LoginThrottle,
    /// Lifetime of login tokens, in seconds.
    pub token_ttl_seconds: i64,
}

impl AppState {
    /// Runs blocking database work on the blocking pool, inside the request's span.
    pub async fn db<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        web::block(move || {
            let _entered = span.enter();
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }

    /// Like [`AppState::db`], for an authenticated caller: checks the caller
    /// against the database and the role `need` first, on the same connection.
    pub async fn db_as<T, F>(&self, caller: Caller, need: Role, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, Actor) -> Result<T> + Send + 'static,
    {
        self.db(move |conn| {
            let actor = authn::resolve(conn, &caller, need)?;
            work(conn, actor)
        })
        .await
    }
}

/// Registers every native route, the extractor error handlers and the fallbacks.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState, max_body_bytes: usize) {
    cfg.app_data(web::Data::from(state.auth.keys.clone()))
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(max_body_bytes)
                .error_handler(json_error),
        )
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .configure(health::configure)
        .service(
            web::scope("/api/v1")
                .configure(auth::configure)
                .configure(users::configure)
                .configure(tokens::configure)
                .configure(models::configure)
                .configure(versions::configure)
                .configure(transition_requests::configure)
                .configure(events::configure),
        );
}

/// A route that answers 405 with the methods a path allows.
pub fn method_not_allowed(allowed: &'static str) -> Route {
    web::to(
        move || async move { Err::<HttpResponse, _>(Error::MethodNotAllowed(allowed.to_owned())) },
    )
}

/// The fallback for paths no route matches.
pub async fn endpoint_not_found(req: HttpRequest) -> Result<HttpResponse> {
    Err(Error::EndpointNotFound(format!(
        "no endpoint {} {}",
        req.method(),
        req.path()
    )))
}

/// Query of lists that only page: `?max_results=&page_token=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1–1000 (default 100).
    pub max_results: Option<i64>,
    /// Token from the previous page.
    pub page_token: Option<String>,
}

impl PageQuery {
    /// The validated page size and the token, if one was given.
    pub fn into_parts(self) -> Result<(i64, Option<String>)> {
        Ok((
            crate::domain::types::page_size(self.max_results)?,
            self.page_token.filter(|t| !t.is_empty()),
        ))
    }
}

/// For PATCH bodies: an absent field is `None` (leave it), `null` is
/// `Some(None)` (clear it), a value is `Some(Some(v))`.
pub(crate) fn present<'de, D, T>(
    deserializer: D,
) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let mapped = match &error {
        JsonPayloadError::OverflowKnownLength { length, limit } => Error::PayloadTooLarge(format!(
            "request body is {length} bytes; the limit is {limit}"
        )),
        JsonPayloadError::Overflow { limit } => {
            Error::PayloadTooLarge(format!("request body exceeds the limit of {limit} bytes"))
        }
        JsonPayloadError::ContentType => Error::UnsupportedMediaType(
            "request body must be JSON (Content-Type: application/json)".to_owned(),
        ),
        JsonPayloadError::Deserialize(inner) if inner.is_data() => {
            Error::invalid(format!("invalid request body: {inner}"))
        }
        JsonPayloadError::Deserialize(inner) => {
            Error::invalid(format!("malformed JSON in request body: {inner}"))
        }
        other => Error::invalid(format!("could not read the request body: {other}")),
    };
    mapped.into()
}

fn path_error(error: PathError, _req: &HttpRequest) -> actix_web::Error {
    let PathError::Deserialize(inner) = &error else {
        return Error::invalid(format!("invalid path: {error}")).into();
    };
    Error::invalid(format!("invalid path parameter: {inner}")).into()
}

fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let QueryPayloadError::Deserialize(inner) = &error else {
        return Error::invalid(format!("invalid query string: {error}")).into();
    };
    Error::invalid(format!("invalid query parameter: {inner}")).into()
}
