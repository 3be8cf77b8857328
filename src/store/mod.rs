//! Storage: diesel over SQLite or PostgreSQL, the single-writer append path, and the reads the
//! API and the verifier need. Only the sequencer writes ledger tables.

mod connection;
mod hashes;
pub mod queries;
pub mod schema;
pub mod sequencer;
pub mod verify;

pub use connection::{establish, is_postgres, migrate, pool, sqlite_path, DbConnection, DbPool};
pub use hashes::{with_prefetch, DbHashReader, Prefetched};
pub use sequencer::{AppendCtx, Appended, AppendedEntry, NewEntry, Sequencer};

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
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Pool(e.to_string())
    }
}
