//! `/api/v1/auth/token` (log in) and `/api/v1/me` (who am I).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::{AppState, LoginErrors, ReadErrors};
use crate::auth::tokens::TokenKind;
use crate::auth::{Caller, Role};
use crate::domain::users::{self, LoginFailure};
use crate::error::{Error, Result};

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
    let refused = || Error::Unauthenticated("invalid username or password".to_owned());
    if username.is_empty()
        || username.len() > 256
        || password.len() > 4096
        || username.contains('\0')
        || password.contains('\0')
    {
        return Err(refused());
    }
    // The TCP peer, not X-Forwarded-For: a header is the attacker's to choose.
    let address = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |peer| peer.ip().to_string());
    let auth = state.auth.clone();
    let attempt = match auth.throttle.begin(&username, &address) {
        Ok(attempt) => attempt,
        Err(retry_after_secs) => {
            tracing::warn!(user = %username, %address, "login throttled");
            return Err(Error::RateLimited {
                message: "too many failed logins; try again later".to_owned(),
                retry_after_secs,
            });
        }
    };
    let name = username.clone();
    // The account is read first and the connection given back before the
    // argon2 work, which would otherwise hold it for tens of ms.
    let outcome = async {
        let account = state
            .db(move |conn| users::login_account(conn, &name))
            .await?;
        auth.hash_work(move || users::check_login(account, &password))
            .await
    }
    .await;
    match outcome {
        Ok(Ok((uid, user))) => {
            auth.throttle.succeed(&attempt);
            let (token, claims) = auth.keys.issue(
                &user.username,
                uid,
                user.role,
                TokenKind::Session,
                auth.token_ttl_seconds,
            )?;
            tracing::info!(user = %user.username, "login succeeded");
            Ok(HttpResponse::Ok().json(TokenResponse {
                access_token: token,
                token_type: "Bearer",
                expires_in: claims.exp - claims.iat,
            }))
        }
        Ok(Err(failure)) => {
            auth.throttle.fail(&attempt);
            tracing::warn!(user = %username, %address, "login failed");
            Err(match failure {
                LoginFailure::BadCredentials => refused(),
                LoginFailure::Disabled => {
                    Error::Unauthenticated("this user is disabled".to_owned())
                }
            })
        }
        Err(error) => {
            auth.throttle.abandon(&attempt);
            Err(error)
        }
    }
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
    let actor = state
        .db_as(caller, Role::Viewer, |_, actor| Ok(actor))
        .await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        username: actor.username,
        role: actor.role,
        token_kind: claims.kind,
        token_expires_at: claims.exp.saturating_mul(1000),
    }))
}
