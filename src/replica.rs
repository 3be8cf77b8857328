//! Reads sent to a PostgreSQL hot standby (`serve --read-database-url`), writes kept on the
//! primary.
//!
//! A standby replays the primary's write-ahead log some time after the primary commits, so it
//! may be behind. Every read that may go to it names the tree size it needs (the size a proof
//! is asked at, the index an entry has, and always the newest size this process has committed,
//! so that a client reads its own acknowledged writes). The read runs in one `REPEATABLE READ
//! READ ONLY` transaction on the standby that first reads the standby's `log_head`: every
//! ledger table is written in the same transaction as the head, so a snapshot whose head holds
//! the size holds everything up to it. When the standby is behind, the read waits up to
//! [`LAG_WAIT`] for it to replay, then is answered by the primary. When the standby fails (down,
//! a query cancelled by replay — PostgreSQL "canceling statement due to conflict with
//! recovery"), the primary answers too. A stale proof or a proof of a tree the standby does
//! not have is therefore never served: the read either sees the size it needs or goes to the
//! primary.
//!
//! Authentication, authorisation, idempotency and every read on a write path stay on the
//! primary (`AppState::read`): a revoked key or a suspended authority acts at once.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;

use crate::error::AppError;
use crate::metrics::Metrics;
use crate::store::{queries, DbConnection, DbPool, StoreError};

/// How long a read waits for a lagging standby before the primary answers it.
pub const LAG_WAIT: Duration = Duration::from_millis(250);
/// How often a lagging standby's head is read again while waiting.
const POLL: Duration = Duration::from_millis(10);

/// A hot standby's connection pool.
#[derive(Clone)]
pub struct Replica {
    pool: DbPool,
}

/// Who answered a read, as the `answered_by` label of `disclosure_ledger_replica_reads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnsweredBy {
    /// The standby had replayed the size the read needed.
    Replica,
    /// The standby was still behind after [`LAG_WAIT`]: the primary answered.
    PrimaryLagging,
    /// The standby could not answer (unreachable, query cancelled): the primary answered.
    PrimaryFailed,
}

impl AnsweredBy {
    pub fn label(self) -> &'static str {
        match self {
            AnsweredBy::Replica => "replica",
            AnsweredBy::PrimaryLagging => "primary_lagging",
            AnsweredBy::PrimaryFailed => "primary_failed",
        }
    }
}

/// What one attempt on the standby gave.
enum Attempt<T> {
    Answered(Result<T, AppError>),
    Behind(u64),
    Failed(String),
}

impl Replica {
    /// A pool of `size` connections to the standby at `url` (PostgreSQL only: SQLite has no
    /// standby). Connections are opened lazily, so a standby that is down at start only means
    /// the primary answers until it is up.
    pub fn new(url: &str, size: u32) -> Result<Self, StoreError> {
        if !crate::store::is_postgres(url) {
            return Err(StoreError::Io(
                "--read-database-url must name a PostgreSQL hot standby (postgres://…)".into(),
            ));
        }
        Ok(Self {
            pool: crate::store::pool_lazy(url, size)?,
        })
    }

    /// Runs `f` on the standby once it holds at least `size` entries, or on `primary`. Blocking:
    /// call it on the blocking pool.
    pub fn read<T, F>(&self, primary: &DbPool, size: u64, metrics: &Metrics, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Clone,
    {
        let deadline = Instant::now() + LAG_WAIT;
        let answered_by = loop {
            match self.attempt(size, f.clone()) {
                Attempt::Answered(r) => {
                    metrics.replica_read(AnsweredBy::Replica);
                    return r;
                }
                Attempt::Behind(head) if Instant::now() + POLL < deadline => {
                    log::debug!("standby at size {head}, the read needs {size}: waiting");
                    std::thread::sleep(POLL);
                }
                Attempt::Behind(head) => {
                    log::debug!("standby still at size {head}, the read needs {size}: the primary answers");
                    break AnsweredBy::PrimaryLagging;
                }
                Attempt::Failed(why) => {
                    log::warn!("the standby could not answer a read, the primary does: {why}");
                    break AnsweredBy::PrimaryFailed;
                }
            }
        };
        metrics.replica_read(answered_by);
        let mut conn = primary.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    fn attempt<T, F>(&self, size: u64, f: F) -> Attempt<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError>,
    {
        let mut conn = match self.pool.get() {
            Ok(c) => c,
            Err(e) => return Attempt::Failed(e.to_string()),
        };
        // Always rolled back (it only reads): the outcome leaves the transaction as its error.
        let rolled_back = conn.transaction::<(), Leave<T>, _>(|c| {
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let outcome = match queries::head_size(c) {
                Err(e) => Attempt::Failed(e.to_string()),
                Ok(head) if head < size => Attempt::Behind(head),
                // A server error from the standby (a query cancelled by replay, a lost
                // connection) is the standby's failure: the primary is asked. A client error
                // (not found, bad size) is the answer, the same as the primary's for that size.
                Ok(_) => match f(c) {
                    Err(e) if e.status().is_server_error() => Attempt::Failed(e.to_string()),
                    r => Attempt::Answered(r),
                },
            };
            Err(Leave::With(outcome))
        });
        match rolled_back {
            Err(Leave::With(outcome)) => outcome,
            Err(Leave::Database(e)) => Attempt::Failed(e.to_string()),
            Ok(()) => unreachable!("the read transaction always leaves by rolling back"),
        }
    }
}

/// How the read transaction on the standby ends: always by rollback.
enum Leave<T> {
    With(Attempt<T>),
    Database(diesel::result::Error),
}

impl<T> From<diesel::result::Error> for Leave<T> {
    fn from(e: diesel::result::Error) -> Self {
        Leave::Database(e)
    }
}
