//! `/api/v1/models`: registered models, their tags and aliases.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::params::{AliasPath, ModelPath, TagKeyPath};
use crate::domain::access::Op;
use crate::domain::history::{self, ModelHistory};
use crate::domain::model_search::{self, ModelOrder, ModelQuery};
use crate::domain::models::{self, ModelChanges, NewModel, RegisteredModel};
use crate::domain::types::{self, ModelName, VersionNumber, page_size};
use crate::domain::versions::ModelVersion;
use crate::domain::{aliases, filter};
use crate::error::Result;
use crate::web::AppState;
use crate::web::Caller;
use crate::web::routes::{ReadErrors, WriteErrors};

/// Body of `POST /api/v1/models`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "fraud-detector", "description": "Flags risky payments", "tags": {"team": "risk"}}))]
#[serde(deny_unknown_fields)]
pub struct CreateModelRequest {
    /// Unique name: 1–256 characters, no `/` or control characters.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Initial tags.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Body of `PATCH /api/v1/models/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateModelRequest {
    /// New name (rename).
    pub name: Option<String>,
    /// New description (`null` clears it).
    #[serde(default, deserialize_with = "crate::api::present")]
    pub description: Option<Option<String>>,
}

/// Query of `GET /api/v1/models`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListModelsQuery {
    /// e.g. `name LIKE 'fraud%' AND tags.team = 'risk'`.
    #[param(
        nullable = false,
        example = "name LIKE 'fraud%' AND tags.team = 'risk'"
    )]
    pub filter: Option<String>,
    /// `name`, `creation_timestamp` or `last_updated_timestamp`, then `ASC` or `DESC`.
    #[param(nullable = false, example = "last_updated_timestamp DESC")]
    pub order_by: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub max_results: Option<i64>,
    /// Token from the previous page.
    #[param(nullable = false)]
    pub page_token: Option<String>,
}

/// A page of models.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListModelsResponse {
    /// The models of this page.
    pub models: Vec<RegisteredModel>,
    /// Present when more models remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Body of `PUT …/tags/{key}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTagRequest {
    /// Tag value (up to 5000 characters).
    pub value: String,
}

/// A tag as set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TagResponse {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Body of `PUT …/aliases/{alias}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAliasRequest {
    /// The version the alias points at.
    pub version: i64,
}

/// An alias as set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AliasResponse {
    /// The alias.
    pub alias: String,
    /// The version it points at.
    pub version: i64,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_model)
        .service(list_models)
        .service(get_model)
        .service(update_model)
        .service(delete_model)
        .service(set_model_tag)
        .service(delete_model_tag)
        .service(set_model_alias)
        .service(get_model_alias)
        .service(delete_model_alias)
        .service(get_model_history);
}

/// Registers a new model.
#[utoipa::path(
    post,
    path = "/models",
    tag = "models",
    request_body = CreateModelRequest,
    responses((status = 201, description = "The created model", body = RegisteredModel), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/models")]
pub async fn create_model(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateModelRequest>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let new = NewModel {
        name: ModelName::parse(body.name)?,
        description: types::description(body.description)?,
        tags: types::tag_map(body.tags)?,
    };
    let model = state
        .db_as(caller, Op::RegisterModel, move |conn, actor| {
            models::create(conn, &actor, new)
        })
        .await?;
    Ok(HttpResponse::Created().json(model))
}

/// Searches models.
#[utoipa::path(
    get,
    path = "/models",
    tag = "models",
    params(ListModelsQuery),
    responses((status = 200, description = "A page of models", body = ListModelsResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models")]
pub async fn list_models(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<ListModelsQuery>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    let search = ModelQuery {
        filter: filter::parse(query.filter.as_deref().unwrap_or(""))?,
        order: match query.order_by.as_deref() {
            Some(text) if !text.trim().is_empty() => ModelOrder::parse(text)?,
            _ => ModelOrder::default(),
        },
        max_results: page_size(query.max_results)?,
        page_token: query.page_token.filter(|t| !t.is_empty()),
        exclude_prompts: false,
    };
    state
        .read_json(caller, &req, move |conn| {
            let page = model_search::list(conn, search)?;
            Ok(ListModelsResponse {
                models: page.items,
                next_page_token: page.next_page_token,
            })
        })
        .await
}

/// Reads a model.
#[utoipa::path(
    get,
    path = "/models/{name}",
    tag = "models",
    params(ModelPath),
    responses((status = 200, description = "The model", body = RegisteredModel), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models/{name}")]
pub async fn get_model(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    model: web::Path<ModelPath>,
) -> Result<HttpResponse> {
    let name = model.into_inner().parse()?;
    state
        .read_json(caller, &req, move |conn| models::get(conn, &name))
        .await
}

/// Renames a model or changes its description.
#[utoipa::path(
    patch,
    path = "/models/{name}",
    tag = "models",
    params(ModelPath),
    request_body = UpdateModelRequest,
    responses((status = 200, description = "The changed model", body = RegisteredModel), WriteErrors),
    security(("bearer_auth" = []))
)]
#[patch("/models/{name}")]
pub async fn update_model(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    body: web::Json<UpdateModelRequest>,
) -> Result<HttpResponse> {
    let name = model.into_inner().parse()?;
    let body = body.into_inner();
    let changes = ModelChanges {
        new_name: body.name.map(ModelName::parse).transpose()?,
        description: body.description.map(types::description).transpose()?,
    };
    let policy = state.policy.clone();
    let model = state
        .db_as(caller, Op::EditModel, move |conn, actor| {
            models::update(conn, &actor, &policy, &name, changes)
        })
        .await?;
    Ok(HttpResponse::Ok().json(model))
}

/// Deletes a model with all its versions.
#[utoipa::path(
    delete,
    path = "/models/{name}",
    tag = "models",
    params(ModelPath),
    responses((status = 204, description = "Deleted, with its versions, tags and aliases"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/models/{name}")]
pub async fn delete_model(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
) -> Result<HttpResponse> {
    let name = model.into_inner().parse()?;
    state
        .db_as(caller, Op::DeleteModel, move |conn, actor| {
            models::delete(conn, &actor, &name)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a tag on a model.
#[utoipa::path(
    put,
    path = "/models/{name}/tags/{key}",
    tag = "models",
    params(ModelPath, TagKeyPath),
    request_body = SetTagRequest,
    responses((status = 200, description = "The tag as set", body = TagResponse), WriteErrors),
    security(("bearer_auth" = []))
)]
#[put("/models/{name}/tags/{key}")]
pub async fn set_model_tag(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    tag: web::Path<TagKeyPath>,
    body: web::Json<SetTagRequest>,
) -> Result<HttpResponse> {
    let (name, key) = (model.into_inner().parse()?, tag.into_inner().parse()?);
    let value = types::tag_value(body.into_inner().value)?;
    let response = TagResponse {
        key: key.as_str().to_owned(),
        value: value.clone(),
    };
    state
        .db_as(caller, Op::EditModel, move |conn, actor| {
            models::set_tag(conn, &actor, &name, &key, &value)
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Removes a tag from a model.
#[utoipa::path(
    delete,
    path = "/models/{name}/tags/{key}",
    tag = "models",
    params(ModelPath, TagKeyPath),
    responses((status = 204, description = "Deleted"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/models/{name}/tags/{key}")]
pub async fn delete_model_tag(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    tag: web::Path<TagKeyPath>,
) -> Result<HttpResponse> {
    let (name, key) = (model.into_inner().parse()?, tag.into_inner().parse()?);
    state
        .db_as(caller, Op::EditModel, move |conn, actor| {
            models::delete_tag(conn, &actor, &name, &key)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Points an alias at a version.
#[utoipa::path(
    put,
    path = "/models/{name}/aliases/{alias}",
    tag = "models",
    params(ModelPath, AliasPath),
    request_body = SetAliasRequest,
    responses((status = 200, description = "The alias as set", body = AliasResponse), WriteErrors),
    security(("bearer_auth" = []))
)]
#[put("/models/{name}/aliases/{alias}")]
pub async fn set_model_alias(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    alias: web::Path<AliasPath>,
    body: web::Json<SetAliasRequest>,
) -> Result<HttpResponse> {
    let (name, alias) = (model.into_inner().parse()?, alias.into_inner().parse()?);
    let version = VersionNumber::new(body.into_inner().version)?;
    let response = AliasResponse {
        alias: alias.as_str().to_owned(),
        version: version.get(),
    };
    let policy = state.policy.clone();
    state
        .db_as(caller, Op::SetAlias, move |conn, actor| {
            aliases::set_alias(conn, &actor, &policy, &name, &alias, version)
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
}

/// The version an alias points at.
#[utoipa::path(
    get,
    path = "/models/{name}/aliases/{alias}",
    tag = "models",
    params(ModelPath, AliasPath),
    responses((status = 200, description = "The version the alias points at", body = ModelVersion), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models/{name}/aliases/{alias}")]
pub async fn get_model_alias(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    alias: web::Path<AliasPath>,
) -> Result<HttpResponse> {
    let (name, alias) = (model.into_inner().parse()?, alias.into_inner().parse()?);
    let version: ModelVersion = state
        .db_as(caller, Op::Read, move |conn, _| {
            aliases::get_alias(conn, &name, &alias)
        })
        .await?;
    Ok(HttpResponse::Ok().json(version))
}

/// Query of `GET /api/v1/models/{name}/history`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The instant: an RFC 3339 time or milliseconds since the epoch
    /// (default: now). The answer holds after every event stamped up to the
    /// end of that millisecond.
    #[param(nullable = false, example = "2026-11-30T12:00:00Z")]
    pub at: Option<String>,
}

/// What a name's stages and aliases resolved to at an instant: the model
/// that held the name then, the newest version in each stage and the version
/// of each alias, each with the event (id and chain hash) that made it so.
#[utoipa::path(
    get,
    path = "/models/{name}/history",
    tag = "models",
    params(ModelPath, HistoryQuery),
    responses((status = 200, description = "What the name resolved to at the instant", body = ModelHistory), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/models/{name}/history")]
pub async fn get_model_history(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    model: web::Path<ModelPath>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse> {
    let name = model.into_inner().parse()?;
    let at = query
        .into_inner()
        .at
        .as_deref()
        .map(history::parse_instant)
        .transpose()?;
    state
        .read_json(caller, &req, move |conn| history::at(conn, &name, at))
        .await
}

/// Removes an alias.
#[utoipa::path(
    delete,
    path = "/models/{name}/aliases/{alias}",
    tag = "models",
    params(ModelPath, AliasPath),
    responses((status = 204, description = "Deleted"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/models/{name}/aliases/{alias}")]
pub async fn delete_model_alias(
    state: web::Data<AppState>,
    caller: Caller,
    model: web::Path<ModelPath>,
    alias: web::Path<AliasPath>,
) -> Result<HttpResponse> {
    let (name, alias) = (model.into_inner().parse()?, alias.into_inner().parse()?);
    let policy = state.policy.clone();
    state
        .db_as(caller, Op::SetAlias, move |conn, actor| {
            aliases::delete_alias(conn, &actor, &policy, &name, &alias)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
