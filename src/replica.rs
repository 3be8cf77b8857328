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

impl CustomizeConnection<DbConnection, StoreError> for SameCluster {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
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
