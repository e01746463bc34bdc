//! The pages and their forms: models, a model, a version, the requests inbox
//! and a request. Each reads or writes through the domain, as the APIs do.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::views::{
    self, InboxPage, ModelItem, ModelPage, ModelsPage, RequestItem, RequestPage, VersionItem,
    VersionPage,
};
use super::{PREFIX, UiError, UiResult, html, see_other};
use crate::db::enums::{RequestStatus, Stage};
use crate::domain::access::Op;
use crate::domain::filter;
use crate::domain::lifecycle::{self, Transition};
use crate::domain::model_search::{self, ModelOrder, ModelQuery};
use crate::domain::models;
use crate::domain::requests::{self, ApproveOutcome, RequestQuery, Wanted};
use crate::domain::types::{
    self, ModelName, RequestId, VersionNumber, percent_encode_segment as enc,
};
use crate::domain::versions::{self, VersionQuery};
use crate::error::Error;
use crate::web::AppState;

/// Rows per page of a list.
const PAGE: i64 = 50;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(models_page))
        .route("/models", web::get().to(models_page))
        .route("/models/{name}", web::get().to(model_page))
        .route(
            "/models/{name}/versions/{version}",
            web::get().to(version_page),
        )
        .route(
            "/models/{name}/versions/{version}/requests",
            web::post().to(open_request),
        )
        .route("/compare", web::get().to(compare_page))
        .route("/requests", web::get().to(inbox_page))
        .route("/requests/{id}", web::get().to(request_page))
        .route("/requests/{id}/{action}", web::post().to(decide));
}

/// `?filter=&page_token=` of the models list.
#[derive(Debug, Deserialize)]
struct ModelsQuery {
    filter: Option<String>,
    page_token: Option<String>,
}

async fn models_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ModelsQuery>,
) -> UiResult {
    let ModelsQuery { filter, page_token } = query.into_inner();
    let filter = filter.unwrap_or_default();
    let (text, token) = (filter.clone(), page_token.clone().filter(|t| !t.is_empty()));
    // the caller first: a bad search is shown only to someone signed in
    let (viewer, page) = state
        .page(&req, Op::Read, move |conn, _| {
            let search = ModelQuery {
                filter: filter::parse(&text)?,
                order: ModelOrder::default(),
                max_results: PAGE,
                page_token: token,
                exclude_prompts: false,
            };
            model_search::list(conn, search)
        })
        .await?;
    let next = page.next_page_token.map(|token| {
        format!(
            "{PREFIX}/models?filter={}&page_token={}",
            enc(&filter),
            enc(&token)
        )
    });
    html(&ModelsPage {
        viewer,
        nav: "models",
        models: page.items.into_iter().map(ModelItem::from).collect(),
        next,
        first: page_token.is_none_or(|t| t.is_empty()),
        filter,
    })
}

/// `?stage=&page_token=` of a model's versions.
#[derive(Debug, Deserialize)]
struct VersionsQuery {
    stage: Option<String>,
    page_token: Option<String>,
}

async fn model_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    query: web::Query<VersionsQuery>,
) -> UiResult {
    let name = ModelName::parse(name.into_inner())?;
    let VersionsQuery { stage, page_token } = query.into_inner();
    let stage = stage.filter(|s| !s.is_empty());
    let versions_query = VersionQuery {
        stage: stage.as_deref().map(str::parse::<Stage>).transpose()?,
        descending: true,
        max_results: PAGE,
        page_token: page_token.clone().filter(|t| !t.is_empty()),
    };
    let read = name.clone();
    let (viewer, (model, page)) = state
        .page(&req, Op::Read, move |conn, _| {
            let model = models::get(conn, &read)?;
            let page = versions::list(conn, &read, versions_query)?;
            Ok((model, page))
        })
        .await?;
    let stage = stage.unwrap_or_default();
    let next = page.next_page_token.map(|token| {
        format!(
            "{}?stage={}&page_token={}",
            views::model_href(name.as_str()),
            enc(&stage),
            enc(&token)
        )
    });
    let tags = model.tags.clone().into_iter().collect();
    let created = views::when(model.creation_timestamp);
    html(&ModelPage {
        viewer,
        nav: "models",
        model: model.into(),
        tags,
        created,
        versions: page.items.into_iter().map(VersionItem::from).collect(),
        stages: Stage::ALL.iter().map(|s| s.as_str()).collect(),
        stage,
        next,
        first: page_token.is_none_or(|t| t.is_empty()),
    })
}

async fn version_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> UiResult {
    let (name, version) = path.into_inner();
    let name = ModelName::parse(name)?;
    let version = VersionNumber::parse(&version)?;
    let policy = state.policy.clone();
    let read = name.clone();
    let (viewer, (found, trail, pending)) = state
        .page(&req, Op::Read, move |conn, _| {
            let found = versions::get(conn, &read, version)?;
            let trail = lifecycle::trail(conn, &read, version)?;
            let pending = requests::list(
                conn,
                RequestQuery {
                    status: Some(RequestStatus::Pending),
                    model: Some(read.clone()),
                    version: Some(version),
                    max_results: 100,
                    ..RequestQuery::default()
                },
            )?;
            Ok((found, trail, pending.items))
        })
        .await?;
    let targets = policy
        .rules()
        .filter(|rule| rule.from == found.current_stage)
        .map(|rule| rule.to.as_str())
        .collect();
    html(&VersionPage {
        can_request: viewer.may(Op::OpenRequest),
        viewer,
        nav: "models",
        model_href: views::model_href(name.as_str()),
        request_action: format!(
            "{}/requests",
            views::version_href(name.as_str(), version.get())
        ),
        version: found.into(),
        trail: trail.into_iter().map(views::TrailItem::from).collect(),
        pending: pending.into_iter().map(RequestItem::from).collect(),
        targets,
    })
}

/// The "request a move" form.
#[derive(Deserialize)]
struct RequestForm {
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
    stage: String,
    archive_existing_versions: Option<String>,
    comment: Option<String>,
}

async fn open_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<RequestForm>,
) -> UiResult {
    let (name, version) = path.into_inner();
    let name = ModelName::parse(name)?;
    let version = VersionNumber::parse(&version)?;
    let RequestForm {
        csrf,
        stage,
        archive_existing_versions,
        comment,
    } = form.into_inner();
    let wanted = Wanted::Move(Transition {
        to: stage.parse()?,
        archive_existing_versions: archive_existing_versions.is_some(),
        comment: types::comment(comment.filter(|c| !c.trim().is_empty()))?,
    });
    let policy = state.policy.clone();
    let request = state
        .action(&req, &csrf, Op::OpenRequest, move |conn, actor| {
            requests::create(conn, &actor, &policy, &name, version, wanted)
        })
        .await?;
    Ok(see_other(&views::request_href(request.id)))
}

async fn inbox_page(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    let (viewer, (awaiting, mine)) = state
        .page(&req, Op::Read, |conn, viewer| {
            let awaiting = if viewer.may(Op::DecideRequest) {
                requests::list(
                    conn,
                    RequestQuery {
                        status: Some(RequestStatus::Pending),
                        awaiting: Some(viewer.username.clone()),
                        max_results: 1000,
                        ..RequestQuery::default()
                    },
                )?
                .items
            } else {
                Vec::new()
            };
            let mine = requests::list(
                conn,
                RequestQuery {
                    requested_by: Some(viewer.username.clone()),
                    max_results: PAGE,
                    ..RequestQuery::default()
                },
            )?
            .items;
            Ok((awaiting, mine))
        })
        .await?;
    html(&InboxPage {
        approver: viewer.may(Op::DecideRequest),
        viewer,
        nav: "requests",
        awaiting: awaiting.into_iter().map(RequestItem::from).collect(),
        mine: mine.into_iter().map(RequestItem::from).collect(),
    })
}

/// A request id from the address.
fn request_id(text: &str) -> Result<i64, UiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| UiError::Page(Error::invalid(format!("'{text}' is not a request id"))))
}

async fn request_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> UiResult {
    let id = request_id(&id)?;
    let (viewer, request) = state
        .page(&req, Op::Read, move |conn, _| {
            requests::get(conn, RequestId::new(id))
        })
        .await?;
    let pending = request.status == RequestStatus::Pending;
    let own = request.requested_by == viewer.username;
    let approved = request.approvals.iter().any(|a| a.user == viewer.username);
    let why_not = if !pending {
        String::new()
    } else if !viewer.may(Op::DecideRequest) {
        format!("Approving needs role approver; you are {}.", viewer.role)
    } else if own {
        "You opened this request: someone else must approve it.".to_owned()
    } else if approved {
        "You have approved it; it waits for other approvers.".to_owned()
    } else {
        String::new()
    };
    html(&RequestPage {
        can_decide: pending && viewer.may(Op::DecideRequest) && !own && !approved,
        can_cancel: pending && (own || viewer.may(Op::CancelAnyRequest)),
        why_not,
        viewer,
        nav: "requests",
        request: request.into(),
    })
}

/// The form of approve, reject and cancel.
#[derive(Deserialize)]
struct DecisionForm {
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
    comment: Option<String>,
}

async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, UiError> {
    let (id, action) = path.into_inner();
    let id = request_id(&id)?;
    let DecisionForm { csrf, comment } = form.into_inner();
    let comment = types::comment(comment.filter(|c| !c.trim().is_empty()))?;
    let policy = state.policy.clone();
    match action.as_str() {
        "approve" => {
            let outcome = state
                .action(&req, &csrf, Op::DecideRequest, move |conn, actor| {
                    requests::approve(conn, &actor, &policy, RequestId::new(id), comment)
                })
                .await?;
            if let ApproveOutcome::Stale(request) = outcome {
                return Err(UiError::Page(Error::Conflict(format!(
                    "version {} of '{}' is no longer in {}: request {id} is now stale",
                    request.version, request.name, request.from_stage
                ))));
            }
        }
        "reject" => {
            state
                .action(&req, &csrf, Op::DecideRequest, move |conn, actor| {
                    requests::reject(conn, &actor, RequestId::new(id), comment)
                })
                .await?;
        }
        "cancel" => {
            state
                .action(&req, &csrf, Op::CancelRequest, move |conn, actor| {
                    requests::cancel(conn, &actor, RequestId::new(id), comment)
                })
                .await?;
        }
        other => {
            return Err(UiError::NoPage(format!("no action '{other}' on a request")));
        }
    }
    Ok(see_other(&views::request_href(id)))
}

/// `?model=&a=&b=` of the compare page.
#[derive(Debug, Deserialize)]
struct CompareQuery {
    model: String,
    a: String,
    b: String,
}

async fn compare_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CompareQuery>,
) -> UiResult {
    let CompareQuery { model, a, b } = query.into_inner();
    let (viewer, ((va, ta), (vb, tb))) = state
        .page(&req, Op::Read, move |conn, _| {
            let name = ModelName::parse(model)?;
            let mut side = |text: &str| -> crate::error::Result<_> {
                let version = VersionNumber::parse(text)?;
                Ok((
                    versions::get(conn, &name, version)?,
                    lifecycle::trail(conn, &name, version)?,
                ))
            };
            Ok((side(&a)?, side(&b)?))
        })
        .await?;
    let (a, b) = (VersionItem::from(va), VersionItem::from(vb));
    let mut rows = vec![
        views::CompareRow::new("Stage", a.stage.name.clone(), b.stage.name.clone()),
        views::CompareRow::new("Source", a.source.clone(), b.source.clone()),
        views::CompareRow::new("Run", a.run_id.clone(), b.run_id.clone()),
        views::CompareRow::new("Description", a.description.clone(), b.description.clone()),
        views::CompareRow::new("Registered by", a.created_by.clone(), b.created_by.clone()),
        views::CompareRow::new("Registered", a.created.clone(), b.created.clone()),
        views::CompareRow::new("Aliases", a.aliases.join(", "), b.aliases.join(", ")),
    ];
    let keys: std::collections::BTreeSet<&String> =
        a.tags.iter().chain(&b.tags).map(|(k, _)| k).collect();
    let tag = |tags: &[(String, String)], key: &str| {
        tags.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    for key in keys {
        rows.push(views::CompareRow::new(
            format!("Tag {key}"),
            tag(&a.tags, key),
            tag(&b.tags, key),
        ));
    }
    html(&views::ComparePage {
        viewer,
        nav: "models",
        model_href: views::model_href(&a.name),
        name: a.name.clone(),
        rows,
        trail_a: ta.into_iter().map(views::TrailItem::from).collect(),
        trail_b: tb.into_iter().map(views::TrailItem::from).collect(),
        a,
        b,
    })
}
