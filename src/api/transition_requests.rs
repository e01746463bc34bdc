//! Transition requests (the approval gate) and `/api/v1/policy`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::params::{IdPath, ModelPath, VersionPath};
use crate::db::enums::RequestStatus;
use crate::db::enums::Stage;
use crate::domain::access::Op;
use crate::domain::lifecycle::Transition;
use crate::domain::policy::{AliasRule, Guard, Rule};
use crate::domain::requests::{self, ApproveOutcome, RequestQuery, TransitionRequest, Wanted};
use crate::domain::types::{self, Alias, ModelName, RequestId, VersionNumber, page_size};
use crate::error::{Error, Result};
use crate::web::AppState;
use crate::web::Caller;
use crate::web::error::Transport;
use crate::web::routes::{ReadErrors, WriteErrors};

/// Body of `POST …/versions/{version}/transition-requests`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransitionRequestRequest {
    /// Target stage: None, Staging, Production or Archived. Give this or `alias`.
    #[schema(value_type = Option<Stage>, example = "Production")]
    pub stage: Option<String>,
    /// A guarded alias that should name the version (e.g. `champion`), instead of a stage.
    pub alias: Option<String>,
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
#[into_params(parameter_in = Query)]
pub struct ListRequestsQuery {
    /// pending, applied, rejected, cancelled or stale.
    #[param(value_type = Option<RequestStatus>, nullable = false)]
    pub status: Option<String>,
    /// Only requests for this model.
    #[param(nullable = false)]
    pub model: Option<String>,
    /// Only requests for this version (with `model`).
    #[param(nullable = false, minimum = 1)]
    pub version: Option<i64>,
    /// Only requests to this stage.
    #[param(value_type = Option<Stage>, nullable = false)]
    pub stage: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub max_results: Option<i64>,
    /// Token from the previous page.
    #[param(nullable = false)]
    pub page_token: Option<String>,
}

/// A page of requests.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
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
    /// The guarded stages: each is entered only through its gate, or as the
    /// rollback of a version that was in it before.
    pub guards: Vec<Guard>,
    /// The guarded aliases, in the order they are matched (exact names win over globs).
    pub alias_rules: Vec<AliasRule>,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_transition_request)
        .service(list_transition_requests)
        .service(get_transition_request)
        .service(approve_transition_request)
        .service(reject_transition_request)
        .service(cancel_transition_request)
        .service(get_policy);
}

/// An optional JSON body: empty means `{}`; anything else must be JSON,
/// declared as such.
fn decision(req: &HttpRequest, body: &web::Bytes) -> actix_web::Result<Option<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let declared_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !declared_json {
        return Err(Transport::not_json().into());
    }
    let parsed: Option<DecisionRequest> = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("invalid request body: {e}")))?;
    Ok(types::comment(parsed.and_then(|p| p.comment))?)
}

/// Opens a request to move a version, or to point a guarded alias at it.
#[utoipa::path(
    post,
    path = "/models/{name}/versions/{version}/transition-requests",
    tag = "transition-requests",
    params(ModelPath, VersionPath),
    request_body = CreateTransitionRequestRequest,
    responses((status = 201, description = "The pending request", body = TransitionRequest), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/models/{name}/versions/{version}/transition-requests")]
pub async fn create_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
    body: web::Json<CreateTransitionRequestRequest>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    let body = body.into_inner();
    let comment = types::comment(body.comment)?;
    let wanted = match (body.stage, body.alias) {
        (Some(stage), None) => Wanted::Move(Transition {
            to: stage.parse()?,
            archive_existing_versions: body.archive_existing_versions,
            comment,
        }),
        (None, Some(alias)) if !body.archive_existing_versions => Wanted::Alias {
            alias: Alias::parse(alias)?,
            comment,
        },
        (None, Some(_)) => {
            return Err(Error::invalid(
                "archive_existing_versions applies to a stage move, not to an alias",
            ));
        }
        _ => {
            return Err(Error::invalid(
                "a transition request needs either `stage` or `alias`, not both",
            ));
        }
    };
    let policy = state.policy.clone();
    let request = state
        .db_as(caller, Op::OpenRequest, move |conn, actor| {
            requests::create(conn, &actor, &policy, &name, version, wanted)
        })
        .await?;
    Ok(HttpResponse::Created().json(request))
}

/// Lists requests, newest first.
#[utoipa::path(
    get,
    path = "/transition-requests",
    tag = "transition-requests",
    params(ListRequestsQuery),
    responses((status = 200, description = "A page of requests", body = ListRequestsResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/transition-requests")]
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
        ..RequestQuery::default()
    };
    let page = state
        .db_as(caller, Op::Read, move |conn, _| {
            requests::list(conn, search)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListRequestsResponse {
        requests: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Reads one request.
#[utoipa::path(
    get,
    path = "/transition-requests/{id}",
    tag = "transition-requests",
    params(IdPath),
    responses((status = 200, description = "The request", body = TransitionRequest), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/transition-requests/{id}")]
pub async fn get_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("request")?;
    let request = state
        .db_as(caller, Op::Read, move |conn, _| {
            requests::get(conn, RequestId::new(id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// Approves a request; the last needed approval applies the move.
#[utoipa::path(
    post,
    path = "/transition-requests/{id}/approve",
    tag = "transition-requests",
    params(IdPath),
    request_body = Option<DecisionRequest>,
    responses((status = 200, description = "The request; applied when this approval was the last needed", body = TransitionRequest), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/transition-requests/{id}/approve")]
pub async fn approve_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> actix_web::Result<HttpResponse> {
    let id = id.into_inner().parse("request")?;
    let comment = decision(&req, &body)?;
    let policy = state.policy.clone();
    let outcome = state
        .db_as(caller, Op::DecideRequest, move |conn, actor| {
            requests::approve(conn, &actor, &policy, RequestId::new(id), comment)
        })
        .await?;
    match outcome {
        ApproveOutcome::Approved(request) | ApproveOutcome::Applied(request) => {
            Ok(HttpResponse::Ok().json(request))
        }
        ApproveOutcome::Stale(request) => Err(Error::Conflict(format!(
            "version {} of '{}' is no longer in {}: request {id} is now stale",
            request.version, request.name, request.from_stage
        ))
        .into()),
    }
}

/// Rejects a request.
#[utoipa::path(
    post,
    path = "/transition-requests/{id}/reject",
    tag = "transition-requests",
    params(IdPath),
    request_body = Option<DecisionRequest>,
    responses((status = 200, description = "The rejected request", body = TransitionRequest), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/transition-requests/{id}/reject")]
pub async fn reject_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> actix_web::Result<HttpResponse> {
    let id = id.into_inner().parse("request")?;
    let comment = decision(&req, &body)?;
    let request = state
        .db_as(caller, Op::DecideRequest, move |conn, actor| {
            requests::reject(conn, &actor, RequestId::new(id), comment)
        })
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// Cancels a request (its requester or an admin).
#[utoipa::path(
    post,
    path = "/transition-requests/{id}/cancel",
    tag = "transition-requests",
    params(IdPath),
    request_body = Option<DecisionRequest>,
    responses((status = 200, description = "The cancelled request", body = TransitionRequest), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/transition-requests/{id}/cancel")]
pub async fn cancel_transition_request(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> actix_web::Result<HttpResponse> {
    let id = id.into_inner().parse("request")?;
    let comment = decision(&req, &body)?;
    let request = state
        .db_as(caller, Op::CancelRequest, move |conn, actor| {
            requests::cancel(conn, &actor, RequestId::new(id), comment)
        })
        .await?;
    Ok(HttpResponse::Ok().json(request))
}

/// The lifecycle rules in force.
#[utoipa::path(
    get,
    path = "/policy",
    tag = "policy",
    responses((status = 200, description = "The rules in force", body = PolicyResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/policy")]
pub async fn get_policy(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse> {
    state.db_as(caller, Op::Read, |_, _| Ok(())).await?;
    Ok(HttpResponse::Ok().json(PolicyResponse {
        rules: state.policy.rules().copied().collect(),
        guards: state.policy.guards().cloned().collect(),
        alias_rules: state.policy.alias_rules().cloned().collect(),
    }))
}
