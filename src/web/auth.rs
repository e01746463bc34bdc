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
use crate::domain::{sessions, users};
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
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
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
    /// A web UI session's cookie secret (never logged).
    Session {
        /// The cookie's value.
        secret: String,
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
            Credentials::Session { .. } => f.debug_struct("Session").finish_non_exhaustive(),
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

/// The client's address, for throttling: the TCP peer; or, when the peer is
/// a trusted proxy (`server.trusted_proxies`), the nearest address its
/// `Forwarded` (else `X-Forwarded-For`) header names that is not itself a
/// trusted proxy. From anyone else the headers are the client's to choose,
/// and are ignored.
pub fn client_address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|peer| peer.ip()) else {
        return "unknown".to_owned();
    };
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| &state.auth.trusted_proxies);
    match trusted {
        Some(trusted) if trusted.contains(peer) => trusted.client_behind(req).unwrap_or(peer),
        _ => peer,
    }
    .to_string()
}

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(std::net::IpAddr, u8)>);

impl TrustedProxies {
    /// Parses comma-separated addresses and CIDRs (`10.0.0.0/8, ::1`).
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                let (address, prefix) = item.split_once('/').unwrap_or((item, ""));
                let address: std::net::IpAddr = address
                    .parse()
                    .map_err(|_| format!("'{item}' is not an address or a CIDR"))?;
                let bits = if address.is_ipv4() { 32 } else { 128 };
                let prefix = if prefix.is_empty() {
                    bits
                } else {
                    prefix
                        .parse::<u8>()
                        .ok()
                        .filter(|p| *p <= bits)
                        .ok_or_else(|| format!("'{item}' has a bad prefix length"))?
                };
                Ok((address, prefix))
            })
            .collect::<Result<_, String>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|(net, prefix)| match (ip, net) {
            (IpAddr::V4(ip), IpAddr::V4(net)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(ip) & mask == u32::from(*net) & mask
            }
            (IpAddr::V6(ip), IpAddr::V6(net)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(ip) & mask == u128::from(*net) & mask
            }
            _ => false,
        })
    }

    /// The client a trusted proxy forwarded for: walking its header's
    /// addresses from the nearest, the first that is not a trusted proxy.
    fn client_behind(&self, req: &HttpRequest) -> Option<std::net::IpAddr> {
        let headers = req.headers();
        let forwarded: Vec<String> = headers
            .get_all("forwarded")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect();
        let hops: Vec<String> = if forwarded.is_empty() {
            headers
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|hop| hop.trim().to_owned())
                .collect()
        } else {
            forwarded
        };
        let mut client = None;
        for hop in hops.iter().rev() {
            let ip = parse_hop(hop)?;
            client = Some(ip);
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// An address as forwarding headers write it: `1.2.3.4`, `1.2.3.4:80`,
/// `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    hop.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

/// A user whose password was just checked (its `Debug` leaves out the hash).
#[derive(Clone)]
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

impl std::fmt::Debug for VerifiedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedUser")
            .field("uid", &self.uid)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
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
    /// ([`BasicCache`]), never the throttle. Only failures count: correct
    /// logins are never refused for being many or parallel. A disabled user
    /// is refused even with the right password (and that counts as a failure).
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
        let throttled = |retry_after_secs| {
            tracing::warn!(user = %username, %address, "login throttled");
            Error::RateLimited {
                message: "too many failed logins; try again later".to_owned(),
                retry_after_secs,
            }
        };
        auth.throttle.check(username, address).map_err(throttled)?;
        if let Some(row) = &account
            && auth
                .basic_cache
                .knows(username, password, &row.password_hash)
        {
            auth.throttle.succeed(username);
            return verified(row);
        }
        let candidate = password.to_owned();
        let against = account.as_ref().map(|row| row.password_hash.clone());
        let (who, from, context) = (username.to_owned(), address.to_owned(), auth.clone());
        let matched = auth
            .hash_work(move || {
                // asked again once this verification's turn has come: the
                // failures of the guesses before it count
                if let Err(wait) = context.throttle.check(&who, &from) {
                    return Ok(Err(wait));
                }
                Ok(Ok(match &against {
                    Some(hash) => password::verify(&candidate, hash),
                    None => {
                        password::verify_dummy(&candidate);
                        false
                    }
                }))
            })
            .await?
            .map_err(throttled)?;
        match (matched, account) {
            (true, Some(row)) if !row.disabled => {
                auth.throttle.succeed(username);
                auth.basic_cache
                    .learn(username, password, &row.password_hash);
                verified(&row)
            }
            (true, Some(row)) => {
                auth.throttle.fail(username, address);
                tracing::warn!(user = %username, %address, "login of a disabled user");
                verified(&row)
            }
            _ => {
                auth.throttle.fail(username, address);
                tracing::warn!(user = %username, %address, "login failed");
                Err(refused())
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
            Credentials::Bearer(_) | Credentials::Session { .. } => None,
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
            (Credentials::Session { secret }, _) => {
                callers::authorize_session(conn, &sessions::secret_hash(secret), need)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_match_addresses_and_cidrs_of_both_families() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7, fd00::/8 ,::1")
            .unwrap_or_else(|e| panic!("{e}"));
        for inside in [
            "10.1.2.3",
            "192.168.1.7",
            "fd12::5",
            "::1",
            "::ffff:10.9.9.9",
        ] {
            let ip = inside.parse().unwrap_or_else(|e| panic!("{inside}: {e}"));
            assert!(trusted.contains(ip), "{inside}");
        }
        for outside in ["11.0.0.1", "192.168.1.8", "fe80::1", "127.0.0.1"] {
            let ip = outside.parse().unwrap_or_else(|e| panic!("{outside}: {e}"));
            assert!(!trusted.contains(ip), "{outside}");
        }
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        assert_eq!(TrustedProxies::parse("").map(|t| t.0.len()).ok(), Some(0));
    }

    #[test]
    fn forwarded_hops_are_read_in_every_spelling() {
        for (hop, ip) in [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7:8443", "203.0.113.7"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
        ] {
            assert_eq!(parse_hop(hop), ip.parse().ok(), "{hop}");
        }
        assert_eq!(parse_hop("unknown"), None);
    }
}
