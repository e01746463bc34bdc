//! A model version's `source` as MLflow 3.17's server reads it on create:
//! a `models:/NAME/<version|stage|latest>` or `models:/NAME@alias` source is
//! resolved to the version it names (`models:/NAME/N`, its run id and where
//! its files are), and other sources are checked the way its server checks
//! them, with its messages.

use crate::db::DbConn;
use crate::db::enums::Stage;
use crate::domain::types::{Alias, ModelName, VersionNumber};
use crate::domain::{aliases, lookup, models, versions};
use crate::error::{Error, Result};

/// A source to register, after MLflow's reading of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The source to store.
    pub source: String,
    /// The run id to store.
    pub run_id: Option<String>,
    /// Where the files are, when that is not `source` (a `models:/` source).
    pub storage_location: Option<String>,
    /// The logged model (MLflow 3's `model_id`).
    pub model_id: Option<String>,
}

fn invalid(source: &str, id_name: &str) -> Error {
    Error::invalid(format!(
        "Invalid model version source: '{source}'. The {id_name} request parameter must identify \
         the resource that contains the source."
    ))
}

/// `%XX` and `+` decoded until nothing changes (Python's `unquote_plus` in a loop).
fn fully_unquoted(text: &str) -> String {
    let mut current = text.to_owned();
    loop {
        let bytes = current.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => decoded.push(b' '),
                b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        decoded.push(high * 16 + low);
                        i += 2;
                    }
                    _ => decoded.push(b'%'),
                },
                other => decoded.push(other),
            }
            i += 1;
        }
        let next = String::from_utf8_lossy(&decoded).into_owned();
        if next == current {
            return next;
        }
        current = next;
    }
}

fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The scheme of a URI (`s3`, `runs`, …), lowercase; `None` for a plain path.
fn scheme(uri: &str) -> Option<String> {
    let (scheme, _) = uri.split_once(':')?;
    let valid = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// The authority (`//host`) and path of a URI after its scheme.
fn authority_and_path(uri: &str) -> (&str, &str) {
    let rest = uri.split_once(':').map_or(uri, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    match rest.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(at) => (&after[..at], &after[at..]),
            None => (after, ""),
        },
        None => ("", rest),
    }
}

/// MLflow's check that a source names no relative path (`..`, `.`, NUL):
/// its path, with runs of `/` collapsed, must be absolute and already
/// normal.
fn check_no_relative_paths(source: &str) -> Result<()> {
    let message = || {
        Error::invalid(format!(
            "Invalid model version source: '{source}'. If supplying a source as an http, https, \
             local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be \
             provided without relative path references present. Please provide an absolute path."
        ))
    };
    let unquoted = fully_unquoted(source);
    let (_, path) = authority_and_path(&unquoted);
    let mut collapsed = String::new();
    for c in path.trim_end_matches('/').chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    let bad = unquoted.contains('\0')
        || unquoted.split('/').any(|part| part == "..")
        || !collapsed.starts_with('/')
        || collapsed.split('/').any(|part| part == ".");
    if bad { Err(message()) } else { Ok(()) }
}

/// Checks a source that does not name a registered version, as MLflow's
/// server does without its tracking store: a local path or an
/// `mlflow-artifacts` location needs a `run_id` (or a `model_id`: modelgate
/// cannot look inside the run or logged model to check the path is in it),
/// a `runs:/` source must name the `run_id` given, and a logged model's
/// `models:/<model_id>` the `model_id` given.
pub fn check(source: &str, run_id: Option<&str>, model_id: Option<&str>) -> Result<()> {
    let run_id = run_id.filter(|r| !r.is_empty());
    let model_id = model_id.filter(|m| !m.is_empty());
    let (id_name, owner) = match model_id {
        Some(model_id) => ("model_id", Some(model_id)),
        None => ("run_id", run_id),
    };
    let scheme = scheme(source);
    let (authority, path) = authority_and_path(source);
    let local = match scheme.as_deref() {
        None => true,
        Some("file") => authority.is_empty() || authority == "localhost" || authority == ".",
        _ => false,
    };
    if local {
        if owner.is_some() {
            return Ok(());
        }
        return Err(Error::invalid(format!(
            "Invalid model version source: '{source}'. To use a local path as a model version \
             source, the {id_name} request parameter has to be specified and the local path has \
             to be contained within the artifact directory of the run specified by the {id_name}."
        )));
    }
    check_no_relative_paths(source)?;
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    match scheme.as_deref() {
        Some("runs") if model_id.is_some() => return Err(invalid(source, "model_id")),
        Some("runs") if !authority.is_empty() || run_id != Some(first) => {
            return Err(invalid(source, "run_id"));
        }
        // a logged model: models:/<model_id>, which the model_id must name
        Some("models") if !authority.is_empty() || model_id != Some(first) => {
            return Err(invalid(source, "model_id"));
        }
        Some("mlflow-artifacts") if owner.is_none() => return Err(invalid(source, id_name)),
        Some("http" | "https")
            if path.contains("/api/2.0/mlflow-artifacts/artifacts") && owner.is_none() =>
        {
            return Err(invalid(source, id_name));
        }
        _ => {}
    }
    Ok(())
}

/// What a `models:/` source names: the model and a version, stage,
/// `latest` or alias.
fn parse_models_uri(source: &str) -> Result<(String, String, bool)> {
    let rest = source
        .strip_prefix("models:/")
        .ok_or_else(|| invalid(source, "model_id"))?;
    if rest.starts_with('/') {
        return Err(Error::invalid(format!(
            "Invalid model version source: '{source}'. Registered model sources must use the \
             active model registry."
        )));
    }
    if let Some((name, alias)) = rest.split_once('@') {
        return Ok((name.to_owned(), alias.to_owned(), true));
    }
    match rest.rsplit_once('/') {
        Some((name, reference)) if !name.is_empty() && !reference.is_empty() => {
            Ok((name.to_owned(), reference.to_owned(), false))
        }
        // `models:/<model id>`: a logged model, checked by [`check`]
        _ => Err(invalid(source, "model_id")),
    }
}

/// Whether a `models:/` source names a logged model (`models:/<model_id>`)
/// rather than a registered version.
fn names_logged_model(source: &str) -> bool {
    source
        .strip_prefix("models:/")
        .is_some_and(|rest| !rest.starts_with('/') && !rest.contains(['/', '@']))
}

/// Resolves a `models:/` source to the version it names; any other source
/// is checked and kept.
pub fn resolve(
    conn: &mut DbConn,
    source: String,
    run_id: Option<String>,
    model_id: Option<String>,
) -> Result<Resolved> {
    if !source.starts_with("models:") || names_logged_model(&source) {
        check(&source, run_id.as_deref(), model_id.as_deref())?;
        return Ok(Resolved {
            source,
            run_id,
            storage_location: None,
            model_id,
        });
    }
    let (name, reference, is_alias) = parse_models_uri(&source)?;
    let name = ModelName::parse(name)?;
    let model = models::get(conn, &name)?;
    if model
        .tags
        .get(crate::domain::filter::PROMPT_TAG)
        .map(String::as_str)
        == Some("true")
    {
        return Err(Error::invalid(format!(
            "Invalid model version source: '{source}'. Prompt versions cannot be used as model \
             version sources."
        )));
    }
    let version = if is_alias {
        aliases::get_alias(conn, &name, &Alias::parse(reference)?)?
    } else if let Ok(number) = reference.parse::<i64>() {
        let number = VersionNumber::new(number)
            .map_err(|_| lookup::version_not_found(name.as_str(), number))?;
        versions::get(conn, &name, number)?
    } else if reference.eq_ignore_ascii_case("latest") {
        versions::latest(conn, &name, None)?
    } else {
        let stage = Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(&reference))
            .ok_or_else(|| invalid(&source, "model_id"))?;
        versions::latest(conn, &name, Some(stage))?
    };
    if run_id
        .as_deref()
        .is_some_and(|given| Some(given) != version.run_id.as_deref())
    {
        return Err(Error::invalid(format!(
            "Invalid model version source: '{source}'. The run_id and model_id request parameters \
             must match the referenced model version."
        )));
    }
    let storage_location = version
        .storage_location
        .clone()
        .unwrap_or_else(|| version.source.clone());
    Ok(Resolved {
        source: format!("models:/{}/{}", name.as_str(), version.version),
        run_id: run_id.or(version.run_id),
        storage_location: Some(storage_location),
        model_id: model_id.or(version.model_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_checked_as_mlflows_server_checks_them() {
        for ok in [
            ("s3://bucket/alpha/1", None),
            ("gs://b/m", None),
            ("runs:/abc123/model", Some("abc123")),
            ("/tmp/local/model", Some("r1")),
            ("mlflow-artifacts:/1/abc/artifacts/model", Some("abc")),
        ] {
            assert!(check(ok.0, ok.1, None).is_ok(), "{ok:?}");
        }
        let message = |source: &str, run: Option<&str>| {
            check(source, run, None)
                .err()
                .map(|e| e.public_message())
                .unwrap_or_default()
        };
        assert!(message("/tmp/local/model", None).contains("To use a local path"));
        assert!(message("file:///tmp/model", None).contains("To use a local path"));
        assert!(message("runs:/abc123/model", None).contains("The run_id request parameter"));
        assert!(message("runs:/abc123/model", Some("other")).contains("The run_id request"));
        for relative in [
            "s3://bucket/../etc/passwd",
            "s3://bucket/a/%2e%2e/b",
            "s3://bucket/a/./b",
            "s3://bucket",
            "https://h/a/%252e%252e/b",
        ] {
            assert!(
                message(relative, Some("r")).contains("without relative path references"),
                "{relative}"
            );
        }
        assert!(message("mlflow-artifacts:/1/a/model", None).contains("The run_id request"));
        assert!(message("models://other/m/1", None).contains("model_id"));
        // a logged model's source names its model_id
        assert!(check("models:/m-123", None, Some("m-123")).is_ok());
        assert!(check("models:/m-123", None, Some("m-456")).is_err());
        assert!(check("models:/m-123", None, None).is_err());
        assert!(check("runs:/abc/model", Some("abc"), Some("m-1")).is_err());
        assert!(check("/tmp/model", None, Some("m-1")).is_ok());
        assert!(names_logged_model("models:/m-123"));
        assert!(!names_logged_model("models:/churn/1"));
        assert!(!names_logged_model("models:/churn@champion"));
    }

    #[test]
    fn a_models_uri_names_a_model_and_a_reference() {
        assert_eq!(
            parse_models_uri("models:/churn/3").ok(),
            Some(("churn".to_owned(), "3".to_owned(), false))
        );
        assert_eq!(
            parse_models_uri("models:/churn@champion").ok(),
            Some(("churn".to_owned(), "champion".to_owned(), true))
        );
        assert!(
            parse_models_uri("models://host/churn/3")
                .err()
                .is_some_and(|e| e.public_message().contains("active model registry"))
        );
        assert!(parse_models_uri("models:/m-0123").is_err());
    }
}
