//! `/api/v1/events`: the event feed, oldest first, cursor-paged.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::domain::access::Op;
use crate::domain::events::{self, Event, EventQuery};
use crate::domain::types::{ModelName, page_size};
use crate::error::{Error, Result};
use crate::web::AppState;
use crate::web::Caller;
use crate::web::routes::ReadErrors;

/// Query of `GET /api/v1/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Only events with a larger id (the last id a consumer has seen).
    #[param(nullable = false, minimum = 0)]
    pub after: Option<i64>,
    /// Only events about this model.
    #[param(nullable = false)]
    pub model: Option<String>,
    /// Only events of this type, e.g. `version.stage_changed`.
    #[serde(rename = "type")]
    #[param(rename = "type", nullable = false, example = "version.stage_changed")]
    pub event_type: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub max_results: Option<i64>,
    /// Token from the previous page.
    #[param(nullable = false)]
    pub page_token: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListEventsResponse {
    /// Oldest first.
    pub events: Vec<Event>,
    /// Present when more events remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_events);
}

/// Reads the event feed. `user.*` and `token.*` events (the user directory
/// and the token inventory) are listed to admins only.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(ListEventsQuery),
    responses((status = 200, description = "A page of events, oldest first", body = ListEventsResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListEventsQuery>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    if let Some(after) = query.after
        && after < 0
    {
        return Err(Error::invalid(format!(
            "after must not be negative, got {after}"
        )));
    }
    if let Some(event_type) = &query.event_type
        && (event_type.len() > 100 || event_type.chars().any(char::is_control))
    {
        return Err(Error::invalid(
            "type must be an event type such as version.stage_changed",
        ));
    }
    let search = EventQuery {
        after: query.after,
        model: query
            .model
            .map(|name| ModelName::parse(name).map(|n| n.as_str().to_owned()))
            .transpose()?,
        event_type: query.event_type,
        max_results: page_size(query.max_results)?,
        page_token: query.page_token.filter(|t| !t.is_empty()),
        include_identity: false,
        ..EventQuery::default()
    };
    let page = state
        .db_as(caller, Op::Read, move |conn, actor| {
            let search = EventQuery {
                include_identity: Op::ReadIdentity.allowed(actor.role),
                ..search
            };
            events::list(conn, search)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListEventsResponse {
        events: page.items,
        next_page_token: page.next_page_token,
    }))
}
