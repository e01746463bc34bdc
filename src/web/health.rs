//! How this server's database has been answering, for `/readyz` and the
//! metrics: whether writes find the storage full (marked by a write that
//! failed for lack of space, cleared by the next that commits, lapsing after
//! a minute), when a request's database work last ran past its bound
//! (cleared by the next work that finishes), and since when every
//! connection of the pool has been busy. Kept per server, in its state.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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
    /// Writes that failed for lack of space, and work that timed out, since
    /// the server started (counters of its own metrics).
    storage_full_total: AtomicU64,
    timeouts_total: AtomicU64,
}

impl DbHealth {
    /// Takes in how a piece of database work ended.
    pub fn observe<T>(&self, write: Option<WriteOutcome>, outcome: &Result<T>) {
        match write {
            Some(WriteOutcome::StorageFull) => {
                self.full_at.store(now_ms(), Ordering::Relaxed);
                self.storage_full_total.fetch_add(1, Ordering::Relaxed);
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
        self.timeouts_total.fetch_add(1, Ordering::Relaxed);
    }

    /// This server's own series in the Prometheus text format: the marks'
    /// counters and gauge, and its pool's connections. Rendered from its
    /// state rather than the process's recorder, so that several servers in
    /// one process (tests) each report their own.
    pub fn render_metrics(&self, pool: &crate::db::Pool) -> String {
        let state = pool.state();
        let mut text = String::new();
        let mut series = |kind: &str, name: &str, help: &str, values: &[(&str, u64)]| {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in values {
                let _ = writeln!(text, "{name}{labels} {value}");
            }
        };
        series(
            "gauge",
            "modelgate_db_pool_connections",
            "Connections of the database pool, idle or in use",
            &[
                ("{state=\"idle\"}", u64::from(state.idle_connections)),
                (
                    "{state=\"in_use\"}",
                    u64::from(state.connections.saturating_sub(state.idle_connections)),
                ),
            ],
        );
        series(
            "gauge",
            "modelgate_db_pool_max_connections",
            "The database pool's size (database.max_connections)",
            &[("", u64::from(pool.max_size()))],
        );
        series(
            "gauge",
            "modelgate_storage_full",
            "1 while writes find the database's storage full",
            &[("", u64::from(self.storage_full_since().is_some()))],
        );
        series(
            "counter",
            "modelgate_storage_full_total",
            "Writes that failed for lack of storage",
            &[("", self.storage_full_total.load(Ordering::Relaxed))],
        );
        series(
            "counter",
            "modelgate_db_timeouts_total",
            "Database work that ran past its bound",
            &[("", self.timeouts_total.load(Ordering::Relaxed))],
        );
        text
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
