//! The one error type of modelgate and its JSON body, with no HTTP in it.
//!
//! Every failure a client can see is an [`Error`]; its [`Error::code`] is a
//! stable string (MLflow's codes where one fits). The HTTP status and headers
//! are chosen at the edge (`web::error`, and the MLflow layer's own mapping).
//! Server-side faults keep their cause (`source`) for the log and show the
//! client only an opaque message.

use serde::{Deserialize, Serialize};

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `RESOURCE_DOES_NOT_EXIST`.
    pub error_code: String,
    /// Human-readable explanation of what was wrong.
    pub message: String,
}

/// What a request named that is missing, or that is already there. Each
/// surface words it: [`Entity::missing`] and [`Entity::existing`] are the
/// native API's and the web UI's words; the MLflow layer has its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A registered model, by name.
    Model(String),
    /// A version of a model.
    Version {
        /// The model's name.
        model: String,
        /// The version number.
        version: i64,
    },
    /// The newest version of a model in a stage (`None`: in any stage).
    NewestVersion {
        /// The model's name.
        model: String,
        /// The stage.
        stage: Option<String>,
    },
    /// A tag of a model.
    ModelTag {
        /// The model's name.
        model: String,
        /// The tag's key.
        key: String,
    },
    /// A tag of a version.
    VersionTag {
        /// The model's name.
        model: String,
        /// The version number.
        version: i64,
        /// The tag's key.
        key: String,
    },
    /// An alias of a model.
    Alias {
        /// The model's name.
        model: String,
        /// The alias.
        alias: String,
    },
    /// The model that held a name at an instant.
    NameAt {
        /// The name.
        name: String,
        /// The instant, as RFC 3339.
        at: String,
    },
    /// A transition request, by id.
    Request(i64),
    /// A user, by name.
    User(String),
    /// A pipeline token, by id.
    Token(i64),
    /// A webhook subscription, by id.
    Webhook(i64),
    /// A subscription made through MLflow's API, by its MLflow id.
    MlflowWebhook(String),
    /// A delivery of a subscription.
    Delivery {
        /// The subscription.
        webhook: i64,
        /// The delivery.
        delivery: i64,
    },
    /// A row the database did not find, or found already there, where the
    /// caller did not say which.
    Record,
}

impl Entity {
    /// The native words for it missing.
    pub fn missing(&self) -> String {
        match self {
            Entity::Model(name) => format!("registered model '{name}' does not exist"),
            Entity::Version { model, version } => {
                format!("version {version} of registered model '{model}' does not exist")
            }
            Entity::NewestVersion {
                model,
                stage: Some(stage),
            } => format!("no version of registered model '{model}' is in stage {stage}"),
            Entity::NewestVersion { model, stage: None } => {
                format!("registered model '{model}' has no versions")
            }
            Entity::ModelTag { model, key } => {
                format!("registered model '{model}' has no tag '{key}'")
            }
            Entity::VersionTag {
                model,
                version,
                key,
            } => format!("version {version} of registered model '{model}' has no tag '{key}'"),
            Entity::Alias { model, alias } => {
                format!("registered model '{model}' has no alias '{alias}'")
            }
            Entity::NameAt { name, at } => {
                format!("no registered model was named '{name}' at {at}")
            }
            Entity::Request(id) => format!("transition request {id} does not exist"),
            Entity::User(name) => format!("user '{name}' does not exist"),
            Entity::Token(id) => format!("token {id} does not exist"),
            Entity::Webhook(id) => format!("webhook {id} does not exist"),
            Entity::MlflowWebhook(id) => format!("webhook '{id}' does not exist"),
            Entity::Delivery { webhook, delivery } => {
                format!("webhook {webhook} has no delivery {delivery}")
            }
            Entity::Record => "resource does not exist".to_owned(),
        }
    }

    /// The native words for it existing already.
    pub fn existing(&self) -> String {
        format!("{} already exists", self.noun())
    }

    /// What it is, in the native words.
    fn noun(&self) -> String {
        match self {
            Entity::Model(name) => format!("registered model '{name}'"),
            Entity::Version { model, version } => {
                format!("version {version} of registered model '{model}'")
            }
            Entity::NewestVersion { model, stage } => match stage {
                Some(stage) => {
                    format!("the newest version of registered model '{model}' in {stage}")
                }
                None => format!("the newest version of registered model '{model}'"),
            },
            Entity::ModelTag { model, key } => format!("tag '{key}' of registered model '{model}'"),
            Entity::VersionTag {
                model,
                version,
                key,
            } => format!("tag '{key}' of version {version} of registered model '{model}'"),
            Entity::Alias { model, alias } => {
                format!("alias '{alias}' of registered model '{model}'")
            }
            Entity::NameAt { name, at } => format!("a registered model named '{name}' at {at}"),
            Entity::Request(id) => format!("transition request {id}"),
            Entity::User(name) => format!("user '{name}'"),
            Entity::Token(id) => format!("token {id}"),
            Entity::Webhook(id) => format!("webhook {id}"),
            Entity::MlflowWebhook(id) => format!("webhook '{id}'"),
            Entity::Delivery { webhook, delivery } => {
                format!("delivery {delivery} of webhook {webhook}")
            }
            Entity::Record => "it".to_owned(),
        }
    }
}

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request carried a value that is malformed or out of range (400).
    #[error("{0}")]
    InvalidParameter(String),
    /// A page token that this server did not make, or made for another
    /// query (400).
    #[error("invalid page_token")]
    InvalidPageToken,
    /// The named resource does not exist (404).
    #[error("{}", .0.missing())]
    NotFound(Entity),
    /// A resource with this identity already exists (409).
    #[error("{}", .0.existing())]
    AlreadyExists(Entity),
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
    /// Too many attempts; retry after the given number of seconds (429).
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// The database's storage is full: nothing more can be written until an
    /// operator frees or adds space (507).
    #[error("{0}")]
    StorageFull(String),
    /// The database did not finish the work within its bound (503).
    #[error("{0}")]
    Timeout(String),
    /// The database cannot be reached right now (503).
    #[error("{0}")]
    Unavailable(String),
    /// A fault on the server side (500); the cause is logged, never shown.
    #[error("internal error: {context}")]
    Internal {
        /// What was being done.
        context: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// The stable code that goes into `error_code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidParameter(_) | Error::InvalidPageToken => "INVALID_PARAMETER_VALUE",
            Error::NotFound(_) => "RESOURCE_DOES_NOT_EXIST",
            Error::AlreadyExists(_) => "RESOURCE_ALREADY_EXISTS",
            Error::Conflict(_) => "CONFLICT",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::PermissionDenied(_) => "PERMISSION_DENIED",
            Error::ApprovalRequired(_) => "APPROVAL_REQUIRED",
            Error::RateLimited { .. } => "REQUEST_LIMIT_EXCEEDED",
            Error::StorageFull(_) => "STORAGE_FULL",
            Error::Timeout(_) | Error::Unavailable(_) => "TEMPORARILY_UNAVAILABLE",
            Error::Internal { .. } => "INTERNAL_ERROR",
        }
    }

    /// The message a client may see: opaque for server faults, whose
    /// detail (hosts, users, driver text) goes only to the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal { .. } => "internal server error".to_owned(),
            Error::Unavailable(_) => {
                "the database is temporarily unavailable; retry later".to_owned()
            }
            Error::Timeout(message) => message.clone(),
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

    /// A server-side fault with no underlying error.
    pub fn internal(context: impl Into<String>) -> Self {
        Error::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// A server-side fault caused by `source`.
    pub fn internal_from(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Internal {
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

/// An error and its causes, outermost first, for the log.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match error {
            D::NotFound => Error::NotFound(Entity::Record),
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Error::Unavailable(format!("database connection lost: {}", info.message()))
            }
            D::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Error::Unavailable("the database asked to retry the transaction".to_owned())
            }
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // the constraint's text is the database's, not the product's:
                // it goes to the log; callers that know what conflicted say so
                tracing::info!(detail = %info.message(), "unique violation");
                Error::AlreadyExists(Entity::Record)
            }
            D::DatabaseError(_, info)
                if is_storage_full(info.message()) || info.hint().is_some_and(is_storage_full) =>
            {
                tracing::error!(detail = %info.message(), "the database's storage is full");
                Error::StorageFull(
                    "the database's storage is full: nothing can be written until space is freed; \
                     reads still work"
                        .to_owned(),
                )
            }
            D::DatabaseError(_, info)
                if info.message().starts_with("canceling statement due to") =>
            {
                // statement_timeout or lock_timeout: the database is stalled
                // or a lock is held too long; the transaction is rolled back
                tracing::warn!(detail = %info.message(), "database work timed out");
                Error::Timeout(
                    "the database did not answer in time; nothing was changed, retry later"
                        .to_owned(),
                )
            }
            D::DatabaseError(_, info) if is_connection_trouble(info.message()) => {
                Error::Unavailable(format!("database unavailable: {}", info.message()))
            }
            other => Error::internal_from("database error", other),
        }
    }
}

/// SQLite's SQLITE_FULL (a full disk, or the file at `max_page_count`) and
/// PostgreSQL's disk-full errors (SQLSTATE 53100, or a failed write with
/// ENOSPC), which Diesel reports only by their text.
fn is_storage_full(message: &str) -> bool {
    const MARKERS: [&str; 4] = [
        "database or disk is full",
        "No space left on device",
        "could not extend file",
        "Check free disk space",
    ];
    MARKERS.iter().any(|marker| message.contains(marker))
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

/// Result of every fallible domain and API operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_on_either_database_is_storage_full_not_a_fault() {
        use diesel::result::{DatabaseErrorKind, Error as D};
        let texts = [
            // SQLite's SQLITE_FULL
            "database or disk is full",
            // PostgreSQL's (SQLSTATE 53100 and a write that met ENOSPC)
            "could not extend file \"base/16384/16385\": No space left on device",
            "could not write to file \"pg_wal/xlogtemp.123\": No space left on device",
            "could not extend file \"base/16384/16385\": wrote only 4096 of 8192 bytes at block 7",
        ];
        for text in texts {
            let error: Error =
                D::DatabaseError(DatabaseErrorKind::Unknown, Box::new(text.to_owned())).into();
            assert_eq!(error.code(), "STORAGE_FULL", "{text}");
            assert!(error.public_message().contains("storage is full"), "{text}");
            assert!(!error.public_message().contains("base/16384"), "{text}");
        }
        let other: Error = D::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("syntax error at or near".to_owned()),
        )
        .into();
        assert_eq!(other.code(), "INTERNAL_ERROR");
    }

    #[test]
    fn diesel_not_found_becomes_does_not_exist() {
        let error: Error = diesel::result::Error::NotFound.into();
        assert_eq!(error.code(), "RESOURCE_DOES_NOT_EXIST");
    }

    #[test]
    fn internal_errors_keep_their_cause_and_show_none_of_it() {
        let error: Error = diesel::result::Error::QueryBuilderError("secret detail".into()).into();
        assert_eq!(error.code(), "INTERNAL_ERROR");
        assert_eq!(error.public_message(), "internal server error");
        let logged = chain(&error);
        assert!(
            logged.starts_with("internal error: database error: "),
            "{logged}"
        );
        assert!(logged.contains("secret detail"), "{logged}");
    }
}
