//! Integration tests: a real server on a random port, SQLite by default,
//! PostgreSQL when `MODELGATE_TEST_DATABASE_URL` is set.

mod auth;
mod bad_input;
mod binary;
mod events;
mod helpers;
mod keys;
mod models;
mod roles;
mod storage;
mod telemetry;
mod transitions;
mod versions;
