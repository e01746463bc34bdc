//! `/api/2.0/mlflow/webhooks*`: MLflow 3's webhooks API (admin only, as
//! MLflow's authenticated server has it), delivered by the same durable
//! machinery as `/api/v1/webhooks`.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::db::now_ms;
use crate::domain::access::Op;
use crate::domain::webhooks::mlflow_subscriptions::{
    self as hooks, ACTIONS, ENTITY_ACTIONS, MlflowChanges, MlflowWebhook, NewMlflowWebhook,
};
use crate::error::Error;
use crate::mlflow::{MResult, MlflowCaller, Params, empty};
use crate::web::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::post().to(create))
        .route("/webhooks", web::get().to(list))
        .route("/webhooks/{webhook_id}", web::get().to(get))
        .route("/webhooks/{webhook_id}", web::patch().to(update))
        .route("/webhooks/{webhook_id}", web::delete().to(delete))
        .route("/webhooks/{webhook_id}/test", web::post().to(test));
}

/// A webhook in MLflow's shape: enums as their upper-case names, the
/// description only when there is one, never the secret.
fn shape(hook: &MlflowWebhook) -> Value {
    let mut out = Map::new();
    out.insert("webhook_id".into(), json!(hook.webhook_id));
    out.insert("name".into(), json!(hook.name));
    if let Some(description) = hook.description.as_deref().filter(|d| !d.is_empty()) {
        out.insert("description".into(), json!(description));
    }
    out.insert("url".into(), json!(hook.url));
    let events: Vec<Value> = hook
        .events
        .iter()
        .map(|event| {
            let (entity, action) = event.split_once('.').unwrap_or((event, ""));
            json!({"entity": entity.to_ascii_uppercase(), "action": action.to_ascii_uppercase()})
        })
        .collect();
    out.insert("events".into(), Value::Array(events));
    out.insert(
        "status".into(),
        json!(if hook.active { "ACTIVE" } else { "DISABLED" }),
    );
    out.insert("creation_timestamp".into(), json!(hook.creation_timestamp));
    out.insert(
        "last_updated_timestamp".into(),
        json!(hook.last_updated_timestamp),
    );
    Value::Object(out)
}

fn answer(hook: &MlflowWebhook) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "webhook": shape(hook) }))
}

/// One enum value as MLflow's JSON reads it: the upper-case name or its
/// number (1-based).
fn enum_value(value: Option<&Value>, names: &[&str], what: &str) -> MResult<String> {
    let found = match value {
        Some(Value::String(text)) => names
            .iter()
            .find(|name| name.eq_ignore_ascii_case(text) && text.chars().all(|c| !c.is_lowercase()))
            .copied(),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| names.get(i))
            .copied(),
        _ => None,
    };
    found.map(str::to_owned).ok_or_else(|| {
        let upper: Vec<String> = names.iter().map(|n| n.to_ascii_uppercase()).collect();
        Error::invalid(format!(
            "Invalid value {} for the event's '{what}': expected one of {}",
            value.map_or("null".to_owned(), Value::to_string),
            upper.join(", ")
        ))
        .into()
    })
}

/// One `{"entity", "action"}` as `entity.action`.
fn event(value: &Value) -> MResult<String> {
    let Value::Object(fields) = value else {
        return Err(Error::invalid(format!(
            "Invalid value {value} for parameter 'events': expected objects with 'entity' and \
             'action'"
        ))
        .into());
    };
    let entities: Vec<&str> = ENTITY_ACTIONS.iter().map(|(e, _)| *e).collect();
    let entity = enum_value(fields.get("entity"), &entities, "entity")?;
    let action = enum_value(fields.get("action"), ACTIONS, "action")?;
    hooks::check_event(&entity, &action)?;
    Ok(format!("{entity}.{action}"))
}

/// The `events` parameter, when given.
fn events(params: &Params, key: &str) -> MResult<Option<Vec<String>>> {
    match params.raw(key) {
        None => Ok(None),
        Some(Value::Array(items)) => items.iter().map(event).collect::<MResult<_>>().map(Some),
        Some(other) => Err(Error::invalid(format!(
            "Invalid value {other} for parameter '{key}': expected a list"
        ))
        .into()),
    }
}

/// The `status` parameter: ACTIVE (true) or DISABLED.
fn status(params: &Params) -> MResult<Option<bool>> {
    match params.raw("status") {
        None => Ok(None),
        value => Ok(Some(
            enum_value(value, &["ACTIVE", "DISABLED"], "status")? == "ACTIVE",
        )),
    }
}

async fn create(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let name = params.required("name")?;
    let url = params.required("url")?;
    let events = events(&params, "events")?.ok_or_else(|| {
        Error::invalid(
            "Missing value for required parameter 'events'. See the API docs for more \
             information about request parameters.",
        )
    })?;
    let new = NewMlflowWebhook {
        name,
        url,
        events,
        description: params.text("description")?.filter(|d| !d.is_empty()),
        secret: params.text("secret")?.unwrap_or_default(),
        active: status(&params)?.unwrap_or(true),
    };
    let rules = state.webhooks.rules;
    let hook = state
        .db_as(caller, Op::ManageWebhooks, move |conn, actor| {
            hooks::create(conn, &actor, new, rules)
        })
        .await?;
    Ok(answer(&hook))
}

/// MLflow's page token: the base64 of `{"offset": N}`.
fn offset(token: Option<String>) -> MResult<i64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.as_bytes())
        .map_err(|_| Error::invalid("Invalid page token, could not base64-decode"))?;
    let parsed: Value = serde_json::from_slice(&decoded).map_err(|_| {
        Error::invalid(format!(
            "Invalid page token, decoded value={}",
            String::from_utf8_lossy(&decoded)
        ))
    })?;
    parsed["offset"]
        .as_i64()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::invalid(format!("Invalid page token, parsed value={parsed}")).into())
}

async fn list(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    req: HttpRequest,
) -> MResult<HttpResponse> {
    let params = Params::from_query(req.query_string());
    let max_results = match params.integer("max_results")? {
        None | Some(0) => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return Err(Error::invalid("max_results must be between 1 and 1000.").into());
        }
    };
    let start = offset(params.text("page_token")?)?;
    let (hooks, next) = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            hooks::list(conn, max_results, start)
        })
        .await?;
    let mut out = Map::new();
    if !hooks.is_empty() {
        out.insert(
            "webhooks".into(),
            Value::Array(hooks.iter().map(shape).collect()),
        );
    }
    if let Some(next) = next {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {next}}}"));
        out.insert("next_page_token".into(), json!(token));
    }
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}

async fn get(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    id: web::Path<String>,
) -> MResult<HttpResponse> {
    let id = id.into_inner();
    let hook = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            hooks::get(conn, &id)
        })
        .await?;
    Ok(answer(&hook))
}

async fn update(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.into_inner())?;
    let id = id.into_inner();
    let changes = MlflowChanges {
        // MLflow: an empty name, URL or event list leaves it as it is
        name: params.text("name")?.filter(|n| !n.is_empty()),
        description: match params.raw("description") {
            None => None,
            Some(_) => Some(params.text("description")?.filter(|d| !d.is_empty())),
        },
        url: params.text("url")?.filter(|u| !u.is_empty()),
        events: events(&params, "events")?.filter(|e| !e.is_empty()),
        secret: params.text("secret")?,
        active: status(&params)?,
    };
    let rules = state.webhooks.rules;
    let hook = state
        .db_as(caller, Op::ManageWebhooks, move |conn, actor| {
            hooks::update(conn, &actor, &id, changes, rules)
        })
        .await?;
    Ok(answer(&hook))
}

async fn delete(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    id: web::Path<String>,
) -> MResult<HttpResponse> {
    let id = id.into_inner();
    state
        .db_as(caller, Op::ManageWebhooks, move |conn, actor| {
            hooks::delete(conn, &actor, &id)
        })
        .await?;
    Ok(empty())
}

/// Sends MLflow's example payload of an event (the one asked for, or the
/// webhook's first) at once, whatever the webhook's status, and answers
/// what the receiver said; a failure is still 200, as in MLflow.
async fn test(
    state: web::Data<AppState>,
    caller: MlflowCaller,
    id: web::Path<String>,
    body: Option<web::Json<Value>>,
) -> MResult<HttpResponse> {
    let params = Params::from_body(body.map_or(Value::Null, web::Json::into_inner))?;
    let asked = match params.raw("event") {
        None => None,
        Some(value) => Some(event(value)?),
    };
    let id = id.into_inner();
    let row = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            hooks::row(conn, &id)
        })
        .await?;
    let Some(name) = asked.or_else(|| row.patterns().into_iter().next()) else {
        return Err(Error::invalid("the webhook subscribes to no event").into());
    };
    let delivery = state.webhooks.clone();
    let (attempt, text) = web::block(move || {
        let body = crate::webhooks::mlflow_format::body(
            &name,
            crate::webhooks::mlflow_format::example(&name),
            now_ms(),
        );
        let delivery_id = uuid::Uuid::new_v4().to_string();
        let headers = crate::webhooks::mlflow_format::headers(
            &row.secret,
            &delivery_id,
            now_ms() / 1000,
            &body,
        );
        let agent = crate::webhooks::agent(&delivery);
        crate::webhooks::send(&agent, &row.url, &headers, &body)
    })
    .await
    .map_err(|e| Error::internal_from("the test delivery stopped", e))?;
    let result = match attempt.status {
        Some(status) => json!({
            "success": status < 400,
            "response_status": status,
            "response_body": text,
        }),
        None => json!({
            "success": false,
            "error_message": format!(
                "Failed to test webhook: {}",
                attempt.error.unwrap_or_default()
            ),
        }),
    };
    Ok(HttpResponse::Ok().json(json!({ "result": result })))
}
