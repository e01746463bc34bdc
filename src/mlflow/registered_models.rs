//! `/api/2.0/mlflow/registered-models/*`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::db::DbConn;
use crate::db::enums::Stage;
use crate::domain::access::Op;
use crate::domain::model_search::{self, ModelOrder, ModelQuery};
use crate::domain::models::{self, ModelChanges, NewModel};
use crate::domain::types::{self, Alias, ModelName, TagKey};
use crate::domain::{aliases, filter};
use crate::error::{Entity, Error};
use crate::mlflow::{
    MResult, MlflowCaller, MlflowError, Params, alias_to_set, empty, missing_is_fine,
    new_model_name, page_answer, shapes, tag_key, version_param,
};
use crate::web::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/registered-models/create", web::post().to(create))
        .route("/registered-models/rename", web::post().to(rename))
        .route("/registered-models/update", web::patch().to(update))
        .route("/registered-models/delete", web::delete().to(delete))
        .route("/registered-models/get", web::get().to(get))
        .route("/registered-models/search", web::get().to(search))
        .route(
            "/registered-models/get-latest-versions",
            web::get().to(latest_versions_query),
        )
        .route(
            "/registered-models/get-latest-versions",
            web::post().to(latest_versions_body),
        )
        .route("/registered-models/set-tag", web::post().to(set_tag))
        .route(
            "/registered-models/delete-tag",
            web::delete().to(delete_tag),
        )
        .route("/registered-models/alias", web::post().to(set_alias))
        .route("/registered-models/alias", web::delete().to(delete_alias))
        .route("/registered-models/alias", web::get().to(get_alias));
}

fn answer(key: &str, value: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({ key: value }))
}

async fn create(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let new = NewModel {
        name: new_model_name(params.required("name")?)?,
        description: types::description(params.text("description")?)?,
        tags: params.tags()?,
    };
    let model = state
        .db_as(caller, Op::RegisterModel, move |conn, actor| {
            models::create(conn, &actor, new)
        })
        .await?;
    Ok(answer("registered_model", shapes::registered_model(&model)))
}

async fn rename(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    let changes = ModelChanges {
        new_name: Some(new_model_name(params.required("new_name")?)?),
        description: None,
    };
    apply_changes(state, caller, name, changes).await
}

async fn update(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    // as MLflow: an update without a description clears it
    let changes = ModelChanges {
        new_name: None,
        description: Some(types::description(params.text("description")?)?),
    };
    apply_changes(state, caller, name, changes).await
}

/// Renames or updates a model and answers it as MLflow does (its latest
/// versions in MLflow's order).
async fn apply_changes(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    name: ModelName,
    changes: ModelChanges,
) -> MResult<HttpResponse> {
    let policy = state.policy.clone();
    let model = state
        .db_as(caller, Op::EditModel, move |conn, actor| {
            let mut model = models::update(conn, &actor, &policy, &name, changes)?;
            let current = ModelName::parse(model.name.clone())?;
            in_mlflow_order(conn, &current, &mut model.latest_versions)?;
            Ok(model)
        })
        .await?;
    Ok(answer("registered_model", shapes::registered_model(&model)))
}

async fn delete(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    state
        .db_as(caller, Op::DeleteModel, move |conn, actor| {
            models::delete(conn, &actor, &name)
        })
        .await?;
    Ok(empty())
}

async fn get(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    req: HttpRequest,
) -> MResult<HttpResponse> {
    let params = Params::from_query(req.query_string());
    let name = ModelName::parse(params.required("name")?)?;
    state
        .read_json(caller, &req, move |conn| {
            let mut model = models::get(conn, &name)?;
            in_mlflow_order(conn, &name, &mut model.latest_versions)?;
            Ok(json!({ "registered_model": shapes::registered_model(&model) }))
        })
        .await
        .map_err(MlflowError)
}

/// Sorts a model's latest versions as MLflow's server lists them: their
/// stages by the lowest version number in each.
fn in_mlflow_order(
    conn: &mut DbConn,
    name: &ModelName,
    latest: &mut [crate::domain::versions::ModelVersion],
) -> crate::error::Result<()> {
    let stages = models::stages_by_first_version(conn, name)?;
    latest.sort_by_key(|v| stages.iter().position(|s| *s == v.current_stage));
    Ok(())
}

/// One `order_by` key of a model search: MLflow's server takes `name`,
/// `timestamp` and `last_updated_timestamp`.
fn model_order_key(text: &str) -> MResult<ModelOrder> {
    let key = text.split_whitespace().next().unwrap_or_default();
    if !matches!(key, "name" | "timestamp" | "last_updated_timestamp") {
        return Err(Error::invalid(format!(
            "Invalid order by key '{key}' specified. Valid keys are '{{'name', 'timestamp'}}'"
        ))
        .into());
    }
    Ok(ModelOrder::parse(text)?)
}

/// MLflow's `order_by` list: one sort key (a trailing `name ASC` tiebreak is
/// what modelgate does anyway).
fn model_order(order_by: &[String]) -> MResult<ModelOrder> {
    let mut keys = order_by.iter().map(|o| o.trim()).filter(|o| !o.is_empty());
    let Some(first) = keys.next() else {
        return Ok(ModelOrder::default());
    };
    let order = model_order_key(first)?;
    for extra in keys {
        let parsed = model_order_key(extra)?;
        if parsed.key == order.key {
            return Err(Error::invalid(format!("order_by has `{first}` twice")).into());
        }
        if parsed != ModelOrder::default() {
            return Err(Error::invalid(
                "order_by supports one key (optionally followed by `name ASC`)",
            )
            .into());
        }
    }
    Ok(order)
}

async fn search(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    req: HttpRequest,
) -> MResult<HttpResponse> {
    let params = Params::from_query(req.query_string());
    let max_results = match params.integer("max_results")? {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(n) => {
            return Err(Error::invalid(format!(
                "Invalid value for request parameter max_results. It must be at most 1000, but got value {n}"
            ))
            .into());
        }
    };
    let (filter, exclude_prompts) =
        filter::without_prompts(filter::parse(&params.text("filter")?.unwrap_or_default())?);
    let query = ModelQuery {
        filter,
        order: model_order(&params.list("order_by")?)?,
        max_results,
        page_token: params.text("page_token")?.filter(|t| !t.is_empty()),
        exclude_prompts,
    };
    state
        .read_json(caller, &req, move |conn| {
            let mut page = model_search::list(conn, query)?;
            for model in &mut page.items {
                // MLflow's search reads the latest versions with a window
                // over (name, stage): they come in the stages' alphabetical order
                model
                    .latest_versions
                    .sort_by(|a, b| a.current_stage.as_str().cmp(b.current_stage.as_str()));
            }
            Ok(page_answer(
                "registered_models",
                page.items.iter().map(shapes::registered_model).collect(),
                page.next_page_token,
            ))
        })
        .await
        .map_err(MlflowError)
}

/// The model and stages a get-latest-versions request names.
fn latest_params(params: &Params) -> MResult<(ModelName, Vec<Stage>)> {
    let name = ModelName::parse(params.required("name")?)?;
    let stages = params
        .list("stages")?
        .iter()
        .map(|s| crate::mlflow::stage(s))
        .collect::<MResult<Vec<_>>>()?;
    Ok((name, stages))
}

/// The newest version in each stage (of `stages`, or every stage).
fn latest_answer(
    conn: &mut DbConn,
    name: &ModelName,
    stages: &[Stage],
) -> crate::error::Result<Value> {
    let mut model = models::get(conn, name)?;
    in_mlflow_order(conn, name, &mut model.latest_versions)?;
    let versions: Vec<Value> = model
        .latest_versions
        .iter()
        .filter(|v| stages.is_empty() || stages.contains(&v.current_stage))
        .map(shapes::model_version)
        .collect();
    Ok(page_answer("model_versions", versions, None))
}

async fn latest_versions_query(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    req: HttpRequest,
) -> MResult<HttpResponse> {
    let (name, stages) = latest_params(&Params::from_query(req.query_string()))?;
    latest_versions(state, caller, name, stages).await
}

/// The latest versions, read through the cache under one key for the GET
/// and the POST form (the MLflow client reads them with the POST).
async fn latest_versions(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    name: ModelName,
    stages: Vec<Stage>,
) -> MResult<HttpResponse> {
    let key = format!("mlflow get-latest-versions {name:?} {stages:?}");
    state
        .read_json_as(caller, key, move |conn| latest_answer(conn, &name, &stages))
        .await
        .map_err(MlflowError)
}

async fn latest_versions_body(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let (name, stages) = latest_params(&Params::from_body(body.into_inner())?)?;
    latest_versions(state, caller, name, stages).await
}

async fn set_tag(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    let key = tag_key(params.required("key")?)?;
    let value = types::tag_value(params.text("value")?.unwrap_or_default())?;
    state
        .db_as(caller, Op::EditModel, move |conn, actor| {
            models::set_tag(conn, &actor, &name, &key, &value)
        })
        .await?;
    Ok(empty())
}

async fn delete_tag(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    let key = TagKey::parse(params.required("key")?)?;
    state
        .db_as(caller, Op::EditModel, move |conn, actor| {
            // MLflow: deleting a tag that is not set changes nothing; a missing model is 404
            models::get(conn, &name)?;
            missing_is_fine(models::delete_tag(conn, &actor, &name, &key))
        })
        .await?;
    Ok(empty())
}

async fn set_alias(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    let alias = alias_to_set(params.required("alias")?)?;
    let version = version_param(&params, &name)?;
    let policy = state.policy.clone();
    state
        .db_as(caller, Op::SetAlias, move |conn, actor| {
            aliases::set_alias(conn, &actor, &policy, &name, &alias, version)
        })
        .await?;
    Ok(empty())
}

async fn delete_alias(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    let alias = Alias::parse(params.required("alias")?)?;
    let policy = state.policy.clone();
    state
        .db_as(caller, Op::SetAlias, move |conn, actor| {
            models::get(conn, &name)?;
            missing_is_fine(aliases::delete_alias(conn, &actor, &policy, &name, &alias))
        })
        .await?;
    Ok(empty())
}

async fn get_alias(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    req: HttpRequest,
) -> MResult<HttpResponse> {
    let params = Params::from_query(req.query_string());
    let name = ModelName::parse(params.required("name")?)?;
    let alias = Alias::parse(params.required("alias")?)?;
    state
        .read_json(caller, &req, move |conn| {
            let version = aliases::get_alias(conn, &name, &alias).map_err(|error| match error {
                // as MLflow: a missing alias (of a model that exists) is a bad parameter
                Error::NotFound(Entity::Alias { .. }) => Error::invalid(format!(
                    "Registered model alias {} not found.",
                    alias.as_str()
                )),
                other => other,
            })?;
            Ok(json!({ "model_version": shapes::model_version(&version) }))
        })
        .await
        .map_err(MlflowError)
}
