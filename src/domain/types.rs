//! Request data parsed into domain types at the edge ("parse, don't validate").

use std::fmt;
use std::time::Duration;

use diesel::backend::Backend;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::BigInt;

use crate::error::{Error, Result};

fn check_text(what: &str, value: &str, max_chars: usize, allow_empty: bool) -> Result<()> {
    if !allow_empty && value.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    let count = value.chars().count();
    if count > max_chars {
        return Err(Error::invalid(format!(
            "{what} is {count} characters long; the limit is {max_chars}"
        )));
    }
    if value.contains('\0') {
        return Err(Error::invalid(format!(
            "{what} must not contain NUL characters"
        )));
    }
    Ok(())
}

fn check_no_control(what: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    // Paths are decoded lossily: U+FFFD is what invalid UTF-8 in a
    // percent-encoded segment turns into, so it is refused rather than stored.
    if value.contains('\u{FFFD}') {
        return Err(Error::invalid(format!(
            "{what} is not valid UTF-8 (bad percent-encoding?)"
        )));
    }
    Ok(())
}

/// Characters that change how text is shown without showing themselves:
/// bidirectional controls and zero-width characters. A name holding one can
/// look like another (`evil\u{202E}gnp.exe` shows as `evilexe.png`).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

fn check_visible(what: &str, value: &str) -> Result<()> {
    if value.chars().any(is_invisible) {
        return Err(Error::invalid(format!(
            "{what} must not contain bidirectional controls or zero-width characters"
        )));
    }
    Ok(())
}

/// A registered model's name: 1–256 characters, no `/`, no control,
/// bidirectional or zero-width characters, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelName(String);

impl ModelName {
    /// Validates a name.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        check_text("model name", &value, 256, false)?;
        check_no_control("model name", &value)?;
        check_visible("model name", &value)?;
        if value == "." || value == ".." {
            return Err(Error::invalid(
                "model name must not be '.' or '..' (clients that normalise paths cannot reach it)",
            ));
        }
        if value.contains('/') {
            return Err(Error::invalid("model name must not contain '/'"));
        }
        if value.trim().is_empty() {
            return Err(Error::invalid("model name must not be blank"));
        }
        Ok(ModelName(value))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A username: 1–64 of `A–Z a–z 0–9 . _ @ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Validates a username.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        check_text("username", &value, 64, false)?;
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
        {
            return Err(Error::invalid(
                "username may only contain letters, digits, '.', '_', '@' and '-'",
            ));
        }
        Ok(Username(value))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A version number: an integer from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionNumber(i64);

impl VersionNumber {
    /// Validates a number.
    pub fn new(value: i64) -> Result<Self> {
        if value < 1 {
            return Err(Error::invalid(format!(
                "version must be a positive integer, got {value}"
            )));
        }
        Ok(VersionNumber(value))
    }

    /// Parses a version from text (paths, MLflow's string versions).
    pub fn parse(value: &str) -> Result<Self> {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| {
                Error::invalid(format!(
                    "version must be a positive integer, got '{}'",
                    value.escape_debug()
                ))
            })
            .and_then(Self::new)
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for VersionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A model's row id (stable across renames): where a function takes a
/// model and a version number, the two cannot be swapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, diesel::AsExpression)]
#[diesel(sql_type = BigInt)]
pub struct ModelId(i64);

impl ModelId {
    /// The id of a model's row.
    pub fn of(row: &crate::db::rows::ModelRow) -> Self {
        ModelId(row.id)
    }

    /// The id.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A transition request's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, diesel::AsExpression)]
#[diesel(sql_type = BigInt)]
pub struct RequestId(i64);

impl RequestId {
    /// An id read from a path or a row (the API checks it is positive).
    pub fn new(id: i64) -> Self {
        RequestId(id)
    }

    /// The id.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// Both ids go into queries as the integers they are.
macro_rules! id_to_sql {
    ($($id:ty),*) => {$(
        impl<DB: Backend> ToSql<BigInt, DB> for $id
        where
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }
    )*};
}
id_to_sql!(ModelId, RequestId);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A tag key: 1–250 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagKey(String);

impl TagKey {
    /// Validates a key.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        check_text("tag key", &value, 250, false)?;
        check_no_control("tag key", &value)?;
        check_visible("tag key", &value)?;
        if value.contains('/') {
            return Err(Error::invalid("tag key must not contain '/'"));
        }
        Ok(TagKey(value))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the key.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A tag value: up to 5000 characters.
pub fn tag_value(value: String) -> Result<String> {
    check_text("tag value", &value, 5000, true)?;
    Ok(value)
}

/// A validated set of tags, as given at creation.
pub fn tag_map(
    tags: Option<std::collections::BTreeMap<String, String>>,
) -> Result<Vec<(TagKey, String)>> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|(key, value)| Ok((TagKey::parse(key)?, tag_value(value)?)))
        .collect()
}

/// An alias: 1–255 of `[A-Za-z0-9_.-]`; `latest` and `v<digits>` are reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alias(String);

impl Alias {
    /// Validates an alias.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        check_text("alias", &value, 255, false)?;
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(Error::invalid(format!(
                "alias '{}' may only contain letters, digits, '_', '-' and '.'",
                value.escape_debug()
            )));
        }
        let lower = value.to_ascii_lowercase();
        let versionlike = lower.len() > 1
            && lower.starts_with('v')
            && lower[1..].chars().all(|c| c.is_ascii_digit());
        if lower == "latest" || versionlike {
            return Err(Error::invalid(format!(
                "alias '{value}' is reserved ('latest' and 'v<number>' cannot be used)"
            )));
        }
        Ok(Alias(value))
    }

    /// The alias as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text description: up to 65536 characters.
pub fn description(value: Option<String>) -> Result<Option<String>> {
    if let Some(text) = &value {
        check_text("description", text, 65_536, true)?;
    }
    Ok(value)
}

/// A comment on a transition or decision: up to 5000 characters.
pub fn comment(value: Option<String>) -> Result<Option<String>> {
    if let Some(text) = &value {
        check_text("comment", text, 5000, true)?;
    }
    Ok(value)
}

/// An artifact URI: 1–4096 characters, no control characters.
pub fn source(value: String) -> Result<String> {
    check_text("source", &value, 4096, false)?;
    check_no_control("source", &value)?;
    Ok(value)
}

/// An optional short identifier (run id) or link.
pub fn optional_field(what: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    if let Some(text) = &value {
        check_text(what, text, max, true)?;
        check_no_control(what, text)?;
    }
    Ok(value)
}

/// `max_results` of a list: 1..=1000, default 100.
pub fn page_size(value: Option<i64>) -> Result<i64> {
    match value {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(n) => Err(Error::invalid(format!(
            "max_results must be between 1 and 1000, got {n}"
        ))),
    }
}

/// Percent-encodes a value for use as one URL path segment.
pub fn percent_encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Parses `90s`, `30m`, `2h`, `1h30m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration '{text}': use e.g. 90s, 30m, 2h or 1h30m");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let amount: u64 = digits.parse().map_err(|_| bad())?;
        total = amount
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_checked() {
        assert!(ModelName::parse("fraud-detector v2 (ünïcode)").is_ok());
        assert!(ModelName::parse("").is_err());
        assert!(ModelName::parse("   ").is_err());
        assert!(ModelName::parse("a/b").is_err());
        assert!(ModelName::parse("a\u{7}b").is_err());
        assert!(ModelName::parse("x".repeat(256)).is_ok());
        assert!(ModelName::parse("x".repeat(257)).is_err());
        for spoof in [
            "evil\u{202E}gnp.exe",
            "a\u{200B}b",
            "\u{FEFF}bom",
            "rtl\u{2067}x",
            ".",
            "..",
        ] {
            assert!(ModelName::parse(spoof).is_err(), "{spoof:?}");
        }
        assert!(ModelName::parse("...").is_ok());
        assert!(TagKey::parse("k\u{200D}ey").is_err());
    }

    #[test]
    fn aliases_reserve_latest_and_version_names() {
        assert!(Alias::parse("champion").is_ok());
        assert!(Alias::parse("v").is_ok());
        assert!(Alias::parse("version2").is_ok());
        for reserved in ["latest", "LATEST", "v1", "V42"] {
            assert!(Alias::parse(reserved).is_err(), "{reserved}");
        }
        assert!(Alias::parse("has space").is_err());
    }

    #[test]
    fn versions_and_page_sizes_are_bounded() {
        assert_eq!(
            VersionNumber::parse("3").ok().map(VersionNumber::get),
            Some(3)
        );
        assert!(VersionNumber::parse("0").is_err());
        assert!(VersionNumber::parse("abc").is_err());
        assert_eq!(page_size(None).ok(), Some(100));
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(1001)).is_err());
        assert_eq!(page_size(Some(1000)).ok(), Some(1000));
    }
}
