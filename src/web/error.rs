//! Errors at the HTTP edge: the status and headers of each [`Error`], the
//! edge's own refusals ([`Transport`]: no such endpoint or method, a body
//! too large, too slow or not JSON), the extractor errors rewritten as JSON,
//! the middleware that gives every other error answer the same JSON body,
//! and the 404/405 fallback.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::error::{Error, ErrorBody, Result};
use crate::web::routes::RouteTable;

/// A refusal of the HTTP edge, before a request reaches the registry.
#[derive(Debug, thiserror::Error)]
pub enum Transport {
    /// No route answers this path (404).
    #[error("{0}")]
    EndpointNotFound(String),
    /// The path exists but not for this method (405); carries the allowed methods.
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(String),
    /// The request body is larger than the configured limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The client did not send the request in time (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// The request body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl Transport {
    /// A body that is not declared as JSON.
    pub fn not_json() -> Self {
        Transport::UnsupportedMediaType(
            "request body must be JSON (Content-Type: application/json)".to_owned(),
        )
    }

    /// The stable code that goes into `error_code`.
    pub fn code(&self) -> &'static str {
        match self {
            Transport::EndpointNotFound(_) => "ENDPOINT_NOT_FOUND",
            Transport::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            Transport::PayloadTooLarge(_) => "REQUEST_TOO_LARGE",
            Transport::RequestTimeout(_) => "REQUEST_TIMEOUT",
            Transport::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
        }
    }

    /// The JSON body for this refusal.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error_code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

impl ResponseError for Transport {
    fn status_code(&self) -> StatusCode {
        match self {
            Transport::EndpointNotFound(_) => StatusCode::NOT_FOUND,
            Transport::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Transport::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Transport::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Transport::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Transport::MethodNotAllowed(allowed) = self
            && let Ok(value) = HeaderValue::from_str(allowed)
        {
            response.insert_header((header::ALLOW, value));
        }
        response.json(self.body())
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::InvalidParameter(_) | Error::InvalidPageToken => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::AlreadyExists(_) | Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::PermissionDenied(_) | Error::ApprovalRequired(_) => StatusCode::FORBIDDEN,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Error::Timeout(_) | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        log_fault(self);
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Error::Timeout(_) | Error::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(self.body())
    }
}

/// Logs a server-side fault with its whole cause chain, which the client
/// never sees (every surface's error rendering calls this).
pub fn log_fault(error: &Error) {
    if matches!(error, Error::Internal { .. }) {
        tracing::error!(cause = %crate::error::chain(error), "internal error");
    }
}

/// The JSON and path and query extractors' configurations, answering their
/// errors in the JSON error body.
pub fn extractor_config(
    cfg: &mut utoipa_actix_web::service_config::ServiceConfig,
    max_body_bytes: usize,
) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(json_error),
    )
    .app_data(web::PayloadConfig::new(max_body_bytes))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .app_data(web::QueryConfig::default().error_handler(query_error));
}

/// Middleware: an error answer that is not JSON yet (from actix's own
/// extractors or a static asset route) is rewritten into the JSON error body
/// with the same status, so every error a client sees has one shape. The web
/// UI's error pages (HTML) are left as they are.
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
    let is_json_or_page = response.headers().get(CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || is_json_or_page {
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
    let body = match status.as_u16() {
        401 => Error::Unauthenticated(message).body(),
        403 => Error::PermissionDenied(message).body(),
        404 => Transport::EndpointNotFound(message).body(),
        413 => Transport::PayloadTooLarge(message).body(),
        415 => Transport::UnsupportedMediaType(message).body(),
        503 => Error::Unavailable(message).body(),
        500.. => Error::internal(message).body(),
        _ => Error::InvalidParameter(message).body(),
    };
    let replaced = HttpResponse::build(status).json(body);
    Ok(actix_web::dev::ServiceResponse::new(request, replaced).map_into_right_body())
}

/// The fallback: 405 with `Allow` for a known path, 404 otherwise.
pub async fn fallback(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<HttpResponse, Transport> {
    match table.allowed(req.path()) {
        Some(allowed) => Err(Transport::MethodNotAllowed(allowed)),
        None => Err(Transport::EndpointNotFound(format!(
            "no endpoint {} {}",
            req.method(),
            req.path()
        ))),
    }
}

fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let mapped = match &error {
        JsonPayloadError::OverflowKnownLength { length, limit } => {
            return Transport::PayloadTooLarge(format!(
                "request body is {length} bytes; the limit is {limit}"
            ))
            .into();
        }
        JsonPayloadError::Overflow { limit } => {
            return Transport::PayloadTooLarge(format!(
                "request body exceeds the limit of {limit} bytes"
            ))
            .into();
        }
        JsonPayloadError::ContentType => return Transport::not_json().into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Entity;
    use actix_web::body::to_bytes;

    async fn rendered(error: impl ResponseError) -> (u16, serde_json::Value) {
        let response = error.error_response();
        let status = response.status().as_u16();
        let bytes = to_bytes(response.into_body()).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[actix_web::test]
    async fn each_variant_renders_its_status_and_exact_body() {
        let cases = [
            (Error::invalid("bad"), 400, "INVALID_PARAMETER_VALUE", "bad"),
            (
                Error::InvalidPageToken,
                400,
                "INVALID_PARAMETER_VALUE",
                "invalid page_token",
            ),
            (
                Error::NotFound(Entity::Version {
                    model: "m".into(),
                    version: 2,
                }),
                404,
                "RESOURCE_DOES_NOT_EXIST",
                "version 2 of registered model 'm' does not exist",
            ),
            (
                Error::AlreadyExists(Entity::Model("m".into())),
                409,
                "RESOURCE_ALREADY_EXISTS",
                "registered model 'm' already exists",
            ),
            (Error::Conflict("moved".into()), 409, "CONFLICT", "moved"),
            (
                Error::Unauthenticated("who".into()),
                401,
                "UNAUTHENTICATED",
                "who",
            ),
            (
                Error::PermissionDenied("no".into()),
                403,
                "PERMISSION_DENIED",
                "no",
            ),
            (
                Error::ApprovalRequired("ask".into()),
                403,
                "APPROVAL_REQUIRED",
                "ask",
            ),
            (
                Error::Unavailable("connection to 10.0.0.5 failed for user \"modelgate\"".into()),
                503,
                "TEMPORARILY_UNAVAILABLE",
                "the database is temporarily unavailable; retry later",
            ),
            (
                Error::internal("secret detail"),
                500,
                "INTERNAL_ERROR",
                "internal server error",
            ),
        ];
        for (error, status, code, message) in cases {
            let (got_status, body) = rendered(error).await;
            assert_eq!(got_status, status);
            assert_eq!(
                body,
                serde_json::json!({"error_code": code, "message": message})
            );
        }
        let edge = [
            (
                Transport::EndpointNotFound("no endpoint GET /x".into()),
                404,
                "ENDPOINT_NOT_FOUND",
                "no endpoint GET /x",
            ),
            (
                Transport::PayloadTooLarge("big".into()),
                413,
                "REQUEST_TOO_LARGE",
                "big",
            ),
            (
                Transport::RequestTimeout("slow".into()),
                408,
                "REQUEST_TIMEOUT",
                "slow",
            ),
            (
                Transport::not_json(),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "request body must be JSON (Content-Type: application/json)",
            ),
        ];
        for (error, status, code, message) in edge {
            let (got_status, body) = rendered(error).await;
            assert_eq!(got_status, status);
            assert_eq!(
                body,
                serde_json::json!({"error_code": code, "message": message})
            );
        }
    }

    #[actix_web::test]
    async fn method_not_allowed_lists_the_allowed_methods() {
        let response = Transport::MethodNotAllowed("GET, PATCH".into()).error_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response.headers().get(header::ALLOW).map(|v| v.as_bytes()),
            Some(&b"GET, PATCH"[..])
        );
    }

    #[actix_web::test]
    async fn the_middleware_rewrites_a_plain_error_into_the_json_body_and_leaves_the_rest() {
        use actix_web::{App, middleware::from_fn, test};
        let plain = |status: StatusCode, text: &'static str| {
            move || async move {
                HttpResponse::build(status)
                    .content_type("text/plain")
                    .body(text)
            }
        };
        let app = test::init_service(
            App::new()
                .wrap(from_fn(json_errors))
                .route(
                    "/404",
                    web::get().to(plain(StatusCode::NOT_FOUND, "no such file")),
                )
                .route(
                    "/413",
                    web::get().to(plain(StatusCode::PAYLOAD_TOO_LARGE, "too big")),
                )
                .route("/401", web::get().to(plain(StatusCode::UNAUTHORIZED, "")))
                .route(
                    "/409",
                    web::get().to(plain(StatusCode::CONFLICT, " taken ")),
                )
                .route(
                    "/500",
                    web::get().to(plain(StatusCode::INTERNAL_SERVER_ERROR, "stack trace here")),
                )
                .route("/ok", web::get().to(plain(StatusCode::OK, "fine")))
                .route(
                    "/json",
                    web::get().to(|| async {
                        Err::<HttpResponse, Error>(Error::Conflict("moved".into()))
                    }),
                ),
        )
        .await;
        let cases = [
            ("/404", 404, "ENDPOINT_NOT_FOUND", "no such file"),
            ("/413", 413, "REQUEST_TOO_LARGE", "too big"),
            ("/401", 401, "UNAUTHENTICATED", "Unauthorized"),
            ("/409", 409, "INVALID_PARAMETER_VALUE", "taken"),
            ("/500", 500, "INTERNAL_ERROR", "internal server error"),
            ("/json", 409, "CONFLICT", "moved"),
        ];
        for (path, status, code, message) in cases {
            let response =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(response.status().as_u16(), status, "{path}");
            assert_eq!(
                response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(&b"application/json"[..]),
                "{path}"
            );
            let body: serde_json::Value = test::read_body_json(response).await;
            assert_eq!(
                body,
                serde_json::json!({"error_code": code, "message": message}),
                "{path}"
            );
        }
        // a success is not touched
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(test::read_body(response).await, "fine");
    }
}
