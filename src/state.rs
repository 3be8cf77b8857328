//! What every handler may use, passed explicitly as actix app data (there is no global). It
//! sits below the handlers: they import it from here, and `app`, which assembles the server,
//! imports them — no module imports the module that imports it.

use std::sync::Arc;

use actix_web::web;

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::error::AppError;
use crate::ledger::LogSigner;
use crate::metrics::Metrics;
use crate::store::{DbConnection, DbPool, Sequencer, StoreError};

/// Everything a handler may use. Passed explicitly as actix app data; there is no global.
pub struct AppState {
    pub settings: Settings,
    pub pool: DbPool,
    pub sequencer: Sequencer,
    pub signer: LogSigner,
    pub tokens: TokenKeys,
    pub metrics: Arc<Metrics>,
    /// The transparency report's running tally.
    pub reports: crate::reports::ReportCache,
    /// Per-client limit of `POST /v1/subjects/proof`.
    pub subject_limit: crate::limits::Limiter,
    /// Per-subject limit of writes and expensive reads (checked once the token is verified).
    pub subject_rate: crate::limits::Limiter,
    /// Witnessing: the quorum a served checkpoint needs, and waiting for it.
    pub cosigning: crate::cosigning::Cosigning,
    /// Tokens already verified, until they expire (statuses are still read on every call).
    pub verified_tokens: crate::auth::VerifiedTokens,
    /// Order-signing keys as last read, for the signature check before the head lock.
    pub order_keys: crate::requests::order_keys::OrderKeys,
    /// A hot standby for reads (`--read-database-url`), when one is configured.
    pub replica: Option<crate::replica::Replica>,
}

impl AppState {
    /// Runs a read on a pooled connection off the async executor.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            let r = f(&mut conn);
            if r.as_ref().is_err_and(|e| e.status().is_server_error()) {
                conn.ping_at_next_checkout();
            }
            r
        })
        .await?
    }

    /// Runs a read of the checkpoint served (and of what is computed at it): like
    /// [`Self::read_at_least`], except with a witness quorum. Cosignatures are stored after the
    /// entries they cover, so a standby that has replayed the entries may still lack the
    /// cosignatures of a checkpoint this process already served, and would serve an older one —
    /// a rollback to any client that saw the newer. With a quorum the primary answers.
    pub async fn read_served<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Clone + Send + 'static,
    {
        if self.cosigning.quorum > 0 {
            self.read(f).await
        } else {
            self.read_at_least(0, f).await
        }
    }

    /// Runs a read of the ledger that needs a tree of at least `size` entries, on a hot standby
    /// when one is configured and has replayed that far (and everything this process has
    /// committed), otherwise on the primary; see [`crate::replica`]. `f` may run twice (on the
    /// standby, then on the primary when the standby fails), hence `Clone`. Use it for the
    /// public and auditor reads — entries, proofs, tiles, checkpoints, reports, request views —
    /// never for authentication or a write path's reads, which stay on the primary.
    pub async fn read_at_least<T, F>(&self, size: u64, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Clone + Send + 'static,
    {
        let Some(replica) = self.replica.clone() else {
            return self.read(f).await;
        };
        let size = size.max(*self.sequencer.committed().borrow());
        let (pool, metrics) = (self.pool.clone(), self.metrics.clone());
        web::block(move || replica.read(&pool, size, &metrics, f)).await?
    }
}
