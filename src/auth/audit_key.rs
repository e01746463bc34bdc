//! The Ed25519 key that signs checkpoints of the event chain. It is kept in
//! a file outside the database (`audit.signing_key_file`, PKCS#8 PEM), so
//! whoever can rewrite the database cannot sign a checkpoint of their own.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::config::AuditSettings;

/// File in `data_dir` that keeps a generated signing key.
pub const KEY_FILE: &str = "audit_signing_key.pem";

/// The checkpoint signing key in force.
pub struct AuditKey {
    signing: SigningKey,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// Loads the configured key, or the generated one in `data_dir`
    /// (creating it, mode 0600, on first use).
    pub fn from_settings(audit: &AuditSettings, data_dir: &Path) -> Result<Self, String> {
        let path: PathBuf = match &audit.signing_key_file {
            Some(path) => path.clone(),
            None => {
                let path = data_dir.join(KEY_FILE);
                super::create_secret_file(&path, "an audit signing key", || {
                    let mut seed = [0u8; 32];
                    rand::fill(&mut seed);
                    SigningKey::from_bytes(&seed)
                        .to_pkcs8_pem(Default::default())
                        .map(|pem| pem.as_bytes().to_vec())
                        .map_err(|e| format!("cannot encode an audit signing key: {e}"))
                })?;
                path
            }
        };
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the audit signing key {}: {e}", path.display()))?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            format!(
                "audit.signing_key_file {}: not an Ed25519 PKCS#8 PEM key: {e}",
                path.display()
            )
        })?;
        Ok(AuditKey { signing })
    }

    /// The public key, base64.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.signing.verifying_key().as_bytes())
    }

    /// Signs `message`; the signature in base64.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.signing.sign(message).to_bytes())
    }

    /// Whether `signature` (base64) is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        verify(&self.public_key(), message, signature)
    }
}

/// Whether `signature` (base64) is the signature of `message` by the
/// Ed25519 key `public_key` (base64).
pub fn verify(public_key: &str, message: &[u8], signature: &str) -> bool {
    let Ok(key) = STANDARD.decode(public_key) else {
        return false;
    };
    let Ok(key) = <[u8; 32]>::try_from(key.as_slice()) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&key) else {
        return false;
    };
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_and_verifies_and_is_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let settings = AuditSettings {
            signing_key_file: None,
            checkpoint_every_events: 1000,
            checkpoint_every_seconds: 300,
        };
        let key = AuditKey::from_settings(&settings, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let signature = key.sign(b"checkpoint");
        assert!(key.verifies(b"checkpoint", &signature));
        assert!(!key.verifies(b"checkpoint!", &signature));
        let again =
            AuditKey::from_settings(&settings, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.public_key(), key.public_key(), "the key is kept");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_default();
        assert_eq!(mode, 0o600);
    }
}
