//! The native HTTP API (`/api/v1`): thin handlers that parse, authorize,
//! call `domain` off the async workers, and map the result.

pub mod auth;
pub mod events;
pub mod health;
pub mod models;
pub mod read_cache;
pub mod tokens;
pub mod transition_requests;
pub mod users;
pub mod versions;

use std::sync::Arc;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::auth::{self as authn, Actor, Caller, Role};
use crate::db::{DbConn, Pool};
use crate::domain::policy::Policy;
use crate::error::{Error, ErrorBody, Result};

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Database connections.
    pub pool: Pool,
    /// The lifecycle rules in force.
    pub policy: Arc<Policy>,
    /// Token keys, login throttling and token lifetime.
    pub auth: Arc<AuthContext>,
    /// Answers of hot reads, valid while nothing is written.
    pub cache: Arc<read_cache::ReadCache>,
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
    /// Bounds concurrent argon2 work (19 MiB and tens of ms each).
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Basic credentials already verified (MLflow clients).
    pub basic_cache: crate::auth::BasicCache,
}

impl AuthContext {
    /// Runs an argon2 computation on a thread of its own, a few at a time.
    /// Not on the blocking pool: its threads are sized to the database pool
    /// (see `startup`), and a burst of logins would hold them for tens of ms
    /// each while reads waited.
    pub async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // The permit goes with the thread: a request abandoned mid-hash
        // still counts until its hash is done.
        let permit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Unavailable("the server is shutting down".to_owned()))?;
        let (done, outcome) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("modelgate-argon2".to_owned())
            .spawn(move || {
                let _ = done.send(work());
                drop(permit);
            })
            .map_err(|e| Error::Unavailable(format!("cannot start a hashing thread: {e}")))?;
        outcome
            .await
            .map_err(|_| Error::Internal("password hashing stopped unexpectedly".to_owned()))?
    }
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

    /// A read any viewer may make whose answer depends only on the request's
    /// path and query: answered from the read cache while nothing was
    /// written, otherwise rendered from `work` (see [`read_cache`]).
    pub async fn read_json<T, F>(
        &self,
        caller: Caller,
        req: &HttpRequest,
        work: F,
    ) -> Result<HttpResponse>
    where
        T: serde::Serialize,
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    {
        self.read_through(
            req,
            move |conn| authn::authorize(conn, &caller, Role::Viewer),
            work,
        )
        .await
    }

    /// Checks the caller with `authorize`, then answers this request from the
    /// cache at the event head the check saw, or from `work` encoded as JSON
    /// (and kept under that head).
    pub(crate) async fn read_through<A, T, F>(
        &self,
        req: &HttpRequest,
        authorize: A,
        work: F,
    ) -> Result<HttpResponse>
    where
        A: FnOnce(&mut DbConn) -> Result<authn::Authorized> + Send + 'static,
        T: serde::Serialize,
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    {
        let key = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path(), |pq| pq.as_str())
            .to_owned();
        let cache = self.cache.clone();
        let answer = self
            .db(move |conn| {
                let head = authorize(conn)?.head;
                if let Some(answer) = cache.get(head, &key) {
                    return Ok(answer);
                }
                let answer = serde_json::to_vec(&work(conn)?)
                    .map(web::Bytes::from)
                    .map_err(|e| Error::Internal(format!("cannot encode the answer: {e}")))?;
                cache.put(head, key, answer.clone());
                Ok(answer)
            })
            .await?;
        Ok(HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(answer))
    }
}

/// Registers the state, the extractor error handlers and every route.
pub fn configure(cfg: &mut ServiceConfig, state: AppState, max_body_bytes: usize) {
    cfg.app_data(web::Data::from(state.auth.keys.clone()))
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(max_body_bytes)
                .error_handler(json_error),
        )
        .app_data(web::PayloadConfig::new(max_body_bytes))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .configure(routes);
}

/// Every route of the native API. Only handlers registered here exist, and
/// each carries its `#[utoipa::path]`: the OpenAPI spec is collected from
/// this registration, so no endpoint can be missing from it.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.configure(health::configure).service(
        utoipa_actix_web::scope("/api/v1")
            .configure(auth::configure)
            .configure(users::configure)
            .configure(tokens::configure)
            .configure(models::configure)
            .configure(versions::configure)
            .configure(transition_requests::configure)
            .configure(events::configure),
    );
}

/// The parts of the spec that are not collected from handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "modelgate",
        description = "A model registry with approval gates and a tamper-evident audit trail. \
                       Every endpoint except the probes needs `Authorization: Bearer <token>` \
                       (POST /api/v1/auth/token or a pipeline token).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Logging in and who am I"),
        (name = "users", description = "User administration (admin)"),
        (name = "tokens", description = "Long-lived, revocable pipeline tokens (admin)"),
        (name = "models", description = "Registered models, their tags and aliases"),
        (name = "versions", description = "Model versions, their tags, stage moves and audit trail"),
        (name = "transition-requests", description = "Approval gates: requested moves and their approvals"),
        (name = "policy", description = "The lifecycle rules in force"),
        (name = "events", description = "The hash-chained event feed"),
        (name = "health", description = "Probes"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer_auth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the native API, collected from [`routes`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    spec.info.version = env!("CARGO_PKG_VERSION").to_owned();
    spec
}

/// Errors a read can answer.
#[derive(utoipa::IntoResponses)]
pub enum ReadErrors {
    /// A parameter is malformed or out of range.
    #[response(status = 400)]
    InvalidParameter(ErrorBody),
    /// No valid token.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role is too low.
    #[response(status = 403)]
    PermissionDenied(ErrorBody),
    /// The resource does not exist.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The database is unreachable; retry later.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Errors a change can answer.
#[derive(utoipa::IntoResponses)]
pub enum WriteErrors {
    /// The body or a parameter is malformed or out of range, or the policy has no rule for the move.
    #[response(status = 400)]
    InvalidParameter(ErrorBody),
    /// No valid token.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role is too low (`PERMISSION_DENIED`), or the move needs an approved request (`APPROVAL_REQUIRED`).
    #[response(status = 403)]
    PermissionDenied(ErrorBody),
    /// The resource does not exist.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// It already exists, or conflicts with the current state.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is larger than the limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not declared as JSON.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// The database is unreachable; retry later.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Errors a login can answer.
#[derive(utoipa::IntoResponses)]
pub enum LoginErrors {
    /// The body is malformed.
    #[response(status = 400)]
    InvalidParameter(ErrorBody),
    /// Wrong username or password, or a disabled user.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The body is larger than the limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not declared as JSON.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// Too many failed logins; see `Retry-After`.
    #[response(status = 429)]
    Throttled(ErrorBody),
    /// The database is unreachable; retry later.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Errors of the readiness probe.
#[derive(utoipa::IntoResponses)]
pub enum ReadyErrors {
    /// The database does not answer.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The methods each path of the spec allows, to tell 405 from 404.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Option<String>>, String)>,
}

impl RouteTable {
    /// Builds the table from the spec's paths (`{param}` matches any segment).
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect();
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (segments, methods.join(", "))
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods allowed on `path`, if a route has that shape.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut allowed: Vec<&str> = Vec::new();
        for (pattern, methods) in &self.routes {
            let matches = pattern.len() == segments.len()
                && pattern.iter().zip(&segments).all(|(p, s)| match p {
                    Some(literal) => literal == s,
                    None => !s.is_empty(),
                });
            if matches {
                allowed.extend(methods.split(", "));
            }
        }
        if allowed.is_empty() {
            return None;
        }
        allowed.sort_by_key(|m| {
            ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .iter()
                .position(|x| x == m)
        });
        allowed.dedup();
        Some(allowed.join(", "))
    }
}

/// Middleware: an error answer that is not JSON yet (from actix's own
/// extractors or a static asset route) is rewritten into the JSON error body
/// with the same status, so every error a client sees has one shape.
pub async fn json_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> std::result::Result<
    actix_web::dev::ServiceResponse<
        actix_web::body::EitherBody<impl actix_web::body::MessageBody, actix_web::body::BoxBody>,
    >,
    actix_web::Error,
> {
    use actix_web::http::header::CONTENT_TYPE;
    let response = next.call(req).await?;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return Ok(response.map_into_left_body());
    }
    let (request, body) = response.into_parts();
    let text = actix_web::body::to_bytes(body.into_body())
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let error = match status.as_u16() {
        401 => Error::Unauthenticated(message),
        403 => Error::PermissionDenied(message),
        404 => Error::EndpointNotFound(message),
        413 => Error::PayloadTooLarge(message),
        415 => Error::UnsupportedMediaType(message),
        503 => Error::Unavailable(message),
        500.. => Error::Internal(message),
        _ => Error::InvalidParameter(message),
    };
    let replaced = HttpResponse::build(status).json(error.body());
    Ok(actix_web::dev::ServiceResponse::new(request, replaced).map_into_right_body())
}

/// The fallback: 405 with `Allow` for a known path, 404 otherwise.
pub async fn fallback(req: HttpRequest, table: web::Data<RouteTable>) -> Result<HttpResponse> {
    match table.allowed(req.path()) {
        Some(allowed) => Err(Error::MethodNotAllowed(allowed)),
        None => Err(Error::EndpointNotFound(format!(
            "no endpoint {} {}",
            req.method(),
            req.path()
        ))),
    }
}

/// Query of lists that only page: `?max_results=&page_token=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub max_results: Option<i64>,
    /// Token from the previous page.
    #[param(nullable = false)]
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
