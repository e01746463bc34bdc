//! Alias moves entered versions' activity trails only from the second
//! release on; the first release's alias events have no trail rows, so the
//! replay check would call a database it wrote tampered. At start, a
//! database whose trails hold no alias move while its chain holds alias
//! events gets the rows those events imply, derived from the chain itself
//! (what the replay then checks them against).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use diesel::prelude::*;

use crate::db::chain::{self, walk};
use crate::db::enums::ActivityType;
use crate::db::event::EventKind;
use crate::db::rows::NewActivityRow;
use crate::db::schema::{activities, events, registered_models};
use crate::db::{self, DbConn};
use crate::error::Result;

/// One trail row an alias event implies: (version, kind, user, time, alias).
type Step = (i64, ActivityType, String, i64, String);

/// Adds the trail rows of alias moves to a database written before they
/// were recorded; answers how many it added (0 when there is nothing to do).
pub fn alias_trails_if_missing(conn: &mut DbConn) -> Result<usize> {
    db::write(conn, "modelgate", |tx| {
        tx.unchanged();
        let conn = tx.conn();
        chain::lock_head(conn)?;
        let recorded: Option<i64> = activities::table
            .filter(
                activities::activity_type
                    .eq(ActivityType::AliasSet)
                    .or(activities::activity_type.eq(ActivityType::AliasRemoved)),
            )
            .select(activities::id)
            .first(conn)
            .optional()?;
        let any_alias_event: Option<i64> = events::table
            .filter(
                events::event_type
                    .eq("alias.set")
                    .or(events::event_type.eq("alias.deleted")),
            )
            .select(events::id)
            .first(conn)
            .optional()?;
        if recorded.is_some() || any_alias_event.is_none() {
            return Ok(0);
        }
        // follow each model through renames: its current name's steps
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut steps: Vec<Vec<Step>> = Vec::new();
        walk(conn, |row| {
            let Some(name) = row.model_name.clone() else {
                return Ok(ControlFlow::Continue(()));
            };
            let mut step = |version: i64, kind: ActivityType, alias: &str| {
                if let Some(&key) = names.get(&name) {
                    steps[key].push((
                        version,
                        kind,
                        row.actor.clone(),
                        row.timestamp,
                        alias.to_owned(),
                    ));
                }
            };
            match EventKind::of(row)? {
                EventKind::AliasSet {
                    alias,
                    version,
                    previous_version,
                    ..
                } => {
                    step(version, ActivityType::AliasSet, &alias);
                    if let Some(previous) = previous_version.filter(|p| *p != version) {
                        step(previous, ActivityType::AliasRemoved, &alias);
                    }
                }
                EventKind::AliasDeleted {
                    alias,
                    previous_version,
                } => step(previous_version, ActivityType::AliasRemoved, &alias),
                EventKind::ModelCreated { .. } => {
                    names.insert(name, steps.len());
                    steps.push(Vec::new());
                }
                EventKind::ModelRenamed { from, to } => {
                    if let Some(key) = names.remove(&from) {
                        names.insert(to, key);
                    }
                }
                EventKind::ModelDeleted { .. } => {
                    names.remove(&name);
                }
                // no alias move, no name change
                EventKind::ModelUpdated { .. }
                | EventKind::ModelTagSet { .. }
                | EventKind::ModelTagDeleted { .. }
                | EventKind::VersionCreated { .. }
                | EventKind::VersionUpdated { .. }
                | EventKind::VersionDeleted { .. }
                | EventKind::VersionTagSet { .. }
                | EventKind::VersionTagDeleted { .. }
                | EventKind::VersionStageChanged(_)
                | EventKind::RequestCreated { .. }
                | EventKind::RequestApproved { .. }
                | EventKind::RequestRejected { .. }
                | EventKind::RequestCancelled { .. }
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
            Ok(ControlFlow::Continue(()))
        })?;
        let mut added = 0;
        for (name, key) in names {
            let model_id: Option<i64> = registered_models::table
                .filter(registered_models::name.eq(&name))
                .select(registered_models::id)
                .first(conn)
                .optional()?;
            let Some(model_id) = model_id else { continue };
            for (version, kind, user, timestamp, alias) in &steps[key] {
                let comment = format!("alias '{alias}'");
                diesel::insert_into(activities::table)
                    .values(NewActivityRow {
                        model_id,
                        version: *version,
                        activity_type: *kind,
                        from_stage: None,
                        to_stage: None,
                        user_name: user,
                        timestamp: *timestamp,
                        comment: Some(&comment),
                        request_id: None,
                    })
                    .execute(conn)?;
                added += 1;
            }
        }
        Ok(added)
    })
}
