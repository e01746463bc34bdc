//! `/api/v1/audit/checkpoints`: the signed checkpoints of the event chain,
//! to keep outside the database.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::PageQuery;
use crate::domain::access::Op;
use crate::domain::audit::{self, Checkpoint};
use crate::error::Result;
use crate::web::AppState;
use crate::web::Caller;
use crate::web::routes::ReadErrors;

/// A page of checkpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListCheckpointsResponse {
    /// Oldest first.
    pub checkpoints: Vec<Checkpoint>,
    /// Present when more checkpoints remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_checkpoints);
}

/// Lists the signed checkpoints of the event chain, oldest first. Keep them
/// elsewhere: `modelgate audit verify --checkpoint FILE` checks the chain
/// still holds each one.
#[utoipa::path(
    get,
    path = "/audit/checkpoints",
    tag = "audit",
    params(PageQuery),
    responses((status = 200, description = "A page of checkpoints", body = ListCheckpointsResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/audit/checkpoints")]
pub async fn list_checkpoints(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    let (max_results, page_token) = query.into_inner().into_parts()?;
    // Not through the read cache: a checkpoint moves no event head.
    let page = state
        .db_as(caller, Op::Read, move |conn, _| {
            audit::list(conn, max_results, page_token.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListCheckpointsResponse {
        checkpoints: page.items,
        next_page_token: page.next_page_token,
    }))
}
