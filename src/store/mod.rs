//! Storage: diesel over SQLite or PostgreSQL, the single-writer append path, and the reads the
//! API and the verifier need. Only the sequencer writes ledger tables.

mod batch_rows;
mod connection;
pub mod hashes;
mod head_rows;
pub mod queries;
mod recent_hashes;
pub mod schema;
pub mod sequencer;
pub mod verify;

pub(crate) use connection::per_backend;
pub use connection::{establish, is_postgres, migrate, pool, pool_lazy, sqlite_path, DbConnection, DbPool, Pooled};
pub use hashes::{read_indexes, wanted_indexes, with_prefetch, DbHashReader, Prefetched};
pub use recent_hashes::RecentHashes;
pub use sequencer::{
    AppendCtx, Appended, AppendedEntry, BatchReads, Hint, NewEntry, RequestHint, Sequencer, SubmissionHint,
};

use thiserror::Error;

use crate::ledger::LedgerError;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database connection: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("stored ledger is inconsistent: {0}")]
    Corrupt(String),
    #[error("the sequencer has stopped")]
    SequencerStopped,
    /// The database cannot be reached now; worth retrying after the given seconds.
    #[error("the database is unavailable: {0}")]
    Unavailable(String, u64),
    /// The connection was lost while the batch was committing: the database may or may not
    /// have committed it. Only a retry with the same `Idempotency-Key` (or a look at the log)
    /// can tell.
    #[error("the database connection was lost during the commit: {0}")]
    CommitUnknown(String),
}

impl StoreError {
    /// Whether this is a database error that means the connection is gone (the server closed
    /// it, restarted, or the transaction manager broke with it), not a fault of the query.
    pub fn is_connection_lost(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            StoreError::Connection(_) | StoreError::Unavailable(..) | StoreError::CommitUnknown(_) => true,
            StoreError::Database(Error::BrokenTransactionManager) => true,
            StoreError::Database(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => true,
            StoreError::Database(Error::DatabaseError(_, info)) => lost_connection_message(info.message()),
            _ => false,
        }
    }

    /// SQLite's write lock still held by another connection after the busy timeout (another
    /// process writing, a backup, an operator's shell): the lock was never ours, so nothing
    /// was written, and a later attempt may get it.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Database(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("database is locked") || info.message().contains("database is busy"))
    }
}

/// Whether an error's text is libpq's for a connection that is gone: for errors that reach us
/// as text through another crate (a hash reader's error inside a proof).
pub fn lost_connection_message(m: &str) -> bool {
    [
        "server closed the connection",
        "no connection to the server",
        "terminating connection",
        "connection to server",
        "could not receive data from server",
    ]
    .iter()
    .any(|p| m.contains(p))
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Pool(e.to_string())
    }
}
