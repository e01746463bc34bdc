//! How the database has been answering, for `/readyz` and the metrics:
//! when a request's database work last ran past its bound (a stalled
//! database, a lock held too long), and since when every connection of the
//! pool has been busy. A successful piece of work clears the stall mark.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::db::now_ms;

static TIMED_OUT_AT: AtomicI64 = AtomicI64::new(0);
static EXHAUSTED_SINCE: AtomicI64 = AtomicI64::new(0);

/// Database work ran past its bound.
pub fn mark_timeout() {
    TIMED_OUT_AT.store(now_ms(), Ordering::Relaxed);
    metrics::counter!("modelgate_db_timeouts_total").increment(1);
}

/// Database work finished in time.
pub fn mark_answered() {
    if TIMED_OUT_AT.load(Ordering::Relaxed) != 0 {
        TIMED_OUT_AT.store(0, Ordering::Relaxed);
    }
}

/// When work last timed out, if none has finished since and it was within
/// `window_ms`.
pub fn stalled_since(window_ms: i64) -> Option<i64> {
    let at = TIMED_OUT_AT.load(Ordering::Relaxed);
    (at != 0 && now_ms() - at < window_ms).then_some(at)
}

/// Records whether every connection is busy now; answers since when they
/// all have been (`None`: some connection is free).
pub fn pool_exhausted(now_exhausted: bool) -> Option<i64> {
    if !now_exhausted {
        EXHAUSTED_SINCE.store(0, Ordering::Relaxed);
        return None;
    }
    let now = now_ms();
    match EXHAUSTED_SINCE.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => Some(now),
        Err(since) => Some(since),
    }
}
