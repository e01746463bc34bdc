//! Guarded aliases: who may set, move or delete the aliases a rule names
//! (by exact name or glob); the default rule and the configured ones.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Guard;
use crate::config::AliasRuleSettings;
use crate::db::enums::{Role, Stage};

/// Who may set, move or delete the aliases a pattern names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AliasRule {
    /// An alias, or a glob (`*` any run of characters, `?` one).
    pub alias: String,
    /// Lowest role that may set, move or delete it directly.
    pub direct: Role,
    /// Distinct approvals a request for it needs.
    pub approvals: u32,
    /// The stage the version it names must be in, if any.
    pub stage: Option<Stage>,
}

impl AliasRule {
    /// Whether the rule names this alias.
    pub fn matches(&self, alias: &str) -> bool {
        glob_matches(self.alias.as_bytes(), alias.as_bytes())
    }
}

/// `*` matches any run of characters, `?` one; anything else itself.
pub fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.split_first(), text.split_first()) {
        (None, _) => text.is_empty(),
        (Some((b'*', rest)), _) => {
            glob_matches(rest, text) || (!text.is_empty() && glob_matches(pattern, &text[1..]))
        }
        (Some((b'?', rest)), Some((_, tail))) => glob_matches(rest, tail),
        (Some((p, rest)), Some((t, tail))) if p == t => glob_matches(rest, tail),
        _ => false,
    }
}

/// `champion`, guarded like entering Production (its gate's role and
/// approvals; an admin's with one approval when Production is unguarded).
pub(super) fn default_alias_rules(guards: &BTreeMap<Stage, Guard>) -> Vec<AliasRule> {
    let production = guards.get(&Stage::Production);
    vec![AliasRule {
        alias: "champion".to_owned(),
        direct: production.map_or(Role::Admin, Guard::direct),
        approvals: production.map_or(1, Guard::approvals),
        stage: None,
    }]
}

/// Validates configured alias rules; the error names the offending rule.
pub(super) fn alias_rules_from(rules: &[AliasRuleSettings]) -> Result<Vec<AliasRule>, String> {
    rules
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            let name = format!("lifecycle alias rule #{} ({})", index + 1, raw.alias);
            let pattern_ok = !raw.alias.is_empty()
                && raw.alias.len() <= 255
                && raw
                    .alias
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '?'));
            if !pattern_ok {
                return Err(format!(
                    "{name}: `alias` must be an alias or a glob of letters, digits, '_', '-', '.', '*' and '?'"
                ));
            }
            let direct = raw
                .direct
                .parse::<Role>()
                .map_err(|e| format!("{name}: `direct`: {e}"))?;
            if raw.approvals == 0 {
                return Err(format!("{name}: `approvals` must be at least 1"));
            }
            let stage = raw
                .stage
                .as_deref()
                .map(str::parse::<Stage>)
                .transpose()
                .map_err(|e| format!("{name}: `stage`: {}", e.public_message()))?;
            Ok(AliasRule {
                alias: raw.alias.clone(),
                direct,
                approvals: raw.approvals,
                stage,
            })
        })
        .collect()
}
