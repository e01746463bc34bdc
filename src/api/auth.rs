//! `/api/v1/auth/token` (log in) and `/api/v1/me` (who am I).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::tokens::TokenKind;
use crate::db::enums::Role;
use crate::domain::access::Op;
use crate::error::Result;
use crate::web::AppState;
use crate::web::Caller;
use crate::web::auth::client_address;
use crate::web::routes::{LoginErrors, ReadErrors};

/// Body of `POST /api/v1/auth/token`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"username": "carol", "password": "carol-password"}))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A login token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// The caller as the server sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    /// Login name.
    pub username: String,
    /// Current role.
    pub role: Role,
    /// `session` (login) or `pipeline` token.
    pub token_kind: TokenKind,
    /// When the token expires, in milliseconds since the epoch.
    pub token_expires_at: i64,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_token).service(get_me);
}

/// Exchanges a username and password for a short-lived token.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, description = "A login token", body = TokenResponse), LoginErrors),
)]
#[post("/auth/token")]
pub async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse> {
    let LoginRequest { username, password } = body.into_inner();
    let address = client_address(&req);
    let user = state.check_password(&username, &password, &address).await?;
    let (token, claims) = state.auth.keys.issue(
        &user.username,
        user.uid,
        user.role,
        TokenKind::Session,
        user.generation,
        state.auth.token_ttl_seconds,
    )?;
    tracing::info!(user = %user.username, "login succeeded");
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: claims.exp - claims.iat,
    }))
}

/// Who the token belongs to.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    responses((status = 200, description = "The caller", body = MeResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse> {
    let claims = caller.claims.clone();
    let actor = state.db_as(caller, Op::Read, |_, actor| Ok(actor)).await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        username: actor.username,
        role: actor.role,
        token_kind: claims.kind,
        token_expires_at: claims.exp.saturating_mul(1000),
    }))
}
