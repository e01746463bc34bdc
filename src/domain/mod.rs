//! The registry's rules: stages, policy, models, versions, events.
//! No HTTP types here; both the native API and the MLflow layer call these.

pub mod events;
pub mod filter;
pub mod models;
pub mod paging;
pub mod policy;
pub mod requests;
pub mod stage;
pub mod tokens;
pub mod types;
pub mod users;
pub mod versions;
