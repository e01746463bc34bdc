//! The web UI for the people who review and approve: server-rendered pages
//! under `/ui/` (templates compiled in, a vendored htmx, one stylesheet,
//! nothing from another origin). Handlers call the domain through the same
//! `AppState::db_as` as the APIs; the server enforces every rule whatever a
//! page shows.
//!
//! Sessions: signing in (the API's throttled password check) starts a
//! [`sessions`] row and sets an HttpOnly, SameSite=Strict cookie holding its
//! secret (Secure when served over TLS or through a trusted proxy that says
//! the client used https). Every state-changing form carries a CSRF token
//! derived from that secret; the sign-in form, before any session, carries one
//! matching a cookie of its own.

mod admin;
mod governance;
mod graph;
mod pages;
mod views;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::db::enums::Role;
use crate::domain::access::Op;
use crate::domain::callers::Authorized;
use crate::domain::sessions;
use crate::error::Error;
use crate::web::AppState;
use crate::web::auth::{Credentials, client_address};

/// The UI's path prefix.
pub const PREFIX: &str = "/ui";
/// The session cookie.
const SESSION_COOKIE: &str = "modelgate_session";
/// The sign-in form's CSRF cookie (before there is a session).
const SIGNIN_COOKIE: &str = "modelgate_signin";
/// The UI's form bodies are small.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Nothing from another origin, no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The vendored files, pinned (their names carry their versions).
const STATIC_FILES: [(&str, &str, &[u8]); 2] = [
    (
        "htmx-2.0.4.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/htmx-2.0.4.min.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("static/style.css"),
    ),
];

/// Registers `/` (a redirect to the UI) and everything under `/ui/`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async { see_other(&format!("{PREFIX}/")) }),
    )
    .service(
        web::scope(PREFIX)
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .app_data(
                web::FormConfig::default()
                    .limit(MAX_FORM_BYTES)
                    .error_handler(|error, _| {
                        UiError::Page(Error::invalid(format!(
                            "the form could not be read: {error}"
                        )))
                        .into()
                    }),
            )
            .app_data(web::PathConfig::default().error_handler(|error, _| {
                UiError::Page(Error::invalid(format!("invalid address: {error}"))).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|error, _| {
                UiError::Page(Error::invalid(format!("invalid query: {error}"))).into()
            }))
            .route("/static/{file}", web::get().to(static_file))
            .route("/signin", web::get().to(signin_page))
            .route("/signin", web::post().to(signin))
            .route("/signout", web::post().to(signout))
            .configure(pages::configure)
            .configure(governance::configure)
            .configure(admin::configure)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(UiError::NoPage("there is no such page".to_owned()))
            })),
    );
}

/// A 303 to `location` (after a form, or to the sign-in page).
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// How a page fails: not signed in (or the session ended) sends the browser
/// to the sign-in page; anything else is an error page with the status the
/// APIs would answer.
#[derive(Debug)]
pub enum UiError {
    /// Sign in, then come back to `next`.
    SignIn {
        /// The page to return to.
        next: String,
    },
    /// An error page.
    Page(Error),
    /// No page (or file, or action) has this address (404).
    NoPage(String),
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::SignIn { .. } => f.write_str("sign in required"),
            UiError::Page(error) => error.fmt(f),
            UiError::NoPage(what) => f.write_str(what),
        }
    }
}

impl From<Error> for UiError {
    fn from(error: Error) -> Self {
        UiError::Page(error)
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn { .. } => StatusCode::SEE_OTHER,
            UiError::Page(error) => error.status_code(),
            UiError::NoPage(_) => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            UiError::SignIn { next } => see_other(&format!(
                "{PREFIX}/signin?next={}",
                crate::domain::types::percent_encode_segment(next)
            )),
            UiError::Page(error) => {
                if matches!(error, Error::Internal { .. }) {
                    tracing::error!(%error, "a page failed");
                }
                let mut response = error_page(error.status_code(), error.body().message);
                if let Error::Timeout(_) | Error::Unavailable(_) = error {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                }
                response
            }
            UiError::NoPage(what) => error_page(StatusCode::NOT_FOUND, what.clone()),
        }
    }
}

/// The error page of a status, saying `message`.
fn error_page(status: StatusCode, message: String) -> HttpResponse {
    let page = views::ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        message,
    };
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(page.render().unwrap_or_else(|_| page.message.clone()))
}

/// A page's result.
pub type UiResult = std::result::Result<HttpResponse, UiError>;

/// Renders a template as a 200 HTML page.
fn html(page: &impl Template) -> UiResult {
    let body = page
        .render()
        .map_err(|e| Error::internal_from("cannot render the page", e))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(body))
}

async fn static_file(file: web::Path<String>) -> UiResult {
    let file = file.into_inner();
    let (_, content_type, bytes) = STATIC_FILES
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| UiError::NoPage(format!("no file {file}")))?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        // the names carry versions: a changed file gets a new name
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(*bytes))
}

/// Who is signed in, as a page sees it.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The token every form of the page carries.
    pub csrf: String,
}

impl Viewer {
    /// Whether the role reaches `need` (what a page shows; the server
    /// checks again on every action).
    pub fn may(&self, op: Op) -> bool {
        op.allowed(self.role)
    }
}

/// The CSRF token of a session: a hash of its secret under a label. An
/// attacker's page cannot read the HttpOnly cookie, so cannot compute it.
fn csrf_token(secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"modelgate-ui-csrf\0");
    hasher.update(secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// Refuses a form whose CSRF token is not the session's.
fn check_form(secret: &str, csrf: &str) -> std::result::Result<(), UiError> {
    if same_token(&csrf_token(secret), csrf) {
        return Ok(());
    }
    Err(UiError::Page(Error::PermissionDenied(
        "the form's CSRF token is missing or wrong; reload the page and try again".to_owned(),
    )))
}

/// Compares two tokens in time independent of where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The session secret the browser sent, if any.
fn session_secret(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The page to return to after signing in: only a path of this UI.
fn local_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with(&format!("{PREFIX}/"))
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => format!("{PREFIX}/"),
    }
}

/// The page's own address, to come back to after signing in.
fn here(req: &HttpRequest) -> String {
    req.uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned())
}

/// Whether the browser reached us over https: a TLS listener, or a trusted
/// proxy's `X-Forwarded-Proto` / `Forwarded: proto=` saying so (anyone else's
/// headers are ignored).
fn over_https(req: &HttpRequest) -> bool {
    if req.app_config().secure() {
        return true;
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return false;
    };
    let trusted = req
        .peer_addr()
        .is_some_and(|peer| state.auth.trusted_proxies.contains(peer.ip()));
    if !trusted {
        return false;
    }
    let headers = req.headers();
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or_default().trim().to_owned());
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').next()?.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("proto")
                    .then(|| value.trim_matches('"').to_owned())
            })
        });
    forwarded
        .or(forwarded_proto)
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// A cookie of the UI: HttpOnly, SameSite=Strict, for `/ui` only, Secure
/// over https.
fn cookie<'c>(req: &HttpRequest, name: &'c str, value: String) -> Cookie<'c> {
    Cookie::build(name, value)
        .path(PREFIX)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_https(req))
        .finish()
}

/// A cookie that removes `name`.
fn removal<'c>(req: &HttpRequest, name: &'c str) -> Cookie<'c> {
    let mut gone = cookie(req, name, String::new());
    gone.make_removal();
    gone
}

impl AppState {
    /// Runs a page's database work for the signed-in user, who must be
    /// allowed `op`; without a session (or once it has ended), the browser is sent
    /// to sign in and come back.
    pub(crate) async fn page<T, F>(
        &self,
        req: &HttpRequest,
        op: Op,
        work: F,
    ) -> std::result::Result<(Viewer, T), UiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &Viewer) -> crate::error::Result<T> + Send + 'static,
    {
        let secret = session_secret(req).ok_or_else(|| UiError::SignIn { next: here(req) })?;
        let csrf = csrf_token(&secret);
        let authorize = self
            .authorizer(Credentials::Session { secret }, op.role())
            .await?;
        self.db(move |conn| {
            let Authorized { actor, .. } = authorize(conn)?;
            let viewer = Viewer {
                username: actor.username,
                role: actor.role,
                csrf,
            };
            let answer = work(conn, &viewer)?;
            Ok((viewer, answer))
        })
        .await
        .map_err(|error| match error {
            Error::Unauthenticated(_) => UiError::SignIn { next: here(req) },
            other => UiError::Page(other),
        })
    }

    /// Runs a form's action for the signed-in user: the form's CSRF token must
    /// be the session's, then `work` runs as the user (who must be allowed `op`).
    pub(crate) async fn action<T, F>(
        &self,
        req: &HttpRequest,
        csrf: &str,
        op: Op,
        work: F,
    ) -> std::result::Result<T, UiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, crate::auth::Actor) -> crate::error::Result<T>
            + Send
            + 'static,
    {
        let secret = session_secret(req).ok_or_else(|| UiError::SignIn {
            next: format!("{PREFIX}/"),
        })?;
        check_form(&secret, csrf)?;
        self.db_as(Credentials::Session { secret }, op, work)
            .await
            .map_err(|error| match error {
                Error::Unauthenticated(_) => UiError::SignIn {
                    next: format!("{PREFIX}/"),
                },
                other => UiError::Page(other),
            })
    }
}

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn signin_page(req: HttpRequest, query: web::Query<NextQuery>) -> UiResult {
    let next = local_next(query.next.as_deref());
    render_signin(&req, next, None, StatusCode::OK)
}

/// The sign-in form with a fresh token (also set as its cookie).
fn render_signin(
    req: &HttpRequest,
    next: String,
    problem: Option<String>,
    status: StatusCode,
) -> UiResult {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = hex::encode(bytes);
    let page = views::SignInPage {
        next,
        csrf: token.clone(),
        problem,
    };
    let body = page
        .render()
        .map_err(|e| Error::internal_from("cannot render the page", e))?;
    Ok(HttpResponse::build(status)
        .cookie(cookie(req, SIGNIN_COOKIE, token))
        .content_type(ContentType::html())
        .body(body))
}

/// The sign-in form's fields.
#[derive(Deserialize)]
struct SignInForm {
    username: String,
    password: String,
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

async fn signin(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> UiResult {
    let SignInForm {
        username,
        password,
        csrf,
        next,
    } = form.into_inner();
    let next = local_next(next.as_deref());
    let expected = req.cookie(SIGNIN_COOKIE).map(|c| c.value().to_owned());
    if !expected.is_some_and(|expected| !expected.is_empty() && same_token(&expected, &csrf)) {
        return Err(UiError::Page(Error::PermissionDenied(
            "the sign-in form's CSRF token is missing or wrong; reload the page and try again"
                .to_owned(),
        )));
    }
    let address = client_address(&req);
    let user = match state.check_password(&username, &password, &address).await {
        Ok(user) => user,
        Err(Error::Unauthenticated(message)) => {
            return render_signin(&req, next, Some(message), StatusCode::UNAUTHORIZED);
        }
        Err(Error::RateLimited { message, .. }) => {
            return render_signin(&req, next, Some(message), StatusCode::TOO_MANY_REQUESTS);
        }
        Err(other) => return Err(other.into()),
    };
    let ttl = state.auth.token_ttl_seconds;
    let whose = sessions::SessionUser {
        user_id: user.uid,
        generation: user.generation,
    };
    let started = state
        .db(move |conn| sessions::start(conn, whose, ttl))
        .await?;
    tracing::info!(user = %user.username, "signed in to the web UI");
    Ok(HttpResponse::SeeOther()
        .cookie(cookie(&req, SESSION_COOKIE, started.secret))
        .cookie(removal(&req, SIGNIN_COOKIE))
        .insert_header((header::LOCATION, next))
        .finish())
}

/// A form that carries only its CSRF token (and maybe a comment).
#[derive(Deserialize)]
struct TokenForm {
    /// Missing counts as wrong: refused as a CSRF failure.
    #[serde(default)]
    csrf: String,
}

async fn signout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> UiResult {
    let Some(secret) = session_secret(&req) else {
        return Ok(see_other(&format!("{PREFIX}/signin")));
    };
    check_form(&secret, &form.csrf)?;
    state.db(move |conn| sessions::end(conn, &secret)).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(removal(&req, SESSION_COOKIE))
        .insert_header((header::LOCATION, format!("{PREFIX}/signin")))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_the_ui_are_returned_to_after_signing_in() {
        for (next, expected) in [
            (Some("/ui/models/m"), "/ui/models/m"),
            (Some("/ui/requests?x=1"), "/ui/requests?x=1"),
            (Some("https://evil.example/ui/"), "/ui/"),
            (Some("//evil.example/ui/"), "/ui/"),
            (Some("/ui\\..\\x"), "/ui/"),
            (Some("/api/v1/models"), "/ui/"),
            (Some("/ui/\r\nSet-Cookie: x"), "/ui/"),
            (None, "/ui/"),
        ] {
            assert_eq!(local_next(next), expected, "{next:?}");
        }
    }

    #[test]
    fn csrf_tokens_belong_to_their_session_and_compare_whole() {
        let token = csrf_token("secret-a");
        assert_eq!(token.len(), 64);
        assert!(same_token(&token, &csrf_token("secret-a")));
        assert!(!same_token(&token, &csrf_token("secret-b")));
        assert!(!same_token(&token, &token[..63]));
        assert!(!same_token(&token, ""));
    }
}
