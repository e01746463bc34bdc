//! Authentication at the edge: the bearer-token extractor, HTTP Basic
//! credentials, and the one throttled password check that serves a login,
//! Basic authentication and the UI's sign-in.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use base64::Engine;

use crate::auth::password;
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::{Claims, TokenKeys};
use crate::db::DbConn;
use crate::db::enums::Role;
use crate::domain::callers::{self, Authorized};
use crate::domain::users;
use crate::error::{Error, Result};
use crate::web::AppState;

/// What authentication needs at run time.
#[derive(Debug)]
pub struct AuthContext {
    /// Signing and verification keys.
    pub keys: Arc<TokenKeys>,
    /// Failed-login throttle.
    pub throttle: LoginThrottle,
    /// Lifetime of login tokens, in seconds.
    pub token_ttl_seconds: i64,
    /// Bounds concurrent argon2 work (19 MiB and tens of ms each).
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Basic credentials already verified (MLflow clients).
    pub basic_cache: BasicCache,
}

impl AuthContext {
    /// Runs an argon2 computation on a thread of its own, a few at a time.
    /// Not on the blocking pool: its threads are sized to the database pool
    /// (see `startup`), and a burst of logins would hold them for tens of ms
    /// each while reads waited.
    pub async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // The permit goes with the thread: a request abandoned mid-hash
        // still counts until its hash is done.
        let permit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Unavailable("the server is shutting down".to_owned()))?;
        let (done, outcome) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("modelgate-argon2".to_owned())
            .spawn(move || {
                let _ = done.send(work());
                drop(permit);
            })
            .map_err(|e| Error::Unavailable(format!("cannot start a hashing thread: {e}")))?;
        outcome
            .await
            .map_err(|_| Error::internal("password hashing stopped unexpectedly"))?
    }
}

/// A request's verified bearer token; checked against the database by
/// [`AppState::db_as`] and [`AppState::read_json`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's verified claims.
    pub claims: Claims,
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(caller_of(req))
    }
}

fn caller_of(req: &HttpRequest) -> Result<Caller> {
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| Error::internal("token keys are not configured"))?;
    let header = req.headers().get(AUTHORIZATION).ok_or_else(|| {
        Error::Unauthenticated(
            "authentication required: send Authorization: Bearer <token>".to_owned(),
        )
    })?;
    let value = header.to_str().map_err(|_| {
        Error::Unauthenticated("the Authorization header is not readable".to_owned())
    })?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(Error::Unauthenticated(
                "the Authorization header must be 'Bearer <token>'".to_owned(),
            ));
        }
    };
    if token.is_empty() {
        return Err(Error::Unauthenticated(
            "the bearer token is empty".to_owned(),
        ));
    }
    Ok(Caller {
        claims: keys.verify(token)?,
    })
}

/// How a request authenticated: a bearer token, or HTTP Basic (MLflow's
/// `MLFLOW_TRACKING_USERNAME` / `_PASSWORD`).
#[derive(Clone)]
pub enum Credentials {
    /// A verified bearer token.
    Bearer(Caller),
    /// Basic credentials, checked against the database (with a cache).
    Basic {
        /// Login name.
        username: String,
        /// Password (never logged).
        password: String,
        /// The client's address, for throttling failures.
        address: String,
    },
}

impl From<Caller> for Credentials {
    fn from(caller: Caller) -> Self {
        Credentials::Bearer(caller)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Bearer(caller) => {
                f.debug_tuple("Bearer").field(&caller.claims.sub).finish()
            }
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    /// Reads Basic credentials if the request sends them, a bearer token otherwise.
    pub fn from_request(req: &HttpRequest) -> Result<Self> {
        let basic = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, encoded)| encoded.trim().to_owned());
        match basic {
            Some(encoded) => {
                decode_basic(&encoded).map(|(username, password)| Credentials::Basic {
                    username,
                    password,
                    address: client_address(req),
                })
            }
            None => caller_of(req).map(Credentials::Bearer),
        }
    }
}

fn decode_basic(encoded: &str) -> Result<(String, String)> {
    let bad = || Error::Unauthenticated("malformed Basic credentials".to_owned());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (username, password) = text.split_once(':').ok_or_else(bad)?;
    if username.is_empty() || username.contains('\0') || password.contains('\0') {
        return Err(bad());
    }
    Ok((username.to_owned(), password.to_owned()))
}

/// The client's address, for throttling: the TCP peer, not
/// `X-Forwarded-For` (a header is the attacker's to choose).
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |peer| peer.ip().to_string())
}

/// A user whose password was just checked.
#[derive(Debug, Clone)]
pub struct VerifiedUser {
    /// The user's id.
    pub uid: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The stored hash the password matched (a later change of password
    /// no longer matches it).
    pub hash: String,
    /// The user's session generation (see [`Claims::generation`]).
    pub generation: i64,
}

/// Remembers which credentials verified against which stored hash, so an
/// MLflow client sending Basic on every request costs one argon2
/// verification, not one per request. Entries are keyed by a salted SHA-256
/// of username and password and hold the hash they matched: a changed
/// password no longer matches, and the next request verifies again.
pub struct BasicCache {
    salt: [u8; 32],
    entries: std::sync::Mutex<std::collections::HashMap<[u8; 32], String>>,
}

impl std::fmt::Debug for BasicCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCache").finish_non_exhaustive()
    }
}

impl Default for BasicCache {
    fn default() -> Self {
        let mut salt = [0u8; 32];
        rand::fill(&mut salt);
        BasicCache {
            salt,
            entries: std::sync::Mutex::default(),
        }
    }
}

impl BasicCache {
    fn key(&self, username: &str, password: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(username.len().to_le_bytes());
        hasher.update(username.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    /// Whether these credentials were verified against `stored_hash` before.
    pub fn knows(&self, username: &str, password: &str, stored_hash: &str) -> bool {
        let key = self.key(username, password);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(&key).is_some_and(|hash| hash == stored_hash)
    }

    /// Remembers credentials that verified against `stored_hash`.
    pub fn learn(&self, username: &str, password: &str, stored_hash: &str) {
        let key = self.key(username, password);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= 10_000 {
            entries.clear();
        }
        entries.insert(key, stored_hash.to_owned());
    }
}

fn refused() -> Error {
    Error::Unauthenticated("invalid username or password".to_owned())
}

impl AppState {
    /// The one password check (login, Basic authentication, the UI's
    /// sign-in). Failures are throttled per user and per client address; the
    /// account is read first and its connection given back before the argon2
    /// work, which runs on threads of its own, a few at a time. Credentials
    /// that verified against the same stored hash before skip argon2
    /// ([`BasicCache`]), never the throttle. A disabled user is refused even with the right
    /// password.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<VerifiedUser> {
        // the password rule of creation and change: a password it refuses
        // was never set, so it is refused before any work
        if username.is_empty()
            || username.len() > 256
            || username.contains('\0')
            || password::check_policy(password).is_err()
        {
            return Err(refused());
        }
        let name = username.to_owned();
        let account = self
            .db(move |conn| users::login_account(conn, &name))
            .await?;
        let auth = self.auth.clone();
        let verified = |row: &crate::db::rows::UserRow| {
            if row.disabled {
                return Err(Error::Unauthenticated("this user is disabled".to_owned()));
            }
            Ok(VerifiedUser {
                uid: row.id,
                username: row.username.clone(),
                role: row.role,
                hash: row.password_hash.clone(),
                generation: row.session_generation,
            })
        };
        let attempt = auth
            .throttle
            .begin(username, address)
            .map_err(|retry_after_secs| {
                tracing::warn!(user = %username, %address, "login throttled");
                Error::RateLimited {
                    message: "too many failed logins; try again later".to_owned(),
                    retry_after_secs,
                }
            })?;
        if let Some(row) = &account
            && auth
                .basic_cache
                .knows(username, password, &row.password_hash)
        {
            auth.throttle.succeed(&attempt);
            return verified(row);
        }
        let candidate = password.to_owned();
        let against = account.as_ref().map(|row| row.password_hash.clone());
        let matched = auth
            .hash_work(move || {
                Ok(match &against {
                    Some(hash) => password::verify(&candidate, hash),
                    None => {
                        password::verify_dummy(&candidate);
                        false
                    }
                })
            })
            .await;
        match (matched, account) {
            (Ok(true), Some(row)) if !row.disabled => {
                auth.throttle.succeed(&attempt);
                auth.basic_cache
                    .learn(username, password, &row.password_hash);
                verified(&row)
            }
            (Ok(true), Some(row)) => {
                auth.throttle.fail(&attempt);
                tracing::warn!(user = %username, %address, "login of a disabled user");
                verified(&row)
            }
            (Ok(_), _) => {
                auth.throttle.fail(&attempt);
                tracing::warn!(user = %username, %address, "login failed");
                Err(refused())
            }
            (Err(error), _) => {
                auth.throttle.abandon(&attempt);
                Err(error)
            }
        }
    }

    /// What checks the caller on the database connection of the request's
    /// work. Basic credentials are verified first, off that connection.
    pub(crate) async fn authorizer(
        &self,
        who: Credentials,
        need: Role,
    ) -> Result<impl FnOnce(&mut DbConn) -> Result<Authorized> + Send + 'static> {
        let verified = match &who {
            Credentials::Bearer(_) => None,
            Credentials::Basic {
                username,
                password,
                address,
            } => Some(self.check_password(username, password, address).await?),
        };
        Ok(move |conn: &mut DbConn| match (&who, &verified) {
            (Credentials::Bearer(caller), _) => callers::authorize(conn, &caller.claims, need),
            (Credentials::Basic { .. }, Some(user)) => {
                callers::resolve_verified(conn, &user.username, &user.hash, need)
            }
            (Credentials::Basic { .. }, None) => Err(refused()),
        })
    }
}
