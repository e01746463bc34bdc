//! The native HTTP API (`/api/v1`): thin handlers that parse, authorize,
//! call `domain` off the async workers (through `web::AppState`), and map
//! the result. Path parameters are in `params`.

pub mod audit;
pub mod auth;
pub mod events;
pub mod health;
pub mod models;
pub mod params;
pub mod tokens;
pub mod transition_requests;
pub mod users;
pub mod versions;
pub mod webhooks;

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ErrorBody, Result};
use crate::web::routes::BearerAuth;

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
            .configure(events::configure)
            .configure(audit::configure)
            .configure(webhooks::configure),
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
        (name = "audit", description = "Signed checkpoints of the event chain"),
        (name = "webhooks", description = "Subscriptions to the event log, delivered signed, at least once (admin)"),
        (name = "health", description = "Probes"),
    )
)]
struct ApiDoc;

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
