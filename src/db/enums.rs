//! The enumerations stored as text: stages, roles, request statuses and
//! the kinds of a version's trail.
//!
//! Each converts to and from SQL through one `ToSql`/`FromSql` pair (text in
//! both databases), from request and command-line text through `FromStr`,
//! and to JSON through serde, so no code matches on their strings by hand.

use std::fmt;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::{AsExpression, FromSqlRow};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Declares a stored enumeration: the enum with its derives (serde, Diesel
/// as text, the OpenAPI schema), `ALL` and `as_str` from the table of
/// variants and their names, `Display`, `FromStr` (exact names unless told
/// to ignore case; `refusal` words the error) and the `ToSql`/`FromSql` pair.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal, case_insensitive = $ci:literal, refusal = $refusal:expr) {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Serialize,
            Deserialize,
            AsExpression,
            FromSqlRow,
            utoipa::ToSchema,
        )]
        #[diesel(sql_type = Text)]
        $(#[$meta])*
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: [$name; [$($name::$variant),+].len()] = [$($name::$variant),+];

            /// The name stored, shown and accepted.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                $name::ALL
                    .into_iter()
                    .find(|value| {
                        if $ci {
                            value.as_str().eq_ignore_ascii_case(s)
                        } else {
                            value.as_str() == s
                        }
                    })
                    .ok_or_else(|| Error::invalid(($refusal)(s.escape_debug())))
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse()
                    .map_err(|_| format!("stored {} '{text}' is not one", $what).into())
            }
        }
    };
}

stored_enum! {
    /// A version's lifecycle stage (these exact strings on the wire).
    pub enum Stage ("stage", case_insensitive = true,
        // MLflow accepts stage names in any letter case.
        refusal = |s| format!("invalid stage '{s}': expected one of None, Staging, Production, Archived")) {
        /// Just registered; in no stage.
        None => "None",
        /// Being validated.
        Staging => "Staging",
        /// Serving.
        Production => "Production",
        /// Retired.
        Archived => "Archived",
    }
}

stored_enum! {
    /// Roles, each including the one before it.
    #[serde(rename_all = "lowercase")]
    pub enum Role ("role", case_insensitive = false,
        refusal = |s| format!("unknown role '{s}' (expected viewer, contributor, approver or admin)")) {
        /// Reads everything.
        Viewer => "viewer",
        /// Registers models and versions, edits them, opens requests.
        Contributor => "contributor",
        /// Approves and rejects requests; approver-level moves.
        Approver => "approver",
        /// Users, tokens, webhooks, deletes; every allowed move directly.
        Admin => "admin",
    }
}

impl Role {
    /// Whether this role includes `needed`.
    pub fn reaches(self, needed: Role) -> bool {
        self >= needed
    }
}

stored_enum! {
    /// Where a request stands.
    #[serde(rename_all = "lowercase")]
    pub enum RequestStatus ("status", case_insensitive = false,
        refusal = |s| format!("invalid status '{s}': expected pending, applied, rejected, cancelled or stale")) {
        /// Waiting for approvals.
        Pending => "pending",
        /// Approved and applied.
        Applied => "applied",
        /// Rejected by an approver.
        Rejected => "rejected",
        /// Withdrawn by the requester or an admin.
        Cancelled => "cancelled",
        /// The version moved (or went away) before the request was decided.
        Stale => "stale",
    }
}

stored_enum! {
    /// What a step of a version's trail records (the `activity_type` of
    /// MLflow-shaped trails: these exact strings on the wire).
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum ActivityType ("activity type", case_insensitive = false,
        refusal = |s| format!("unknown activity type '{s}'")) {
        /// A move applied directly or by an approved request.
        AppliedTransition => "APPLIED_TRANSITION",
        /// A version archived because another took its stage.
        SystemTransition => "SYSTEM_TRANSITION",
        /// A transition request opened.
        RequestedTransition => "REQUESTED_TRANSITION",
        /// An approval of a request.
        ApprovedRequest => "APPROVED_REQUEST",
        /// A request rejected.
        RejectedRequest => "REJECTED_REQUEST",
        /// A request cancelled.
        CancelledRequest => "CANCELLED_REQUEST",
        /// An alias pointed at the version.
        AliasSet => "ALIAS_SET",
        /// An alias taken off the version.
        AliasRemoved => "ALIAS_REMOVED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_types_match_their_serde_names() {
        for kind in ActivityType::ALL {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::from(kind.as_str()))
            );
        }
    }

    #[test]
    fn stages_parse_in_any_case_and_print_canonically() {
        assert_eq!("production".parse::<Stage>().ok(), Some(Stage::Production));
        assert_eq!("None".parse::<Stage>().ok(), Some(Stage::None));
        assert_eq!(Stage::Archived.to_string(), "Archived");
        assert!("Prod".parse::<Stage>().is_err());
        assert!("".parse::<Stage>().is_err());
    }

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Admin.reaches(Role::Approver));
        assert!(Role::Contributor.reaches(Role::Viewer));
        assert!(!Role::Viewer.reaches(Role::Contributor));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn statuses_match_their_serde_names() {
        for status in RequestStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::Value::from(status.as_str()))
            );
            assert_eq!(status.as_str().parse::<RequestStatus>().ok(), Some(status));
        }
    }
}
