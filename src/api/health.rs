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
    /// `ok`.
    pub status: &'static str,
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
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
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
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}
