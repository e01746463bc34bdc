//! What every HTTP surface shares of the OpenAPI document: the error
//! answers, the bearer scheme, and the route table built from the document
//! that tells a 405 (known path, other method) from a 404.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::ErrorBody;

/// Adds the `bearer_auth` security scheme to a document.
pub struct BearerAuth;

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
