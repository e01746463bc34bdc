//! The lifecycle stages a model version moves through.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A version's lifecycle stage (these exact strings on the wire).
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
    utoipa::ToSchema,
)]
pub enum Stage {
    /// Just registered; in no stage.
    None,
    /// Being validated.
    Staging,
    /// Serving.
    Production,
    /// Retired.
    Archived,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    /// The canonical name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Whether `archive_existing_versions` means something for a move into this stage.
    pub fn can_archive_existing(self) -> bool {
        matches!(self, Stage::Staging | Stage::Production)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = crate::error::Error;

    /// Accepts the canonical names in any letter case, as MLflow does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                crate::error::Error::invalid(format!(
                    "invalid stage '{}': expected one of None, Staging, Production, Archived",
                    s.escape_debug()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_in_any_case_and_print_canonically() {
        assert_eq!("production".parse::<Stage>().ok(), Some(Stage::Production));
        assert_eq!("None".parse::<Stage>().ok(), Some(Stage::None));
        assert_eq!(Stage::Archived.to_string(), "Archived");
        assert!("Prod".parse::<Stage>().is_err());
        assert!("".parse::<Stage>().is_err());
    }
}
