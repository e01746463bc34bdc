//! History at any instant: which model held a name, and which version each
//! of its stages and aliases resolved to, at the end of a given millisecond,
//! each with the event that made it so. Answered from the history index
//! (`db::history`): a probe for the name, one per stage and two per alias
//! the model ever had, whatever the number of its versions or events.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::db::enums::Stage;
use crate::db::history::Slot;
use crate::db::schema::{events, model_names, resolution_history};
use crate::db::{self, DbConn, now_ms};
use crate::domain::types::ModelName;
use crate::error::{Entity, Error, Result};

/// Reads an instant: milliseconds since the epoch, or an RFC 3339 time
/// (`2026-11-30T12:00:00Z`, `2026-11-30T13:00:00.250+01:00`), truncated to
/// the millisecond.
pub fn parse_instant(text: &str) -> Result<i64> {
    let text = text.trim();
    let invalid = || {
        Error::invalid(format!(
            "'{text}' is not an instant: give an RFC 3339 time (2026-11-30T12:00:00Z) \
             or milliseconds since the epoch"
        ))
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map_err(|_| invalid());
    }
    let time = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| invalid())?;
    let ms = time.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms)
        .ok()
        .filter(|ms| *ms >= 0)
        .ok_or_else(invalid)
}

/// An instant in RFC 3339, UTC, to the millisecond.
pub fn format_instant(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// A stage or alias and the version it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Held {
    /// The version `models:/NAME/<stage>` or `models:/NAME@<alias>` resolved to.
    pub version: i64,
    /// Since when (milliseconds since the epoch): the end of the millisecond
    /// of the event below.
    pub since: i64,
    /// The event that made it resolve there: the last in that millisecond
    /// that moved a version into or out of the stage, or set the alias.
    pub event_id: i64,
    /// That event's chain hash.
    pub event_hash: String,
    /// That event's type (`version.stage_changed`, `alias.set`, …).
    pub event_type: String,
}

/// A stage at the instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageAt {
    /// The stage.
    pub stage: Stage,
    /// Its newest version then.
    #[serde(flatten)]
    pub held: Held,
}

/// An alias at the instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AliasAt {
    /// The alias.
    pub alias: String,
    /// The version it named then.
    #[serde(flatten)]
    pub held: Held,
}

/// What a name resolved to at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "name": "fraud-detector", "at": 1_796_040_000_000_i64, "at_time": "2026-11-30T12:00:00Z",
    "current_name": "fraud-detector",
    "stages": [{"stage": "Production", "version": 3, "since": 1_795_953_600_000_i64, "event_id": 812,
                "event_hash": "9f2c…", "event_type": "version.stage_changed"}],
    "aliases": [{"alias": "champion", "version": 3, "since": 1_795_953_600_000_i64, "event_id": 813,
                 "event_hash": "41aa…", "event_type": "alias.set"}]
}))]
pub struct ModelHistory {
    /// The name asked about.
    pub name: String,
    /// The instant: the end of this millisecond since the epoch.
    pub at: i64,
    /// The same instant in RFC 3339 (UTC).
    pub at_time: String,
    /// What the model that held the name then is called now (`null`: it has
    /// been deleted since).
    pub current_name: Option<String>,
    /// Each stage that resolved to a version then (None, Staging,
    /// Production, Archived, in that order), with its newest version.
    pub stages: Vec<StageAt>,
    /// Each alias the model had then, by name.
    pub aliases: Vec<AliasAt>,
}

const STAGES: [Stage; 4] = [
    Stage::None,
    Stage::Staging,
    Stage::Production,
    Stage::Archived,
];

/// What `name` resolved to at the end of millisecond `at` (`None`: now).
pub fn at(conn: &mut DbConn, name: &ModelName, at: Option<i64>) -> Result<ModelHistory> {
    let at = at.unwrap_or_else(now_ms);
    db::read(conn, |conn| {
        let span: Option<(i64, Option<i64>)> = model_names::table
            .filter(model_names::name.eq(name.as_str()))
            .filter(model_names::from_ts.le(at))
            .order((model_names::from_ts.desc(), model_names::id.desc()))
            .select((model_names::model_key, model_names::to_ts))
            .first(conn)
            .optional()?;
        let key = match span {
            Some((key, to)) if to.is_none_or(|to| to > at) => key,
            _ => {
                return Err(Error::NotFound(Entity::NameAt {
                    name: name.as_str().to_owned(),
                    at: format_instant(at),
                }));
            }
        };
        let current_name: Option<String> = model_names::table
            .filter(model_names::model_key.eq(key))
            .filter(model_names::to_ts.is_null())
            .select(model_names::name)
            .first(conn)
            .optional()?;
        let mut stages = Vec::new();
        for stage in STAGES {
            if let Some(held) = held(conn, key, &Slot::Stage(stage), at)? {
                stages.push(StageAt { stage, held });
            }
        }
        let mut aliases = Vec::new();
        let mut after = String::new();
        // one probe per alias the model ever had (a skip scan of the index)
        while let Some(alias) = resolution_history::table
            .filter(resolution_history::model_key.eq(key))
            .filter(resolution_history::kind.eq(Slot::ALIAS))
            .filter(resolution_history::label.gt(&after))
            .order(resolution_history::label.asc())
            .select(resolution_history::label)
            .first::<String>(conn)
            .optional()?
        {
            if let Some(held) = held(conn, key, &Slot::Alias(alias.clone()), at)? {
                aliases.push(AliasAt {
                    alias: alias.clone(),
                    held,
                });
            }
            after = alias;
        }
        Ok(ModelHistory {
            name: name.as_str().to_owned(),
            at,
            at_time: format_instant(at),
            current_name,
            stages,
            aliases,
        })
    })
}

/// What one slot resolved to at `at`, with its event.
fn held(conn: &mut DbConn, key: i64, slot: &Slot, at: i64) -> Result<Option<Held>> {
    let (kind, label) = slot.columns();
    let row: Option<(i64, Option<i64>, i64)> = resolution_history::table
        .filter(resolution_history::model_key.eq(key))
        .filter(resolution_history::kind.eq(kind))
        .filter(resolution_history::label.eq(label))
        .filter(resolution_history::ts.le(at))
        .order(resolution_history::ts.desc())
        .select((
            resolution_history::ts,
            resolution_history::version,
            resolution_history::event_id,
        ))
        .first(conn)
        .optional()?;
    let Some((since, Some(version), event_id)) = row else {
        return Ok(None);
    };
    let (event_hash, event_type): (String, String) = events::table
        .find(event_id)
        .select((events::hash, events::event_type))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            Error::internal(format!(
                "the history index names event {event_id}, which is not in the chain"
            ))
        })?;
    Ok(Some(Held {
        version,
        since,
        event_id,
        event_hash,
        event_type,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_milliseconds_or_rfc3339() {
        assert_eq!(parse_instant("0").ok(), Some(0));
        assert_eq!(parse_instant("1796040000123").ok(), Some(1_796_040_000_123));
        assert_eq!(
            parse_instant("2026-11-30T12:00:00Z").ok(),
            Some(1_796_040_000_000)
        );
        assert_eq!(
            parse_instant("2026-11-30T13:00:00.2509+01:00").ok(),
            Some(1_796_040_000_250)
        );
        for bad in [
            "",
            "-5",
            "yesterday",
            "2026-11-30",
            "1e3",
            "99999999999999999999",
            "1969-12-31T23:59:59Z",
        ] {
            let Err(error) = parse_instant(bad) else {
                panic!("{bad} was taken")
            };
            assert!(
                error.to_string().contains("is not an instant"),
                "{bad}: {error}"
            );
        }
        assert_eq!(format_instant(1_796_040_000_250), "2026-11-30T12:00:00.25Z");
    }
}
