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
    let mut text = crate::telemetry::prometheus().render();
    text.push_str(&state.health.render_metrics(&state.pool));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
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
    // 503 with the reason in the message (composed here: no driver text)
    let not_ready = |why: String| Err(Error::Timeout(format!("not ready: {why}")));
    let readiness = state.readiness;
    let pool = state.pool.clone();
    let pool_state = pool.state();
    let exhausted = pool_state.connections >= pool.max_size() && pool_state.idle_connections == 0;
    if let Some(since) = state.health.pool_exhausted(exhausted)
        && crate::db::now_ms() - since >= readiness.pool_exhausted_ms
    {
        return not_ready(format!(
            "every database connection has been busy since {}",
            crate::domain::history::format_instant(since)
        ));
    }
    if let Some(at) = state.health.stalled_since(readiness.stall_window_ms) {
        return not_ready(format!(
            "requests' database work timed out (last at {}) and none has finished since",
            crate::domain::history::format_instant(at)
        ));
    }
    // The ping runs on a thread of its own, never queued behind request
    // work on the blocking pool, and the probe answers within a second
    // whatever the database does (a ping left waiting ends with its
    // statement bound).
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = sender.send(crate::db::ping(
            &pool,
            std::time::Duration::from_millis(900),
        ));
    });
    match tokio::time::timeout(std::time::Duration::from_secs(1), receiver).await {
        Ok(Ok(Ok(()))) => {}
        // a busy pool is a working one (until pool_exhausted_ms)
        Ok(Ok(Err(_))) if exhausted => {}
        Ok(Ok(Err(_))) => return not_ready("the database cannot be reached".to_owned()),
        Ok(Err(_)) | Err(_) => {
            return not_ready("the database did not answer within a second".to_owned());
        }
    }
    // Reads still work when the disk is full, so the replica stays in
    // service; the probe (and the metrics) say what is wrong.
    if let Some(since) = state.health.storage_full_since() {
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
