//! `/api/2.0/mlflow/model-versions/*`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::domain::access::Op;
use crate::domain::filter;
use crate::domain::lifecycle::Transition;
use crate::domain::types::{self, ModelName, TagKey, VersionNumber};
use crate::domain::version_search::{self, VersionOrder, VersionSearch, VersionSortKey};
use crate::domain::versions::{self, NewVersion};
use crate::error::{Entity, Error};
use crate::mlflow::{
    MResult, MlflowCaller, MlflowError, Params, empty, missing_is_fine, page_answer, shapes,
    sources, tag_key, version_param,
};
use crate::web::AppState;

/// The most versions one search page returns: the MLflow client asks for
/// 10000 by default and does not follow `next_page_token` on its own.
const MAX_PAGE: i64 = 10_000;
/// The largest `max_results` MLflow's server accepts for a version search.
const MLFLOW_MAX_RESULTS: i64 = 200_000;

/// As MLflow's server, which reads a version by name and number: a version
/// of a model that does not exist is a version that does not exist.
fn version_missing(
    name: &ModelName,
    version: VersionNumber,
) -> impl FnOnce(Error) -> Error + use<'_> {
    move |error| match error {
        Error::NotFound(Entity::Model(_)) => {
            crate::domain::lookup::version_not_found(name.as_str(), version.get())
        }
        other => other,
    }
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/model-versions/create", web::post().to(create))
        .route("/model-versions/update", web::patch().to(update))
        .route("/model-versions/delete", web::delete().to(delete))
        .route("/model-versions/get", web::get().to(get))
        .route("/model-versions/search", web::get().to(search))
        .route(
            "/model-versions/transition-stage",
            web::post().to(transition_stage),
        )
        .route(
            "/model-versions/get-download-uri",
            web::get().to(download_uri),
        )
        .route("/model-versions/set-tag", web::post().to(set_tag))
        .route("/model-versions/delete-tag", web::delete().to(delete_tag));
}

fn name_and_version(params: &Params) -> MResult<(ModelName, VersionNumber)> {
    let name = ModelName::parse(params.required("name")?)?;
    let version = version_param(params, &name)?;
    Ok((name, version))
}

fn version_answer(version: &versions::ModelVersion) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "model_version": shapes::model_version(version) }))
}

async fn create(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = ModelName::parse(params.required("name")?)?;
    let tags = params.tags()?;
    let is_prompt = tags
        .iter()
        .any(|(key, value)| key.as_str() == filter::PROMPT_TAG && value == "true");
    let mut new = NewVersion {
        source: types::source(params.required("source")?)?,
        run_id: types::optional_field(
            "run_id",
            params.text("run_id")?.filter(|r| !r.is_empty()),
            256,
        )?,
        run_link: types::optional_field(
            "run_link",
            params.text("run_link")?.filter(|r| !r.is_empty()),
            4096,
        )?,
        // as MLflow's server: a version registered without a description
        // has an empty one ("" on every read); one cleared later has none
        description: types::description(Some(params.text("description")?.unwrap_or_default()))?,
        tags,
        storage_location: None,
        model_id: types::optional_field(
            "model_id",
            params.text("model_id")?.filter(|m| !m.is_empty()),
            256,
        )?,
    };
    // a logged model without a run: its run (and files) from the tracking server
    let logged = match (&state.tracking, &new.model_id, &new.run_id) {
        (Some(tracking), Some(model_id), None) if !is_prompt => {
            // only for a caller who may register: the lookup costs the
            // tracking server a request and this server a thread
            state
                .db_as(caller.clone(), Op::RegisterVersion, |_, _| Ok(()))
                .await?;
            let (tracking, id) = (tracking.clone(), model_id.clone());
            let answer = web::block(move || tracking.logged_model(&id))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            match answer {
                Ok(logged) => Some(logged),
                Err(reason) => {
                    tracing::warn!(
                        model_id = %model_id,
                        %reason,
                        "the version's run_id stays empty: mlflow.tracking_uri did not answer for its logged model"
                    );
                    None
                }
            }
        }
        (None, Some(model_id), None) => {
            tracing::info!(
                model_id = %model_id,
                "the version's run_id stays empty: mlflow.tracking_uri is not set, so its logged model's run is not read"
            );
            None
        }
        _ => None,
    };
    let version = state
        .db_as(caller, Op::RegisterVersion, move |conn, actor| {
            // a prompt's source is a placeholder; a model's is read as MLflow does
            if !is_prompt {
                let resolved = sources::resolve(
                    conn,
                    new.source.clone(),
                    new.run_id.take(),
                    new.model_id.take(),
                )?;
                new.source = resolved.source;
                new.run_id = resolved.run_id;
                new.storage_location = resolved.storage_location;
                new.model_id = resolved.model_id;
                if let Some(logged) = logged {
                    new.run_id = new.run_id.or(logged.source_run_id);
                    new.storage_location = new.storage_location.or(logged.artifact_uri);
                }
            }
            versions::create(conn, &actor, &name, new)
        })
        .await?;
    Ok(version_answer(&version))
}

async fn update(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let (name, version) = name_and_version(&params)?;
    // as MLflow: an update without a description clears it
    let description = Some(types::description(params.text("description")?)?);
    let version = state
        .db_as(caller, Op::EditVersion, move |conn, actor| {
            versions::update(conn, &actor, &name, version, description)
                .map_err(version_missing(&name, version))
        })
        .await?;
    Ok(version_answer(&version))
}

async fn delete(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let (name, version) = name_and_version(&params)?;
    state
        .db_as(caller, Op::DeleteVersion, move |conn, actor| {
            versions::delete(conn, &actor, &name, version).map_err(version_missing(&name, version))
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
    let (name, version) = name_and_version(&params)?;
    state
        .read_json(caller, &req, move |conn| {
            let version =
                versions::get(conn, &name, version).map_err(version_missing(&name, version))?;
            Ok(json!({ "model_version": shapes::model_version(&version) }))
        })
        .await
        .map_err(MlflowError)
}

fn version_order(order_by: &[String]) -> MResult<VersionOrder> {
    let mut keys = order_by.iter().map(|o| o.trim()).filter(|o| !o.is_empty());
    // MLflow's server: the most recently changed first
    let default = VersionOrder {
        key: VersionSortKey::LastUpdatedTimestamp,
        descending: true,
    };
    let Some(first) = keys.next() else {
        return Ok(default);
    };
    let order = VersionOrder::parse(first)?;
    for extra in keys {
        let parsed = VersionOrder::parse(extra)?;
        if parsed.key == order.key {
            return Err(Error::invalid(format!("order_by has `{first}` twice")).into());
        }
        // MLflow's own tie-breaks, as far as modelgate breaks ties the same
        // way: the name ascending after any key, then the newest version
        // (so `version_number DESC` only after `name`)
        let tiebreak = match (parsed.key, parsed.descending) {
            (VersionSortKey::Name, false) => true,
            (VersionSortKey::VersionNumber, true) => order.key == VersionSortKey::Name,
            _ => false,
        };
        if !tiebreak {
            return Err(Error::invalid(
                "order_by supports one key for model versions, optionally followed by \
                 `name ASC` (or, after `name`, `version_number DESC`)",
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
        None => MAX_PAGE,
        Some(n) if n < 1 => {
            return Err(Error::invalid(format!(
                "Invalid value for max_results. It must be a positive integer, but got {n}"
            ))
            .into());
        }
        Some(n) if n > MLFLOW_MAX_RESULTS => {
            return Err(Error::invalid(format!(
                "Invalid value for request parameter max_results. It must be at most \
                 {MLFLOW_MAX_RESULTS}, but got value {n}"
            ))
            .into());
        }
        Some(n) => n.min(MAX_PAGE),
    };
    let (filter, exclude_prompts) =
        filter::without_prompts(filter::parse(&params.text("filter")?.unwrap_or_default())?);
    let query = VersionSearch {
        filter,
        exclude_prompts,
        order: version_order(&params.list("order_by")?)?,
        max_results,
        page_token: params.text("page_token")?.filter(|t| !t.is_empty()),
    };
    state
        .read_json(caller, &req, move |conn| {
            let page = version_search::search(conn, query)?;
            Ok(page_answer(
                "model_versions",
                page.items.iter().map(shapes::listed_version).collect(),
                page.next_page_token,
            ))
        })
        .await
        .map_err(MlflowError)
}

async fn transition_stage(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let (name, version) = name_and_version(&params)?;
    let transition = Transition {
        to: crate::mlflow::stage(&params.required("stage")?)?,
        archive_existing_versions: params
            .boolean("archive_existing_versions")?
            .unwrap_or(false),
        comment: None,
    };
    let policy = state.policy.clone();
    let moved = state
        // the policy's `direct` role decides; a move that needs approval is
        // refused (PERMISSION_DENIED, naming the request endpoint), never applied
        .db_as(caller, Op::MoveStage, move |conn, actor| {
            let current =
                versions::get(conn, &name, version).map_err(version_missing(&name, version))?;
            if current.current_stage == transition.to && !transition.archive_existing_versions {
                // as MLflow: a move to the stage it is in is no move (and
                // answers the version); it still takes a writer
                if !Op::EditVersion.allowed(actor.role) {
                    return Err(Error::PermissionDenied(format!(
                        "changing a version's stage needs role {}",
                        Op::EditVersion.role()
                    )));
                }
                return Ok(current);
            }
            versions::transition(conn, &actor, &policy, &name, version, transition)
        })
        .await?;
    Ok(version_answer(&moved))
}

async fn download_uri(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    req: HttpRequest,
) -> MResult<HttpResponse> {
    let params = Params::from_query(req.query_string());
    let (name, version) = name_and_version(&params)?;
    state
        .read_json(caller, &req, move |conn| {
            let found =
                versions::get(conn, &name, version).map_err(version_missing(&name, version))?;
            // a version registered from models:/ answers where its files are
            let uri = found.storage_location.unwrap_or(found.source);
            Ok(json!({ "artifact_uri": uri }))
        })
        .await
        .map_err(MlflowError)
}

async fn set_tag(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let (name, version) = name_and_version(&params)?;
    let key = tag_key(params.required("key")?)?;
    let value = types::tag_value(params.text("value")?.unwrap_or_default())?;
    state
        .db_as(caller, Op::EditVersion, move |conn, actor| {
            versions::set_tag(conn, &actor, &name, version, &key, &value)
                .map_err(version_missing(&name, version))
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
    let (name, version) = name_and_version(&params)?;
    let key = TagKey::parse(params.required("key")?)?;
    state
        .db_as(caller, Op::EditVersion, move |conn, actor| {
            versions::get(conn, &name, version).map_err(version_missing(&name, version))?;
            missing_is_fine(versions::delete_tag(conn, &actor, &name, version, &key))
        })
        .await?;
    Ok(empty())
}
