//! Transition requests (the approval gate) and `/api/v1/policy`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::api::{AppState, method_not_allowed};
use crate::auth::{Caller, Role};
use crate::domain::policy::Rule;
use crate::domain::requests::{
    self, ApproveOutcome, RequestQuery, RequestStatus, TransitionRequest,
};
use crate::domain::stage::Stage;
use crate::domain::types::{self, ModelName, VersionNumber, page_size};
use crate::domain::versions::Transition;
use crate::error::{Error, Result};

/// Body of `POST …/versions/{version}/transition-requests`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransitionRequestRequest {
    /// Target stage: None, Staging, Production or Archived.
    pub stage: String,
    /// Archive the versions in the target stage when applied (Staging/Production only).
    #[serde(default)]
    pub archive_existing_versions: bool,
    /// Why.
    pub comment: Option<String>,
}

/// Body of approve, reject and cancel (may be empty).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Why.
    pub comment: Option<String>,
}

/// Query of `GET /api/v1/transition-requests`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListRequestsQuery {
    /// pending, applied, rejected, cancelled or stale.
    pub status: Option<String>,
    /// Only requests for this model.
    pub model: Option<String>,
    /// Only requests for this version (with `model`).
    pub version: Option<i64>,
    /// Only requests to this stage.
    pub stage: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub max_results: Option<i64>,
    /// Token from the previous page.
    pub page_token: Option<String>,
}

/// A page of requests.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListRequestsResponse {
    /// Newest first.
    pub requests: Vec<TransitionRequest>,
    /// Present when more requests remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The lifecycle rules in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyResponse {
    /// Every allowed move; a move without a rule is never allowed.
    pub rules: Vec<Rule>,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/models/{name}/versions/{version}/transition-requests")
            .route(web::post().to(create_transition_request))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/transition-requests")
            .route(web::get().to(list_transition_requests))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/transition-requests/{id}")
            .route(web::get().to(get_transition_request))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/transition-requests/{id}/approve")
            .route(web::post().to(approve_transition_request))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/transition-requests/{id}/reject")
            .route(web::post().to(reject_transition_request))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/transition-requests/{id}/cancel")
            .route(web::post().to(cancel_transition_request))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/policy")
            .route(web::get().to(get_policy))
            .default_service(method_not_allowed("GET")),
    );
}

fn request_id(text: &str) -> Result<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::invalid(format!(
                "request id must be a positive integer, got '{}'",
                text.escape_debug()
            ))
        })
}

/// An optional JSON body: empty means `{}`; anything else must be valid JSON.
fn decision(body: &web::Bytes) -> Result<Option<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let parsed: DecisionRequest = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("invalid request body: {e}")))?;
    types::comment(parsed.comment)
}

/// Opens a request to move a version.
pub async fn create_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<CreateTransitionRequestRequest>,
) -> Result<HttpResponse> {
    let (name, version) = path.into_inner();
    let name = ModelName::parse(name)?;
    let version = VersionNumber::parse(&version)?;
    let body = body.into_inner();
    let wanted = Transition {
        to: body.stage.parse()?,
        archive_existing_versions: body.archive_existing_versions,
        comment: types::comment(body.comment)?,
    };
    let policy = state.policy.clone();
    let request = state
        .db_as(caller, Role::Contributor, move |conn, actor| {
            requests::create(conn, &actor, &policy, &name, version, wanted)
        })
        .await?;
    Ok(HttpResponse::Created().json(request))
}

/// Lists requests, newest first.
pub async fn list_transition_requests(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListRequestsQuery>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    let search = RequestQuery {
        status: query
            .status
            .as_deref()
            .map(str::parse::<RequestStatus>)
            .transpose()?,
        model: query.model.map(ModelName::parse).transpose()?,
        version: query.version.map(VersionNumber::new).transpose()?,
        to_stage: query
            .stage
            .as_deref()
            .map(str::parse::<Stage>)
            .transpose()?,
        max_results: page_size(query.max_results)?,
        page_token: query.page_token.filter(|t| !t.is_empty()),
    };
    let page = state
        .db_as(caller, Role::Viewer, move |conn, _| {
            requests::list(conn, search)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListRequestsResponse {
        requests: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Reads one request.
pub async fn get_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = request_id(&path.into_inner())?;
    let request = state
        .db_as(caller, Role::Viewer, move |conn, _| requests::get(conn, id))
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// Approves a request; the last needed approval applies the move.
pub async fn approve_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let id = request_id(&path.into_inner())?;
    let comment = decision(&body)?;
    let outcome = state
        .db_as(caller, Role::Approver, move |conn, actor| {
            requests::approve(conn, &actor, id, comment)
        })
        .await?;
    match outcome {
        ApproveOutcome::Approved(request) | ApproveOutcome::Applied(request) => {
            Ok(HttpResponse::Ok().json(request))
        }
        ApproveOutcome::Stale(request) => Err(Error::Conflict(format!(
            "version {} of '{}' is no longer in {}: request {id} is now stale",
            request.version, request.name, request.from_stage
        ))),
    }
}

/// Rejects a request.
pub async fn reject_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let id = request_id(&path.into_inner())?;
    let comment = decision(&body)?;
    let request = state
        .db_as(caller, Role::Approver, move |conn, actor| {
            requests::reject(conn, &actor, id, comment)
        })
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// Cancels a request (its requester or an admin).
pub async fn cancel_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let id = request_id(&path.into_inner())?;
    let comment = decision(&body)?;
    let request = state
        .db_as(caller, Role::Contributor, move |conn, actor| {
            requests::cancel(conn, &actor, id, comment)
        })
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// The lifecycle rules in force.
pub async fn get_policy(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse> {
    state.db_as(caller, Role::Viewer, |_, _| Ok(())).await?;
    Ok(HttpResponse::Ok().json(PolicyResponse {
        rules: state.policy.rules().copied().collect(),
    }))
}
