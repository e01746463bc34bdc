//! `/api/v1/webhooks`: subscriptions to the event log, their deliveries and
//! redelivery, and a test delivery (admin only).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::PageQuery;
use crate::api::params::{IdPath, parse_id};
use crate::db::now_ms;
use crate::domain::access::Op;
use crate::domain::types::ModelName;
use crate::domain::webhooks::{self, Delivery, NewWebhook, Webhook, WebhookChanges};
use crate::error::{Error, Result};
use crate::web::AppState;
use crate::web::Caller;
use crate::web::routes::{ReadErrors, WriteErrors};

/// Body of `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"url": "https://hooks.example.com/modelgate", "events": ["version.stage_changed", "request.*"], "model": "churn"}))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// The receiver: `https://` (or `http://` with `webhooks.allow_http`).
    pub url: String,
    /// Event types or globs: `version.stage_changed`, `request.*`, `*`.
    pub events: Vec<String>,
    /// Only events of this model.
    pub model: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Deliver at once (default true).
    pub enabled: Option<bool>,
}

/// Body of `PATCH /api/v1/webhooks/{id}`: what to change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"enabled": false}))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// A new receiver.
    pub url: Option<String>,
    /// New patterns.
    pub events: Option<Vec<String>>,
    /// A new model filter (`null`: every model).
    #[serde(default, deserialize_with = "crate::api::present")]
    pub model: Option<Option<String>>,
    /// A new description (`null` clears it).
    #[serde(default, deserialize_with = "crate::api::present")]
    pub description: Option<Option<String>>,
    /// Enable or disable (enabling clears a 410's disabling).
    pub enabled: Option<bool>,
    /// Make a new secret, shown in this answer only; the old one keeps
    /// signing beside it for `webhooks.rotation_overlap_seconds`.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// A subscription with its secret: the answer to creating it or rotating
/// its secret, the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookWithSecret {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and base64: verify `webhook-signature` with it.
    pub secret: String,
}

/// The answer to a change: the subscription, and its new secret only when
/// it was rotated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpdatedWebhook {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The new secret, when `rotate_secret` was asked for (shown this once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A page of subscriptions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListWebhooksResponse {
    /// Oldest first.
    pub webhooks: Vec<Webhook>,
    /// Present when more remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A page of deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListDeliveriesResponse {
    /// Newest first.
    pub deliveries: Vec<Delivery>,
    /// Present when more remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// What the receiver said to a test delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestDeliveryResponse {
    /// The status code, when an answer came.
    pub status: Option<u16>,
    /// Whether it was a 2xx.
    pub delivered: bool,
    /// At most 1 KiB of the answer's body.
    pub body: String,
    /// What went wrong, when something did.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

/// `{id}` and `{delivery_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    /// The subscription.
    #[param(value_type = i64, minimum = 1)]
    id: String,
    /// The delivery.
    #[param(value_type = i64, minimum = 1)]
    delivery_id: String,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(test_webhook)
        .service(list_deliveries)
        .service(redeliver);
}

/// Subscribes a receiver to events; the secret is in this answer only.
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "webhooks",
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "The subscription and its secret, shown this once", body = WebhookWithSecret), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateWebhookRequest>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let new = NewWebhook {
        url: body.url,
        events: body.events,
        model: body.model.map(ModelName::parse).transpose()?,
        description: body.description,
        enabled: body.enabled.unwrap_or(true),
    };
    let rules = state.webhooks.rules;
    let (webhook, secret) = state
        .db_as(caller, Op::ManageWebhooks, move |conn, actor| {
            webhooks::create(conn, &actor, new, rules)
        })
        .await?;
    Ok(HttpResponse::Created().json(WebhookWithSecret { webhook, secret }))
}

/// Lists the subscriptions.
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    params(PageQuery),
    responses((status = 200, description = "A page of subscriptions (never their secrets)", body = ListWebhooksResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    let (max_results, token) = query.into_inner().into_parts()?;
    let page = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            webhooks::list(conn, max_results, token.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListWebhooksResponse {
        webhooks: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Reads a subscription.
#[utoipa::path(
    get,
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(IdPath),
    responses((status = 200, description = "The subscription", body = Webhook), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("webhook")?;
    let webhook = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            webhooks::get(conn, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(webhook))
}

/// Changes a subscription, or rotates its secret.
#[utoipa::path(
    patch,
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(IdPath),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, description = "The subscription; with `secret` when it was rotated", body = UpdatedWebhook),
        WriteErrors
    ),
    security(("bearer_auth" = []))
)]
#[patch("/webhooks/{id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
    body: web::Json<UpdateWebhookRequest>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("webhook")?;
    let body = body.into_inner();
    let changes = WebhookChanges {
        url: body.url,
        events: body.events,
        model: body
            .model
            .map(|model| model.map(ModelName::parse).transpose())
            .transpose()?,
        description: body.description,
        enabled: body.enabled,
        rotate_secret: body.rotate_secret,
    };
    let rules = state.webhooks.rules;
    let overlap = i64::try_from(state.webhooks.overlap.as_millis()).unwrap_or(i64::MAX);
    let (webhook, secret) = state
        .db_as(caller, Op::ManageWebhooks, move |conn, actor| {
            webhooks::update(conn, &actor, id, changes, rules, overlap)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UpdatedWebhook { webhook, secret }))
}

/// Deletes a subscription and its deliveries.
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    tag = "webhooks",
    params(IdPath),
    responses((status = 204, description = "Deleted"), WriteErrors),
    security(("bearer_auth" = []))
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("webhook")?;
    state
        .db_as(caller, Op::ManageWebhooks, move |conn, actor| {
            webhooks::delete(conn, &actor, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a signed test delivery (`webhook.test`) now and answers what the
/// receiver said; nothing is recorded.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/test",
    tag = "webhooks",
    params(IdPath),
    responses((status = 200, description = "What the receiver answered", body = TestDeliveryResponse), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/webhooks/{id}/test")]
pub async fn test_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("webhook")?;
    let subscription = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            webhooks::row(conn, id)
        })
        .await?;
    let delivery = state.webhooks.clone();
    let now = now_ms();
    let body = serde_json::json!({
        "type": "webhook.test",
        "timestamp": crate::domain::history::format_instant(now),
        "data": {"webhook_id": id},
    });
    let bytes = serde_json::to_vec(&body).map_err(|e| Error::internal_from("cannot encode", e))?;
    let message_id = format!("msg_{id}_test_{}", uuid::Uuid::new_v4().simple());
    let headers = crate::webhooks::standard_headers(
        &subscription.signing_secrets(now),
        &message_id,
        now / 1000,
        &bytes,
    );
    // a blocking HTTP exchange of up to webhooks.timeout_seconds: off the workers
    let (attempt, text) = web::block(move || {
        let agent = crate::webhooks::agent(&delivery);
        crate::webhooks::send(&agent, &subscription.url, &headers, &bytes)
    })
    .await
    .map_err(|e| Error::internal_from("the test delivery stopped", e))?;
    Ok(HttpResponse::Ok().json(TestDeliveryResponse {
        delivered: attempt.accepted(),
        status: attempt.status,
        body: text,
        error: attempt.error,
        latency_ms: attempt.latency_ms,
    }))
}

/// A subscription's deliveries: state, attempts, last status and error,
/// latency, next attempt.
#[utoipa::path(
    get,
    path = "/webhooks/{id}/deliveries",
    tag = "webhooks",
    params(IdPath, PageQuery),
    responses((status = 200, description = "A page of deliveries", body = ListDeliveriesResponse), ReadErrors),
    security(("bearer_auth" = []))
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<IdPath>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    let id = id.into_inner().parse("webhook")?;
    let (max_results, token) = query.into_inner().into_parts()?;
    let page = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            webhooks::deliveries(conn, id, max_results, token.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(ListDeliveriesResponse {
        deliveries: page.items,
        next_page_token: page.next_page_token,
    }))
}

/// Sends a delivery again, with the same `webhook-id`.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks",
    params(DeliveryPath),
    responses((status = 200, description = "The delivery, pending and due now", body = Delivery), WriteErrors),
    security(("bearer_auth" = []))
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<DeliveryPath>,
) -> Result<HttpResponse> {
    let path = path.into_inner();
    let id = parse_id(&path.id, "webhook")?;
    let delivery_id = parse_id(&path.delivery_id, "delivery")?;
    let delivery = state
        .db_as(caller, Op::ManageWebhooks, move |conn, _| {
            let delivery = webhooks::DeliveryOf {
                webhook_id: id,
                delivery_id,
            };
            webhooks::redeliver(conn, delivery)
        })
        .await?;
    Ok(HttpResponse::Ok().json(delivery))
}
