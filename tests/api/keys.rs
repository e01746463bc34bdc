//! EdDSA and RS256 signing from key files, for deployments that verify
//! modelgate's tokens elsewhere.

use std::path::Path;
use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{
    JWT_SECRET, create_database, drop_database, settings_with, spawn_app, spawn_app_full,
};

/// Writes a key pair with the openssl command line tool; returns (private, public).
fn key_pair(dir: &Path, name: &str, algorithm: &[&str]) -> (String, String) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    let status = Command::new("openssl")
        .arg("genpkey")
        .args(algorithm)
        .arg("-out")
        .arg(&private)
        .output()
        .unwrap_or_else(|e| panic!("openssl genpkey: {e}"));
    assert!(status.status.success(), "{status:?}");
    let status = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .output()
        .unwrap_or_else(|e| panic!("openssl pkey: {e}"));
    assert!(status.status.success(), "{status:?}");
    (private.display().to_string(), public.display().to_string())
}

fn header_alg(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap_or_else(|e| panic!("the token's header is not base64url ({e}): {token}"));
    let header: serde_json::Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("the token's header is not JSON ({e}): {token}"));
    header["alg"]
        .as_str()
        .unwrap_or_else(|| panic!("no alg in the token's header {header}"))
        .to_owned()
}

fn config(algorithm: &str, private: &str, public: &str) -> String {
    format!(
        "[auth]\njwt_algorithm = \"{algorithm}\"\njwt_private_key_file = \"{private}\"\njwt_public_key_file = \"{public}\"\n"
    )
}

#[test]
fn eddsa_and_rs256_tokens_are_issued_and_hs256_forgeries_refused() {
    let keys = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (algorithm, openssl_args) in [
        ("EdDSA", vec!["-algorithm", "ed25519"]),
        (
            "RS256",
            vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
    ] {
        let (private, public) = key_pair(keys.path(), algorithm, &openssl_args);
        let app = spawn_app_full(&config(algorithm, &private, &public), false);
        assert_eq!(header_alg(&app.admin_token), algorithm);
        assert_eq!(app.get("/api/v1/me").expect(200)["username"], "admin");

        // the public key used as an HMAC secret: the classic algorithm confusion
        let public_pem = std::fs::read(&public).unwrap_or_else(|e| panic!("read {public}: {e}"));
        assert!(!public_pem.is_empty(), "{public} is empty");
        for secret in [public_pem.as_slice(), JWT_SECRET.as_bytes()] {
            let forged = forge_hs256(secret);
            app.call_as(Some(&forged), "GET", "/api/v1/me", None)
                .expect_error(401, "UNAUTHENTICATED");
        }
    }
}

/// An HS256 session token for the admin, signed with `secret`.
fn forge_hs256(secret: &[u8]) -> String {
    let now = modelgate::db::now_ms() / 1000;
    let claims = json!({
        "sub": "admin", "uid": 1, "role": "admin", "iat": now, "nbf": now, "exp": now + 600,
        "jti": "x", "iss": "modelgate", "kind": "session"
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap_or_else(|e| panic!("encoding the forged token failed: {e}"))
}

#[test]
fn the_forged_claims_are_accepted_by_a_server_that_signs_hs256_with_that_secret() {
    // the forgeries above are refused for their algorithm and key, not for
    // their claims: the same token is let in where HS256 with that secret is right
    let app = spawn_app();
    assert_eq!(header_alg(&app.admin_token), "HS256");
    let forged = forge_hs256(JWT_SECRET.as_bytes());
    assert_eq!(
        app.call_as(Some(&forged), "GET", "/api/v1/me", None)
            .expect(200)["username"],
        "admin"
    );
}

#[test]
fn a_key_pair_that_does_not_belong_together_stops_the_server() {
    let keys = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (private, _) = key_pair(keys.path(), "a", &["-algorithm", "ed25519"]);
    let (_, public) = key_pair(keys.path(), "b", &["-algorithm", "ed25519"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (database, url) = create_database(dir.path());
    let settings = settings_with(dir.path(), &url, &config("EdDSA", &private, &public), false);
    let error = actix_web::rt::System::new().block_on(async {
        modelgate::startup::Application::build(&settings)
            .err()
            .map(|e| e.to_string())
    });
    drop_database(&database);
    let error = error.unwrap_or_else(|| panic!("the server started with a mismatched key pair"));
    assert!(error.contains("do not belong together"), "{error}");
}
