//! One witness as the log sees it: the size it last cosigned, whether a submission is in
//! flight, its back-off, and the `add-checkpoint` exchange itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ledger::add_checkpoint::AddCheckpoint;
use crate::ledger::cosignature::split_note;
use crate::ledger::merkle;
use crate::metrics::Metrics;
use crate::store::{DbHashReader, DbPool};

use super::{blocking, store, WitnessConfig};

/// `known_size` before the witness has told us anything.
const UNKNOWN: u64 = u64::MAX;
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// A witness answers a few signature lines; more than this is refused unread.
const MAX_ANSWER: usize = 64 * 1024;
/// A cosignature dated further ahead than this is refused (tlog-cosignature: verifiers MAY).
const MAX_CLOCK_AHEAD: u64 = 600;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Peer {
    config: WitnessConfig,
    http: reqwest::Client,
    pool: DbPool,
    metrics: Arc<Metrics>,
    /// The size the witness last cosigned, as far as we know; [`UNKNOWN`] at start.
    known_size: AtomicU64,
    busy: AtomicBool,
    /// `(retry not before, current back-off)` after a failure.
    backoff: Mutex<Option<(Instant, Duration)>>,
}

/// Why one exchange did not end in a stored cosignature.
enum Failure {
    /// 409: the witness's latest cosigned size; submit again from there.
    Conflict(u64),
    Other(String),
}

impl Peer {
    pub fn new(config: WitnessConfig, http: reqwest::Client, pool: DbPool, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            http,
            pool,
            metrics,
            known_size: AtomicU64::new(UNKNOWN),
            busy: AtomicBool::new(false),
            backoff: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &str {
        self.config.key.name()
    }

    /// Whether a checkpoint of `size` should go to this witness now: it has not cosigned that
    /// size, nothing is in flight, and it is not backing off. Claims the witness when it should.
    pub fn wants(&self, size: u64) -> bool {
        let known = self.known_size.load(Ordering::SeqCst);
        if known != UNKNOWN && known >= size {
            return false;
        }
        if let Some((until, _)) = *self.backoff.lock().unwrap_or_else(|p| p.into_inner()) {
            if Instant::now() < until {
                return false;
            }
        }
        self.busy
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Submits the checkpoint of `size` (log-signed `note`), retrying once per 409 with the
    /// size the witness reports; stores the cosignature that verifies. Returns whether one was
    /// stored. Releases the claim taken by [`Self::wants`].
    pub async fn submit(&self, size: u64, note: String) -> bool {
        let mut outcome = Err("three 409s in a row: its size keeps moving".to_string());
        for _ in 0..3 {
            let old = match self.known_size.load(Ordering::SeqCst) {
                UNKNOWN => 0,
                k => k,
            };
            match self.exchange(old, size, &note).await {
                Ok(()) => {
                    outcome = Ok(());
                    break;
                }
                // It cosigned a larger tree of this origin than this log has signed: a fork,
                // another instance's key, or a lie. Loud, counted, retried with back-off from
                // scratch.
                Err(Failure::Conflict(theirs)) if theirs > size => {
                    self.known_size.store(UNKNOWN, Ordering::SeqCst);
                    outcome = Err(format!(
                        "claims to have cosigned size {theirs} of this log, whose newest checkpoint is {size}: investigate (fork or key compromise?)"
                    ));
                    break;
                }
                Err(Failure::Conflict(theirs)) => {
                    self.known_size.store(theirs, Ordering::SeqCst);
                }
                Err(Failure::Other(why)) => {
                    outcome = Err(why);
                    break;
                }
            }
        }
        match &outcome {
            Ok(()) => *self.backoff.lock().unwrap_or_else(|p| p.into_inner()) = None,
            Err(why) => self.failed(why),
        }
        self.busy.store(false, Ordering::SeqCst);
        outcome.is_ok()
    }

    fn failed(&self, why: &str) {
        self.metrics.witness_failure(self.name());
        let mut backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        let next = backoff.map_or(MIN_BACKOFF, |(_, d)| (d * 2).min(MAX_BACKOFF));
        *backoff = Some((Instant::now() + next, next));
        log::warn!(
            "witness {}: {why}; retrying in {:.1} s",
            self.name(),
            next.as_secs_f64()
        );
    }

    /// One `add-checkpoint` round trip from `old` to `size`.
    async fn exchange(&self, old: u64, size: u64, note: &str) -> Result<(), Failure> {
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            blocking(&self.pool, move |c| {
                Ok(merkle::consistency_proof(old, size, &DbHashReader::new(c))?)
            })
            .await
            .map_err(|e| Failure::Other(format!("consistency proof {old} → {size}: {e}")))?
        };
        let body = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: note.as_bytes().to_vec(),
        }
        .to_bytes();
        let response = self
            .http
            .post(format!("{}/add-checkpoint", self.config.url))
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Other(format!("unreachable: {e}")))?;
        let status = response.status().as_u16();
        let is_size = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/x.tlog.size"));
        let text = read_capped(response).await?;
        match status {
            200 => self.keep(size, note, &text).await,
            409 if is_size => text
                .trim_end_matches('\n')
                .parse::<u64>()
                .map(Failure::Conflict)
                .map_err(|_| Failure::Other("409 without a size".into()))
                .and_then(Err),
            _ => Err(Failure::Other(format!(
                "answered {status}: {}",
                text.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect::<String>()
            ))),
        }
    }

    /// Keeps the witness's line that is its valid cosignature of the checkpoint, dated no later
    /// than a little ahead of our clock; lines of other keys are ignored (tlog-witness).
    async fn keep(&self, size: u64, note: &str, answer: &str) -> Result<(), Failure> {
        let (body, _) = split_note(note.as_bytes()).map_err(|e| Failure::Other(e.to_string()))?;
        let latest = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + MAX_CLOCK_AHEAD;
        let found = answer.lines().find_map(|line| {
            let sig = signed_note::Signature::from_bytes(line.as_bytes()).ok()?;
            let t = self.config.key.check(&body, &sig)?;
            (t <= latest).then(|| (format!("{line}\n"), t))
        });
        let Some((line, timestamp)) = found else {
            return Err(Failure::Other("answered 200 without a valid cosignature".into()));
        };
        let name = self.name().to_string();
        blocking(&self.pool, move |c| store::insert(c, size, &name, &line, timestamp))
            .await
            .map_err(|e| Failure::Other(format!("storing the cosignature: {e}")))?;
        self.known_size.store(size, Ordering::SeqCst);
        self.metrics.witness_cosigned_size(self.name(), size);
        Ok(())
    }
}

/// The answer's body, refused beyond [`MAX_ANSWER`] bytes without reading the rest: a hostile
/// witness must not make the log buffer gigabytes.
async fn read_capped(mut response: reqwest::Response) -> Result<String, Failure> {
    if response.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
        return Err(Failure::Other("answered more than 64 KiB".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Other(format!("reading the answer: {e}")))?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Failure::Other("answered more than 64 KiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| Failure::Other("answered something that is not UTF-8".into()))
}
