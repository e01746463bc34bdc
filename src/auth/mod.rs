//! Who is acting: roles and the acting user of a request.
//!
//! Until tokens are verified (the identity layer), every request acts as an
//! anonymous administrator; every domain operation already takes an
//! [`Actor`], so authentication slots in here without touching the rules.

use std::fmt;
use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::{Deserialize, Serialize};

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
    /// The actor of every request until authentication is configured.
    pub fn anonymous_admin() -> Self {
        Actor {
            username: "anonymous".to_owned(),
            role: Role::Admin,
        }
    }

    /// An internal actor for command-line maintenance.
    pub fn system() -> Self {
        Actor {
            username: "system".to_owned(),
            role: Role::Admin,
        }
    }
}

impl FromRequest for Actor {
    type Error = crate::error::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(_req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(Actor::anonymous_admin()))
    }
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
