//! The credentials file `modelgate login` writes: one token per server and
//! the server logged in to last, in `$MODELGATE_CREDENTIALS`, else
//! `$XDG_CONFIG_HOME/modelgate/credentials.json`, else
//! `~/.config/modelgate/credentials.json`. The file is written whole into a
//! temporary file of mode 0600 and renamed over the old one, so it is never
//! readable by others nor half-written; its folder is made with mode 0700.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the server is when nothing says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// What is kept for one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The bearer token.
    pub token: String,
    /// Who it belongs to.
    pub username: String,
    /// `login` or `pipeline`.
    pub token_kind: String,
    /// When it stops working, in milliseconds since the epoch.
    pub expires_at: i64,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The server logged in to last: the default for every command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Tokens by server URL.
    #[serde(default)]
    pub servers: BTreeMap<String, Login>,
}

/// A server URL as it is stored and compared: no trailing slash.
pub fn normalize(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

impl Credentials {
    /// The file's path (see the module's documentation).
    pub fn path() -> Result<PathBuf, String> {
        if let Some(path) = std::env::var_os("MODELGATE_CREDENTIALS").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|p| !p.is_empty())
                    .map(|home| PathBuf::from(home).join(".config"))
            })
            .ok_or("no home folder: set HOME or MODELGATE_CREDENTIALS")?;
        Ok(config.join("modelgate").join("credentials.json"))
    }

    /// Reads the file; a missing file is no credentials.
    pub fn load() -> Result<Self, String> {
        Self::load_from(&Self::path()?)
    }

    fn load_from(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a credentials file: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the file (mode 0600, replaced whole).
    pub fn save(&self) -> Result<PathBuf, String> {
        let path = Self::path()?;
        self.save_to(&path)?;
        Ok(path)
    }

    fn save_to(&self, path: &Path) -> Result<(), String> {
        let folder = path.parent().unwrap_or(Path::new("."));
        if !folder.as_os_str().is_empty() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        }
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("cannot encode the credentials: {e}"))?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.write_all(b"\n")?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&temporary, path));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            format!("cannot write {}: {e}", path.display())
        })
    }

    /// The server a command talks to: `explicit` (`--url` or
    /// `MODELGATE_URL`), else the one logged in to last, else the default.
    pub fn server(&self, explicit: Option<&str>) -> String {
        explicit
            .filter(|url| !url.trim().is_empty())
            .map(normalize)
            .or_else(|| self.current.clone())
            .unwrap_or_else(|| DEFAULT_URL.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn login(token: &str) -> Login {
        Login {
            token: token.to_owned(),
            username: "ci".to_owned(),
            token_kind: "login".to_owned(),
            expires_at: 1,
        }
    }

    #[test]
    fn the_file_is_private_replaced_whole_and_reads_back() {
        let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = folder.path().join("nested").join("credentials.json");
        assert_eq!(Credentials::load_from(&path), Ok(Credentials::default()));
        let mut credentials = Credentials {
            current: Some("https://a".to_owned()),
            ..Credentials::default()
        };
        credentials
            .servers
            .insert("https://a".to_owned(), login("t1"));
        credentials.save_to(&path).unwrap_or_else(|e| panic!("{e}"));
        credentials
            .servers
            .insert("https://b".to_owned(), login("t2"));
        credentials.save_to(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Credentials::load_from(&path), Ok(credentials));
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or_default()
        };
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap_or(&path)), 0o700);
        // no temporary file is left beside it
        let names = std::fs::read_dir(path.parent().unwrap_or(&path))
            .map(|entries| entries.count())
            .unwrap_or_default();
        assert_eq!(names, 1);
        std::fs::write(&path, "not json").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            Credentials::load_from(&path)
                .err()
                .is_some_and(|e| e.contains("is not a credentials file"))
        );
    }

    #[test]
    fn the_server_is_the_explicit_one_then_the_last_logged_in_then_the_default() {
        let mut credentials = Credentials::default();
        assert_eq!(credentials.server(None), DEFAULT_URL);
        assert_eq!(credentials.server(Some(" ")), DEFAULT_URL);
        credentials.current = Some("https://last".to_owned());
        assert_eq!(credentials.server(None), "https://last");
        assert_eq!(credentials.server(Some("https://x/")), "https://x");
    }
}
