//! Guarded stages: each is entered only through its gate (or, once
//! cleared, by a rollback); the default guard and the configured ones.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Rule;
use crate::config::GuardSettings;
use crate::db::enums::{Role, Stage};

/// A guarded stage and its gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Guard {
    /// The guarded stage.
    pub stage: Stage,
    /// The rules into it whose crossing is the decision.
    pub gate: Vec<Rule>,
}

impl Guard {
    /// The lowest role that meets the gate directly (the loosest gate rule's).
    pub fn direct(&self) -> Role {
        self.gate
            .iter()
            .map(|r| r.direct)
            .min()
            .unwrap_or(Role::Admin)
    }

    /// The approvals that meet the gate by request (the loosest gate rule's).
    pub fn approvals(&self) -> u32 {
        self.gate.iter().map(|r| r.approvals).min().unwrap_or(1)
    }

    /// Whether `from -> stage` is one of the gate's rules.
    pub fn is_gate(&self, from: Stage) -> bool {
        self.gate.iter().any(|r| r.from == from)
    }

    /// The gate's rules as `Staging -> Production or …`.
    pub fn describe(&self) -> String {
        let rules: Vec<String> = self
            .gate
            .iter()
            .map(|r| format!("{} -> {}", r.from, r.to))
            .collect();
        rules.join(" or ")
    }
}

/// Production, gated by the Staging -> Production rule, when there is one.
pub(super) fn default_guards(rules: &BTreeMap<(Stage, Stage), Rule>) -> BTreeMap<Stage, Guard> {
    rules
        .get(&(Stage::Staging, Stage::Production))
        .map(|gate| {
            (
                Stage::Production,
                Guard {
                    stage: Stage::Production,
                    gate: vec![*gate],
                },
            )
        })
        .into_iter()
        .collect()
}

/// Validates configured guards; the error names the offending guard.
pub(super) fn guards_from(
    rules: &BTreeMap<(Stage, Stage), Rule>,
    guards: &[GuardSettings],
) -> Result<BTreeMap<Stage, Guard>, String> {
    let mut table = BTreeMap::new();
    for (index, raw) in guards.iter().enumerate() {
        let name = format!("lifecycle guard #{} ({})", index + 1, raw.stage);
        let stage = raw
            .stage
            .parse::<Stage>()
            .map_err(|e| format!("{name}: `stage`: {}", e.public_message()))?;
        if raw.gate.is_empty() {
            return Err(format!("{name}: a guarded stage needs a gate"));
        }
        let mut gate = Vec::new();
        for entry in &raw.gate {
            let from = entry
                .from
                .parse::<Stage>()
                .map_err(|e| format!("{name}: `gate`: {}", e.public_message()))?;
            let rule = rules.get(&(from, stage)).ok_or_else(|| {
                format!("{name}: the gate names {from} -> {stage}, which no rule allows")
            })?;
            if !gate.contains(rule) {
                gate.push(*rule);
            }
        }
        if table.insert(stage, Guard { stage, gate }).is_some() {
            return Err(format!("{name}: {stage} is guarded twice"));
        }
    }
    Ok(table)
}
