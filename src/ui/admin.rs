//! The admin pages: users (create, change role, disable or enable) and
//! pipeline tokens (create, shown once; revoke). Admins only; every action
//! runs through the same domain calls as `/api/v1/users` and `/api/v1/tokens`.

use actix_web::{HttpRequest, web};
use serde::Deserialize;

use super::views::{TokenItem, TokensPage, UserItem, UsersPage};
use super::{PREFIX, UiError, UiResult, html, see_other};
use crate::auth::password;
use crate::db::enums::Role;
use crate::domain::access::Op;
use crate::domain::tokens::{self, DEFAULT_DAYS};
use crate::domain::types::Username;
use crate::domain::users::{self, UserChanges};
use crate::error::Error;
use crate::web::AppState;

/// Rows per page.
const PAGE: i64 = 200;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/users", web::get().to(users_page))
        .route("/admin/users", web::post().to(create_user))
        .route("/admin/users/{username}", web::post().to(change_user))
        .route("/admin/tokens", web::get().to(tokens_page))
        .route("/admin/tokens", web::post().to(create_token))
        .route("/admin/tokens/{id}/revoke", web::post().to(revoke_token));
}

async fn users_page(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    let (viewer, page) = state
        .page(&req, Op::ManageUsers, |conn, _| {
            users::list(conn, PAGE, None)
        })
        .await?;
    html(&UsersPage {
        viewer,
        nav: "admin",
        users: page.items.into_iter().map(UserItem::from).collect(),
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        more: page.next_page_token.is_some(),
    })
}

/// The new-user form.
#[derive(Deserialize)]
struct NewUserForm {
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
    username: String,
    password: String,
    role: String,
}

async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<NewUserForm>,
) -> UiResult {
    let NewUserForm {
        csrf,
        username,
        password,
        role,
    } = form.into_inner();
    let username = Username::parse(username)?;
    let role: Role = role.parse()?;
    password::check_policy(&password)?;
    // the caller and the token first: argon2 runs only for an admin's form
    state
        .action(&req, &csrf, Op::ManageUsers, |_, _| Ok(()))
        .await?;
    let hash = state
        .auth
        .hash_work(move || password::hash(&password))
        .await?;
    state
        .action(&req, &csrf, Op::ManageUsers, move |conn, actor| {
            users::create(conn, &actor, &username, &hash, role)
        })
        .await?;
    Ok(see_other(&format!("{PREFIX}/admin/users")))
}

/// A user's row form: a new role, or disable / enable.
#[derive(Deserialize)]
struct ChangeUserForm {
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
    role: Option<String>,
    disabled: Option<String>,
}

async fn change_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    username: web::Path<String>,
    form: web::Form<ChangeUserForm>,
) -> UiResult {
    let username = Username::parse(username.into_inner())?;
    let ChangeUserForm {
        csrf,
        role,
        disabled,
    } = form.into_inner();
    let changes = UserChanges {
        role: role.as_deref().map(str::parse::<Role>).transpose()?,
        disabled: match disabled.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(UiError::Page(Error::invalid(format!(
                    "disabled must be true or false, got '{other}'"
                ))));
            }
        },
        password_hash: None,
    };
    if changes.role.is_none() && changes.disabled.is_none() {
        return Err(UiError::Page(Error::invalid(
            "nothing to change: give a role or disabled",
        )));
    }
    state
        .action(&req, &csrf, Op::ManageUsers, move |conn, actor| {
            users::update(conn, &actor, &username, changes)
        })
        .await?;
    Ok(see_other(&format!("{PREFIX}/admin/users")))
}

async fn tokens_page(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    let (viewer, page) = state
        .page(&req, Op::ManageTokens, |conn, _| {
            tokens::list(conn, PAGE, None)
        })
        .await?;
    html(&TokensPage {
        viewer,
        nav: "admin",
        tokens: page.items.into_iter().map(TokenItem::from).collect(),
        created: None,
        more: page.next_page_token.is_some(),
        default_days: DEFAULT_DAYS,
    })
}

/// The new-token form.
#[derive(Deserialize)]
struct NewTokenForm {
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
    name: String,
    username: String,
    days: Option<String>,
}

async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<NewTokenForm>,
) -> UiResult {
    let NewTokenForm {
        csrf,
        name,
        username,
        days,
    } = form.into_inner();
    let username = Username::parse(username)?;
    let days = match days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => DEFAULT_DAYS,
        Some(text) => text
            .parse::<i64>()
            .map_err(|_| Error::invalid(format!("days must be a whole number, got '{text}'")))?,
    };
    let keys = state.auth.keys.clone();
    let (created, page) = state
        .action(&req, &csrf, Op::ManageTokens, move |conn, actor| {
            let created = tokens::create(conn, &actor, &keys, &name, &username, days)?;
            let page = tokens::list(conn, PAGE, None)?;
            Ok((created, page))
        })
        .await?;
    // shown this once, on a page that is not stored (Cache-Control: no-store)
    let (viewer, ()) = state.page(&req, Op::ManageTokens, |_, _| Ok(())).await?;
    html(&TokensPage {
        viewer,
        nav: "admin",
        tokens: page.items.into_iter().map(TokenItem::from).collect(),
        created: Some((created.name, created.token, created.username)),
        more: page.next_page_token.is_some(),
        default_days: DEFAULT_DAYS,
    })
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
struct TokenOnlyForm {
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
}

async fn revoke_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<TokenOnlyForm>,
) -> UiResult {
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::invalid(format!("'{id}' is not a token id")))?;
    state
        .action(&req, &form.csrf, Op::ManageTokens, move |conn, actor| {
            tokens::revoke(conn, &actor, id)
        })
        .await?;
    Ok(see_other(&format!("{PREFIX}/admin/tokens")))
}
