//! What a policy lets each role do on its own, and which rules its guards
//! made rollback-only (`modelgate policy check`, and the start-up log).

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Decision, Policy, Rule};
use crate::db::enums::{Role, Stage};

/// What a policy lets each role do on its own, and which rules a guard has
/// made rollback-only (`modelgate policy check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyReport {
    /// For each role, the stages it can bring a new version to by direct
    /// moves alone (in lifecycle order).
    pub reachable: Vec<(Role, Vec<Stage>)>,
    /// Rules into a guarded stage that are weaker than its gate: they move
    /// only a version that was in that stage before.
    pub rollback_only: Vec<Rule>,
}

impl Policy {
    /// The report of this policy (see [`PolicyReport`]).
    pub fn report(&self) -> PolicyReport {
        let reachable = Role::ALL
            .into_iter()
            .map(|role| (role, self.reachable_by(role)))
            .collect();
        let rollback_only = self
            .guards
            .values()
            .flat_map(|guard| {
                self.rules.values().filter(move |rule| {
                    rule.to == guard.stage
                        && !guard.is_gate(rule.from)
                        && rule.direct < guard.direct()
                })
            })
            .copied()
            .collect();
        PolicyReport {
            reachable,
            rollback_only,
        }
    }

    /// The stages `role` can bring a new version to by its own direct
    /// moves, following the clearances those moves give.
    fn reachable_by(&self, role: Role) -> Vec<Stage> {
        let start = (Stage::None, BTreeSet::new());
        let mut seen = BTreeSet::from([start.clone()]);
        let mut frontier = vec![start];
        let mut stages = BTreeSet::from([Stage::None]);
        while let Some((stage, cleared)) = frontier.pop() {
            for to in Stage::ALL {
                let Ok(Decision::Direct(_)) = self.decide(role, stage, to, cleared.contains(&to))
                else {
                    continue;
                };
                let mut next = cleared.clone();
                next.insert(to);
                stages.insert(to);
                if seen.insert((to, next.clone())) {
                    frontier.push((to, next));
                }
            }
        }
        stages.into_iter().collect()
    }
}

impl std::fmt::Display for PolicyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "on its own, each role can bring a new version to:")?;
        for (role, stages) in &self.reachable {
            let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
            writeln!(f, "  {:<12} {}", role.as_str(), names.join(", "))?;
        }
        if self.rollback_only.is_empty() {
            return writeln!(f, "no rule is rollback-only");
        }
        writeln!(
            f,
            "rollback-only (weaker than the gate of the stage they enter):"
        )?;
        for rule in &self.rollback_only {
            writeln!(
                f,
                "  {} -> {} ({}): only for a version that was in {} before",
                rule.from, rule.to, rule.direct, rule.to
            )?;
        }
        Ok(())
    }
}
