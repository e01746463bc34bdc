//! The lifecycle policy: a table of transition rules, and the guarded
//! stages whose gates hold along every path.
//!
//! A guarded stage is entered only by a move that meets its gate's
//! requirement (the gate is the rule or rules into the stage whose crossing
//! is the decision), whichever rule the move takes; or, as a rollback, by a
//! weaker rule if the version entered that stage before (it is *cleared*
//! for it). So None -> Archived -> Production cannot skip the
//! Staging -> Production decision.

mod aliases;
mod guards;
mod report;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::{LifecycleSettings, RuleSettings};
use crate::db::enums::{Role, Stage};

pub use aliases::{AliasRule, glob_matches};
pub use guards::Guard;
pub use report::PolicyReport;

use aliases::{alias_rules_from, default_alias_rules};
use guards::{default_guards, guards_from};

/// One allowed transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rule {
    /// Stage the version is in.
    pub from: Stage,
    /// Stage it moves to.
    pub to: Stage,
    /// Lowest role that may move it directly (admin reaches every rule).
    pub direct: Role,
    /// Distinct approvals a transition request needs.
    pub approvals: u32,
}

/// What one move needs: its rule, raised to the gate's requirement when it
/// enters a guarded stage by a weaker rule for a version not cleared for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The rule the move takes.
    pub rule: Rule,
    /// The lowest role that may make it directly (admin reaches every move).
    pub direct: Role,
    /// The distinct approvals a request for it needs.
    pub approvals: u32,
    /// The guard whose gate raised the requirement, if one did.
    pub raised_by: Option<Guard>,
}

/// What the policy says about one actor's move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The actor may move the version directly.
    Direct(Requirement),
    /// The move exists but this actor needs an approved request.
    NeedsApproval(Requirement),
}

/// The rules in force; a transition without a rule is never allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: BTreeMap<(Stage, Stage), Rule>,
    guards: BTreeMap<Stage, Guard>,
    alias_rules: Vec<AliasRule>,
}

impl Policy {
    /// DESIGN §4's default table.
    pub fn default_rules() -> Self {
        use Role::*;
        use Stage::*;
        let table = [
            (None, Staging, Contributor),
            (Staging, Production, Admin),
            (Production, Archived, Approver),
            (Archived, Production, Approver),
            (Production, Staging, Approver),
            (Staging, None, Contributor),
            (Staging, Archived, Contributor),
            (None, Archived, Contributor),
            (Archived, Staging, Contributor),
        ];
        let rules: BTreeMap<(Stage, Stage), Rule> = table
            .into_iter()
            .map(|(from, to, direct)| {
                (
                    (from, to),
                    Rule {
                        from,
                        to,
                        direct,
                        approvals: 1,
                    },
                )
            })
            .collect();
        let guards = default_guards(&rules);
        let alias_rules = default_alias_rules(&guards);
        Policy {
            rules,
            guards,
            alias_rules,
        }
    }

    /// Validates the configured rules and guards and checks the policy as
    /// a graph; the error names the offending rule or guard.
    pub fn from_settings(settings: &LifecycleSettings) -> Result<Self, String> {
        let rules = match settings.rules.as_deref() {
            Some(rules) => Self::rules_from(rules)?,
            None => Self::default_rules().rules,
        };
        let guards = match settings.guards.as_deref() {
            Some(guards) => guards_from(&rules, guards)?,
            None => default_guards(&rules),
        };
        let alias_rules = match settings.alias_rules.as_deref() {
            Some(aliases) => alias_rules_from(aliases)?,
            None => default_alias_rules(&guards),
        };
        let policy = Policy {
            rules,
            guards,
            alias_rules,
        };
        policy.check_graph()?;
        Ok(policy)
    }

    /// Validates configured rules; the error names the offending rule.
    fn rules_from(rules: &[RuleSettings]) -> Result<BTreeMap<(Stage, Stage), Rule>, String> {
        let mut table = BTreeMap::new();
        for (index, raw) in rules.iter().enumerate() {
            let name = format!("lifecycle rule #{} ({} -> {})", index + 1, raw.from, raw.to);
            let from = raw
                .from
                .parse::<Stage>()
                .map_err(|e| format!("{name}: `from`: {}", e.public_message()))?;
            let to = raw
                .to
                .parse::<Stage>()
                .map_err(|e| format!("{name}: `to`: {}", e.public_message()))?;
            let direct = raw
                .direct
                .parse::<Role>()
                .map_err(|e| format!("{name}: `direct`: {e}"))?;
            if from == to {
                return Err(format!("{name}: a stage cannot move to itself"));
            }
            if raw.approvals == 0 {
                return Err(format!("{name}: `approvals` must be at least 1"));
            }
            let rule = Rule {
                from,
                to,
                direct,
                approvals: raw.approvals,
            };
            if table.insert((from, to), rule).is_some() {
                return Err(format!("{name}: duplicate rule for {from} -> {to}"));
            }
        }
        Ok(table)
    }

    /// Refuses a guarded stage whose gate no version can reach from None.
    fn check_graph(&self) -> Result<(), String> {
        let reachable = self.reachable_from(Stage::None, |_| true);
        for guard in self.guards.values() {
            if !guard.gate.iter().any(|rule| reachable.contains(&rule.from)) {
                return Err(format!(
                    "lifecycle guard of {}: no version can reach its gate ({}) from None",
                    guard.stage,
                    guard.describe()
                ));
            }
        }
        Ok(())
    }

    /// The stages reachable from `start` by rules that `usable` admits.
    pub fn reachable_from(&self, start: Stage, usable: impl Fn(&Rule) -> bool) -> BTreeSet<Stage> {
        let mut seen = BTreeSet::from([start]);
        let mut frontier = vec![start];
        while let Some(stage) = frontier.pop() {
            for rule in self.rules.values().filter(|r| r.from == stage && usable(r)) {
                if seen.insert(rule.to) {
                    frontier.push(rule.to);
                }
            }
        }
        seen
    }

    /// The guard of a stage, if it is guarded.
    pub fn guard(&self, stage: Stage) -> Option<&Guard> {
        self.guards.get(&stage)
    }

    /// Every guard, by stage.
    pub fn guards(&self) -> impl Iterator<Item = &Guard> {
        self.guards.values()
    }

    /// The rule that guards an alias: the first that names it exactly,
    /// otherwise the first glob that matches it. `None`: the alias is a
    /// contributor's to set.
    pub fn alias_rule(&self, alias: &str) -> Option<&AliasRule> {
        self.alias_rules
            .iter()
            .find(|rule| rule.alias == alias)
            .or_else(|| self.alias_rules.iter().find(|rule| rule.matches(alias)))
    }

    /// Every alias rule, in configuration order.
    pub fn alias_rules(&self) -> impl Iterator<Item = &AliasRule> {
        self.alias_rules.iter()
    }

    /// What a move needs. `cleared` says whether the version entered `to`
    /// before (so a weaker rule into a guarded `to` is a rollback).
    pub fn requirement(
        &self,
        from: Stage,
        to: Stage,
        cleared: bool,
    ) -> Result<Requirement, String> {
        let rule = self.allowed(from, to)?;
        let plain = Requirement {
            rule,
            direct: rule.direct,
            approvals: rule.approvals,
            raised_by: None,
        };
        match self.guard(to) {
            Some(guard) if !guard.is_gate(from) && !cleared => Ok(Requirement {
                rule,
                direct: rule.direct.max(guard.direct()),
                approvals: rule.approvals.max(guard.approvals()),
                raised_by: Some(guard.clone()),
            }),
            _ => Ok(plain),
        }
    }

    /// The rule for a move, if one exists.
    pub fn rule(&self, from: Stage, to: Stage) -> Option<Rule> {
        self.rules.get(&(from, to)).copied()
    }

    /// Every rule, ordered by (from, to).
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values()
    }

    /// The rule for a move; `Err` carries the message for a move no rule allows.
    pub fn allowed(&self, from: Stage, to: Stage) -> Result<Rule, String> {
        if from == to {
            return Err(format!("the version is already in stage {to}"));
        }
        self.rule(from, to).ok_or_else(|| {
            format!(
                "the lifecycle policy has no rule for {from} -> {to}; this move is never allowed"
            )
        })
    }

    /// Whether `role` may move a version from `from` to `to` directly
    /// (`cleared` as for [`Policy::requirement`]). `Err` carries the message
    /// for a move no rule allows.
    pub fn decide(
        &self,
        role: Role,
        from: Stage,
        to: Stage,
        cleared: bool,
    ) -> Result<Decision, String> {
        let requirement = self.requirement(from, to, cleared)?;
        // admin, the highest role, reaches every requirement
        if role.reaches(requirement.direct) {
            Ok(Decision::Direct(requirement))
        } else {
            Ok(Decision::NeedsApproval(requirement))
        }
    }
}

#[cfg(test)]
mod tests;
