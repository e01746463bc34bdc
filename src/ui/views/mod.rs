//! What the pages show: one template struct per page (templates under
//! `src/ui/templates/`, compiled in), and the rows they list, with every
//! value already in the form a person reads.

use askama::Template;

use crate::db::enums::Stage;
use crate::domain::types::percent_encode_segment as enc;

use super::PREFIX;

mod admin;
mod governance;
mod registry;

pub use admin::*;
pub use governance::*;
pub use registry::*;

/// Milliseconds since the epoch as a person reads them (UTC, to the minute).
pub fn when(ms: i64) -> String {
    use time::OffsetDateTime;
    use time::macros::format_description;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// The same instant for machines (`<time datetime>`).
pub fn machine_time(ms: i64) -> String {
    crate::domain::history::format_instant(ms)
}

/// A model's page.
pub fn model_href(name: &str) -> String {
    format!("{PREFIX}/models/{}", enc(name))
}

/// A version's page.
pub fn version_href(name: &str, version: i64) -> String {
    format!("{PREFIX}/models/{}/versions/{version}", enc(name))
}

/// A request's page.
pub fn request_href(id: i64) -> String {
    format!("{PREFIX}/requests/{id}")
}

/// The CSS class of a stage's badge.
pub fn stage_class(stage: Stage) -> &'static str {
    match stage {
        Stage::None => "stage stage-none",
        Stage::Staging => "stage stage-staging",
        Stage::Production => "stage stage-production",
        Stage::Archived => "stage stage-archived",
    }
}

/// A stage with its badge class.
#[derive(Debug, Clone)]
pub struct StageBadge {
    /// The stage's name.
    pub name: String,
    /// CSS class.
    pub class: &'static str,
}

impl From<Stage> for StageBadge {
    fn from(stage: Stage) -> Self {
        StageBadge {
            name: stage.as_str().to_owned(),
            class: stage_class(stage),
        }
    }
}

/// An error page (no navigation: it may come before any sign-in).
#[derive(Template)]
#[template(path = "error.html", config = "src/ui/askama.toml")]
pub struct ErrorPage {
    /// HTTP status.
    pub status: u16,
    /// Its reason.
    pub title: String,
    /// What went wrong.
    pub message: String,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "signin.html", config = "src/ui/askama.toml")]
pub struct SignInPage {
    /// Where to go after signing in.
    pub next: String,
    /// The form's CSRF token.
    pub csrf: String,
    /// Why the last attempt failed.
    pub problem: Option<String>,
}
