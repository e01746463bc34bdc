//! The database's word on a caller: the user a verified token or password
//! names still exists, is enabled, holds an unrevoked token, and has the role
//! an operation needs. Checked in one statement that also reads the event
//! head, on the connection of the operation's own work.

use diesel::prelude::*;

use crate::auth::Actor;
use crate::auth::tokens::{Claims, TokenKind};
use crate::db::DbConn;
use crate::db::chain;
use crate::db::enums::Role;
use crate::db::schema::{api_tokens, ui_sessions, users};
use crate::error::{Error, Result};

/// An authorised caller, and the registry's write position ([`Authorized::head`])
/// read in the same statement.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// Who acts.
    pub actor: Actor,
    /// The id of the last event when the caller was checked. Every write to
    /// the registry appends an event, so an unchanged head means unchanged data.
    pub head: i64,
}

/// Checks a verified token's claims against the database: the user exists
/// and is enabled, a pipeline token is not revoked, and the stored role
/// reaches `need`. One statement reads the user, the token's revocation and
/// the event head together.
pub fn authorize(conn: &mut DbConn, claims: &Claims, need: Role) -> Result<Authorized> {
    let token_active = diesel::dsl::exists(
        api_tokens::table
            .filter(api_tokens::jti.eq(&claims.jti))
            .filter(api_tokens::user_id.eq(claims.uid))
            .filter(api_tokens::revoked_at.is_null()),
    );
    let user: Option<(i64, Role, bool, Option<i64>, bool, i64)> = users::table
        .filter(users::username.eq(&claims.sub))
        .select((
            users::id,
            users::role,
            users::disabled,
            chain::head_id(),
            token_active,
            users::session_generation,
        ))
        .first(conn)
        .optional()?;
    let Some((user_id, role, disabled, head, token_active, generation)) = user else {
        return Err(Error::Unauthenticated(
            "the token's user does not exist".to_owned(),
        ));
    };
    if user_id != claims.uid {
        return Err(Error::Unauthenticated(
            "the token's user does not exist".to_owned(),
        ));
    }
    if disabled {
        return Err(Error::Unauthenticated(
            "the token's user is disabled".to_owned(),
        ));
    }
    if claims.kind == TokenKind::Session && claims.generation != generation {
        return Err(Error::Unauthenticated(
            "the session has ended (the password changed or the user was disabled); log in again"
                .to_owned(),
        ));
    }
    if claims.kind == TokenKind::Pipeline && !token_active {
        return Err(Error::Unauthenticated(
            "the token has been revoked".to_owned(),
        ));
    }
    Ok(Authorized {
        actor: permitted(&claims.sub, role, need)?,
        head: head.unwrap_or(0),
    })
}

/// A session and its user, as [`authorize_session`] reads them.
#[derive(Queryable)]
struct SessionRow {
    username: String,
    role: Role,
    disabled: bool,
    generation: i64,
    session_generation: i64,
    expires_at: i64,
    head: Option<i64>,
}

/// Checks a web UI session (by the SHA-256 of its secret) against the
/// database: it exists and has not expired, its user is enabled and still in
/// the session's generation, and the user's role reaches `need`. One
/// statement reads the session, its user and the event head.
pub fn authorize_session(conn: &mut DbConn, secret_hash: &str, need: Role) -> Result<Authorized> {
    let found: Option<SessionRow> = ui_sessions::table
        .inner_join(users::table)
        .filter(ui_sessions::secret_hash.eq(secret_hash))
        .select((
            users::username,
            users::role,
            users::disabled,
            users::session_generation,
            ui_sessions::generation,
            ui_sessions::expires_at,
            chain::head_id(),
        ))
        .first(conn)
        .optional()?;
    let ended = || Error::Unauthenticated("the session has ended; sign in again".to_owned());
    let Some(SessionRow {
        username,
        role,
        disabled,
        generation,
        session_generation,
        expires_at,
        head,
    }) = found
    else {
        return Err(ended());
    };
    if disabled || generation != session_generation || expires_at <= crate::db::now_ms() {
        return Err(ended());
    }
    Ok(Authorized {
        actor: permitted(&username, role, need)?,
        head: head.unwrap_or(0),
    })
}

/// The actor `username` with stored role `role`, if that role reaches `need`.
fn permitted(username: &str, role: Role, need: Role) -> Result<Actor> {
    if !role.reaches(need) {
        return Err(Error::PermissionDenied(format!(
            "this needs role {need}; user '{username}' has role {role}"
        )));
    }
    Ok(Actor {
        username: username.to_owned(),
        role,
    })
}

/// The stored password hash of a user (for HTTP Basic), if the user exists.
pub fn stored_hash(conn: &mut DbConn, username: &str) -> Result<Option<String>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(users::password_hash)
        .first(conn)
        .optional()?)
}

/// After a Basic password verified against `verified_hash`: the user must
/// still have that hash (no password change in between), be enabled and
/// reach `need`. Answers the event head read in the same statement.
pub fn resolve_verified(
    conn: &mut DbConn,
    username: &str,
    verified_hash: &str,
    need: Role,
) -> Result<Authorized> {
    let user: Option<(Role, String, bool, Option<i64>)> = users::table
        .filter(users::username.eq(username))
        .select((
            users::role,
            users::password_hash,
            users::disabled,
            chain::head_id(),
        ))
        .first(conn)
        .optional()?;
    let Some((role, _, disabled, head)) = user.filter(|(_, hash, _, _)| hash == verified_hash)
    else {
        return Err(Error::Unauthenticated(
            "invalid username or password".to_owned(),
        ));
    };
    if disabled {
        return Err(Error::Unauthenticated("this user is disabled".to_owned()));
    }
    Ok(Authorized {
        actor: permitted(username, role, need)?,
        head: head.unwrap_or(0),
    })
}
