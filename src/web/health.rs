//! How this server's database has been answering, for `/readyz` and the
//! metrics: whether writes find the storage full (marked by a write that
//! failed for lack of space, cleared by the next that commits, lapsing after
//! a minute), when a request's database work last ran past its bound
//! (cleared by the next work that finishes), and since when every
//! connection of the pool has been busy. Kept per server, in its state.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::db::now_ms;
use crate::db::storage::WriteOutcome;
use crate::error::{Error, Result};

/// How long a storage-full mark holds without a new failure.
const FULL_LAPSE_MS: i64 = 60_000;

/// The marks (milliseconds since the epoch; 0: not set).
#[derive(Debug, Default)]
pub struct DbHealth {
    full_at: AtomicI64,
    timed_out_at: AtomicI64,
    exhausted_since: AtomicI64,
}

impl DbHealth {
    /// Takes in how a piece of database work ended.
    pub fn observe<T>(&self, write: Option<WriteOutcome>, outcome: &Result<T>) {
        match write {
            Some(WriteOutcome::StorageFull) => {
                self.full_at.store(now_ms(), Ordering::Relaxed);
                metrics::counter!("modelgate_storage_full_total").increment(1);
            }
            Some(WriteOutcome::Committed) => self.full_at.store(0, Ordering::Relaxed),
            None => {}
        }
        match outcome {
            Err(Error::Timeout(_)) => self.timed_out(),
            Ok(_) => self.timed_out_at.store(0, Ordering::Relaxed),
            Err(_) => {}
        }
    }

    /// Database work ran past its bound (inside the database, or the
    /// request gave up waiting for it).
    pub fn timed_out(&self) {
        self.timed_out_at.store(now_ms(), Ordering::Relaxed);
        metrics::counter!("modelgate_db_timeouts_total").increment(1);
    }

    /// When writes last found the storage full, if that still holds.
    pub fn storage_full_since(&self) -> Option<i64> {
        let at = self.full_at.load(Ordering::Relaxed);
        (at != 0 && now_ms() - at < FULL_LAPSE_MS).then_some(at)
    }

    /// When work last timed out, if none has finished since and it was
    /// within `window_ms`.
    pub fn stalled_since(&self, window_ms: i64) -> Option<i64> {
        let at = self.timed_out_at.load(Ordering::Relaxed);
        (at != 0 && now_ms() - at < window_ms).then_some(at)
    }

    /// Records whether every connection is busy now; answers since when
    /// they all have been (`None`: some connection is free).
    pub fn pool_exhausted(&self, now_exhausted: bool) -> Option<i64> {
        if !now_exhausted {
            self.exhausted_since.store(0, Ordering::Relaxed);
            return None;
        }
        let now = now_ms();
        match self
            .exhausted_since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => Some(now),
            Err(since) => Some(since),
        }
    }
}
