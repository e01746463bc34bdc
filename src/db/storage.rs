//! Whether the database's storage is full, as the writes find it: a write
//! that fails because the disk (or the SQLite file's configured cap) is full
//! marks it, the next write that commits clears it, and a mark older than a
//! minute lapses (the next write to fail marks it again). `/readyz` and the
//! metrics report it; reads go on being served meanwhile.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::db::now_ms;

/// When a write last failed for lack of space (ms since the epoch; 0: not
/// since the last commit).
static FULL_AT: AtomicI64 = AtomicI64::new(0);

/// How long a mark holds without a new failure.
const LAPSE_MS: i64 = 60_000;

/// A write failed: storage is full.
pub fn mark_full() {
    FULL_AT.store(now_ms(), Ordering::Relaxed);
    metrics::counter!("modelgate_storage_full_total").increment(1);
}

/// A write committed: there was space.
pub fn mark_written() {
    if FULL_AT.load(Ordering::Relaxed) != 0 {
        FULL_AT.store(0, Ordering::Relaxed);
    }
}

/// When storage was last found full, if that is recent and no write has
/// committed since.
pub fn full_since() -> Option<i64> {
    let at = FULL_AT.load(Ordering::Relaxed);
    (at != 0 && now_ms() - at < LAPSE_MS).then_some(at)
}
