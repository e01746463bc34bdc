//! Searching registered models: MLflow's filter over names and tags, an
//! order, and keyset pages.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::rows::ModelRow;
use crate::db::schema::{registered_model_tags, registered_models};
use crate::db::{self, DbConn};
use crate::domain::filter::{Comparison, Field};
use crate::domain::models::{RegisteredModel, hydrate};
use crate::domain::sql::{Page, PageToken, after_key, tag_filter, text_filter};
use crate::error::{Error, Result};

/// The sort key of a model search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSortKey {
    /// By name.
    Name,
    /// By creation time.
    CreationTimestamp,
    /// By last change.
    LastUpdatedTimestamp,
}

/// A model search's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOrder {
    /// Sort key.
    pub key: ModelSortKey,
    /// Descending?
    pub descending: bool,
}

impl Default for ModelOrder {
    fn default() -> Self {
        ModelOrder {
            key: ModelSortKey::Name,
            descending: false,
        }
    }
}

impl ModelOrder {
    /// Parses `name`, `name DESC`, `creation_timestamp ASC`, `last_updated_timestamp DESC`.
    pub fn parse(text: &str) -> Result<Self> {
        const EXPECTED: &str = "name, creation_timestamp or last_updated_timestamp";
        let (key, descending) = crate::domain::sql::order_words(text, EXPECTED)?;
        let key = match key.as_str() {
            "name" => ModelSortKey::Name,
            "creation_timestamp" => ModelSortKey::CreationTimestamp,
            // MLflow's `timestamp` is the last update
            "last_updated_timestamp" | "timestamp" => ModelSortKey::LastUpdatedTimestamp,
            _ => {
                return Err(Error::invalid(format!(
                    "invalid order_by '{}': expected {EXPECTED}, optionally followed by ASC or DESC",
                    text.escape_debug()
                )));
            }
        };
        Ok(ModelOrder { key, descending })
    }

    fn scope(self) -> String {
        let key = match self.key {
            ModelSortKey::Name => "name",
            ModelSortKey::CreationTimestamp => "created",
            ModelSortKey::LastUpdatedTimestamp => "updated",
        };
        format!(
            "models:{key}:{}",
            if self.descending { "desc" } else { "asc" }
        )
    }
}

/// A model search.
#[derive(Debug, Clone)]
pub struct ModelQuery {
    /// Comparisons on `name` and `tags.<key>`, joined by AND.
    pub filter: Vec<Comparison>,
    /// Order.
    pub order: ModelOrder,
    /// Page size.
    pub max_results: i64,
    /// Continuation.
    pub page_token: Option<String>,
    /// Leave out MLflow prompts (models tagged `mlflow.prompt.is_prompt` = `true`).
    pub exclude_prompts: bool,
}

/// Searches models with a filter, an order and keyset pages.
pub fn list(conn: &mut DbConn, query: ModelQuery) -> Result<Page<RegisteredModel>> {
    use registered_model_tags::dsl as t;
    use registered_models::dsl as m;

    let scope = query.order.scope();
    let token = match &query.page_token {
        Some(text) => Some(PageToken::decode(text, &scope)?),
        None => None,
    };
    let mut select = m::registered_models
        .select(ModelRow::as_select())
        .limit(query.max_results + 1)
        .into_boxed();

    if query.exclude_prompts {
        select = select.filter(diesel::dsl::not(
            m::id.eq_any(
                t::registered_model_tags
                    .filter(t::key.eq(crate::domain::filter::PROMPT_TAG))
                    .filter(t::value.eq("true"))
                    .select(t::model_id),
            ),
        ));
    }
    for comparison in &query.filter {
        select = match &comparison.field {
            Field::Attribute(attr) if attr.eq_ignore_ascii_case("name") => {
                text_filter!(select, m::name, comparison, comparison.text()?.to_owned())
            }
            Field::Tag(key) => tag_filter!(
                select,
                m::id,
                t::registered_model_tags
                    .filter(t::key.eq(key.clone()))
                    .select(t::model_id),
                t::value,
                comparison
            ),
            Field::Attribute(attr) => {
                return Err(Error::invalid(format!(
                    "invalid filter: registered models can be filtered by name and \
                     tags.<key>, not '{attr}'"
                )));
            }
        };
    }

    let descending = query.order.descending;
    if let Some(token) = &token {
        // names are unique; timestamps tie-break on the id, in the same direction
        let id = token.id;
        select = match (query.order.key, descending) {
            (ModelSortKey::Name, false) => select.filter(m::name.gt(token.text_key()?)),
            (ModelSortKey::Name, true) => select.filter(m::name.lt(token.text_key()?)),
            (ModelSortKey::CreationTimestamp, false) => {
                after_key!(
                    select,
                    m::creation_timestamp,
                    token.int_key()?,
                    m::id.gt(id),
                    false
                )
            }
            (ModelSortKey::CreationTimestamp, true) => {
                after_key!(
                    select,
                    m::creation_timestamp,
                    token.int_key()?,
                    m::id.lt(id),
                    true
                )
            }
            (ModelSortKey::LastUpdatedTimestamp, false) => after_key!(
                select,
                m::last_updated_timestamp,
                token.int_key()?,
                m::id.gt(id),
                false
            ),
            (ModelSortKey::LastUpdatedTimestamp, true) => after_key!(
                select,
                m::last_updated_timestamp,
                token.int_key()?,
                m::id.lt(id),
                true
            ),
        };
    }
    select = match (query.order.key, descending) {
        (ModelSortKey::Name, false) => select.order(m::name.asc()),
        (ModelSortKey::Name, true) => select.order(m::name.desc()),
        (ModelSortKey::CreationTimestamp, false) => {
            select.order((m::creation_timestamp.asc(), m::id.asc()))
        }
        (ModelSortKey::CreationTimestamp, true) => {
            select.order((m::creation_timestamp.desc(), m::id.desc()))
        }
        (ModelSortKey::LastUpdatedTimestamp, false) => {
            select.order((m::last_updated_timestamp.asc(), m::id.asc()))
        }
        (ModelSortKey::LastUpdatedTimestamp, true) => {
            select.order((m::last_updated_timestamp.desc(), m::id.desc()))
        }
    };

    db::read(conn, |conn| {
        let rows: Vec<ModelRow> = select.load(conn)?;
        let tokens: HashMap<String, PageToken> = rows
            .iter()
            .map(|row| {
                let token = match query.order.key {
                    ModelSortKey::Name => PageToken::new(&scope, row.name.clone().into(), 0),
                    ModelSortKey::CreationTimestamp => {
                        PageToken::new(&scope, row.creation_timestamp.into(), row.id)
                    }
                    ModelSortKey::LastUpdatedTimestamp => {
                        PageToken::new(&scope, row.last_updated_timestamp.into(), row.id)
                    }
                };
                (row.name.clone(), token)
            })
            .collect();
        let items = hydrate(conn, rows)?;
        Ok(Page::from_overfetch(items, query.max_results, |model| {
            tokens
                .get(&model.name)
                .cloned()
                .unwrap_or_else(|| PageToken::int(&scope, 0))
        }))
    })
}
