//! JWTs: issuing and verifying with a pinned algorithm and key.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{AuthSettings, JwtAlgorithm};
use crate::db::enums::Role;
use crate::error::Error;

/// File in `data_dir` that keeps a generated HS256 secret.
pub const SECRET_FILE: &str = "jwt_secret";

/// Allowed clock skew between replicas, in seconds.
const LEEWAY_SECONDS: u64 = 5;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A short-lived login token.
    Session,
    /// A long-lived, revocable pipeline token (its jti is stored).
    Pipeline,
}

/// The claims modelgate issues and requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Username.
    pub sub: String,
    /// The user's id: a token outlives no deleted user, even if the name is reused.
    pub uid: i64,
    /// Role when issued (the stored role is authoritative).
    pub role: Role,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expires (seconds).
    pub exp: i64,
    /// Unique id; stored for pipeline tokens.
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// Session or pipeline.
    pub kind: TokenKind,
    /// For a login token, the user's session generation when it was issued:
    /// changing the password or disabling the user moves it, ending the token.
    #[serde(default, rename = "gen")]
    pub generation: i64,
}

/// The signing and verification keys in force.
pub struct TokenKeys {
    fingerprint: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// Reads the generated secret from `data_dir`, creating it (mode 0600) on first start.
fn generated_secret(data_dir: &Path) -> Result<Vec<u8>, String> {
    let path = data_dir.join(SECRET_FILE);
    super::create_secret_file(&path, "a token signing secret", || {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        Ok(hex::encode(secret).into_bytes())
    })?;
    let secret = read_file("the token secret", &path)?;
    let trimmed = String::from_utf8_lossy(&secret).trim().as_bytes().to_vec();
    if trimmed.len() < 32 {
        return Err(format!("{} holds fewer than 32 bytes", path.display()));
    }
    Ok(trimmed)
}

impl TokenKeys {
    /// Loads the keys the configuration names (or the generated secret).
    pub fn from_settings(auth: &AuthSettings, data_dir: &Path) -> Result<Self, String> {
        let fingerprint;
        let (algorithm, encoding, decoding) = match auth.jwt_algorithm {
            JwtAlgorithm::HS256 => {
                let secret = match (&auth.jwt_secret, &auth.jwt_secret_file) {
                    (Some(_), Some(_)) => {
                        return Err(
                            "set auth.jwt_secret or auth.jwt_secret_file, not both".to_owned()
                        );
                    }
                    (Some(secret), None) => secret.expose().trim().as_bytes().to_vec(),
                    (None, Some(path)) => {
                        let bytes = read_file("auth.jwt_secret_file", path)?;
                        String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec()
                    }
                    (None, None) => generated_secret(data_dir)?,
                };
                if secret.len() < 32 {
                    return Err("the HS256 secret must be at least 32 bytes long".to_owned());
                }
                fingerprint = key_fingerprint("HS256", &secret);
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(&secret),
                    DecodingKey::from_secret(&secret),
                )
            }
            JwtAlgorithm::EdDSA | JwtAlgorithm::RS256 => {
                let (Some(private), Some(public)) =
                    (&auth.jwt_private_key_file, &auth.jwt_public_key_file)
                else {
                    return Err(format!(
                        "auth.jwt_algorithm = {:?} needs auth.jwt_private_key_file and auth.jwt_public_key_file",
                        auth.jwt_algorithm
                    ));
                };
                let private_pem = read_file("auth.jwt_private_key_file", private)?;
                let public_pem = read_file("auth.jwt_public_key_file", public)?;
                fingerprint = key_fingerprint(&format!("{:?}", auth.jwt_algorithm), &public_pem);
                let bad = |what: &str, e: jsonwebtoken::errors::Error| format!("{what}: {e}");
                if auth.jwt_algorithm == JwtAlgorithm::EdDSA {
                    (
                        Algorithm::EdDSA,
                        EncodingKey::from_ed_pem(&private_pem).map_err(|e| {
                            bad("auth.jwt_private_key_file is not an Ed25519 PEM key", e)
                        })?,
                        DecodingKey::from_ed_pem(&public_pem).map_err(|e| {
                            bad("auth.jwt_public_key_file is not an Ed25519 PEM key", e)
                        })?,
                    )
                } else {
                    (
                        Algorithm::RS256,
                        EncodingKey::from_rsa_pem(&private_pem).map_err(|e| {
                            bad("auth.jwt_private_key_file is not an RSA PEM key", e)
                        })?,
                        DecodingKey::from_rsa_pem(&public_pem).map_err(|e| {
                            bad("auth.jwt_public_key_file is not an RSA PEM key", e)
                        })?,
                    )
                }
            }
        };
        if auth.issuer.trim().is_empty() {
            return Err("auth.issuer must not be empty".to_owned());
        }
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[auth.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "sub", "jti"]);
        let keys = TokenKeys {
            fingerprint,
            algorithm,
            encoding,
            decoding,
            validation,
            issuer: auth.issuer.clone(),
        };
        // Sign and verify once, so a mismatched key pair stops the start.
        let (token, _) = keys
            .issue("startup-check", 0, Role::Viewer, TokenKind::Session, 0, 60)
            .map_err(|e| e.to_string())?;
        keys.verify(&token).map_err(|_| {
            "the configured private and public keys do not belong together".to_owned()
        })?;
        Ok(keys)
    }

    /// A fingerprint of the verification key (never the key): replicas that
    /// share a database must share the key, and compare this at start.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Signs a token for `username` valid for `ttl_seconds`.
    pub fn issue(
        &self,
        username: &str,
        uid: i64,
        role: Role,
        kind: TokenKind,
        generation: i64,
        ttl_seconds: i64,
    ) -> Result<(String, Claims), Error> {
        let now = crate::db::now_ms() / 1000;
        let claims = Claims {
            sub: username.to_owned(),
            uid,
            role,
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl_seconds),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iss: self.issuer.clone(),
            kind,
            generation,
        };
        let token = jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.encoding)
            .map_err(|e| Error::internal(format!("cannot sign a token: {e}")))?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm, issuer, expiry and not-before.
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                Error::Unauthenticated(
                    match e.kind() {
                        ErrorKind::ExpiredSignature => "the token has expired",
                        ErrorKind::ImmatureSignature => "the token is not valid yet",
                        ErrorKind::InvalidIssuer => "the token was issued by someone else",
                        ErrorKind::InvalidSignature => "the token's signature is invalid",
                        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                            "the token's algorithm is not accepted"
                        }
                        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                        _ => "the token is malformed",
                    }
                    .to_owned(),
                )
            })
    }
}

/// SHA-256 of a label and a key, hex: it names the key without revealing it.
fn key_fingerprint(label: &str, key: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"modelgate key fingerprint\0");
    hasher.update(label.as_bytes());
    hasher.update(b"\0");
    hasher.update(key);
    hex::encode(hasher.finalize())
}
