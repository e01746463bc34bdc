//! The policy's rules, gates and report, checked directly.

use super::*;
use crate::config::{AliasRuleSettings, GuardSettings};
use aliases::glob_matches;

fn rule(from: &str, to: &str, direct: &str) -> RuleSettings {
    RuleSettings {
        from: from.into(),
        to: to.into(),
        direct: direct.into(),
        approvals: 1,
    }
}

/// DESIGN §4's table, written out independently of `default_rules`:
/// every ordered pair of stages, its direct role, or no rule.
#[test]
fn default_table_has_the_designs_nine_rules_and_no_other() {
    use Stage::*;
    let design = [
        ((None, Staging), Role::Contributor),
        ((Staging, Production), Role::Admin),
        ((Production, Archived), Role::Approver),
        ((Archived, Production), Role::Approver),
        ((Production, Staging), Role::Approver),
        ((Staging, None), Role::Contributor),
        ((Staging, Archived), Role::Contributor),
        ((None, Archived), Role::Contributor),
        ((Archived, Staging), Role::Contributor),
    ];
    let policy = Policy::default_rules();
    let stages = [None, Staging, Production, Archived];
    let roles = [Role::Viewer, Role::Contributor, Role::Approver, Role::Admin];
    for from in stages {
        for to in stages {
            let expected =
                design
                    .iter()
                    .find(|(pair, _)| *pair == (from, to))
                    .map(|(_, direct)| Rule {
                        from,
                        to,
                        direct: *direct,
                        approvals: 1,
                    });
            assert_eq!(policy.rule(from, to), expected, "{from} -> {to}");
            for (rank, role) in roles.into_iter().enumerate() {
                // cleared: the rule itself, not a guard raising it
                let decision = policy.decide(role, from, to, true);
                match expected {
                    Option::None => assert!(decision.is_err(), "{from} -> {to} as {role}"),
                    Some(rule)
                        if rank
                            >= roles
                                .iter()
                                .position(|r| *r == rule.direct)
                                .unwrap_or(usize::MAX) =>
                    {
                        assert!(
                            matches!(decision, Ok(Decision::Direct(_))),
                            "{from} -> {to} as {role}: {decision:?}"
                        )
                    }
                    Some(_) => assert!(
                        matches!(decision, Ok(Decision::NeedsApproval(_))),
                        "{from} -> {to} as {role}: {decision:?}"
                    ),
                }
            }
        }
    }
    assert_eq!(policy.rules().count(), design.len());
}

#[test]
fn default_table_matches_the_design() {
    let policy = Policy::default_rules();
    assert_eq!(policy.rules().count(), 9);
    assert!(policy.rule(Stage::None, Stage::Production).is_none());
    assert_eq!(
        policy.decide(Role::Contributor, Stage::None, Stage::Staging, false),
        Ok(Decision::Direct(Requirement {
            rule: Rule {
                from: Stage::None,
                to: Stage::Staging,
                direct: Role::Contributor,
                approvals: 1
            },
            direct: Role::Contributor,
            approvals: 1,
            raised_by: None,
        }))
    );
    assert!(matches!(
        policy.decide(Role::Approver, Stage::Staging, Stage::Production, false),
        Ok(Decision::NeedsApproval(_))
    ));
    assert!(matches!(
        policy.decide(Role::Admin, Stage::Staging, Stage::Production, false),
        Ok(Decision::Direct(_))
    ));
    assert!(
        policy
            .decide(Role::Admin, Stage::None, Stage::Production, false)
            .is_err()
    );
    assert!(
        policy
            .decide(Role::Admin, Stage::Staging, Stage::Staging, false)
            .is_err()
    );
}

#[test]
fn a_weaker_rule_into_a_guarded_stage_needs_the_gate_unless_it_is_a_rollback() {
    let policy = Policy::default_rules();
    let guard = policy.guard(Stage::Production).cloned();
    assert_eq!(
        guard.as_ref().map(Guard::describe).as_deref(),
        Some("Staging -> Production")
    );
    // Archived -> Production is an approver's rule, but only a rollback
    // of a version that was in Production before.
    assert!(matches!(
        policy.decide(Role::Approver, Stage::Archived, Stage::Production, false),
        Ok(Decision::NeedsApproval(Requirement {
            direct: Role::Admin,
            approvals: 1,
            raised_by: Some(_),
            ..
        }))
    ));
    assert!(matches!(
        policy.decide(Role::Approver, Stage::Archived, Stage::Production, true),
        Ok(Decision::Direct(Requirement {
            direct: Role::Approver,
            raised_by: None,
            ..
        }))
    ));
    // unguarded stages keep their rules
    assert!(matches!(
        policy.decide(Role::Contributor, Stage::None, Stage::Archived, false),
        Ok(Decision::Direct(Requirement {
            raised_by: None,
            ..
        }))
    ));
}

#[test]
fn alias_rules_match_exactly_first_then_by_glob() {
    let policy = Policy::default_rules();
    let champion = policy.alias_rule("champion").cloned();
    assert_eq!(champion.as_ref().map(|r| r.direct), Some(Role::Admin));
    assert!(policy.alias_rule("challenger").is_none());
    let configured = Policy::from_settings(&LifecycleSettings {
        rules: None,
        guards: None,
        alias_rules: Some(vec![
            AliasRuleSettings {
                alias: "prod-*".into(),
                direct: "approver".into(),
                approvals: 2,
                stage: Some("Production".into()),
            },
            AliasRuleSettings {
                alias: "prod-eu".into(),
                direct: "admin".into(),
                approvals: 1,
                stage: None,
            },
        ]),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        configured.alias_rule("prod-eu").map(|r| r.direct),
        Some(Role::Admin)
    );
    assert_eq!(
        configured.alias_rule("prod-us").map(|r| r.approvals),
        Some(2)
    );
    assert!(configured.alias_rule("prod").is_none());
    assert!(
        configured.alias_rule("champion").is_none(),
        "configured rules replace the default"
    );
    assert!(glob_matches(b"a?c*", b"abcdef"));
    assert!(!glob_matches(b"a?c", b"ac"));
}

#[test]
fn the_report_names_what_each_role_reaches_and_the_rollback_only_rules() {
    let report = Policy::default_rules().report();
    let reach = |role: Role| {
        report
            .reachable
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, stages)| stages.clone())
            .unwrap_or_default()
    };
    assert_eq!(reach(Role::Viewer), vec![Stage::None]);
    assert_eq!(
        reach(Role::Approver),
        vec![Stage::None, Stage::Staging, Stage::Archived]
    );
    assert_eq!(reach(Role::Admin), Stage::ALL.to_vec());
    assert_eq!(
        report.rollback_only,
        vec![Rule {
            from: Stage::Archived,
            to: Stage::Production,
            direct: Role::Approver,
            approvals: 1
        }]
    );
    let text = report.to_string();
    assert!(text.contains("Archived -> Production (approver)"), "{text}");
}

fn settings(rules: Vec<RuleSettings>, guards: Option<Vec<GuardSettings>>) -> LifecycleSettings {
    LifecycleSettings {
        rules: Some(rules),
        guards,
        alias_rules: None,
    }
}

fn guard(stage: &str, gate: &[&str]) -> GuardSettings {
    GuardSettings {
        stage: stage.into(),
        gate: gate
            .iter()
            .map(|from| crate::config::GateSettings {
                from: (*from).into(),
            })
            .collect(),
    }
}

#[test]
fn a_guard_without_a_gate_or_with_an_unreachable_gate_is_refused() {
    let rules = || {
        vec![
            rule("None", "Staging", "contributor"),
            rule("Staging", "Production", "admin"),
            rule("Archived", "Production", "approver"),
        ]
    };
    let cases = [
        (Some(vec![guard("Production", &[])]), "needs a gate"),
        (Some(vec![guard("Production", &["None"])]), "no rule allows"),
        (
            Some(vec![guard("Production", &["Archived"])]),
            "no version can reach its gate",
        ),
        (Some(vec![guard("Prod", &["Staging"])]), "`stage`"),
        (
            Some(vec![
                guard("Production", &["Staging"]),
                guard("Production", &["Staging"]),
            ]),
            "guarded twice",
        ),
    ];
    for (guards, expected) in cases {
        let error = Policy::from_settings(&settings(rules(), guards))
            .err()
            .unwrap_or_default();
        assert!(error.contains("lifecycle guard"), "{error}");
        assert!(error.contains(expected), "{expected}: {error}");
    }
    let default = Policy::from_settings(&settings(rules(), None)).unwrap_or_else(|e| panic!("{e}"));
    assert!(default.guard(Stage::Production).is_some());
    let none = Policy::from_settings(&settings(rules(), Some(Vec::new())))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.guards().count(), 0);
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
        let error = Policy::from_settings(&settings(rules, None))
            .err()
            .unwrap_or_default();
        assert!(error.contains("lifecycle rule #"), "{error}");
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn reachable_stages_follow_rules_from_the_stage_reached_and_only_usable_ones() {
    let policy = Policy::from_settings(&settings(
        vec![
            rule("None", "Staging", "contributor"),
            rule("Staging", "Production", "admin"),
        ],
        None,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let all = |_: &Rule| true;
    assert_eq!(
        policy.reachable_from(Stage::None, all),
        BTreeSet::from([Stage::None, Stage::Staging, Stage::Production])
    );
    // only rules out of a stage already reached lead on
    assert_eq!(
        policy.reachable_from(Stage::Staging, all),
        BTreeSet::from([Stage::Staging, Stage::Production])
    );
    assert_eq!(
        policy.reachable_from(Stage::Archived, all),
        BTreeSet::from([Stage::Archived])
    );
    // and only the rules `usable` admits
    assert_eq!(
        policy.reachable_from(Stage::None, |r| r.direct == Role::Contributor),
        BTreeSet::from([Stage::None, Stage::Staging])
    );
}

#[test]
fn a_weaker_rule_into_a_guarded_stage_needs_the_gates_approvals_and_role() {
    let mut gate = rule("Staging", "Production", "admin");
    gate.approvals = 2;
    let policy = Policy::from_settings(&settings(
        vec![
            rule("None", "Staging", "contributor"),
            gate,
            rule("Staging", "Archived", "contributor"),
            rule("Archived", "Production", "approver"),
        ],
        Some(vec![guard("Production", &["Staging"])]),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    // not a rollback: raised to the gate's two approvals and its role
    let raised = policy.decide(Role::Approver, Stage::Archived, Stage::Production, false);
    match raised {
        Ok(Decision::NeedsApproval(requirement)) => {
            assert_eq!(requirement.approvals, 2);
            assert_eq!(requirement.direct, Role::Admin);
            assert_eq!(
                requirement.raised_by.map(|g| g.stage),
                Some(Stage::Production)
            );
        }
        other => panic!("{other:?}"),
    }
    // the gate itself is not raised by its own guard
    match policy.decide(Role::Approver, Stage::Staging, Stage::Production, false) {
        Ok(Decision::NeedsApproval(requirement)) => {
            assert_eq!(requirement.approvals, 2);
            assert_eq!(requirement.raised_by, None);
        }
        other => panic!("{other:?}"),
    }
    // the report lists the weaker rule as a rollback only, not the gate
    let report = policy.report();
    assert_eq!(
        report
            .rollback_only
            .iter()
            .map(|r| (r.from, r.to))
            .collect::<Vec<_>>(),
        vec![(Stage::Archived, Stage::Production)]
    );
}

#[test]
fn a_rule_as_strong_as_the_gate_is_not_listed_as_a_rollback_only() {
    let policy = Policy::from_settings(&settings(
        vec![
            rule("None", "Staging", "contributor"),
            rule("Staging", "Production", "admin"),
            rule("Staging", "Archived", "contributor"),
            rule("Archived", "Production", "admin"),
        ],
        Some(vec![guard("Production", &["Staging"])]),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(policy.report().rollback_only.is_empty());
}

#[test]
fn a_glob_star_still_needs_the_rest_of_the_pattern() {
    assert!(glob_matches(b"prod-*-eu", b"prod-x-eu"));
    assert!(glob_matches(b"prod-*-eu", b"prod--eu"));
    assert!(!glob_matches(b"prod-*-eu", b"prod-x-us"));
    assert!(!glob_matches(b"*b", b"aaa"));
    assert!(glob_matches(b"*", b""));
}

#[test]
fn alias_rules_with_bad_or_overlong_patterns_are_refused() {
    for alias in ["champ ion", "prod/eu", &"a".repeat(256)] {
        let refused = Policy::from_settings(&LifecycleSettings {
            rules: None,
            guards: None,
            alias_rules: Some(vec![AliasRuleSettings {
                alias: alias.to_owned(),
                direct: "approver".into(),
                approvals: 1,
                stage: None,
            }]),
        });
        assert!(refused.is_err(), "{alias}");
    }
}
