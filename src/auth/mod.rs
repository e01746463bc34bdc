//! Who is acting: roles, tokens, passwords, and the caller of a request.
//!
//! A request proves who it is with a bearer token ([`Caller`], checked on
//! the async thread: signature, algorithm, issuer, expiry). Whether that user
//! still exists, is enabled, holds an unrevoked token and has the role an
//! operation needs is checked against the database ([`resolve`]) in the
//! blocking closure that does the operation's own database work.

pub mod password;
pub mod throttle;
pub mod tokens;

use std::fmt;
use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::DbConn;
use crate::db::schema::{api_tokens, event_chain_head, users};
use crate::error::{Error, Result};
use tokens::{Claims, TokenKeys, TokenKind};

/// Roles, each including the one before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Registers models and versions, edits them, opens requests.
    Contributor,
    /// Approves and rejects requests; approver-level moves.
    Approver,
    /// Users, tokens, webhooks, deletes; every allowed move directly.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Contributor, Role::Approver, Role::Admin];

    /// The lowercase name used in configuration and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Contributor => "contributor",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes `needed`.
    pub fn reaches(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role '{s}' (expected viewer, contributor, approver or admin)")
            })
    }
}

/// The user on whose behalf an operation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Username recorded in the audit trail and events.
    pub username: String,
    /// Role that decides what the actor may do.
    pub role: Role,
}

impl Actor {
    /// The actor of command-line maintenance (`modelgate users …`).
    pub fn system() -> Self {
        Actor {
            username: "system".to_owned(),
            role: Role::Admin,
        }
    }
}

/// A request's verified bearer token; [`resolve`] turns it into an [`Actor`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's verified claims.
    pub claims: Claims,
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(caller_of(req))
    }
}

fn caller_of(req: &HttpRequest) -> Result<Caller> {
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| Error::Internal("token keys are not configured".to_owned()))?;
    let header = req.headers().get(AUTHORIZATION).ok_or_else(|| {
        Error::Unauthenticated(
            "authentication required: send Authorization: Bearer <token>".to_owned(),
        )
    })?;
    let value = header.to_str().map_err(|_| {
        Error::Unauthenticated("the Authorization header is not readable".to_owned())
    })?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(Error::Unauthenticated(
                "the Authorization header must be 'Bearer <token>'".to_owned(),
            ));
        }
    };
    if token.is_empty() {
        return Err(Error::Unauthenticated(
            "the bearer token is empty".to_owned(),
        ));
    }
    Ok(Caller {
        claims: keys.verify(token)?,
    })
}

/// Checks the caller against the database: the user exists and is enabled,
/// a pipeline token is not revoked, and the stored role reaches `need`.
pub fn resolve(conn: &mut DbConn, caller: &Caller, need: Role) -> Result<Actor> {
    authorize(conn, caller, need).map(|authorized| authorized.actor)
}

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

/// The head row of the event chain.
type HeadRow =
    diesel::dsl::Filter<event_chain_head::table, diesel::dsl::Eq<event_chain_head::id, i32>>;

/// The id of the last event, as a subquery (0 before the first event).
fn head_subquery()
-> diesel::dsl::SingleValue<diesel::dsl::Select<HeadRow, event_chain_head::last_id>> {
    event_chain_head::table
        .filter(event_chain_head::id.eq(1))
        .select(event_chain_head::last_id)
        .single_value()
}

/// [`resolve`] in one statement (the user, the token's revocation and the
/// event head together), answering the head as well.
pub fn authorize(conn: &mut DbConn, caller: &Caller, need: Role) -> Result<Authorized> {
    let claims = &caller.claims;
    let token_active = diesel::dsl::exists(
        api_tokens::table
            .filter(api_tokens::jti.eq(&claims.jti))
            .filter(api_tokens::user_id.eq(claims.uid))
            .filter(api_tokens::revoked_at.is_null()),
    );
    let user: Option<(i64, String, bool, Option<i64>, bool)> = users::table
        .filter(users::username.eq(&claims.sub))
        .select((
            users::id,
            users::role,
            users::disabled,
            head_subquery(),
            token_active,
        ))
        .first(conn)
        .optional()?;
    let Some((user_id, role, disabled, head, token_active)) = user else {
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
    if claims.kind == TokenKind::Pipeline && !token_active {
        return Err(Error::Unauthenticated(
            "the token has been revoked".to_owned(),
        ));
    }
    Ok(Authorized {
        actor: permitted(&claims.sub, &role, need)?,
        head: head.unwrap_or(0),
    })
}

/// The actor `username` with stored role `role`, if that role reaches `need`.
fn permitted(username: &str, role: &str, need: Role) -> Result<Actor> {
    let role: Role = role
        .parse()
        .map_err(|e: String| Error::Internal(format!("stored role: {e}")))?;
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

/// Remembers which Basic credentials verified against which stored hash, so
/// an MLflow client sending Basic on every request costs one argon2
/// verification, not one per request. Entries are keyed by a salted SHA-256
/// of username and password and hold the hash they matched: a changed
/// password no longer matches, and the next request verifies again.
pub struct BasicCache {
    salt: [u8; 32],
    entries: std::sync::Mutex<std::collections::HashMap<[u8; 32], String>>,
}

impl std::fmt::Debug for BasicCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCache").finish_non_exhaustive()
    }
}

impl Default for BasicCache {
    fn default() -> Self {
        let mut salt = [0u8; 32];
        rand::fill(&mut salt);
        BasicCache {
            salt,
            entries: std::sync::Mutex::default(),
        }
    }
}

impl BasicCache {
    fn key(&self, username: &str, password: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(username.len().to_le_bytes());
        hasher.update(username.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    /// Whether these credentials were verified against `stored_hash` before.
    pub fn knows(&self, username: &str, password: &str, stored_hash: &str) -> bool {
        let key = self.key(username, password);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(&key).is_some_and(|hash| hash == stored_hash)
    }

    /// Remembers credentials that verified against `stored_hash`.
    pub fn learn(&self, username: &str, password: &str, stored_hash: &str) {
        let key = self.key(username, password);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= 10_000 {
            entries.clear();
        }
        entries.insert(key, stored_hash.to_owned());
    }
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
    let user: Option<(String, String, bool, Option<i64>)> = users::table
        .filter(users::username.eq(username))
        .select((
            users::role,
            users::password_hash,
            users::disabled,
            head_subquery(),
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
        actor: permitted(username, &role, need)?,
        head: head.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Admin.reaches(Role::Approver));
        assert!(Role::Contributor.reaches(Role::Viewer));
        assert!(!Role::Viewer.reaches(Role::Contributor));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
