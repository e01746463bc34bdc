//! Transactions. Reads run in one snapshot ([`read`]); every write runs
//! through [`write`], whose [`WriteTx`] handle keeps the rules the read
//! cache, the audit and the event feed depend on:
//!
//! - **Every write appends an event.** The events a write collects with
//!   [`WriteTx::emit`] are appended last, under the chain-head lock, in the
//!   write's own transaction, and the history index ([`super::history`])
//!   records what they changed. A write that collected none is rolled back
//!   with an internal error, unless it declared that it changed nothing
//!   ([`WriteTx::unchanged`]). The read cache relies on this: an unchanged
//!   event head means unchanged data.
//! - **Locks are taken in one order**: model rows (by ascending id), then
//!   anything of those models (versions, requests, approvals), then the
//!   chain head at commit. Only the handle locks model rows, and it refuses
//!   to lock a lower id after a higher one, so writers never deadlock.
//! - **Effects run after commit**: metrics and, later, notifications, queued
//!   with [`WriteTx::after_commit`], never for a rolled-back write.
//!
//! The backend differences live here: SQLite takes its write lock up front
//! (`BEGIN IMMEDIATE`, behind an in-process queue); PostgreSQL locks the
//! model rows a write changes (`SELECT … FOR UPDATE`).

use std::sync::{Mutex, PoisonError};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::dsl::case_when;
use diesel::prelude::*;

use crate::db::chain::{self, NewEvent};
use crate::db::enums::Role;
use crate::db::event::{EventKind, Subject};
use crate::db::rows::ModelRow;
use crate::db::schema::{registered_models, users};
use crate::db::{DbConn, now_ms};
use crate::db::{history, storage};
use crate::error::{Error, Result};

/// SQLite has one writer at a time. This process's writers queue here and
/// each is woken the moment the one before it finishes; left to SQLite, they
/// would poll its lock with sleeps of up to 100 ms. Other processes (the CLI,
/// another server on the same file) still meet SQLite's busy timeout. Write
/// transactions never nest.
static SQLITE_WRITER: Mutex<()> = Mutex::new(());

/// Work queued to run once the write has committed.
type Effect = Box<dyn FnOnce() + Send>;

/// The handle of a write transaction (see the module documentation).
pub struct WriteTx<'c> {
    conn: &'c mut DbConn,
    events: Vec<NewEvent>,
    effects: Vec<Effect>,
    highest_locked_model: Option<i64>,
    unchanged: bool,
}

impl std::fmt::Debug for WriteTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTx")
            .field("events", &self.events)
            .field("effects", &self.effects.len())
            .field("highest_locked_model", &self.highest_locked_model)
            .finish_non_exhaustive()
    }
}

impl WriteTx<'_> {
    /// The connection, for reads and for writes to rows the handle's locks cover.
    pub fn conn(&mut self) -> &mut DbConn {
        self.conn
    }

    /// Collects an event about `subject`; events are appended, in the order
    /// collected, when the write commits.
    pub fn emit(&mut self, subject: Subject<'_>, event: EventKind) -> Result<()> {
        self.events.push(NewEvent::new(subject, &event)?);
        Ok(())
    }

    /// Queues work to run after the write commits (never if it rolls back).
    pub fn after_commit(&mut self, effect: impl FnOnce() + Send + 'static) {
        self.effects.push(Box::new(effect));
    }

    /// Declares that this write changed nothing (a no-op edit), so it may
    /// end without an event.
    pub fn unchanged(&mut self) {
        self.unchanged = true;
    }

    /// Records a model lock in id order, refusing to go back down.
    fn ordered(&mut self, row: Option<ModelRow>) -> Result<Option<ModelRow>> {
        if let Some(row) = &row {
            match self.highest_locked_model {
                Some(highest) if row.id < highest => {
                    return Err(Error::internal(format!(
                        "lock order: model {} locked after model {highest}",
                        row.id
                    )));
                }
                _ => self.highest_locked_model = Some(row.id),
            }
        }
        Ok(row)
    }

    /// Reads a model row by name and, on PostgreSQL, locks it for the rest
    /// of the transaction: every change to a model or anything of it takes
    /// this lock first, so concurrent writers serialize on the model.
    pub fn lock_model(&mut self, name: &str) -> Result<Option<ModelRow>> {
        let query = registered_models::table
            .filter(registered_models::name.eq(name))
            .select(registered_models::all_columns);
        let row = match &mut *self.conn {
            DbConn::Postgresql(pg) => query.for_update().first(pg).optional()?,
            // BEGIN IMMEDIATE already holds SQLite's write lock.
            DbConn::Sqlite(sqlite) => query.first(sqlite).optional()?,
        };
        self.ordered(row)
    }

    /// Like [`WriteTx::lock_model`], by id.
    pub fn lock_model_by_id(&mut self, id: i64) -> Result<Option<ModelRow>> {
        let query = registered_models::table
            .find(id)
            .select(registered_models::all_columns);
        let row = match &mut *self.conn {
            DbConn::Postgresql(pg) => query.for_update().first(pg).optional()?,
            DbConn::Sqlite(sqlite) => query.first(sqlite).optional()?,
        };
        self.ordered(row)
    }

    /// Locks a model by name and takes its next version number, in one
    /// statement: the counter advances and the model's last-update stamp
    /// moves to now (never backwards: the clock was read before the lock
    /// was granted). Answers the row after the update.
    pub fn lock_model_for_new_version(&mut self, name: &str) -> Result<Option<ModelRow>> {
        let now = now_ms();
        let stamp = case_when(
            registered_models::last_updated_timestamp.gt(now),
            registered_models::last_updated_timestamp,
        )
        .otherwise(now);
        let row: Option<ModelRow> =
            diesel::update(registered_models::table.filter(registered_models::name.eq(name)))
                .set((
                    registered_models::next_version.eq(registered_models::next_version + 1),
                    registered_models::last_updated_timestamp.eq(stamp),
                ))
                .returning(registered_models::all_columns)
                .get_result(&mut *self.conn)
                .optional()?;
        self.ordered(row)
    }
}

impl WriteTx<'_> {
    /// Locks every enabled admin's user row and the user `also`, in id
    /// order (PostgreSQL), answering (id, role, disabled) of each: two admins
    /// demoting each other queue instead of deadlocking. User rows are not
    /// model rows; no write locks both.
    pub fn lock_admins(&mut self, also: i64) -> Result<Vec<(i64, Role, bool)>> {
        let query = users::table
            .filter(
                users::role
                    .eq(Role::Admin)
                    .and(users::disabled.eq(false))
                    .or(users::id.eq(also)),
            )
            .order(users::id.asc())
            .select((users::id, users::role, users::disabled));
        Ok(match &mut *self.conn {
            DbConn::Postgresql(pg) => query.for_update().load(pg)?,
            DbConn::Sqlite(sqlite) => query.load(sqlite)?,
        })
    }
}

/// Runs `f` as one write transaction by `actor` (the name recorded on its
/// events), then appends its events and commits; runs its effects after the
/// commit. See the module documentation for what the handle enforces.
pub fn write<T>(
    conn: &mut DbConn,
    actor: &str,
    f: impl FnOnce(&mut WriteTx<'_>) -> Result<T>,
) -> Result<T> {
    let _turn = matches!(conn, DbConn::Sqlite(_))
        .then(|| SQLITE_WRITER.lock().unwrap_or_else(PoisonError::into_inner));
    let outcome = transaction(conn, "BEGIN IMMEDIATE", "BEGIN", |conn| {
        let mut tx = WriteTx {
            conn,
            events: Vec::new(),
            effects: Vec::new(),
            highest_locked_model: None,
            unchanged: false,
        };
        let value = f(&mut tx)?;
        let WriteTx {
            conn,
            events,
            effects,
            unchanged,
            ..
        } = tx;
        if events.is_empty() {
            if !unchanged {
                return Err(Error::internal(
                    "a write transaction ended without an event; it was rolled back",
                ));
            }
        } else {
            let appended = chain::append(conn, actor, events)?;
            history::index(conn, &appended)?;
        }
        Ok((value, effects))
    });
    let (value, effects) = match outcome {
        Ok(done) => {
            storage::note(storage::WriteOutcome::Committed);
            done
        }
        Err(error) => {
            if matches!(error, Error::StorageFull(_)) {
                storage::note(storage::WriteOutcome::StorageFull);
            }
            return Err(error);
        }
    };
    for effect in effects {
        effect();
    }
    Ok(value)
}

/// Runs `f` as one transaction over bookkeeping that is not registry data
/// (webhook deliveries, their cursor and leases): no event is appended, and
/// the read cache is not invalidated. SQLite's write lock is taken up front,
/// in this process's writer queue, as for [`write`].
pub fn bookkeeping<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Result<T> {
    let _turn = matches!(conn, DbConn::Sqlite(_))
        .then(|| SQLITE_WRITER.lock().unwrap_or_else(PoisonError::into_inner));
    transaction(conn, "BEGIN IMMEDIATE", "BEGIN", f)
}

/// Runs `f` in one consistent read-only snapshot (multi-query reads):
/// PostgreSQL's REPEATABLE READ; SQLite's deferred transaction.
pub fn read<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Result<T> {
    transaction(
        conn,
        "BEGIN",
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        f,
    )
}

/// Begins with the statement each backend needs, then commits or rolls back,
/// keeping Diesel's transaction state in step.
fn transaction<T>(
    conn: &mut DbConn,
    sqlite_begin: &str,
    postgres_begin: &str,
    f: impl FnOnce(&mut DbConn) -> Result<T>,
) -> Result<T> {
    match conn {
        DbConn::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, sqlite_begin)?
        }
        DbConn::Postgresql(pg) => {
            AnsiTransactionManager::begin_transaction_sql(pg, postgres_begin)?
        }
    }
    let outcome = f(conn);
    let finish = |conn: &mut DbConn, commit: bool| -> diesel::QueryResult<()> {
        match (conn, commit) {
            (DbConn::Sqlite(c), true) => AnsiTransactionManager::commit_transaction(c),
            (DbConn::Sqlite(c), false) => AnsiTransactionManager::rollback_transaction(c),
            (DbConn::Postgresql(c), true) => AnsiTransactionManager::commit_transaction(c),
            (DbConn::Postgresql(c), false) => AnsiTransactionManager::rollback_transaction(c),
        }
    };
    match outcome {
        Ok(value) => {
            if let Err(error) = finish(conn, true) {
                if let Err(rollback) = finish(conn, false) {
                    tracing::warn!(%rollback, "rollback after a failed commit failed");
                }
                return Err(error.into());
            }
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = finish(conn, false) {
                tracing::warn!(%rollback, "rollback failed");
            }
            Err(error)
        }
    }
}
