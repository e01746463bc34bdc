//! `/api/v1/tokens`: long-lived, revocable pipeline tokens (admin only).

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::PageQuery;
use crate::api::params::IdPath;
use crate::domain::access::Op;
use crate::domain::tokens::{self, ApiToken, CreatedToken, DEFAULT_DAYS};
use crate::domain::types::Username;
use crate::error::Result;
use crate::web::AppState;
use crate::web::Caller;
use crate::web::routes::{ReadErrors, WriteErrors};

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "nightly-training", "username": "ci-bot", "expires_in_days": 30}))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. `ci-fraud-pipeline`.
    pub name: String,
    /// Lifetime in days, 1–3650 (default 90).
    pub expires_in_days: Option<i64>,
    /// The user the token acts as (default: the caller).
    pub username: Option<String>,
}

/// A page of tokens (never their values).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListTokensResponse {
    /// Newest first.
    pub tokens: Vec<ApiToken>,
    /// Present when more tokens remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_api_token)
        .service(list_api_tokens)
        .service(get_api_token)
        .service(revoke_api_token);
}

/// Creates a pipeline token; its value is in this answer only.
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "tokens",
    request_body = CreateTokenRequest,
    responses((status = 201, description = "The token, shown this once", body = CreatedToken), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/tokens")]
pub async fn create_api_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateTokenRequest>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let username = body
        .username
        .map(Username::parse)
        .transpose()?
        .unwrap_or(Username::parse(caller.claims.sub.clone())?);
    let days = body.expires_in_days.unwrap_or(DEFAULT_DAYS);
    let keys = state.auth.keys.clone();
    let created = state
        .db_as(caller, Op::ManageTokens, move |conn, actor| {
            tokens::create(conn, &actor, &keys, &body.name, &username, days)
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists pipeline tokens.
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "tokens",
    params(PageQuery),
    responses((status = 200, description = "A page of tokens (never their values)", body = ListTokensResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/tokens")]
pub async fn list_api_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    let (max_results, token) = query.into_inner().into_parts()?;
    let page = state
        .db_as(caller, Op::ManageTokens, move |conn, _| {
            tokens::list(conn, max_results, token.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListTokensResponse {
        tokens: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Reads one pipeline token.
#[utoipa::path(
    get,
    path = "/tokens/{id}",
    tag = "tokens",
    params(IdPath),
    responses((status = 200, description = "The token (never its value)", body = ApiToken), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/tokens/{id}")]
pub async fn get_api_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("token")?;
    let token = state
        .db_as(caller, Op::ManageTokens, move |conn, _| {
            tokens::get(conn, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(token))
}

/// Revokes a pipeline token at once.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "tokens",
    params(IdPath),
    responses((status = 204, description = "Revoked at once"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/tokens/{id}")]
pub async fn revoke_api_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("token")?;
    state
        .db_as(caller, Op::ManageTokens, move |conn, actor| {
            tokens::revoke(conn, &actor, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
