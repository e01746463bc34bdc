//! Integration tests: a real server on a random port, SQLite by default,
//! PostgreSQL when `MODELGATE_TEST_DATABASE_URL` is set.

mod alias_guards;
mod audit;
mod auth;
mod bad_input;
mod binary;
mod disk_full;
mod events;
mod failover;
mod gate;
mod guard_paths;
mod guards;
mod helpers;
mod history;
mod http_limits;
mod identity;
mod identity_events;
mod keys;
mod matrix;
mod mlflow;
mod models;
mod names;
mod openapi;
mod production;
mod read_cache;
mod requests;
mod roles;
mod search_case;
mod sessions;
mod snapshot;
mod storage;
mod telemetry;
mod throttle;
mod transitions;
mod versions;
mod write_tx;
