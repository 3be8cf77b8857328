//! The log side of witnessing (C2SP `tlog-witness`): after each batch the newest checkpoint is
//! submitted to every configured witness, concurrently, with a consistency proof from the size
//! that witness last cosigned (learnt from its 409 when not known); the cosignatures that
//! verify are stored, and the log serves the newest checkpoint a quorum cosigned.
//!
//! Nothing here is on the append path: the sequencer only bumps a watch channel. A slow or dead
//! witness delays nobody: each witness has at most one submission in flight, a failing one is
//! retried with back-off, and it is caught up with one proof from its last size when it returns.

mod peer;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::ledger::cosignature::WitnessKey;
use crate::metrics::Metrics;
use crate::store::DbPool;
pub use peer::Peer;

/// How often the newest checkpoint is looked at even without a notification (another process
/// of this log may have appended).
const POLL: Duration = Duration::from_secs(1);

/// `--witness VKEY=URL`: a witness's verifier key and its submission prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessConfig {
    pub key: WitnessKey,
    /// The submission prefix, without a trailing slash: requests go to `<url>/add-checkpoint`.
    pub url: String,
}

impl std::str::FromStr for WitnessConfig {
    type Err = String;

    /// `<name>+<hex id>+<base64(0x04 ‖ key)>=<http(s) URL>`.
    fn from_str(s: &str) -> Result<Self, String> {
        let at = s
            .find("=http://")
            .or_else(|| s.find("=https://"))
            .ok_or_else(|| format!("{s:?}: expected VKEY=URL, the URL starting with http:// or https://"))?;
        let key = WitnessKey::parse(&s[..at]).map_err(|e| e.to_string())?;
        Ok(Self {
            key,
            url: s[at + 1..].trim_end_matches('/').to_string(),
        })
    }
}

/// What the rest of the server needs of witnessing: the quorum and when it was reached.
#[derive(Clone)]
pub struct Cosigning {
    /// Witnesses configured (0: witnessing is off).
    pub witnesses: usize,
    /// Cosignatures a checkpoint needs before it is served (`--witness-quorum`).
    pub quorum: usize,
    /// The largest size a quorum cosigned; waiters (`?wait=cosigned`) watch it.
    cosigned: watch::Receiver<u64>,
}

impl Cosigning {
    /// No witnesses: every checkpoint is served as the log signed it.
    pub fn off() -> Self {
        let (_, rx) = watch::channel(0);
        Self {
            witnesses: 0,
            quorum: 0,
            cosigned: rx,
        }
    }

    /// Waits until a checkpoint of at least `size` has its quorum, or `timeout` passes.
    /// Returns whether it did.
    pub async fn wait_for(&self, size: u64, timeout: Duration) -> bool {
        if self.witnesses == 0 {
            return false;
        }
        let mut rx = self.cosigned.clone();
        tokio::time::timeout(timeout, rx.wait_for(|&s| s >= size))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Starts the witnessing task. `committed` is bumped by the sequencer after each commit.
    pub fn start(
        configs: Vec<WitnessConfig>,
        quorum: usize,
        pool: DbPool,
        committed: watch::Receiver<u64>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, rx) = watch::channel(0);
        let cosigning = Self {
            witnesses: configs.len(),
            quorum,
            cosigned: rx,
        };
        if configs.is_empty() {
            return cosigning;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .expect("a reqwest client with default TLS builds");
        let peers: Vec<Arc<Peer>> = configs
            .into_iter()
            .map(|c| Arc::new(Peer::new(c, http.clone(), pool.clone(), metrics.clone())))
            .collect();
        tokio::spawn(coordinate(peers, quorum, pool, committed, Arc::new(tx)));
        cosigning
    }
}

/// The witnessing loop: on each commit (or every [`POLL`]), hands the newest checkpoint to each
/// idle witness that has not cosigned it; each finished submission updates the quorum.
async fn coordinate(
    peers: Vec<Arc<Peer>>,
    quorum: usize,
    pool: DbPool,
    mut committed: watch::Receiver<u64>,
    cosigned: Arc<watch::Sender<u64>>,
) {
    if let Ok(Some(size)) = blocking(&pool, move |c| store::largest_with_quorum(c, quorum)).await {
        cosigned.send_replace(size);
    }
    // A witness that finishes a submission wakes the loop: the newest checkpoint may have
    // moved on while it was busy.
    let finished = Arc::new(tokio::sync::Notify::new());
    loop {
        let newest = blocking(&pool, crate::store::queries::latest_checkpoint).await;
        match newest {
            Ok(Some((size, note))) => {
                for peer in &peers {
                    if peer.wants(size as u64) {
                        let (peer, pool, cosigned, note, finished) = (
                            peer.clone(),
                            pool.clone(),
                            cosigned.clone(),
                            note.clone(),
                            finished.clone(),
                        );
                        tokio::spawn(async move {
                            let stored = peer.submit(size as u64, note).await;
                            finished.notify_one();
                            if stored {
                                if let Ok(Some(s)) =
                                    blocking(&pool, move |c| store::largest_with_quorum(c, quorum)).await
                                {
                                    cosigned.send_if_modified(|v| {
                                        let grew = s > *v;
                                        *v = (*v).max(s);
                                        grew
                                    });
                                }
                            }
                        });
                    }
                }
            }
            Ok(None) => {}
            Err(e) => log::warn!("witnessing: cannot read the newest checkpoint: {e}"),
        }
        // A commit, a finished submission or the poll interval; a closed channel (the
        // sequencer is gone) ends the loop.
        tokio::select! {
            changed = committed.changed() => if changed.is_err() { return },
            _ = finished.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Runs a read on a pooled connection off the async workers.
async fn blocking<T: Send + 'static>(
    pool: &DbPool,
    f: impl FnOnce(&mut crate::store::DbConnection) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, crate::store::StoreError> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
    .map_err(|e| crate::store::StoreError::Io(e.to_string()))?
}
