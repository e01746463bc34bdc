//! Long-lived pipeline tokens: JWTs whose jti is stored, so they can be
//! listed and revoked; a revoked token is refused on the next request, on
//! every replica, because every request checks the stored row.

use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Actor;
use crate::auth::tokens::{TokenKeys, TokenKind};
use crate::db::enums::Role;
use crate::db::event::{EventKind, Subject};
use crate::db::rows::ApiTokenRow;
use crate::db::schema::{api_tokens, users};
use crate::db::{self, DbConn, now_ms};
use crate::domain::sql::{Page, PageToken};
use crate::domain::types::Username;
use crate::error::{Entity, Error, Result};

/// Longest lifetime of a pipeline token, in days.
pub const MAX_DAYS: i64 = 3650;
/// Lifetime when none is asked for, in days.
pub const DEFAULT_DAYS: i64 = 90;

/// A pipeline token as listed (never with its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id, for revocation.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// The user it acts as.
    pub username: String,
    /// Who created it.
    pub created_by: String,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A newly created token: the only time its value is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// Id, for revocation.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// The bearer token; store it now, it is not shown again.
    pub token: String,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// The user it acts as.
    pub username: String,
}

fn to_api(row: ApiTokenRow, username: String) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        username,
        created_by: row.created_by,
        creation_timestamp: row.creation_timestamp,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

/// Validates a token name: 1–200 characters, no control characters.
pub fn check_name(name: &str) -> Result<()> {
    let length = name.chars().count();
    if name.trim().is_empty() || length > 200 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "token name must be 1-200 characters without control characters",
        ));
    }
    Ok(())
}

/// Creates a token acting as `username` for `days` days.
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    keys: &TokenKeys,
    name: &str,
    username: &Username,
    days: i64,
) -> Result<CreatedToken> {
    check_name(name)?;
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Error::invalid(format!(
            "expires_in_days must be between 1 and {MAX_DAYS}, got {days}"
        )));
    }
    db::write(conn, &actor.username, |tx| {
        let user: Option<(i64, Role, bool)> = users::table
            .filter(users::username.eq(username.as_str()))
            .select((users::id, users::role, users::disabled))
            .first(tx.conn())
            .optional()?;
        let Some((user_id, role, disabled)) = user else {
            return Err(Error::NotFound(Entity::User(username.as_str().to_owned())));
        };
        if disabled {
            return Err(Error::Conflict(format!("user '{username}' is disabled")));
        }
        let (token, claims) = keys.issue(
            username.as_str(),
            user_id,
            role,
            TokenKind::Pipeline,
            0,
            days * 86_400,
        )?;
        let now = now_ms();
        let expires_at = claims.exp.saturating_mul(1000);
        let row: ApiTokenRow = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::jti.eq(&claims.jti),
                api_tokens::name.eq(name),
                api_tokens::user_id.eq(user_id),
                api_tokens::created_by.eq(&actor.username),
                api_tokens::creation_timestamp.eq(now),
                api_tokens::expires_at.eq(expires_at),
            ))
            .returning(api_tokens::all_columns)
            .get_result(tx.conn())?;
        tx.emit(
            Subject::Registry,
            EventKind::TokenCreated {
                id: row.id,
                name: name.to_owned(),
                username: username.as_str().to_owned(),
                expires_at,
            },
        )?;
        Ok(CreatedToken {
            id: row.id,
            name: row.name,
            token,
            expires_at,
            username: username.as_str().to_owned(),
        })
    })
}

/// Lists tokens, newest first.
pub fn list(
    conn: &mut DbConn,
    max_results: i64,
    page_token: Option<&str>,
) -> Result<Page<ApiToken>> {
    let mut select = api_tokens::table
        .inner_join(users::table)
        .select((ApiTokenRow::as_select(), users::username))
        .order(api_tokens::id.desc())
        .limit(max_results + 1)
        .into_boxed();
    if let Some(token) = page_token {
        select = select.filter(api_tokens::id.lt(PageToken::decode(token, "tokens")?.int_key()?));
    }
    let items: Vec<ApiToken> = select
        .load::<(ApiTokenRow, String)>(conn)?
        .into_iter()
        .map(|(row, username)| to_api(row, username))
        .collect();
    Ok(Page::from_overfetch(items, max_results, |t| {
        PageToken::int("tokens", t.id)
    }))
}

/// Reads one token.
pub fn get(conn: &mut DbConn, id: i64) -> Result<ApiToken> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::id.eq(id))
        .select((ApiTokenRow::as_select(), users::username))
        .first::<(ApiTokenRow, String)>(conn)
        .optional()?
        .map(|(row, username)| to_api(row, username))
        .ok_or_else(|| Error::NotFound(Entity::Token(id)))
}

/// Revokes a token at once; revoking a revoked token changes nothing.
pub fn revoke(conn: &mut DbConn, actor: &Actor, id: i64) -> Result<ApiToken> {
    db::write(conn, &actor.username, |tx| {
        let current = get(tx.conn(), id)?;
        // Only the revocation that finds the token unrevoked records one: a
        // racing second one waits for this row's lock, then finds nothing.
        let revoked = diesel::update(
            api_tokens::table
                .find(id)
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now_ms()))
        .execute(tx.conn())?;
        if revoked == 0 {
            tx.unchanged();
            return get(tx.conn(), id);
        }
        tx.emit(
            Subject::Registry,
            EventKind::TokenRevoked {
                id,
                name: current.name,
                username: current.username,
            },
        )?;
        get(tx.conn(), id)
    })
}
