//! The path parameters of the native API, each declared once with its
//! OpenAPI constraints. A handler lists the ones its path has (in path
//! order) in `params(...)` and extracts the same types; `parse` turns each
//! into its domain type, with the domain's message when it is malformed.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::types::{Alias, ModelName, TagKey, Username, VersionNumber};
use crate::error::{Error, Result};

/// `{name}`: a registered model.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ModelPath {
    /// Registered model name, percent-encoded
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^(?!\.{1,2}$)[^/\u0000-\u001f\u007f-\u009f\ufffd\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*[^/\s\u0000-\u001f\u007f-\u009f\ufffd\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff][^/\u0000-\u001f\u007f-\u009f\ufffd\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*$"
    )]
    name: String,
}

impl ModelPath {
    /// The model's name.
    pub fn parse(self) -> Result<ModelName> {
        ModelName::parse(self.name)
    }
}

/// `{version}`: a version number.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// Version number
    #[param(value_type = i64, minimum = 1)]
    version: String,
}

impl VersionPath {
    /// The version number.
    pub fn parse(self) -> Result<VersionNumber> {
        VersionNumber::parse(&self.version)
    }
}

/// `{key}`: a tag key.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TagKeyPath {
    /// Tag key, percent-encoded
    #[param(
        min_length = 1,
        max_length = 250,
        pattern = r"^[^/\u0000-\u001f\u007f-\u009f\ufffd\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+$"
    )]
    key: String,
}

impl TagKeyPath {
    /// The tag key.
    pub fn parse(self) -> Result<TagKey> {
        TagKey::parse(self.key)
    }
}

/// `{alias}`: an alias of a model.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AliasPath {
    /// Alias, e.g. champion; `latest` and `v<digits>` are reserved
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = r"^(?![lL][aA][tT][eE][sS][tT]$)(?![vV][0-9]+$)[A-Za-z0-9_.-]+$"
    )]
    alias: String,
}

impl AliasPath {
    /// The alias.
    pub fn parse(self) -> Result<Alias> {
        Alias::parse(self.alias)
    }
}

/// `{username}`: a user.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// Login name
    #[param(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._@-]+$")]
    username: String,
}

impl UserPath {
    /// The username.
    pub fn parse(self) -> Result<Username> {
        Username::parse(self.username)
    }
}

/// `{id}`: a token or transition request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// Id
    #[param(value_type = i64, minimum = 1)]
    id: String,
}

impl IdPath {
    /// The id, a positive integer; `what` names it in the message.
    pub fn parse(self, what: &str) -> Result<i64> {
        parse_id(&self.id, what)
    }
}

/// An id from a path, a positive integer; `what` names it in the message.
pub fn parse_id(text: &str, what: &str) -> Result<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{what} id must be a positive integer, got '{}'",
                text.escape_debug()
            ))
        })
}
