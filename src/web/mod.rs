//! The shared HTTP edge: the application state, running database work for
//! an authenticated caller, the read cache, JSON errors, the route table
//! behind 405s and the pieces of the OpenAPI document that every surface
//! shares. The native API (`api`), the MLflow layer (`mlflow`) and the web
//! UI translate between HTTP and domain calls on top of this module.

pub mod auth;
pub mod deadline;
pub mod error;
pub mod health;
pub mod read_cache;
pub mod routes;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::Actor;
use crate::db::{DbConn, Pool};
use crate::domain::access::Op;
use crate::domain::callers::Authorized;
use crate::domain::policy::Policy;
use crate::error::{Error, Result};

pub use auth::{AuthContext, Caller, Credentials};

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Database connections.
    pub pool: Pool,
    /// The lifecycle rules in force.
    pub policy: Arc<Policy>,
    /// Token keys, login throttling and token lifetime.
    pub auth: Arc<AuthContext>,
    /// Answers of hot reads, valid while nothing is written.
    pub cache: Arc<read_cache::ReadCache>,
    /// Webhook delivery settings (receiver rules, secret overlap).
    pub webhooks: Arc<crate::webhooks::Delivery>,
    /// MLflow's tracking server, when `mlflow.tracking_uri` is set.
    pub tracking: Option<Arc<crate::mlflow::tracking::Tracking>>,
    /// What `/readyz` holds against the database.
    pub readiness: Readiness,
    /// How the database has been answering this server.
    pub health: Arc<health::DbHealth>,
    /// The longest a request waits on the database (`None`: no bound).
    pub request_timeout: Option<std::time::Duration>,
}

/// When `/readyz` says not ready beyond an unanswered ping.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    /// Every connection busy for this long (ms).
    pub pool_exhausted_ms: i64,
    /// A request's database work timed out within this long (ms) and none
    /// has finished since.
    pub stall_window_ms: i64,
}

/// Registers the state, the token keys and the extractors' JSON error
/// handlers for every surface.
pub fn configure(
    cfg: &mut utoipa_actix_web::service_config::ServiceConfig,
    state: AppState,
    max_body_bytes: usize,
) {
    cfg.app_data(web::Data::from(state.auth.keys.clone()))
        .app_data(web::Data::new(state));
    error::extractor_config(cfg, max_body_bytes);
}

impl AppState {
    /// Runs blocking database work on the blocking pool, inside the request's span.
    pub async fn db<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let health = self.health.clone();
        let span = tracing::Span::current();
        let work = web::block(move || {
            let _entered = span.enter();
            let started = std::time::Instant::now();
            crate::db::storage::take(); // nothing left from other work on this thread
            let mut conn = pool.get()?;
            let outcome = work(&mut conn);
            // the time a request spent on the database, the wait for a
            // connection included
            metrics::histogram!("modelgate_db_seconds").record(started.elapsed().as_secs_f64());
            health.observe(crate::db::storage::take(), &outcome);
            outcome
        });
        let shutting_down = |_| Error::Unavailable("the server is shutting down".to_owned());
        let Some(bound) = self.request_timeout else {
            return work.await.map_err(shutting_down)?;
        };
        match tokio::time::timeout(bound, work).await {
            Ok(done) => done.map_err(shutting_down)?,
            // Statement and lock bounds end most stalls inside the database;
            // this one holds whatever it does (a commit waiting for a lost
            // synchronous standby ignores them). The work goes on on its
            // thread and may still complete.
            Err(_) => {
                let error = Error::Timeout(format!(
                    "the database did not answer within {} ms (database.request_timeout_ms); \
                     a change may still be applied: read before retrying",
                    bound.as_millis()
                ));
                self.health.timed_out();
                Err(error)
            }
        }
    }

    /// Runs database work for an authenticated caller: checks the caller
    /// against the database and the role operation `op` needs first, on the same
    /// connection, then runs `work` as that actor.
    pub async fn db_as<T, F>(&self, who: impl Into<Credentials>, op: Op, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, Actor) -> Result<T> + Send + 'static,
    {
        let authorize = self.authorizer(who.into(), op.role()).await?;
        self.db(move |conn| {
            let authorized = authorize(conn)?;
            work(conn, authorized.actor)
        })
        .await
    }

    /// A read any viewer may make whose answer depends only on the request's
    /// path and query: checks the caller, then answers from the read cache at
    /// the event head the check saw, or from `work` encoded as JSON (and kept
    /// under that head). See [`read_cache`].
    pub async fn read_json<T, F>(
        &self,
        who: impl Into<Credentials>,
        req: &HttpRequest,
        work: F,
    ) -> Result<HttpResponse>
    where
        T: serde::Serialize,
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    {
        let key = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path(), |pq| pq.as_str())
            .to_owned();
        self.read_json_as(who, key, work).await
    }

    /// [`AppState::read_json`] under a key of the caller's choosing, so that
    /// routes answering the same read (MLflow's POST-shaped reads and their
    /// GET twins) share one cached answer.
    pub async fn read_json_as<T, F>(
        &self,
        who: impl Into<Credentials>,
        key: String,
        work: F,
    ) -> Result<HttpResponse>
    where
        T: serde::Serialize,
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    {
        let authorize = self.authorizer(who.into(), Op::Read.role()).await?;
        let cache = self.cache.clone();
        let (answer, cache_status) = self
            .db(move |conn| {
                let Authorized { head, .. } = authorize(conn)?;
                if let Some(answer) = cache.get(head, &key) {
                    return Ok((answer, "modelgate; hit"));
                }
                let answer = serde_json::to_vec(&work(conn)?)
                    .map(web::Bytes::from)
                    .map_err(|e| Error::internal_from("cannot encode the answer", e))?;
                let status = if cache.put(head, key, answer.clone()) {
                    "modelgate; fwd=miss; stored"
                } else {
                    "modelgate; fwd=miss"
                };
                Ok((answer, status))
            })
            .await?;
        Ok(HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            // RFC 9211: whether the answer came from the read cache
            .insert_header(("Cache-Status", cache_status))
            .body(answer))
    }
}
