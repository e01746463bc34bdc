//! Probes: `/healthz` (the process answers) and `/readyz` (the database does).

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::api::{AppState, method_not_allowed};
use crate::error::Result;

/// A probe's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthResponse {
    /// `ok`.
    pub status: &'static str,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(readyz))
            .default_service(method_not_allowed("GET")),
    );
}

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
}

/// The database answers; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse> {
    let pool = state.pool.clone();
    actix_web::web::block(move || crate::db::ping(&pool)).await??;
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
}
