//! The replay check: the events, replayed from the first, must produce the
//! models, versions, stages, aliases, activity trails and history index the
//! tables hold.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use diesel::prelude::*;
use serde::Deserialize;

use crate::db::DbConn;
use crate::db::chain::walk;
use crate::db::enums::{ActivityType, Stage};
use crate::db::event::{EventKind, StageChange};
use crate::db::history;
use crate::db::rows::EventRow;
use crate::db::schema::{activities, model_versions, registered_model_aliases, registered_models};
use crate::error::Result;

/// One step of a version's activity trail, as far as the events record it:
/// (activity type, from stage, to stage, user, request id).
type Step = (
    ActivityType,
    Option<Stage>,
    Option<Stage>,
    String,
    Option<i64>,
);

/// One model as the events leave it: its versions' stages, its aliases and
/// its versions' activity trails (which outlive deleted versions).
#[derive(Debug, Default, PartialEq, Eq)]
struct Replayed {
    versions: BTreeMap<i64, Stage>,
    aliases: BTreeMap<String, i64>,
    trail: BTreeMap<i64, Vec<Step>>,
}

/// An activity row as the check reads it: (model name, version, type, from
/// stage, to stage, user, request id).
type ActivityStep = (
    String,
    i64,
    ActivityType,
    Option<Stage>,
    Option<Stage>,
    String,
    Option<i64>,
);

/// What the replay remembers across models: each request's stages.
type Requests = BTreeMap<i64, (Option<Stage>, Option<Stage>)>;

/// Replays the events and compares the result with the tables; answers the
/// first difference.
pub(super) fn replay_differs(conn: &mut DbConn) -> Result<Option<String>> {
    let mut models: BTreeMap<String, Replayed> = BTreeMap::new();
    let mut requests = Requests::new();
    let mut history = history::Replay::default();
    // an event whose payload is not its kind's was not written by a server:
    // the record was rewritten (and re-hashed), which is tampering, not a fault
    let mut unreadable = None;
    walk(conn, |event| {
        let Ok(kind) = EventKind::of(event) else {
            unreadable = Some(format!(
                "event {} ({}) does not read as its kind",
                event.id, event.event_type
            ));
            return Ok(ControlFlow::Break(()));
        };
        apply_event(&mut models, &mut requests, event, &kind)?;
        history.apply(event, &kind);
        Ok(ControlFlow::Continue(()))
    })?;
    if unreadable.is_some() {
        return Ok(unreadable);
    }
    let mut tables: BTreeMap<String, Replayed> = registered_models::table
        .select(registered_models::name)
        .load::<String>(conn)?
        .into_iter()
        .map(|name| (name, Replayed::default()))
        .collect();
    let versions: Vec<(String, i64, Stage)> = model_versions::table
        .inner_join(registered_models::table)
        .select((
            registered_models::name,
            model_versions::version,
            model_versions::current_stage,
        ))
        .load(conn)?;
    for (name, version, stage) in versions {
        tables
            .entry(name)
            .or_default()
            .versions
            .insert(version, stage);
    }
    let aliases: Vec<(String, String, i64)> = registered_model_aliases::table
        .inner_join(registered_models::table)
        .select((
            registered_models::name,
            registered_model_aliases::alias,
            registered_model_aliases::version,
        ))
        .load(conn)?;
    for (name, alias, version) in aliases {
        tables
            .entry(name)
            .or_default()
            .aliases
            .insert(alias, version);
    }
    let steps: Vec<ActivityStep> = activities::table
        .inner_join(registered_models::table.on(registered_models::id.eq(activities::model_id)))
        .order((activities::timestamp.asc(), activities::id.asc()))
        .select((
            registered_models::name,
            activities::version,
            activities::activity_type,
            activities::from_stage,
            activities::to_stage,
            activities::user_name,
            activities::request_id,
        ))
        .load(conn)?;
    for (name, version, kind, from, to, user, request_id) in steps {
        // a system transition's event does not name the request that caused it
        let request_id = if kind == ActivityType::SystemTransition {
            None
        } else {
            request_id
        };
        tables
            .entry(name)
            .or_default()
            .trail
            .entry(version)
            .or_default()
            .push((kind, from, to, user, request_id));
    }
    for name in models.keys().chain(tables.keys()) {
        let (replayed, stored) = (models.get(name), tables.get(name));
        let difference = match (replayed, stored) {
            (Some(_), None) => Some(format!("model '{name}' is missing from the tables")),
            (None, Some(_)) => Some(format!(
                "model '{name}' is in the tables but no event made it"
            )),
            (Some(replayed), Some(stored)) => model_difference(name, replayed, stored),
            (None, None) => None,
        };
        if difference.is_some() {
            return Ok(difference);
        }
    }
    // the index is derived from the same events: checked last, so a
    // tampered registry is named as such
    history_differs(conn, history)
}

/// Compares the history index with what the events produce; answers the
/// first difference.
fn history_differs(conn: &mut DbConn, replay: history::Replay) -> Result<Option<String>> {
    let (want_names, want_resolutions) = replay.finish();
    let (have_names, have_resolutions) = history::stored(conn)?;
    let name = |span: &history::NameSpan| {
        format!(
            "'{}' held by the model of event {} from {}{} (event {})",
            span.name,
            span.model_key,
            span.from_ts,
            span.to_ts.map_or(String::new(), |to| format!(" to {to}")),
            span.event_id
        )
    };
    if let Some(difference) = first_difference(&want_names, &have_names, name) {
        return Ok(Some(format!("history index, names: {difference}")));
    }
    let resolution = |row: &history::Resolution| {
        format!(
            "{} '{}' of the model of event {} resolving to {} from {} (event {})",
            row.kind,
            row.label,
            row.model_key,
            row.version
                .map_or("nothing".to_owned(), |v| format!("version {v}")),
            row.ts,
            row.event_id
        )
    };
    Ok(
        first_difference(&want_resolutions, &have_resolutions, resolution)
            .map(|difference| format!("history index: {difference}")),
    )
}

/// The first row two sorted lists disagree on, described.
fn first_difference<T: Ord>(
    want: &[T],
    have: &[T],
    describe: impl Fn(&T) -> String,
) -> Option<String> {
    let (mut w, mut h) = (want.iter().peekable(), have.iter().peekable());
    loop {
        match (w.peek(), h.peek()) {
            (None, None) => return None,
            (Some(a), Some(b)) if a == b => {
                w.next();
                h.next();
            }
            (Some(a), Some(b)) if a < b => {
                return Some(format!(
                    "the events record {}, the table does not",
                    describe(a)
                ));
            }
            (Some(a), None) => {
                return Some(format!(
                    "the events record {}, the table does not",
                    describe(a)
                ));
            }
            (_, Some(b)) => {
                return Some(format!(
                    "the table has {}, which no event made",
                    describe(b)
                ));
            }
        }
    }
}

fn model_difference(name: &str, replayed: &Replayed, stored: &Replayed) -> Option<String> {
    let numbers = replayed.versions.keys().chain(stored.versions.keys());
    for version in numbers {
        match (replayed.versions.get(version), stored.versions.get(version)) {
            (Some(want), Some(have)) if want != have => {
                return Some(format!(
                    "model '{name}' version {version} is in {have}, but the events put it in {want}"
                ));
            }
            (Some(_), None) => {
                return Some(format!(
                    "model '{name}' version {version} is missing from the tables"
                ));
            }
            (None, Some(_)) => {
                return Some(format!(
                    "model '{name}' version {version} is in the tables but no event made it"
                ));
            }
            _ => {}
        }
    }
    let trails = replayed.trail.keys().chain(stored.trail.keys());
    for version in trails {
        let (want, have) = (replayed.trail.get(version), stored.trail.get(version));
        if want != have {
            let (want, have) = (
                want.map_or(&[][..], Vec::as_slice),
                have.map_or(&[][..], Vec::as_slice),
            );
            let at = want.iter().zip(have).take_while(|(w, h)| w == h).count();
            return Some(format!(
                "model '{name}' version {version}: activity {} of its trail is {}, but the events say {}",
                at + 1,
                have.get(at).map_or("missing".to_owned(), describe_step),
                want.get(at).map_or("nothing".to_owned(), describe_step),
            ));
        }
    }
    let aliases = replayed.aliases.keys().chain(stored.aliases.keys());
    for alias in aliases {
        let (want, have) = (replayed.aliases.get(alias), stored.aliases.get(alias));
        if want != have {
            return Some(format!(
                "model '{name}' alias '{alias}' names {}, but the events say {}",
                have.map_or("nothing".to_owned(), |v| format!("version {v}")),
                want.map_or("nothing".to_owned(), |v| format!("version {v}"))
            ));
        }
    }
    None
}

fn describe_step((kind, from, to, user, request): &Step) -> String {
    let stages = match (from, to) {
        (Some(from), Some(to)) => format!(" {from} -> {to}"),
        _ => String::new(),
    };
    let request = request.map_or(String::new(), |id| format!(" (request {id})"));
    format!("{kind}{stages} by {user}{request}")
}

/// Appends a step to a version's replayed trail.
fn step(
    models: &mut BTreeMap<String, Replayed>,
    event: &EventRow,
    version: Option<i64>,
    kind: ActivityType,
    (from, to): (Option<Stage>, Option<Stage>),
    request: Option<i64>,
) {
    if let Some(version) = version {
        let name = event.model_name.clone().unwrap_or_default();
        let trail = models
            .entry(name)
            .or_default()
            .trail
            .entry(version)
            .or_default();
        trail.push((kind, from, to, event.actor.clone(), request));
    }
}

/// The part of a `request.created` snapshot the replay reads.
#[derive(Debug, Deserialize)]
struct OpenedRequest {
    id: i64,
    from_stage: Option<Stage>,
    to_stage: Option<Stage>,
}

/// Applies one event to the replayed models.
fn apply_event(
    models: &mut BTreeMap<String, Replayed>,
    requests: &mut Requests,
    event: &EventRow,
    kind: &EventKind,
) -> Result<()> {
    let name = event.model_name.clone().unwrap_or_default();
    let closed = |requests: &Requests, id: i64| requests.get(&id).copied().unwrap_or_default();
    match kind {
        EventKind::RequestCreated { request } => {
            let request: OpenedRequest = request.read()?;
            let stages = (request.from_stage, request.to_stage);
            requests.insert(request.id, stages);
            let kind = ActivityType::RequestedTransition;
            step(models, event, event.version, kind, stages, Some(request.id));
        }
        // a decision's step has the stages of the request it decides
        EventKind::RequestApproved { id, .. } => {
            let stages = closed(requests, *id);
            let kind = ActivityType::ApprovedRequest;
            step(models, event, event.version, kind, stages, Some(*id));
        }
        EventKind::RequestRejected { id, .. } => {
            let stages = closed(requests, *id);
            let kind = ActivityType::RejectedRequest;
            step(models, event, event.version, kind, stages, Some(*id));
        }
        EventKind::RequestCancelled { id, .. } => {
            let stages = closed(requests, *id);
            let kind = ActivityType::CancelledRequest;
            step(models, event, event.version, kind, stages, Some(*id));
        }
        EventKind::ModelCreated { .. } => {
            models.insert(name, Replayed::default());
        }
        EventKind::ModelRenamed { from, to } => {
            if let Some(model) = models.remove(from) {
                models.insert(to.clone(), model);
            }
        }
        EventKind::ModelDeleted { .. } => {
            models.remove(&name);
        }
        EventKind::VersionCreated { .. } => {
            if let Some(version) = event.version {
                models
                    .entry(name)
                    .or_default()
                    .versions
                    .insert(version, Stage::None);
            }
        }
        EventKind::VersionStageChanged(change) => {
            if let Some(version) = event.version {
                let (from, to) = change.stages();
                let (kind, request) = match change {
                    StageChange::System { .. } => (ActivityType::SystemTransition, None),
                    StageChange::Move { request_id, .. } => {
                        (ActivityType::AppliedTransition, *request_id)
                    }
                };
                step(
                    models,
                    event,
                    Some(version),
                    kind,
                    (Some(from), Some(to)),
                    request,
                );
                models.entry(name).or_default().versions.insert(version, to);
            }
        }
        EventKind::VersionDeleted { .. } => {
            if let Some(version) = event.version {
                let model = models.entry(name).or_default();
                model.versions.remove(&version);
                model.aliases.retain(|_, v| *v != version);
            }
        }
        EventKind::AliasSet {
            alias,
            version,
            previous_version,
            request_id,
        } => {
            let none = (None, None);
            let set = ActivityType::AliasSet;
            step(models, event, Some(*version), set, none, *request_id);
            let previous = previous_version.filter(|p| p != version);
            let removed = ActivityType::AliasRemoved;
            step(models, event, previous, removed, none, *request_id);
            models
                .entry(name)
                .or_default()
                .aliases
                .insert(alias.clone(), *version);
        }
        EventKind::AliasDeleted {
            alias,
            previous_version,
        } => {
            let removed = ActivityType::AliasRemoved;
            step(
                models,
                event,
                Some(*previous_version),
                removed,
                (None, None),
                None,
            );
            models.entry(name).or_default().aliases.remove(alias);
        }
        // not part of what the replay compares (stages, aliases, trails)
        EventKind::ModelUpdated { .. }
        | EventKind::ModelTagSet { .. }
        | EventKind::ModelTagDeleted { .. }
        | EventKind::VersionUpdated { .. }
        | EventKind::VersionTagSet { .. }
        | EventKind::VersionTagDeleted { .. }
        | EventKind::RequestStale { .. }
        | EventKind::UserCreated { .. }
        | EventKind::UserUpdated { .. }
        | EventKind::UserDeleted { .. }
        | EventKind::TokenCreated { .. }
        | EventKind::TokenRevoked { .. }
        | EventKind::WebhookCreated(_)
        | EventKind::WebhookUpdated(_)
        | EventKind::WebhookDeleted(_) => {}
    }
    Ok(())
}
