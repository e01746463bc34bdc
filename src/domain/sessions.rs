//! Web UI sessions. The browser holds a random secret in an HttpOnly cookie;
//! the database holds its SHA-256 (a stolen copy of the table opens no
//! session), the user, the user's session generation when it started, and
//! when it expires. A session ends when it is signed out, when it expires,
//! and when its user's password changes or the user is disabled (the
//! generation moves) or deleted (the row goes with the user). Not registry
//! data: no event is appended for it.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::ui_sessions;
use crate::db::{DbConn, now_ms};
use crate::error::Result;

/// A session just started: the secret for the cookie (shown nowhere else).
pub struct Started {
    /// The cookie's value.
    pub secret: String,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The stored form of a session secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whose session it is: a user's id and the session generation their
/// password check saw (named, so the two numbers cannot be swapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionUser {
    /// The user's row id.
    pub user_id: i64,
    /// `users.session_generation` when the password was checked.
    pub generation: i64,
}

/// Starts a session for a user whose password was just checked, and removes
/// expired sessions (of anyone).
pub fn start(conn: &mut DbConn, user: SessionUser, ttl_seconds: i64) -> Result<Started> {
    let SessionUser {
        user_id,
        generation,
    } = user;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let secret = hex::encode(bytes);
    let now = now_ms();
    let expires_at = now.saturating_add(ttl_seconds.saturating_mul(1000));
    diesel::delete(ui_sessions::table.filter(ui_sessions::expires_at.le(now))).execute(conn)?;
    diesel::insert_into(ui_sessions::table)
        .values((
            ui_sessions::secret_hash.eq(secret_hash(&secret)),
            ui_sessions::user_id.eq(user_id),
            ui_sessions::generation.eq(generation),
            ui_sessions::created_at.eq(now),
            ui_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(Started { secret, expires_at })
}

/// Ends the session with this secret (signing out); ending one that is gone
/// is not an error.
pub fn end(conn: &mut DbConn, secret: &str) -> Result<()> {
    diesel::delete(ui_sessions::table.filter(ui_sessions::secret_hash.eq(secret_hash(secret))))
        .execute(conn)?;
    Ok(())
}
