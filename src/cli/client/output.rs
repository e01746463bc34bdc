//! How a client command shows the server's answer: a table for people (the
//! default on a terminal), one JSON document for scripts (the default when
//! standard output is not a terminal, or `--output json`), or with
//! `--quiet` just the key value of each row, so
//! `VERSION=$(modelgate versions create churn --source … --quiet)` works.

use std::io::IsTerminal;

use serde_json::Value;

use crate::domain::history::format_instant;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Columns for people.
    Table,
    /// The server's answer as one JSON document.
    Json,
}

/// `--output` and `--quiet`, accepted anywhere after the noun.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// table or json (default: table on a terminal, json otherwise).
    #[arg(long, short = 'o', value_enum, global = true)]
    output: Option<Format>,
    /// Print only the key value: a model's name, a version's number, a
    /// request's or token's id, a new token's value; one per line for lists.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
}

/// How one kind of answer is shown.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// The field holding the rows of a list (`models`), or `None` for one object.
    pub rows: Option<&'static str>,
    /// The table's columns of a list: header and field.
    pub columns: &'static [(&'static str, &'static str)],
    /// The field `--quiet` prints (a dotted path into nested objects).
    pub key: &'static str,
}

impl View {
    /// One object, shown field by field; `key` for `--quiet`.
    pub const fn one(key: &'static str) -> Self {
        View {
            rows: None,
            columns: &[],
            key,
        }
    }

    /// A list under `rows`, shown in `columns`; `key` for `--quiet`.
    pub const fn list(
        rows: &'static str,
        columns: &'static [(&'static str, &'static str)],
        key: &'static str,
    ) -> Self {
        View {
            rows: Some(rows),
            columns,
            key,
        }
    }
}

impl OutputArgs {
    /// The format asked for, or the default for where standard output goes.
    pub fn format(&self) -> Format {
        self.output.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        })
    }

    /// `--quiet`.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// The answer as the options ask, ready to print (ends with a newline
    /// unless empty).
    pub fn render(&self, answer: &Value, view: &View) -> String {
        if self.quiet {
            return quiet(answer, view);
        }
        match self.format() {
            Format::Json if std::io::stdout().is_terminal() => {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(answer).unwrap_or_default()
                )
            }
            Format::Json => format!("{answer}\n"),
            Format::Table => match view.rows {
                Some(rows) => table(
                    answer[rows].as_array().map_or(&[][..], Vec::as_slice),
                    view.columns,
                ),
                None => fields(answer),
            },
        }
    }
}

fn quiet(answer: &Value, view: &View) -> String {
    let rows: Vec<&Value> = match view.rows {
        Some(rows) => answer[rows]
            .as_array()
            .map_or_else(Vec::new, |r| r.iter().collect()),
        None => vec![answer],
    };
    rows.into_iter()
        .filter_map(|row| {
            let value = view.key.split('.').try_fold(row, |v, part| v.get(part))?;
            (!value.is_null()).then(|| format!("{}\n", cell(view.key, value)))
        })
        .collect()
}

/// A list as columns, two spaces apart, with a header row.
pub fn table(rows: &[Value], columns: &[(&str, &str)]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(_, field)| shorten(&cell(field, &row[*field])))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (header, _))| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<&str>| {
        let mut text = values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut text = line(columns.iter().map(|(header, _)| *header).collect());
    for row in &cells {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// One object, a field per line (`name: value`); nested objects by their
/// dotted path.
fn fields(answer: &Value) -> String {
    let mut lines = Vec::new();
    flatten("", answer, &mut lines);
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines
        .into_iter()
        .map(|(key, value)| {
            let label = format!("{key}:");
            format!("{label:<w$} {value}", w = width + 1)
                .trim_end()
                .to_owned()
                + "\n"
        })
        .collect()
}

fn flatten(prefix: &str, value: &Value, lines: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if prefix.is_empty() || !is_map_of_scalars(map) => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, value, lines);
            }
        }
        _ => lines.push((prefix.to_owned(), cell(prefix, value))),
    }
}

/// Tags and aliases (`{"k": "v"}`) print on one line; other objects nest.
fn is_map_of_scalars(map: &serde_json::Map<String, Value>) -> bool {
    map.values()
        .all(|v| !matches!(v, Value::Object(_) | Value::Array(_)))
}

/// Long cells end in `…` in a table (the JSON has them whole).
fn shorten(text: &str) -> String {
    const WIDTH: usize = 60;
    if text.chars().count() <= WIDTH {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(WIDTH - 1).collect();
    short.push('…');
    short
}

/// One value as text; `field` says what it is (instants print as RFC 3339).
pub fn cell(field: &str, value: &Value) -> String {
    let name = field.rsplit('.').next().unwrap_or(field);
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.replace(['\n', '\r', '\t'], " "),
        Value::Number(n) if is_instant(name) => {
            n.as_i64().map_or_else(|| n.to_string(), format_instant)
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                // a model's latest versions, a request's approvals
                Value::Object(o) if o.contains_key("current_stage") => {
                    format!(
                        "{} {}",
                        cell("", &item["version"]),
                        cell("", &item["current_stage"])
                    )
                }
                Value::Object(o) if o.contains_key("user") => cell("", &item["user"]),
                other => cell(name, other),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", cell(k, v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn is_instant(name: &str) -> bool {
    name.ends_with("timestamp")
        || name.ends_with("_at")
        || name.ends_with("_until")
        || matches!(name, "at" | "since")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(output: Option<Format>, quiet: bool) -> OutputArgs {
        OutputArgs { output, quiet }
    }

    const VERSIONS: View = View::list(
        "versions",
        &[
            ("VERSION", "version"),
            ("STAGE", "current_stage"),
            ("CREATED", "creation_timestamp"),
        ],
        "version",
    );

    #[test]
    fn a_list_prints_as_aligned_columns_as_json_or_as_its_keys() {
        let answer = json!({"versions": [
            {"version": 12, "current_stage": "Production", "creation_timestamp": 0},
            {"version": 3, "current_stage": "None", "creation_timestamp": 1_000},
        ]});
        assert_eq!(
            args(Some(Format::Table), false).render(&answer, &VERSIONS),
            "VERSION  STAGE       CREATED\n\
             12       Production  1970-01-01T00:00:00Z\n\
             3        None        1970-01-01T00:00:01Z\n"
        );
        assert_eq!(args(None, true).render(&answer, &VERSIONS), "12\n3\n");
        // piped (as under cargo test): one JSON document on one line
        assert_eq!(
            args(Some(Format::Json), false).render(&answer, &VERSIONS),
            format!("{answer}\n")
        );
        assert_eq!(
            args(Some(Format::Table), false).render(&json!({"versions": []}), &VERSIONS),
            "VERSION  STAGE  CREATED\n"
        );
    }

    #[test]
    fn one_object_prints_field_by_field_with_nested_paths() {
        let answer = json!({
            "action": "requested",
            "request": {"id": 7, "approvals": [{"user": "april", "timestamp": 1}],
                        "comment": "two\nlines"},
            "tags": {"team": "risk", "tier": "1"},
        });
        assert_eq!(
            args(Some(Format::Table), false).render(&answer, &View::one("request.id")),
            "action:            requested\n\
             request.id:        7\n\
             request.approvals: april\n\
             request.comment:   two lines\n\
             tags:              team=risk, tier=1\n"
        );
        assert_eq!(
            args(None, true).render(&answer, &View::one("request.id")),
            "7\n"
        );
        assert_eq!(args(None, true).render(&answer, &View::one("missing")), "");
    }

    #[test]
    fn cells_name_versions_by_stage_and_shorten_in_tables() {
        let latest = json!([{"version": 4, "current_stage": "Staging"}, {"version": 2, "current_stage": "Production"}]);
        assert_eq!(cell("latest_versions", &latest), "4 Staging, 2 Production");
        assert_eq!(
            cell("events", &json!(["version.*", "request.created"])),
            "version.*, request.created"
        );
        let long = "x".repeat(100);
        let table = table(&[json!({"d": long})], &[("D", "d")]);
        assert_eq!(table.lines().nth(1).map(|l| l.chars().count()), Some(60));
        assert!(table.ends_with("…\n"));
    }
}
