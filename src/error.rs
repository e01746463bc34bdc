//! The one error type of modelgate and its JSON body.
//!
//! Every failure a client can see is an [`Error`]; its [`Error::code`] is a
//! stable string (MLflow's codes where one fits) and its HTTP status follows
//! from the variant. Server-side faults keep their cause for the log and show
//! the client only an opaque message.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `RESOURCE_DOES_NOT_EXIST`.
    pub error_code: String,
    /// Human-readable explanation of what was wrong.
    pub message: String,
}

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request carried a value that is malformed or out of range (400).
    #[error("{0}")]
    InvalidParameter(String),
    /// The named resource does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// No route answers this path (404).
    #[error("{0}")]
    EndpointNotFound(String),
    /// The path exists but not for this method (405); carries the allowed methods.
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(String),
    /// A resource with this identity already exists (409).
    #[error("{0}")]
    AlreadyExists(String),
    /// The request conflicts with the resource's current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The caller is not authenticated (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's role does not allow this (403).
    #[error("{0}")]
    PermissionDenied(String),
    /// The transition is allowed only through an approved request (403).
    #[error("{0}")]
    ApprovalRequired(String),
    /// The request body is larger than the configured limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many attempts; retry after the given number of seconds (429).
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// The database cannot be reached right now (503).
    #[error("{0}")]
    Unavailable(String),
    /// A fault on the server side (500); the cause is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable code that goes into `error_code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidParameter(_) => "INVALID_PARAMETER_VALUE",
            Error::NotFound(_) => "RESOURCE_DOES_NOT_EXIST",
            Error::EndpointNotFound(_) => "ENDPOINT_NOT_FOUND",
            Error::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            Error::AlreadyExists(_) => "RESOURCE_ALREADY_EXISTS",
            Error::Conflict(_) => "CONFLICT",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::PermissionDenied(_) => "PERMISSION_DENIED",
            Error::ApprovalRequired(_) => "APPROVAL_REQUIRED",
            Error::PayloadTooLarge(_) => "REQUEST_TOO_LARGE",
            Error::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Error::RateLimited { .. } => "REQUEST_LIMIT_EXCEEDED",
            Error::Unavailable(_) => "TEMPORARILY_UNAVAILABLE",
            Error::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The message a client may see: opaque for server faults, whose
    /// detail (hosts, users, driver text) goes only to the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "internal server error".to_owned(),
            Error::Unavailable(_) => {
                "the database is temporarily unavailable; retry later".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error_code: self.code().to_owned(),
            message: self.public_message(),
        }
    }

    /// Shorthand for an [`Error::InvalidParameter`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidParameter(message.into())
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) | Error::EndpointNotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::AlreadyExists(_) | Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::PermissionDenied(_) | Error::ApprovalRequired(_) => StatusCode::FORBIDDEN,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Error::MethodNotAllowed(allowed) => {
                if let Ok(value) = HeaderValue::from_str(allowed) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Error::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(self.body())
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match error {
            D::NotFound => Error::NotFound("resource does not exist".to_owned()),
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Error::Unavailable(format!("database connection lost: {}", info.message()))
            }
            D::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Error::Unavailable("the database asked to retry the transaction".to_owned())
            }
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Error::AlreadyExists(format!("already exists: {}", info.message()))
            }
            D::DatabaseError(_, info) if is_connection_trouble(info.message()) => {
                Error::Unavailable(format!("database unavailable: {}", info.message()))
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

/// libpq and SQLite report a lost or busy database through generic errors;
/// these are the messages that mean "try again later", not "bug".
fn is_connection_trouble(message: &str) -> bool {
    const MARKERS: [&str; 8] = [
        "deadlock detected",
        "could not serialize access",
        "server closed the connection",
        "terminating connection",
        "connection to server",
        "no connection to the server",
        "database is locked",
        "database is busy",
    ];
    MARKERS.iter().any(|marker| message.contains(marker))
}

impl From<r2d2::Error> for Error {
    fn from(error: r2d2::Error) -> Self {
        Error::Unavailable(format!("no database connection available: {error}"))
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(_: actix_web::error::BlockingError) -> Self {
        Error::Unavailable("the server is shutting down".to_owned())
    }
}

/// Result of every fallible domain and API operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn rendered(error: Error) -> (u16, serde_json::Value) {
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
                Error::NotFound("gone".into()),
                404,
                "RESOURCE_DOES_NOT_EXIST",
                "gone",
            ),
            (
                Error::AlreadyExists("dup".into()),
                409,
                "RESOURCE_ALREADY_EXISTS",
                "dup",
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
                Error::PayloadTooLarge("big".into()),
                413,
                "REQUEST_TOO_LARGE",
                "big",
            ),
            (
                Error::Unavailable("connection to 10.0.0.5 failed for user \"modelgate\"".into()),
                503,
                "TEMPORARILY_UNAVAILABLE",
                "the database is temporarily unavailable; retry later",
            ),
            (
                Error::Internal("secret detail".into()),
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
    }

    #[actix_web::test]
    async fn method_not_allowed_lists_the_allowed_methods() {
        let response = Error::MethodNotAllowed("GET, PATCH".into()).error_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response.headers().get(header::ALLOW).map(|v| v.as_bytes()),
            Some(&b"GET, PATCH"[..])
        );
    }

    #[test]
    fn diesel_not_found_becomes_does_not_exist() {
        let error: Error = diesel::result::Error::NotFound.into();
        assert_eq!(error.code(), "RESOURCE_DOES_NOT_EXIST");
    }
}
