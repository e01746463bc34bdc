//! The keys every replica of a deployment must share. The first start
//! records each key's fingerprint; a replica whose key differs is refused
//! (tokens it issued would fail on the others, checkpoints it signed would
//! not verify). `modelgate keys reset` forgets them, for a rotation.

use diesel::prelude::*;

use crate::db::schema::deployment_keys;
use crate::db::{DbConn, now_ms};
use crate::error::Result;

/// Records `fingerprint` as the deployment's key `name` unless one is
/// recorded; answers the recorded fingerprint when it differs.
pub fn pin(conn: &mut DbConn, name: &str, fingerprint: &str) -> Result<Option<String>> {
    let recorded = |conn: &mut DbConn| -> Result<Option<String>> {
        Ok(deployment_keys::table
            .find(name)
            .select(deployment_keys::fingerprint)
            .first::<String>(conn)
            .optional()?)
    };
    let existing = match recorded(conn)? {
        Some(existing) => existing,
        None => {
            let inserted = diesel::insert_into(deployment_keys::table)
                .values((
                    deployment_keys::name.eq(name),
                    deployment_keys::fingerprint.eq(fingerprint),
                    deployment_keys::recorded_at.eq(now_ms()),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => return Ok(None),
                // another replica recorded its key at the same moment
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => recorded(conn)?.unwrap_or_default(),
                Err(other) => return Err(other.into()),
            }
        }
    };
    Ok((existing != fingerprint).then_some(existing))
}

/// Forgets every recorded key: the next start records its own.
pub fn reset(conn: &mut DbConn) -> Result<usize> {
    Ok(diesel::delete(deployment_keys::table).execute(conn)?)
}
