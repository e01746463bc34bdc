//! The registry's rules: models, versions, the lifecycle, approval gates,
//! aliases, users, tokens and the event feed. No HTTP types here; the native
//! API, the MLflow layer and the command line call these.
//!
//! Imports run one way (`docs/ARCHITECTURE.md`):
//! `types`, `filter`, `sql`, `policy` <- `lookup` <- `lifecycle` <- `versions`
//! <- `models`, `version_search`, `aliases`, `requests`; `events`, `users`,
//! `tokens`, `sessions` and `callers` stand beside them.

pub mod access;
pub mod aliases;
pub mod audit;
pub mod callers;
pub mod events;
pub mod filter;
pub mod history;
pub mod keys;
pub mod lifecycle;
pub mod lookup;
pub mod model_search;
pub mod models;
pub mod policy;
pub mod requests;
pub mod sessions;
pub mod sql;
pub mod tokens;
pub mod types;
pub mod users;
pub mod version_search;
pub mod versions;
pub mod webhooks;
