//! What the last write transaction on this thread came to, for the caller
//! that ran it (the web layer keeps, per server, whether the database's
//! storage is full: a write that fails for lack of space marks it, the next
//! write that commits clears it). A thread-local, so servers sharing a
//! process (tests) keep apart.

use std::cell::Cell;

/// How a write transaction ended, as far as storage goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// It committed: there was space.
    Committed,
    /// It failed for lack of space.
    StorageFull,
}

thread_local! {
    static LAST_WRITE: Cell<Option<WriteOutcome>> = const { Cell::new(None) };
}

/// Records how a write ended (only [`super::write`] calls it).
pub(super) fn note(outcome: WriteOutcome) {
    LAST_WRITE.with(|last| last.set(Some(outcome)));
}

/// How the last write on this thread ended since the last call, if any ran.
pub fn take() -> Option<WriteOutcome> {
    LAST_WRITE.with(Cell::take)
}
