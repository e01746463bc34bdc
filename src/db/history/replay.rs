//! The history index as the events alone produce it (what the audit
//! compares the stored index with, and what fills the index of a database
//! written before it existed).

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Effect, NameSpan, Resolution, Slot, effect};
use crate::db::enums::Stage;
use crate::db::event::EventKind;
use crate::db::rows::EventRow;

/// One model as the replay sees it.
#[derive(Debug, Default)]
struct Model {
    stage_of: BTreeMap<i64, Stage>,
    in_stage: BTreeMap<Stage, BTreeSet<i64>>,
    aliases: BTreeMap<String, i64>,
}

impl Model {
    fn leave(&mut self, version: i64) {
        if let Some(stage) = self.stage_of.remove(&version)
            && let Some(versions) = self.in_stage.get_mut(&stage)
        {
            versions.remove(&version);
        }
    }

    fn enter(&mut self, version: i64, stage: Stage) {
        self.leave(version);
        self.stage_of.insert(version, stage);
        self.in_stage.entry(stage).or_default().insert(version);
    }

    fn resolve(&self, slot: &Slot) -> Option<i64> {
        match slot {
            Slot::Stage(stage) => self
                .in_stage
                .get(stage)
                .and_then(|versions| versions.last().copied()),
            Slot::Alias(alias) => self.aliases.get(alias).copied(),
        }
    }
}

/// The history index as the events alone produce it: fed every event in
/// chain order, it answers the rows [`index`] should have written.
#[derive(Debug, Default)]
pub struct Replay {
    holders: BTreeMap<String, i64>,
    open: BTreeMap<i64, usize>,
    names: Vec<NameSpan>,
    models: BTreeMap<i64, Model>,
    millisecond: Option<i64>,
    touched: BTreeMap<(i64, Slot), i64>,
    resolved: BTreeMap<(i64, Slot), Option<i64>>,
    resolutions: Vec<Resolution>,
}

impl Replay {
    /// Applies the next event (`kind`: its kind and payload, parsed).
    pub fn apply(&mut self, event: &EventRow, kind: &EventKind) {
        // events appended before time was kept monotonic may step back
        let ts = self
            .millisecond
            .map_or(event.timestamp, |last| last.max(event.timestamp));
        if self.millisecond != Some(ts) {
            self.settle();
            self.millisecond = Some(ts);
        }
        match effect(event, kind) {
            Effect::Created(name) => {
                self.models.insert(event.id, Model::default());
                self.hold(name, event.id, ts, event.id);
            }
            Effect::Renamed { from, to } => {
                if let Some(key) = self.release(&from, ts) {
                    self.hold(to, key, ts, event.id);
                }
            }
            Effect::Deleted(name) => {
                self.release(&name, ts);
            }
            Effect::Touches(name, slots, change) => {
                let Some(&key) = self.holders.get(&name) else {
                    return;
                };
                let model = self.models.entry(key).or_default();
                match change {
                    Change::Registered(version) => model.enter(version, Stage::None),
                    Change::Entered(version, stage) => model.enter(version, stage),
                    Change::Deleted(version) => {
                        model.leave(version);
                        model.aliases.retain(|_, v| *v != version);
                    }
                    Change::AliasSet(alias, version) => {
                        model.aliases.insert(alias, version);
                    }
                    Change::AliasDeleted(alias) => {
                        model.aliases.remove(&alias);
                    }
                }
                for slot in slots {
                    self.touched.insert((key, slot), event.id);
                }
            }
            Effect::Nothing => {}
        }
    }

    fn hold(&mut self, name: String, key: i64, ts: i64, event_id: i64) {
        self.holders.insert(name.clone(), key);
        self.open.insert(key, self.names.len());
        self.names.push(NameSpan {
            name,
            model_key: key,
            from_ts: ts,
            to_ts: None,
            event_id,
        });
    }

    fn release(&mut self, name: &str, ts: i64) -> Option<i64> {
        let key = self.holders.remove(name)?;
        if let Some(at) = self.open.remove(&key) {
            self.names[at].to_ts = Some(ts);
        }
        Some(key)
    }

    /// Ends a millisecond: records each touched slot that resolves
    /// differently than at the end of the last one.
    fn settle(&mut self) {
        let Some(ts) = self.millisecond else { return };
        for ((key, slot), event_id) in std::mem::take(&mut self.touched) {
            let now = self.models.get(&key).and_then(|m| m.resolve(&slot));
            let before = self.resolved.get(&(key, slot.clone())).copied().flatten();
            if now != before {
                let (kind, label) = slot.columns();
                self.resolutions.push(Resolution {
                    model_key: key,
                    kind: kind.to_owned(),
                    label,
                    ts,
                    version: now,
                    event_id,
                });
                self.resolved.insert((key, slot), now);
            }
        }
    }

    /// The rows, sorted.
    pub fn finish(mut self) -> (Vec<NameSpan>, Vec<Resolution>) {
        self.settle();
        self.names.sort();
        self.resolutions.sort();
        (self.names, self.resolutions)
    }
}
