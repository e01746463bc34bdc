//! Who is acting and how they prove it: the actor of an operation,
//! password hashing, JWT issue and verification, the failed-login throttle,
//! and the key that signs audit checkpoints. No HTTP and no SQL here: the web edge extracts credentials
//! (`web`), and the database check of a caller is `domain::callers`.

pub mod audit_key;
pub mod password;
pub mod throttle;
pub mod tokens;

use std::io::Write;
use std::path::Path;

use crate::db::enums::Role;

/// The user on whose behalf an operation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Username recorded in the audit trail and events.
    pub username: String,
    /// Role that decides what the actor may do.
    pub role: Role,
}

impl Actor {
    /// The actor of command-line maintenance (`modelgate users …`).
    pub fn system() -> Self {
        Actor {
            username: "system".to_owned(),
            role: Role::Admin,
        }
    }
}

/// Creates a secret file (mode 0600) with the contents `make` gives, unless
/// it exists. Processes sharing the directory race safely: the file appears
/// whole or not at all, and the first one wins.
pub(crate) fn create_secret_file(
    path: &Path,
    what: &str,
    make: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    crate::db::private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| format!("cannot create {}: {e}", temporary.display()))?;
    let written = make().and_then(|contents| {
        file.write_all(&contents)
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", temporary.display()))
    });
    let linked = written.and_then(|()| {
        std::fs::hard_link(&temporary, path).or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(format!("cannot create {}: {e}", path.display())),
        })
    });
    let _ = std::fs::remove_file(&temporary);
    linked?;
    tracing::info!(path = %path.display(), "generated {what}");
    Ok(())
}
