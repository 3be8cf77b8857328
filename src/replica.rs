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
//!
//! The URL must name a standby *of this primary*: every new connection is checked to be in the
//! same PostgreSQL cluster (the system identifier a physical standby shares with its primary)
//! and database, and every read that it is still in recovery. A misconfigured URL (another
//! ledger, another database) or a standby promoted to a primary of its own — whose history may
//! go its own way from here on — answers nothing; the primary does.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::CustomizeConnection;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::error::AppError;
use crate::metrics::Metrics;
use crate::store::{DbConnection, DbPool, StoreError};

/// How long a read waits for a lagging standby before the primary answers it.
pub const LAG_WAIT: Duration = Duration::from_millis(250);
/// After a read waited [`LAG_WAIT`] in vain, reads that need more than the standby had go
/// straight to the primary for this long: a standby that lags for good (a replay delay, a
/// pause) costs one wait per period, not one per read.
const LAGGING_FOR: Duration = Duration::from_secs(1);
/// After the standby failed, it is not tried for this long, doubling up to [`MAX_BACKOFF`]: a
/// standby that is down costs one connection timeout per period, not one per read.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a lagging standby's head is read again while waiting.
const POLL: Duration = Duration::from_millis(10);

/// A hot standby's connection pool, and what reads have learnt of it.
#[derive(Clone)]
pub struct Replica {
    pool: DbPool,
    health: std::sync::Arc<std::sync::Mutex<Health>>,
}

/// Shared by every read of this process.
#[derive(Debug)]
struct Health {
    /// The primary's head after the newest read it answered: that answer may have shown a
    /// client (a checkpoint, a proof) a tree this large, so no later read may show less.
    primary_seen: u64,
    /// The standby's head when it was last read.
    standby_head: u64,
    /// Reads needing more than `standby_head` go to the primary without waiting until then.
    lagging_until: Option<Instant>,
    /// The standby is not tried until then, after a failure.
    failed_until: Option<Instant>,
    backoff: Duration,
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
    /// With the standby's head.
    Answered(Result<T, AppError>, u64),
    Behind(u64),
    Failed(String),
}

impl Replica {
    /// A pool of `size` connections to the standby at `url` of the primary `primary` (PostgreSQL
    /// only: SQLite has no standby). Connections are opened lazily, so a standby that is down at
    /// start only means the primary answers until it is up; each one is checked to belong to the
    /// primary's cluster and database before it is used.
    pub fn new(url: &str, size: u32, primary: &mut DbConnection) -> Result<Self, StoreError> {
        if !crate::store::is_postgres(url) {
            return Err(StoreError::Io(
                "--read-database-url must name a PostgreSQL hot standby (postgres://…)".into(),
            ));
        }
        let ours = identity(primary)?;
        Ok(Self {
            pool: crate::store::pool_lazy(url, size, Box::new(SameCluster(ours)))?,
            health: std::sync::Arc::new(std::sync::Mutex::new(Health {
                primary_seen: 0,
                standby_head: 0,
                lagging_until: None,
                failed_until: None,
                backoff: MIN_BACKOFF,
            })),
        })
    }

    /// Runs `f` on the standby once it holds at least `size` entries (and whatever the
    /// primary showed in an earlier answer), or on `primary`. Blocking: call it on the blocking
    /// pool.
    pub fn read<T, F>(&self, primary: &DbPool, size: u64, metrics: &Metrics, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Clone,
    {
        let answered_by = self.try_standby(size, metrics, f.clone());
        let answered_by = match answered_by {
            Ok(r) => return r,
            Err(by) => by,
        };
        metrics.replica_read(answered_by);
        let mut conn = primary.get().map_err(StoreError::from)?;
        let r = f(&mut conn);
        if r.as_ref().is_err_and(|e| e.status().is_server_error()) {
            conn.ping_at_next_checkout();
        }
        // Read after `f`: the head then is at least what `f` saw.
        if let Ok(head) = crate::store::queries::head_size(&mut conn) {
            let mut h = self.health();
            h.primary_seen = h.primary_seen.max(head);
        }
        r
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The standby's answer, or who must answer instead.
    fn try_standby<T, F>(&self, size: u64, metrics: &Metrics, f: F) -> Result<Result<T, AppError>, AnsweredBy>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Clone,
    {
        let now = Instant::now();
        let size = {
            let h = self.health();
            let size = size.max(h.primary_seen);
            if h.failed_until.is_some_and(|t| now < t) {
                return Err(AnsweredBy::PrimaryFailed);
            }
            if h.lagging_until.is_some_and(|t| now < t) && size > h.standby_head {
                return Err(AnsweredBy::PrimaryLagging);
            }
            size
        };
        let deadline = now + LAG_WAIT;
        loop {
            match self.attempt(size, f.clone()) {
                Attempt::Answered(r, head) => {
                    let mut h = self.health();
                    h.standby_head = head;
                    h.backoff = MIN_BACKOFF;
                    h.failed_until = None;
                    drop(h);
                    metrics.replica_read(AnsweredBy::Replica);
                    return Ok(r);
                }
                Attempt::Behind(head) => {
                    self.health().standby_head = head;
                    if Instant::now() + POLL < deadline {
                        log::debug!("standby at size {head}, the read needs {size}: waiting");
                        std::thread::sleep(POLL);
                        continue;
                    }
                    log::debug!("standby still at size {head}, the read needs {size}: the primary answers");
                    self.health().lagging_until = Some(Instant::now() + LAGGING_FOR);
                    return Err(AnsweredBy::PrimaryLagging);
                }
                Attempt::Failed(why) => {
                    let mut h = self.health();
                    log::warn!(
                        "the standby could not answer a read, the primary does, and the standby is left alone for {:?}: {why}",
                        h.backoff
                    );
                    h.failed_until = Some(Instant::now() + h.backoff);
                    h.backoff = (h.backoff * 2).min(MAX_BACKOFF);
                    return Err(AnsweredBy::PrimaryFailed);
                }
            }
        }
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
            let outcome = match standby_head(c) {
                Err(e) => Attempt::Failed(e.to_string()),
                Ok(Head { standby: false, .. }) => Attempt::Failed(
                    "the read database is not in recovery: it is no standby (promoted?), its history may differ from the primary's"
                        .into(),
                ),
                Ok(Head { size: head, .. }) if (head as u64) < size => Attempt::Behind(head as u64),
                // A server error from the standby (a query cancelled by replay, a lost
                // connection) is the standby's failure: the primary is asked. A client error
                // (not found, bad size) is the answer, the same as the primary's for that size.
                Ok(Head { size: head, .. }) => match f(c) {
                    Err(e) if e.status().is_server_error() => Attempt::Failed(e.to_string()),
                    r => Attempt::Answered(r, head as u64),
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

/// The standby's log head, and whether it is still replaying (a standby at all).
#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = BigInt)]
    size: i64,
    #[diesel(sql_type = Bool)]
    standby: bool,
}

fn standby_head(conn: &mut DbConnection) -> Result<Head, diesel::result::Error> {
    match conn {
        DbConnection::Postgresql(c) => {
            diesel::sql_query("SELECT size, pg_is_in_recovery() AS standby FROM log_head WHERE id = 1").get_result(c)
        }
        DbConnection::Sqlite(_) => Err(diesel::result::Error::NotFound),
    }
}

/// Which PostgreSQL cluster and database a connection is in: a physical standby has its
/// primary's system identifier (`pg_control_system()`), which no other cluster has.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Identity {
    #[diesel(sql_type = BigInt)]
    system_identifier: i64,
    #[diesel(sql_type = Text)]
    database: String,
}

fn identity(conn: &mut DbConnection) -> Result<Identity, StoreError> {
    match conn {
        DbConnection::Postgresql(c) => Ok(diesel::sql_query(
            "SELECT system_identifier::bigint AS system_identifier, current_database()::text AS database \
             FROM pg_control_system()",
        )
        .get_result(c)?),
        DbConnection::Sqlite(_) => Err(StoreError::Io(
            "--read-database-url needs a PostgreSQL primary: SQLite has no standby".into(),
        )),
    }
}

/// Refuses a connection that is not to the primary's cluster and database.
#[derive(Debug)]
struct SameCluster(Identity);

impl CustomizeConnection<crate::store::Pooled, StoreError> for SameCluster {
    fn on_acquire(&self, conn: &mut crate::store::Pooled) -> Result<(), StoreError> {
        let theirs = identity(conn)?;
        if theirs != self.0 {
            let e = StoreError::Io(format!(
                "--read-database-url is not a standby of the primary: cluster {} database {} (the primary: cluster {} database {})",
                theirs.system_identifier, theirs.database, self.0.system_identifier, self.0.database
            ));
            log::error!("{e}");
            return Err(e);
        }
        Ok(())
    }
}
