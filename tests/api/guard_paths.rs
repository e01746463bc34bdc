//! Every path of direct moves, for every role, under three policies: no
//! version reaches a guarded stage without crossing its gate, and every
//! rollback the rules give is allowed.
//!
//! The moves a role may make next depend only on the version's stage and on
//! the guarded stages it has been in (its clearances), so the paths are
//! explored breadth-first up to length 6 with one representative per such
//! state: every sequence of up to 6 moves passes through states explored
//! here, by paths of the same effect. Each path is replayed on a fresh
//! version through the real API, then every next move is tried.

use std::collections::{BTreeSet, HashSet, VecDeque};

use crate::helpers::spawn_app_with_config;

pub(crate) const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];
pub(crate) const ROLES: [&str; 4] = ["viewer", "contributor", "approver", "admin"];

pub(crate) fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap_or(0)
}

/// A rule as the test's own oracle reads it: (from, to, lowest direct role).
pub(crate) type Rule = (&'static str, &'static str, &'static str);

pub(crate) struct Policy {
    pub(crate) name: &'static str,
    pub(crate) rules: Vec<Rule>,
    /// (guarded stage, its gate's from-stages)
    pub(crate) guards: Vec<(&'static str, Vec<&'static str>)>,
}

impl Policy {
    fn toml(&self) -> String {
        let mut text = String::new();
        for (from, to, direct) in &self.rules {
            text.push_str(&format!(
                "[[lifecycle.rules]]\nfrom = \"{from}\"\nto = \"{to}\"\ndirect = \"{direct}\"\n\n"
            ));
        }
        for (stage, gate) in &self.guards {
            let gate: Vec<String> = gate
                .iter()
                .map(|f| format!("{{ from = \"{f}\" }}"))
                .collect();
            text.push_str(&format!(
                "[[lifecycle.guards]]\nstage = \"{stage}\"\ngate = [{}]\n\n",
                gate.join(", ")
            ));
        }
        text
    }

    pub(crate) fn rule(&self, from: &str, to: &str) -> Option<Rule> {
        self.rules
            .iter()
            .copied()
            .find(|(f, t, _)| *f == from && *t == to)
    }

    pub(crate) fn gate(&self, stage: &str) -> Option<&Vec<&'static str>> {
        self.guards
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, gate)| gate)
    }

    /// Whether `role` meets `stage`'s gate directly (the loosest gate rule).
    pub(crate) fn meets_gate(&self, role: &str, stage: &str) -> bool {
        self.gate(stage).is_some_and(|gate| {
            gate.iter().any(|from| {
                self.rule(from, stage)
                    .is_some_and(|(_, _, direct)| role == "admin" || rank(role) >= rank(direct))
            })
        })
    }
}

pub(crate) fn default_rules() -> Vec<Rule> {
    vec![
        ("None", "Staging", "contributor"),
        ("Staging", "Production", "admin"),
        ("Production", "Archived", "approver"),
        ("Archived", "Production", "approver"),
        ("Production", "Staging", "approver"),
        ("Staging", "None", "contributor"),
        ("Staging", "Archived", "contributor"),
        ("None", "Archived", "contributor"),
        ("Archived", "Staging", "contributor"),
    ]
}

fn policies() -> Vec<Policy> {
    let mut staging_guarded = default_rules();
    staging_guarded[0] = ("None", "Staging", "approver");
    let mut approver_gate = default_rules();
    approver_gate[1] = ("Staging", "Production", "approver");
    approver_gate[3] = ("Archived", "Production", "contributor");
    vec![
        Policy {
            name: "default",
            rules: default_rules(),
            guards: vec![("Production", vec!["Staging"])],
        },
        Policy {
            name: "Staging guarded too",
            rules: staging_guarded,
            guards: vec![("Production", vec!["Staging"]), ("Staging", vec!["None"])],
        },
        Policy {
            name: "an approver's gate, a contributor's rollback",
            rules: approver_gate,
            guards: vec![("Production", vec!["Staging"])],
        },
    ]
}

/// Where a path leaves a version: its stage and the guarded stages it has been in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct State {
    stage: &'static str,
    been: BTreeSet<&'static str>,
}

#[test]
fn no_path_of_direct_moves_reaches_a_guarded_stage_around_its_gate() {
    for policy in policies() {
        let app = spawn_app_with_config(&policy.toml());
        let tokens: Vec<(String, &str)> = ROLES
            .iter()
            .map(|role| (app.user_token(&format!("user-{role}"), role), *role))
            .collect();
        let mut models = 0;
        for (token, role) in &tokens {
            let start = State {
                stage: "None",
                been: BTreeSet::new(),
            };
            let mut seen = HashSet::from([start.clone()]);
            let mut queue = VecDeque::from([(start, Vec::<&'static str>::new())]);
            while let Some((state, path)) = queue.pop_front() {
                for to in STAGES.into_iter().filter(|to| *to != state.stage) {
                    // a fresh version, brought along the path by this role
                    models += 1;
                    let name = format!("m{models}");
                    app.create_model(&name);
                    app.create_version(&name);
                    for step in &path {
                        assert_eq!(
                            app.move_as(token, &name, 1, step).status,
                            200,
                            "{}: {role} replaying {path:?}",
                            policy.name
                        );
                    }
                    let status = app.move_as(token, &name, 1, to).status;
                    let rule = policy.rule(state.stage, to);
                    let may_by_rule = rule.is_some_and(|(_, _, direct)| {
                        *role == "admin" || rank(role) >= rank(direct)
                    });
                    let guarded = policy.gate(to).is_some();
                    let through_gate = policy
                        .gate(to)
                        .is_some_and(|gate| gate.contains(&state.stage));
                    let expected = may_by_rule
                        && (!guarded
                            || through_gate
                            || state.been.contains(to)
                            || policy.meets_gate(role, to));
                    let case = format!(
                        "{}: {role} moving {} -> {to} after {path:?}",
                        policy.name, state.stage
                    );
                    if expected {
                        assert_eq!(status, 200, "{case} should be allowed");
                    } else {
                        assert_ne!(status, 200, "{case} must be refused");
                        assert!([400, 403].contains(&status), "{case}: answered {status}");
                        assert_eq!(
                            app.stage(&name, 1),
                            state.stage,
                            "{case}: the stage did not change"
                        );
                        continue;
                    }
                    let mut been = state.been.clone();
                    if guarded {
                        been.insert(to);
                    }
                    let next = State { stage: to, been };
                    if path.len() < 5 && seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(to);
                        queue.push_back((next, longer));
                    }
                }
            }
        }
        assert!(models > 20, "{}: explored {models} paths", policy.name);
        // many writes a millisecond: the history index still equals the replay
        app.assert_audit_intact();
    }
}
