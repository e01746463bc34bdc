//! The lifecycle policy: a table of transition rules.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::RuleSettings;
use crate::db::enums::Role;
use crate::db::enums::Stage;

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

/// The rules in force; a transition without a rule is never allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: BTreeMap<(Stage, Stage), Rule>,
}

/// What the policy says about one actor's move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The actor may move the version directly.
    Direct(Rule),
    /// The move exists but this actor needs an approved request.
    NeedsApproval(Rule),
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
        Policy {
            rules: table
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
                .collect(),
        }
    }

    /// Validates configured rules; the error names the offending rule.
    pub fn from_settings(rules: Option<&[RuleSettings]>) -> Result<Self, String> {
        let Some(rules) = rules else {
            return Ok(Self::default_rules());
        };
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
        Ok(Policy { rules: table })
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

    /// Whether `role` may move a version from `from` to `to` directly.
    /// `Err` carries the message for a move no rule allows.
    pub fn decide(&self, role: Role, from: Stage, to: Stage) -> Result<Decision, String> {
        let rule = self.allowed(from, to)?;
        if role == Role::Admin || role.reaches(rule.direct) {
            Ok(Decision::Direct(rule))
        } else {
            Ok(Decision::NeedsApproval(rule))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(from: &str, to: &str, direct: &str) -> RuleSettings {
        RuleSettings {
            from: from.into(),
            to: to.into(),
            direct: direct.into(),
            approvals: 1,
        }
    }

    #[test]
    fn default_table_matches_the_design() {
        let policy = Policy::default_rules();
        assert_eq!(policy.rules().count(), 9);
        assert!(policy.rule(Stage::None, Stage::Production).is_none());
        assert_eq!(
            policy.decide(Role::Contributor, Stage::None, Stage::Staging),
            Ok(Decision::Direct(Rule {
                from: Stage::None,
                to: Stage::Staging,
                direct: Role::Contributor,
                approvals: 1
            }))
        );
        assert!(matches!(
            policy.decide(Role::Approver, Stage::Staging, Stage::Production),
            Ok(Decision::NeedsApproval(_))
        ));
        assert!(matches!(
            policy.decide(Role::Admin, Stage::Staging, Stage::Production),
            Ok(Decision::Direct(_))
        ));
        assert!(
            policy
                .decide(Role::Admin, Stage::None, Stage::Production)
                .is_err()
        );
        assert!(
            policy
                .decide(Role::Admin, Stage::Staging, Stage::Staging)
                .is_err()
        );
    }

    #[test]
    fn bad_rules_are_rejected_with_the_rule_named() {
        let cases = [
            (vec![rule("Staging", "Prod", "admin")], "`to`"),
            (vec![rule("Staging", "Production", "root")], "`direct`"),
            (vec![rule("Staging", "Staging", "admin")], "itself"),
            (
                vec![
                    rule("None", "Staging", "admin"),
                    rule("None", "Staging", "viewer"),
                ],
                "duplicate",
            ),
        ];
        for (rules, expected) in cases {
            let error = Policy::from_settings(Some(&rules))
                .err()
                .unwrap_or_default();
            assert!(error.contains("lifecycle rule #"), "{error}");
            assert!(error.contains(expected), "{error}");
        }
    }
}
