use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::ledger::{hex_hash, merkle, Hash};
use crate::state::AppState;
use crate::store::{read_indexes, wanted_indexes, Appended, Prefetched, StoreError};

/// Proof of a write: the entries it appended and, for each, an inclusion proof against the
/// signed checkpoint of the batch that committed them. Checkable with the crypto core alone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryReceipt {
    pub entries: Vec<ReceiptEntry>,
    /// The signed note of the checkpoint the proofs lead to, with the cosignature lines of the
    /// witnesses that cosigned it (C2SP tlog-cosignature) when it has any.
    pub checkpoint: String,
    /// Names of the witnesses whose cosignatures `checkpoint` carries; empty for the checkpoint
    /// of a batch just committed, unless the write asked `?wait=cosigned`.
    #[serde(default)]
    pub cosignatures: Vec<String>,
}

/// `?wait=cosigned[&timeout=S]` on a write: answer with a receipt against a checkpoint a quorum
/// of witnesses cosigned, waiting at most `timeout` seconds (1–60, default 10). When the quorum
/// does not come in time the write still stands and the receipt is the batch's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wait(Option<std::time::Duration>);

impl Wait {
    /// Reads `wait` and `timeout` from the query string; other parameters are the handler's.
    ///
    /// # Errors
    /// 400 naming the parameter when `wait` is not `cosigned` or `timeout` not 1–60.
    pub fn from_query(http: &actix_web::HttpRequest) -> Result<Self, AppError> {
        let mut wait = false;
        let mut timeout = 10u64;
        for (name, value) in url::form_urlencoded::parse(http.query_string().as_bytes()) {
            match &*name {
                "wait" if value == "cosigned" => wait = true,
                "wait" => return Err(crate::body::query_error("wait: the only value is `cosigned`")),
                "timeout" => {
                    timeout = value
                        .parse()
                        .ok()
                        .filter(|t| (1..=60).contains(t))
                        .ok_or_else(|| crate::body::query_error("timeout: whole seconds from 1 to 60"))?;
                }
                _ => {}
            }
        }
        Ok(Self(wait.then(|| std::time::Duration::from_secs(timeout))))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptEntry {
    pub index: u64,
    pub leaf_hash: String,
    pub inclusion_proof: Vec<String>,
}

impl EntryReceipt {
    /// A receipt for entries already committed, against the checkpoint served (the newest a
    /// quorum of witnesses cosigned, or the newest when witnessing is off); entries beyond it
    /// are proven against the newest checkpoint instead.
    pub async fn for_indexes(state: &AppState, indexes: Vec<(u64, String)>) -> Result<Self, AppError> {
        let quorum = state.cosigning.quorum;
        let needed = indexes.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
        let cp = state
            .read(move |conn| {
                let served = crate::cosigning::store::served(conn, quorum)?;
                match served {
                    Some(cp) if cp.size >= needed => Ok(Some(cp)),
                    _ => {
                        let newest = crate::store::queries::latest_checkpoint(conn)?;
                        Ok(match newest {
                            Some((size, _)) => crate::cosigning::store::at_size(conn, size as u64)?,
                            None => None,
                        })
                    }
                }
            })
            .await?
            .ok_or_else(|| AppError::internal("no checkpoint"))?;
        Self::prove(state, indexes, cp.size, cp.note, cp.witnesses).await
    }

    /// A receipt for the `count` stored entries from `first` (a write answered again), their
    /// leaf hashes recomputed from the stored bytes, against the checkpoint served.
    pub async fn for_stored(state: &AppState, first: u64, count: u64) -> Result<Self, AppError> {
        let leaves = state
            .read(move |conn| {
                // One read for all of them.
                let rows = crate::store::queries::entries_page(conn, first, count)?;
                (first..first + count)
                    .zip(rows.iter().map(Some).chain(std::iter::repeat(None)))
                    .map(|(i, e)| match e {
                        Some(e) if e.idx == i as i64 => {
                            Ok((i, hex_hash(&crate::ledger::entry::leaf_hash(e.canonical.as_bytes()))))
                        }
                        _ => Err(AppError::internal(format!("entry {i} of an earlier write is missing"))),
                    })
                    .collect::<Result<Vec<_>, AppError>>()
            })
            .await?;
        Self::for_indexes(state, leaves).await
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
        // The write is committed: if the database is gone now, say that it is recorded and that
        // only its receipt is missing, never "nothing was recorded".
        Self::prove(state, items, cp.size, cp.note, Vec::new()).await.map_err(|e| {
            if e.status() == actix_web::http::StatusCode::SERVICE_UNAVAILABLE {
                AppError::unavailable_for(
                    "the write was recorded, but the database went away before its receipt could be built; retry with the same Idempotency-Key to get it",
                    1,
                )
            } else {
                e
            }
        })
    }

    /// Honours [`Wait`]: once a checkpoint covering every entry here has its quorum, the same
    /// entries proven against the checkpoint served (cosigned); otherwise `self` unchanged.
    pub async fn cosigned(self, state: &AppState, wait: Wait) -> Result<Self, AppError> {
        let Some(timeout) = wait.0 else { return Ok(self) };
        let needed = self.entries.iter().map(|e| e.index + 1).max().unwrap_or(0);
        if !state.cosigning.wait_for(needed, timeout).await {
            return Ok(self);
        }
        let items = self.entries.iter().map(|e| (e.index, e.leaf_hash.clone())).collect();
        Self::for_indexes(state, items).await
    }

    /// Inclusion proofs of `(index, leaf hash)` items in the tree of `size`, whose signed
    /// checkpoint is `note`.
    async fn prove(
        state: &AppState,
        items: Vec<(u64, String)>,
        size: u64,
        note: String,
        cosignatures: Vec<String>,
    ) -> Result<Self, AppError> {
        // A receipt for entries just appended finds every stored hash its proofs read among
        // the writer's recent ones: proven from there in one pass.
        let recent = state.sequencer.recent_hashes();
        let from_memory = items
            .iter()
            .map(|(index, _)| merkle::inclusion_proof(*index, size, recent))
            .collect::<Result<Vec<_>, _>>();
        let proofs = match from_memory {
            Ok(proofs) => proofs,
            Err(_) => Self::prove_reading(state, &items, size).await?,
        };
        let entries = items
            .into_iter()
            .zip(proofs)
            .map(|((index, leaf_hash), proof)| ReceiptEntry {
                index,
                leaf_hash,
                inclusion_proof: proof.iter().map(hex_hash).collect(),
            })
            .collect();
        Ok(Self {
            entries,
            checkpoint: note,
            cosignatures,
        })
    }

    /// The proofs of `items` in the tree of `size` when the writer's recent hashes do not
    /// hold every stored hash they read: those found there, the rest from the database.
    async fn prove_reading(state: &AppState, items: &[(u64, String)], size: u64) -> Result<Vec<Vec<Hash>>, AppError> {
        let wanted = wanted_indexes(|r| {
            for (index, _) in items {
                let _ = merkle::inclusion_proof(*index, size, r);
            }
        });
        let (mut known, missing) = state.sequencer.recent_hashes().lookup(&wanted);
        if !missing.is_empty() {
            let read = state
                .read(move |conn| {
                    read_indexes(conn, &missing).map_err(|e| match StoreError::from(e) {
                        // The write these proofs are for is recorded: say only what failed.
                        e if e.is_connection_lost() => {
                            AppError::unavailable_for("the database went away while reading proofs", 1)
                        }
                        e => AppError::from(e),
                    })
                })
                .await?;
            known.extend(read);
        }
        let reader = Prefetched::Loaded(known);
        items
            .iter()
            .map(|(index, _)| merkle::inclusion_proof(*index, size, &reader).map_err(AppError::internal))
            .collect()
    }
}
