//! Password hashing with argon2id (m = 19456 KiB, t = 2, p = 1: OWASP's
//! baseline). Both hashing and verifying take tens of milliseconds, so the
//! server runs them on threads of their own (`api::AuthContext::hash_work`).

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{Error, Result};

fn params() -> Result<Params> {
    Params::new(19_456, 2, 1, None).map_err(|e| Error::internal(format!("argon2 parameters: {e}")))
}

/// Working memory for one argon2 computation. The allocation is reserved
/// larger than glibc's largest mmap threshold (32 MiB), so it is always
/// mapped afresh and unmapped when dropped; only the blocks in use are ever
/// touched. A 19 MiB request would instead raise glibc's dynamic threshold and
/// land in a malloc arena, which keeps it resident for the life of the
/// process (about 20 MB of an idle server's memory after its first login).
fn memory(blocks: usize) -> Result<Vec<Block>> {
    const RESERVED_BLOCKS: usize = (33 << 20) / Block::SIZE;
    let mut memory = Vec::new();
    memory
        .try_reserve_exact(blocks.max(RESERVED_BLOCKS))
        .map_err(|_| Error::internal("no memory for argon2".to_owned()))?;
    memory.resize(blocks, Block::default());
    Ok(memory)
}

/// The raw argon2 output of `password` under these settings.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> Result<()> {
    let blocks = params.block_count();
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, memory(blocks)?)
        .map_err(|e| Error::internal(format!("cannot hash a password: {e}")))
}

/// The one password rule, for creation, change and login: 8–1024
/// characters, no NUL (which no login could send back).
pub fn check_policy(password: &str) -> Result<()> {
    if password.contains('\0') {
        return Err(Error::invalid("password must not contain NUL characters"));
    }
    let length = password.chars().count();
    if length < 8 {
        return Err(Error::invalid(
            "password must be at least 8 characters long",
        ));
    }
    if length > 1024 {
        return Err(Error::invalid(
            "password must be at most 1024 characters long",
        ));
    }
    Ok(())
}

/// Hashes a password into a PHC string with a fresh random salt.
pub fn hash(password: &str) -> Result<String> {
    let internal = |e: argon2::password_hash::phc::Error| {
        Error::internal(format!("cannot encode a password hash: {e}"))
    };
    let params = params()?;
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password,
        &salt,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| Error::internal(format!("cannot encode argon2 parameters: {e}")))?,
        salt: Some(Salt::new(&salt).map_err(internal)?),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC string (under the algorithm,
/// version and parameters the string names; compared in constant time).
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed.params) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    compute(
        algorithm,
        version,
        params,
        password,
        salt.as_ref(),
        &mut out,
    )
    .is_ok()
        && Output::new(&out).is_ok_and(|computed| &computed == expected)
}

/// Spends the time of one verification, so an unknown username answers as
/// slowly as a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not a real password").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let first = hash("correct horse").unwrap_or_default();
        let second = hash("correct horse").unwrap_or_default();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second);
        assert!(verify("correct horse", &first));
        assert!(!verify("wrong horse", &first));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let standard = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params().unwrap_or_default(),
        );
        let theirs = standard
            .hash_password(b"correct horse")
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(verify("correct horse", &theirs));
        assert!(!verify("correct horsf", &theirs));
        let ours = hash("correct horse").unwrap_or_default();
        let parsed = PasswordHash::new(&ours);
        assert!(parsed.is_ok_and(|p| standard.verify_password(b"correct horse", &p).is_ok()));
        // other parameters named in the string are honoured
        let light = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(1024, 1, 1, None).unwrap_or_default(),
        )
        .hash_password(b"pw-light")
        .map(|h| h.to_string())
        .unwrap_or_default();
        assert!(
            light.starts_with("$argon2i$v=16$m=1024,t=1,p=1$"),
            "{light}"
        );
        assert!(verify("pw-light", &light));
        assert!(!verify("pw-heavy", &light));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_policy("1234567").is_err());
        assert!(check_policy("12345678").is_ok());
        assert!(check_policy(&"x".repeat(1025)).is_err());
    }
}
