//! The anchored audit: signed checkpoints of the event chain, and the check
//! of the whole record. A checkpoint signs (event id, hash, time) of the
//! chain's head with a key kept outside the database, so re-chaining the
//! log after an edit, or cutting its tail and rewriting the head, no longer
//! matches a checkpoint taken before; and the current models, versions,
//! stages, aliases and activity trails must equal what replaying the events
//! produces.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::audit_key::{self, AuditKey};
use crate::db::chain::head;
use crate::db::schema::{audit_checkpoints, events};
use crate::db::{self, DbConn, now_ms};
use crate::domain::events::check_links;
use crate::domain::sql::{Page, PageToken};
use crate::error::Result;

mod backfill;
mod replay;
pub use backfill::alias_trails_if_missing;
use replay::replay_differs;

/// A signed checkpoint of the event chain.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Queryable, Selectable, utoipa::ToSchema,
)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    /// Id.
    pub id: i64,
    /// The last event of the chain when it was taken.
    pub event_id: i64,
    /// That event's hash.
    pub event_hash: String,
    /// When, in milliseconds since the epoch.
    pub created_at: i64,
    /// The Ed25519 public key that signed it, base64.
    pub public_key: String,
    /// The signature of `modelgate audit checkpoint\n<event_id>\n<event_hash>\n<created_at>`, base64.
    pub signature: String,
}

impl Checkpoint {
    /// The signed message.
    fn message(event_id: i64, event_hash: &str, created_at: i64) -> Vec<u8> {
        format!("modelgate audit checkpoint\n{event_id}\n{event_hash}\n{created_at}").into_bytes()
    }
}

/// The id of the newest event a checkpoint covers (0 when there is none).
fn last_checkpointed(conn: &mut DbConn) -> Result<i64> {
    Ok(audit_checkpoints::table
        .select(diesel::dsl::max(audit_checkpoints::event_id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// The events appended since the newest checkpoint.
pub fn uncheckpointed(conn: &mut DbConn) -> Result<i64> {
    Ok(head(conn)?.0 - last_checkpointed(conn)?)
}

/// Signs and stores a checkpoint of the chain's head. `None` when the chain
/// is empty or its head is already checkpointed (then nothing is written).
pub fn checkpoint(conn: &mut DbConn, key: &AuditKey) -> Result<Option<Checkpoint>> {
    let (event_id, event_hash) = head(conn)?;
    if event_id == 0 || last_checkpointed(conn)? >= event_id {
        return Ok(None);
    }
    let created_at = now_ms();
    let signature = key.sign(&Checkpoint::message(event_id, &event_hash, created_at));
    // Not a registry write: it appends no event and moves no head.
    let checkpoint: Checkpoint = diesel::insert_into(audit_checkpoints::table)
        .values((
            audit_checkpoints::event_id.eq(event_id),
            audit_checkpoints::event_hash.eq(&event_hash),
            audit_checkpoints::created_at.eq(created_at),
            audit_checkpoints::public_key.eq(key.public_key()),
            audit_checkpoints::signature.eq(&signature),
        ))
        .returning(audit_checkpoints::all_columns)
        .get_result(conn)?;
    Ok(Some(checkpoint))
}

/// The newest checkpoint, if any.
pub fn latest(conn: &mut DbConn) -> Result<Option<Checkpoint>> {
    Ok(audit_checkpoints::table
        .select(Checkpoint::as_select())
        .order(audit_checkpoints::id.desc())
        .first(conn)
        .optional()?)
}

/// Lists checkpoints, oldest first.
pub fn list(
    conn: &mut DbConn,
    max_results: i64,
    page_token: Option<&str>,
) -> Result<Page<Checkpoint>> {
    let mut select = audit_checkpoints::table
        .select(Checkpoint::as_select())
        .order(audit_checkpoints::id.asc())
        .limit(max_results + 1)
        .into_boxed();
    if let Some(token) = page_token {
        let after = PageToken::decode(token, "checkpoints")?.int_key()?;
        select = select.filter(audit_checkpoints::id.gt(after));
    }
    let items = select.load(conn)?;
    Ok(Page::from_overfetch(items, max_results, |c| {
        PageToken::int("checkpoints", c.id)
    }))
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link, checkpoint and table holds.
    Intact {
        /// Events verified.
        events: i64,
        /// Checkpoints verified.
        checkpoints: usize,
    },
    /// The first thing that does not hold.
    Tampered(String),
}

/// Checks the whole record: every link of the chain; every checkpoint (the
/// stored ones and `kept`, exported earlier) is signed by `key` and its
/// event is still in the chain with its hash; and the models, versions,
/// stages and aliases equal what replaying the events produces.
pub fn verify(conn: &mut DbConn, key: &AuditKey, kept: &[Checkpoint]) -> Result<Verdict> {
    // one snapshot: the links, the checkpoints and the replay see one state
    db::read(conn, |conn| {
        let events = match check_links(conn)? {
            Ok(count) => count,
            Err(broken) => return Ok(Verdict::Tampered(broken)),
        };
        let stored: Vec<Checkpoint> = audit_checkpoints::table
            .select(Checkpoint::as_select())
            .order(audit_checkpoints::id.asc())
            .load(conn)?;
        let all: Vec<(&str, &Checkpoint)> = stored
            .iter()
            .map(|c| ("stored", c))
            .chain(kept.iter().map(|c| ("kept", c)))
            .collect();
        for (origin, checkpoint) in &all {
            let name = format!(
                "{origin} checkpoint {} (event {})",
                checkpoint.id, checkpoint.event_id
            );
            if checkpoint.public_key != key.public_key() {
                return Ok(Verdict::Tampered(format!(
                    "{name} is signed by another key than audit.signing_key_file's"
                )));
            }
            let message = Checkpoint::message(
                checkpoint.event_id,
                &checkpoint.event_hash,
                checkpoint.created_at,
            );
            if !audit_key::verify(&checkpoint.public_key, &message, &checkpoint.signature) {
                return Ok(Verdict::Tampered(format!(
                    "{name}: the signature does not match"
                )));
            }
            let hash: Option<String> = events::table
                .find(checkpoint.event_id)
                .select(events::hash)
                .first(conn)
                .optional()?;
            match hash {
                None => {
                    return Ok(Verdict::Tampered(format!(
                        "{name}: event {} is gone; the chain ends at event {events}",
                        checkpoint.event_id
                    )));
                }
                Some(hash) if hash != checkpoint.event_hash => {
                    return Ok(Verdict::Tampered(format!(
                        "{name}: event {} has hash {hash}, the checkpoint signed {}; \
                         the chain was rewritten",
                        checkpoint.event_id, checkpoint.event_hash
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(difference) = replay_differs(conn)? {
            return Ok(Verdict::Tampered(difference));
        }
        Ok(Verdict::Intact {
            events,
            checkpoints: all.len(),
        })
    })
}
