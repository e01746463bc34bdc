//! `/api/v1/users`: user administration (admin only).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::PageQuery;
use crate::api::params::UserPath;
use crate::auth::password;
use crate::db::enums::Role;
use crate::domain::access::Op;
use crate::domain::types::Username;
use crate::domain::users::{self, User, UserChanges};
use crate::error::{Error, Result};
use crate::web::AppState;
use crate::web::Caller;
use crate::web::routes::{ReadErrors, WriteErrors};

/// Body of `POST /api/v1/users`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"username": "carol", "password": "carol-password", "role": "contributor"}))]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// 1–64 of `A–Z a–z 0–9 . _ @ -`.
    pub username: String,
    /// 8–1024 characters.
    pub password: String,
    /// viewer, contributor, approver or admin.
    pub role: Role,
}

/// Body of `PATCH /api/v1/users/{username}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New role.
    pub role: Option<Role>,
    /// New password.
    pub password: Option<String>,
    /// Disable (true) or enable (false).
    pub disabled: Option<bool>,
}

/// A page of users.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListUsersResponse {
    /// Users by name.
    pub users: Vec<User>,
    /// Present when more users remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_user)
        .service(list_users)
        .service(get_user)
        .service(update_user)
        .service(delete_user);
}

/// Checks the caller is an admin first, then hashes on the blocking pool
/// (argon2 takes tens of milliseconds and 19 MiB: never for non-admins).
async fn hash_password(state: &AppState, caller: &Caller, password: String) -> Result<String> {
    password::check_policy(&password)?;
    state
        .db_as(caller.clone(), Op::ManageUsers, |_, _| Ok(()))
        .await?;
    state
        .auth
        .hash_work(move || password::hash(&password))
        .await
}

/// Creates a user.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    request_body = CreateUserRequest,
    responses((status = 201, description = "The created user", body = User), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateUserRequest>,
) -> Result<HttpResponse> {
    let CreateUserRequest {
        username,
        password,
        role,
    } = body.into_inner();
    let username = Username::parse(username)?;
    let hash = hash_password(&state, &caller, password).await?;
    let user = state
        .db_as(caller, Op::ManageUsers, move |conn, actor| {
            users::create(conn, &actor, &username, &hash, role)
        })
        .await?;
    Ok(HttpResponse::Created().json(user))
}

/// Lists users.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(PageQuery),
    responses((status = 200, description = "A page of users", body = ListUsersResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    let (max_results, token) = query.into_inner().into_parts()?;
    let page = state
        .db_as(caller, Op::ManageUsers, move |conn, _| {
            users::list(conn, max_results, token.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListUsersResponse {
        users: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Reads a user.
#[utoipa::path(
    get,
    path = "/users/{username}",
    tag = "users",
    params(UserPath),
    responses((status = 200, description = "The user", body = User), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/users/{username}")]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    user: web::Path<UserPath>,
) -> Result<HttpResponse> {
    let username = user.into_inner().parse()?;
    let user = state
        .db_as(caller, Op::ManageUsers, move |conn, _| {
            users::get(conn, &username)
        })
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Changes a user's role, password or disabled flag.
#[utoipa::path(
    patch,
    path = "/users/{username}",
    tag = "users",
    params(UserPath),
    request_body = UpdateUserRequest,
    responses((status = 200, description = "The changed user", body = User), WriteErrors),
    security(("bearer_auth" = []))
)]
#[patch("/users/{username}")]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    user: web::Path<UserPath>,
    body: web::Json<UpdateUserRequest>,
) -> Result<HttpResponse> {
    let username = user.into_inner().parse()?;
    let body = body.into_inner();
    let password_hash = match body.password {
        Some(password) => Some(hash_password(&state, &caller, password).await?),
        None => None,
    };
    if body.role.is_none() && body.disabled.is_none() && password_hash.is_none() {
        return Err(Error::invalid(
            "nothing to change: give role, password or disabled",
        ));
    }
    let changes = UserChanges {
        role: body.role,
        password_hash,
        disabled: body.disabled,
    };
    let user = state
        .db_as(caller, Op::ManageUsers, move |conn, actor| {
            users::update(conn, &actor, &username, changes)
        })
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Deletes a user and its pipeline tokens.
#[utoipa::path(
    delete,
    path = "/users/{username}",
    tag = "users",
    params(UserPath),
    responses((status = 204, description = "Deleted, with its pipeline tokens"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/users/{username}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    caller: Caller,
    user: web::Path<UserPath>,
) -> Result<HttpResponse> {
    let username = user.into_inner().parse()?;
    state
        .db_as(caller, Op::ManageUsers, move |conn, actor| {
            users::delete(conn, &actor, &username)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
