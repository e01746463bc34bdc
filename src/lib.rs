//! modelgate: a model registry with approval gates, a tamper-evident audit
//! trail and an MLflow-compatible API.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod mlflow;
pub mod startup;
pub mod telemetry;
pub mod ui;
pub mod web;
pub mod webhooks;
