//! Probes: `/healthz` (the process answers) and `/readyz` (the database does).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{Error, Result};
use crate::web::AppState;
use crate::web::routes::ReadyErrors;

/// A probe's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthResponse {
    /// `ok`; from `/readyz` also `storage_full` (the database answers and
    /// serves reads, but writes fail for lack of space).
    pub status: &'static str,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// Prometheus metrics: requests by route, method and status; latency by
/// route; pool connections; transitions by target stage; transition requests.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.state();
    ::metrics::gauge!("modelgate_db_pool_connections", "state" => "idle")
        .set(f64::from(pool.idle_connections));
    ::metrics::gauge!("modelgate_db_pool_connections", "state" => "in_use").set(f64::from(
        pool.connections.saturating_sub(pool.idle_connections),
    ));
    ::metrics::gauge!("modelgate_db_pool_max_connections").set(f64::from(state.pool.max_size()));
    let full = crate::db::storage::full_since().is_some();
    ::metrics::gauge!("modelgate_storage_full").set(if full { 1.0 } else { 0.0 });
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::telemetry::prometheus().render())
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process is up", body = HealthResponse)),
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok",
        message: None,
    })
}

/// The database answers; 503 otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, description = "The database answers", body = HealthResponse), ReadyErrors),
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse> {
    let pool = state.pool.clone();
    // A short wait: a probe must answer quickly whether the database does or
    // not. A pool whose every connection is busy serving is a working one.
    let answer =
        actix_web::web::block(move || crate::db::ping(&pool, std::time::Duration::from_secs(1)))
            .await
            .map_err(|_| Error::Unavailable("the server is shutting down".to_owned()))?;
    if let Err(error) = answer {
        let pool = state.pool.state();
        let busy = pool.connections >= state.pool.max_size() && pool.idle_connections == 0;
        if !busy {
            return Err(error);
        }
    }
    // Reads still work when the disk is full, so the replica stays in
    // service; the probe (and the metrics) say what is wrong.
    if let Some(since) = crate::db::storage::full_since() {
        return Ok(HttpResponse::Ok().json(HealthResponse {
            status: "storage_full",
            message: Some(format!(
                "writes fail: the database's storage is full (last at {}); reads are served",
                crate::domain::history::format_instant(since)
            )),
        }));
    }
    Ok(HttpResponse::Ok().json(HealthResponse {
        status: "ok",
        message: None,
    }))
}
