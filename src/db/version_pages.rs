//! Version reads written as SQL of their own, where the query builder's
//! form would be planned worse:
//!
//! - the newest version in each stage of many models at once
//!   ([`newest_per_stage`]): one index probe per model and stage;
//! - over every model, ordered by a time ([`by_time`]): on SQLite only.
//!
//! Over every model, ordered by a time, the versions are read in the order
//! of that time's index and only those sharing a time are sorted by model
//! name. PostgreSQL plans the common query so; SQLite's planner scans and
//! sorts every version instead (see docs/performance.md), so there the
//! index is named (`INDEXED BY`).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::DbConn;
use crate::db::enums::Stage;
use crate::db::rows::VersionRow;
use crate::error::Result;

/// The time a page is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeColumn {
    /// `creation_timestamp`.
    Created,
    /// `last_updated_timestamp`.
    Updated,
}

impl TimeColumn {
    fn column(self) -> &'static str {
        match self {
            TimeColumn::Created => "creation_timestamp",
            TimeColumn::Updated => "last_updated_timestamp",
        }
    }

    fn index(self) -> &'static str {
        match self {
            TimeColumn::Created => "model_versions_by_created",
            TimeColumn::Updated => "model_versions_by_updated",
        }
    }
}

/// A page of every model's versions in the order of a time (then model
/// name ascending, then id descending).
#[derive(Debug, Clone)]
pub struct ByTime {
    /// The time.
    pub column: TimeColumn,
    /// Newest first.
    pub descending: bool,
    /// The last row of the page before: its time, model name and id.
    pub after: Option<(i64, String, i64)>,
    /// Rows to read.
    pub limit: i64,
    /// Leave out models and versions carrying this tag set to `true`.
    pub excluded_tag: Option<&'static str>,
}

/// The page, on a backend that needs its own query for it (SQLite); `None`
/// where the caller's query is planned well (PostgreSQL).
pub fn by_time(conn: &mut DbConn, page: ByTime) -> Result<Option<Vec<(VersionRow, String)>>> {
    match conn {
        DbConn::Sqlite(sqlite) => page.load_sqlite(sqlite).map(Some),
        DbConn::Postgresql(_) => Ok(None),
    }
}

impl ByTime {
    fn load_sqlite(self, conn: &mut diesel::SqliteConnection) -> Result<Vec<(VersionRow, String)>> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(embed)]
            version: VersionRow,
            #[diesel(sql_type = Text)]
            name: String,
        }

        let column = self.column.column();
        let index = self.column.index();
        let (direction, before, strictly) = if self.descending {
            ("DESC", "<=", "<")
        } else {
            ("ASC", ">=", ">")
        };
        let mut conditions = Vec::new();
        if self.excluded_tag.is_some() {
            conditions.push(
                "v.model_id NOT IN (SELECT model_id FROM registered_model_tags \
                 WHERE key = ? AND value = 'true') \
                 AND v.id NOT IN (SELECT version_id FROM model_version_tags \
                 WHERE key = ? AND value = 'true')"
                    .to_owned(),
            );
        }
        if self.after.is_some() {
            conditions.push(format!(
                "v.{column} {before} ? AND (v.{column} {strictly} ? OR (v.{column} = ? \
                 AND (m.name > ? OR (m.name = ? AND v.id < ?))))"
            ));
        }
        let sql = format!(
            "SELECT v.*, m.name FROM model_versions AS v INDEXED BY {index} \
             JOIN registered_models AS m ON m.id = v.model_id {} \
             ORDER BY v.{column} {direction}, m.name ASC, v.id DESC LIMIT ?",
            if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            }
        );
        let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
        if let Some(tag) = self.excluded_tag {
            query = query.bind::<Text, _>(tag).bind::<Text, _>(tag);
        }
        if let Some((after, name, id)) = self.after {
            query = query
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(after)
                .bind::<Text, _>(name.clone())
                .bind::<Text, _>(name)
                .bind::<BigInt, _>(id);
        }
        let found: Vec<Found> = query.bind::<BigInt, _>(self.limit).load(conn)?;
        Ok(found.into_iter().map(|f| (f.version, f.name)).collect())
    }
}

/// The newest version in each stage of each model, as version row ids: one
/// probe of `model_versions_by_stage` (model, stage, version) per model and
/// stage, so the cost does not grow with a model's number of versions.
pub fn newest_per_stage(conn: &mut DbConn, model_ids: &[i64]) -> Result<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Newest {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        none: Option<i64>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        staging: Option<i64>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        production: Option<i64>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        archived: Option<i64>,
    }
    if model_ids.is_empty() {
        return Ok(Vec::new());
    }
    let probe = |stage: Stage| {
        format!(
            "(SELECT v.id FROM model_versions v WHERE v.model_id = m.id \
             AND v.current_stage = '{}' ORDER BY v.version DESC LIMIT 1)",
            stage.as_str()
        )
    };
    // the ids are the database's own integers, not text from a request
    let ids: Vec<String> = model_ids.iter().map(i64::to_string).collect();
    let query = format!(
        "SELECT {} AS none, {} AS staging, {} AS production, {} AS archived \
         FROM registered_models m WHERE m.id IN ({})",
        probe(Stage::None),
        probe(Stage::Staging),
        probe(Stage::Production),
        probe(Stage::Archived),
        ids.join(", ")
    );
    let rows: Vec<Newest> = diesel::sql_query(query).load(conn)?;
    Ok(rows
        .into_iter()
        .flat_map(|r| [r.none, r.staging, r.production, r.archived])
        .flatten()
        .collect())
}
