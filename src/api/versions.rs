//! `/api/v1/models/{name}/versions`: versions, their tags, stage moves and trail.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::models::{SetTagRequest, TagResponse};
use crate::api::params::{ModelPath, TagKeyPath, VersionPath};
use crate::db::enums::Stage;
use crate::domain::access::Op;
use crate::domain::lifecycle::{self, Activity, Transition};
use crate::domain::types::{self, page_size};
use crate::domain::versions::{self, ModelVersion, NewVersion, VersionQuery};
use crate::error::{Error, Result};
use crate::web::AppState;
use crate::web::Caller;
use crate::web::routes::{ReadErrors, WriteErrors};

/// Body of `POST /api/v1/models/{name}/versions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"source": "s3://models/fraud-detector/7", "run_id": "run-7", "tags": {"framework": "sklearn"}}))]
#[serde(deny_unknown_fields)]
pub struct CreateVersionRequest {
    /// Artifact URI, e.g. `s3://bucket/models/fraud/7`.
    pub source: String,
    /// Producing run.
    pub run_id: Option<String>,
    /// Link to the run.
    pub run_link: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Initial tags.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Body of `PATCH /api/v1/models/{name}/versions/{version}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVersionRequest {
    /// New description (`null` clears it).
    #[serde(default, deserialize_with = "crate::api::present")]
    pub description: Option<Option<String>>,
}

/// Query of `GET /api/v1/models/{name}/versions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListVersionsQuery {
    /// Only versions in this stage.
    #[param(value_type = Option<Stage>, nullable = false)]
    pub stage: Option<String>,
    /// `version DESC` (default) or `version ASC`.
    #[param(nullable = false, example = "version DESC")]
    pub order_by: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub max_results: Option<i64>,
    /// Token from the previous page.
    #[param(nullable = false)]
    pub page_token: Option<String>,
}

/// A page of versions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListVersionsResponse {
    /// The versions of this page.
    pub versions: Vec<ModelVersion>,
    /// Present when more versions remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Query of `GET /api/v1/models/{name}/latest`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LatestQuery {
    /// The stage; without it, the newest version in any stage.
    #[param(value_type = Option<Stage>, nullable = false)]
    pub stage: Option<String>,
}

/// Body of `POST …/versions/{version}/stage`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionStageRequest {
    /// Target stage: None, Staging, Production or Archived.
    #[schema(value_type = Stage, example = "Staging")]
    pub stage: String,
    /// Archive the versions now in the target stage (Staging/Production only).
    #[serde(default)]
    pub archive_existing_versions: bool,
    /// Why.
    pub comment: Option<String>,
}

/// A version's audit trail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityResponse {
    /// Oldest first.
    pub activities: Vec<Activity>,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_model_version)
        .service(list_model_versions)
        .service(get_latest_model_version)
        .service(get_model_version)
        .service(update_model_version)
        .service(delete_model_version)
        .service(set_model_version_tag)
        .service(delete_model_version_tag)
        .service(transition_model_version_stage)
        .service(get_model_version_activity);
}

/// Registers a new version; its number is the model's next.
#[utoipa::path(
    post,
    path = "/models/{name}/versions",
    tag = "versions",
    params(ModelPath),
    request_body = CreateVersionRequest,
    responses((status = 201, description = "The registered version", body = ModelVersion), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/models/{name}/versions")]
pub async fn create_model_version(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    body: web::Json<CreateVersionRequest>,
) -> Result<HttpResponse> {
    let name = model.into_inner().parse()?;
    let body = body.into_inner();
    let new = NewVersion {
        source: types::source(body.source)?,
        run_id: types::optional_field("run_id", body.run_id, 256)?,
        run_link: types::optional_field("run_link", body.run_link, 4096)?,
        description: types::description(body.description)?,
        tags: types::tag_map(body.tags)?,
        storage_location: None,
        model_id: None,
    };
    let version = state
        .db_as(caller, Op::RegisterVersion, move |conn, actor| {
            versions::create(conn, &actor, &name, new)
        })
        .await?;
    Ok(HttpResponse::Created().json(version))
}

/// Lists a model's versions.
#[utoipa::path(
    get,
    path = "/models/{name}/versions",
    tag = "versions",
    params(ModelPath, ListVersionsQuery),
    responses((status = 200, description = "A page of versions", body = ListVersionsResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models/{name}/versions")]
pub async fn list_model_versions(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    model: web::Path<ModelPath>,
    query: web::Query<ListVersionsQuery>,
) -> Result<HttpResponse> {
    let name = model.into_inner().parse()?;
    let query = query.into_inner();
    let descending = match query.order_by.as_deref().map(str::trim) {
        None | Some("") => true,
        Some(text) => {
            let words: Vec<String> = text
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect();
            match words
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["version"] | ["version", "asc"] => false,
                ["version", "desc"] => true,
                _ => {
                    return Err(Error::invalid(format!(
                        "invalid order_by '{}': expected 'version ASC' or 'version DESC'",
                        text.escape_debug()
                    )));
                }
            }
        }
    };
    let search = VersionQuery {
        stage: query
            .stage
            .as_deref()
            .map(str::parse::<Stage>)
            .transpose()?,
        descending,
        max_results: page_size(query.max_results)?,
        page_token: query.page_token.filter(|t| !t.is_empty()),
    };
    state
        .read_json(caller, &req, move |conn| {
            let page = versions::list(conn, &name, search)?;
            Ok(ListVersionsResponse {
                versions: page.items,
                next_page_token: page.next_page_token,
            })
        })
        .await
}

/// The newest version of a model, optionally within one stage.
#[utoipa::path(
    get,
    path = "/models/{name}/latest",
    tag = "versions",
    params(ModelPath, LatestQuery),
    responses((status = 200, description = "The newest version (in the stage)", body = ModelVersion), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models/{name}/latest")]
pub async fn get_latest_model_version(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    model: web::Path<ModelPath>,
    query: web::Query<LatestQuery>,
) -> Result<HttpResponse> {
    let name = model.into_inner().parse()?;
    let stage = query
        .into_inner()
        .stage
        .as_deref()
        .map(str::parse::<Stage>)
        .transpose()?;
    state
        .read_json(caller, &req, move |conn| {
            versions::latest(conn, &name, stage)
        })
        .await
}

/// Reads a version.
#[utoipa::path(
    get,
    path = "/models/{name}/versions/{version}",
    tag = "versions",
    params(ModelPath, VersionPath),
    responses((status = 200, description = "The version", body = ModelVersion), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models/{name}/versions/{version}")]
pub async fn get_model_version(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    state
        .read_json(caller, &req, move |conn| {
            versions::get(conn, &name, version)
        })
        .await
}

/// Changes a version's description.
#[utoipa::path(
    patch,
    path = "/models/{name}/versions/{version}",
    tag = "versions",
    params(ModelPath, VersionPath),
    request_body = UpdateVersionRequest,
    responses((status = 200, description = "The changed version", body = ModelVersion), WriteErrors),
    security(("bearer_auth" = []))
)]
#[patch("/models/{name}/versions/{version}")]
pub async fn update_model_version(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
    body: web::Json<UpdateVersionRequest>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    let description = body
        .into_inner()
        .description
        .map(types::description)
        .transpose()?;
    let version = state
        .db_as(caller, Op::EditVersion, move |conn, actor| {
            versions::update(conn, &actor, &name, version, description)
        })
        .await?;
    Ok(HttpResponse::Ok().json(version))
}

/// Deletes a version; its number is never reused.
#[utoipa::path(
    delete,
    path = "/models/{name}/versions/{version}",
    tag = "versions",
    params(ModelPath, VersionPath),
    responses((status = 204, description = "Deleted; its number is never reused"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/models/{name}/versions/{version}")]
pub async fn delete_model_version(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    state
        .db_as(caller, Op::DeleteVersion, move |conn, actor| {
            versions::delete(conn, &actor, &name, version)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a tag on a version.
#[utoipa::path(
    put,
    path = "/models/{name}/versions/{version}/tags/{key}",
    tag = "versions",
    params(ModelPath, VersionPath, TagKeyPath),
    request_body = SetTagRequest,
    responses((status = 200, description = "The tag as set", body = TagResponse), WriteErrors),
    security(("bearer_auth" = []))
)]
#[put("/models/{name}/versions/{version}/tags/{key}")]
pub async fn set_model_version_tag(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
    tag: web::Path<TagKeyPath>,
    body: web::Json<SetTagRequest>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    let key = tag.into_inner().parse()?;
    let value = types::tag_value(body.into_inner().value)?;
    let response = TagResponse {
        key: key.as_str().to_owned(),
        value: value.clone(),
    };
    state
        .db_as(caller, Op::EditVersion, move |conn, actor| {
            versions::set_tag(conn, &actor, &name, version, &key, &value)
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Removes a tag from a version.
#[utoipa::path(
    delete,
    path = "/models/{name}/versions/{version}/tags/{key}",
    tag = "versions",
    params(ModelPath, VersionPath, TagKeyPath),
    responses((status = 204, description = "Deleted"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/models/{name}/versions/{version}/tags/{key}")]
pub async fn delete_model_version_tag(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
    tag: web::Path<TagKeyPath>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    let key = tag.into_inner().parse()?;
    state
        .db_as(caller, Op::EditVersion, move |conn, actor| {
            versions::delete_tag(conn, &actor, &name, version, &key)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Moves a version to another stage directly, where the policy allows the caller.
#[utoipa::path(
    post,
    path = "/models/{name}/versions/{version}/stage",
    tag = "versions",
    params(ModelPath, VersionPath),
    request_body = TransitionStageRequest,
    responses((status = 200, description = "The moved version", body = ModelVersion), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/models/{name}/versions/{version}/stage")]
pub async fn transition_model_version_stage(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
    body: web::Json<TransitionStageRequest>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    let body = body.into_inner();
    let transition = Transition {
        to: body.stage.parse()?,
        archive_existing_versions: body.archive_existing_versions,
        comment: types::comment(body.comment)?,
    };
    let policy = state.policy.clone();
    let version = state
        // Any authenticated user may ask; the policy's `direct` role decides.
        .db_as(caller, Op::MoveStage, move |conn, actor| {
            versions::transition(conn, &actor, &policy, &name, version, transition)
        })
        .await?;
    Ok(HttpResponse::Ok().json(version))
}

/// A version's audit trail, oldest first.
#[utoipa::path(
    get,
    path = "/models/{name}/versions/{version}/activity",
    tag = "versions",
    params(ModelPath, VersionPath),
    responses((status = 200, description = "The audit trail, oldest first", body = ActivityResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models/{name}/versions/{version}/activity")]
pub async fn get_model_version_activity(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    version: web::Path<VersionPath>,
) -> Result<HttpResponse> {
    let (name, version) = (model.into_inner().parse()?, version.into_inner().parse()?);
    let activities = state
        .db_as(caller, Op::Read, move |conn, _| {
            lifecycle::trail(conn, &name, version)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ActivityResponse { activities }))
}
