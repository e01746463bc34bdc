//! Who is acting and how they prove it: the actor of an operation,
//! password hashing, JWT issue and verification, and the failed-login
//! throttle. No HTTP and no SQL here: the web edge extracts credentials
//! (`web`), and the database check of a caller is `domain::callers`.

pub mod password;
pub mod throttle;
pub mod tokens;

use crate::db::enums::Role;

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
