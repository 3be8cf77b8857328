use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::AppError;
use crate::ledger::{hex_hash, merkle};
use crate::store::{Appended, DbHashReader};

/// Proof of a write: the entries it appended and, for each, an inclusion proof against the
/// signed checkpoint of the batch that committed them. Checkable with the crypto core alone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryReceipt {
    pub entries: Vec<ReceiptEntry>,
    /// The signed note of the checkpoint the proofs lead to.
    pub checkpoint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptEntry {
    pub index: u64,
    pub leaf_hash: String,
    pub inclusion_proof: Vec<String>,
}

impl EntryReceipt {
    /// A receipt for entries already committed, against the newest checkpoint.
    pub async fn for_indexes(state: &AppState, indexes: Vec<(u64, String)>) -> Result<Self, AppError> {
        let (size, note) = state
            .read(|conn| crate::store::queries::latest_checkpoint(conn).map_err(AppError::from))
            .await?
            .ok_or_else(|| AppError::internal("no checkpoint"))?;
        Self::prove(state, indexes, size as u64, note).await
    }

    /// The receipt of a write, against the checkpoint of the batch that committed it.
    pub async fn for_appended(state: &AppState, appended: &Appended) -> Result<Self, AppError> {
        let cp = appended
            .checkpoint
            .clone()
            .ok_or_else(|| AppError::internal("append produced no checkpoint"))?;
        let items = appended
            .entries
            .iter()
            .map(|e| (e.entry.index, hex_hash(&e.leaf_hash)))
            .collect();
        Self::prove(state, items, cp.size, cp.note).await
    }

    /// Inclusion proofs of `(index, leaf hash)` items in the tree of `size`, whose signed
    /// checkpoint is `note`.
    async fn prove(state: &AppState, items: Vec<(u64, String)>, size: u64, note: String) -> Result<Self, AppError> {
        let entries = state
            .read(move |conn| {
                let reader = DbHashReader::new(conn);
                items
                    .into_iter()
                    .map(|(index, leaf_hash)| {
                        let proof = merkle::inclusion_proof(index, size, &reader).map_err(AppError::internal)?;
                        Ok(ReceiptEntry {
                            index,
                            leaf_hash,
                            inclusion_proof: proof.iter().map(hex_hash).collect(),
                        })
                    })
                    .collect::<Result<Vec<_>, AppError>>()
            })
            .await?;
        Ok(Self {
            entries,
            checkpoint: note,
        })
    }
}
