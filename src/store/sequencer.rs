//! The append path (DESIGN §5): one writer thread per process takes a batch of pending
//! operations and commits them together.
//!
//! Order of a batch, and why it is crash-safe:
//! 1. Open one transaction and take the head lock by *writing* the head row. On PostgreSQL
//!    this row lock serialises every appender on the database, so two processes never fork
//!    the chain; on SQLite the first write takes the database's write lock before anything is
//!    read, so no read-then-upgrade deadlock exists.
//! 2. Read size, last leaf hash and last time under that lock (the leaf hash and the frontier
//!    of the tree come from the writer's own last batch when the head is still where it left
//!    it: see `Tip`).
//! 3. Run each operation; it makes its state changes and returns its entries, which are
//!    numbered, canonicalised and hashed. A batch first runs without savepoints (on
//!    PostgreSQL each savepoint is two more round trips under the head lock). If an operation
//!    fails there, the whole transaction is rolled back and the batch runs again with each
//!    operation in its own savepoint, so a failing operation rolls back its savepoint only
//!    and never takes its batch down. After such a fall-back the next few batches go straight
//!    to savepoints, so a stream of failing operations costs at most one wasted run in
//!    [`ISOLATED_AFTER_FAILURE`] + 1 batches. In a run without savepoints on PostgreSQL,
//!    transitions leave their row writes for one statement ([`BatchReads::deferred`]), written
//!    before any other kind of operation runs and when the operations end, still inside the
//!    transaction: nothing is signed before they are written, and if they fail the batch runs
//!    again with savepoints, which defer nothing.
//! 4. Insert entries, sealed details and tree hashes; sign the new checkpoint; store it and the
//!    new head size.
//! 5. Commit once. Only then is any caller answered: an acknowledged write is durable
//!    (SQLite `synchronous=FULL`, PostgreSQL's default `synchronous_commit`). A crash before
//!    the commit loses the whole batch and nobody was told it succeeded.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::hashes::DbHashReader;
use super::recent_hashes::RecentHashes;
use super::schema::{checkpoints, entries, sealed_details};
use super::{DbConnection, StoreError};
use crate::ledger::{
    commitment, entry::format_time, entry::GENESIS_PREV, hex_hash, merkle, Entry, Hash, LedgerError, LogSigner,
    SignedCheckpoint,
};
use crate::metrics::Metrics;
use crate::store::per_backend;

/// An entry an operation wants appended; the sequencer fills in index, prev and time.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub kind: String,
    pub subject: Option<String>,
    pub public: Map<String, Value>,
    /// Restricted details: committed to by `sealed` with a fresh salt and kept off-ledger.
    pub restricted: Option<Value>,
}

impl NewEntry {
    pub fn log_level(kind: &str, public: Map<String, Value>) -> Self {
        Self {
            kind: kind.to_string(),
            subject: None,
            public,
            restricted: None,
        }
    }
}

/// What an operation sees while it runs: the connection inside the batch's transaction (and its
/// own savepoint when the batch runs with them) and the index its first entry will get.
pub struct AppendCtx<'a> {
    pub conn: &'a mut DbConnection,
    pub next_index: u64,
    /// The instant every entry of this batch carries as its `time`: operations take their
    /// "now" from it, so that an entry's time, its quarter and its embargo agree.
    pub time: chrono::DateTime<chrono::Utc>,
    /// The log's origin: what an operation binds to this ledger (an order statement names it).
    pub origin: &'a str,
    /// The policy in force as this batch run has read it: see [`AppendCtx::policy_in_force`].
    policy: &'a mut Option<Option<(String, String)>>,
    /// What the batch's hinted operations read, for one read for all: see [`BatchReads`].
    pub reads: &'a mut BatchReads,
    /// The entries the batch's earlier operations appended, in order: not in the `entries`
    /// table until the batch writes them all (step 4), so an operation that reads entries must
    /// look here first (see [`AppendCtx::newest_staged`]).
    staged: &'a [Built],
}

/// What an operation declares it will read and write, so that one read at the start of its
/// batch can serve every such operation of the batch (on PostgreSQL each read under the head
/// lock is a round trip). An operation appended with a hint keeps its promise.
#[derive(Debug, Clone)]
pub enum Hint {
    Transition(RequestHint),
    Submission(SubmissionHint),
}

/// A transition: it reads and writes only the request it names, and the `Idempotency-Key`
/// claim it names.
#[derive(Debug, Clone)]
pub struct RequestHint {
    pub request: String,
    /// `(subject, key)` of its `Idempotency-Key` claim, if any.
    pub claim: Option<(String, String)>,
}

/// A submission of a new request: it reads its issuer with the order's key `kid` and rule
/// V12's question about the order (other requests using it), and writes only a new request
/// (with a fresh id) and its vault rows, under the requester's `Idempotency-Key` if any.
#[derive(Debug, Clone)]
pub struct SubmissionHint {
    pub issuer: String,
    pub kid: String,
    pub order_sha256: String,
    pub requester: Option<String>,
    /// `(authority, key)` of the submission's `Idempotency-Key`, if any.
    pub idempotency: Option<(String, String)>,
}

impl Hint {
    /// What no other operation of the batch may name for the hint to be offered.
    fn names(&self) -> Vec<String> {
        match self {
            Hint::Transition(h) => {
                let mut n = vec![format!("request {}", h.request)];
                n.extend(h.claim.as_ref().map(|(s, k)| format!("claim {s}\n{k}")));
                n
            }
            Hint::Submission(h) => {
                let mut n = vec![format!("order {}", h.order_sha256)];
                n.extend(h.idempotency.as_ref().map(|(a, k)| format!("submission {a}\n{k}")));
                n
            }
        }
    }

    fn same_kind(&self, other: &Hint) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// A batch run's shared reads. Only hints whose names no other operation of the batch uses
/// are offered (two operations on one request, or on one order, must see each other's
/// writes), and all are withdrawn, with anything read for them, before the first operation
/// that has no hint (it may write anything) or a hint of another kind (a transition may
/// reject the request a submission's rule V12 counts) runs. The memo's type and content
/// belong to the operations.
///
/// It also holds the row writes that transitions defer to one statement (see
/// [`BatchReads::deferred`]).
#[derive(Default)]
pub struct BatchReads {
    hints: Vec<Hint>,
    memo: Option<Box<dyn std::any::Any + Send>>,
    /// The kind of the hinted operations run so far.
    running: Option<Hint>,
    /// Whether operations may defer their row writes: a batch run without savepoints on
    /// PostgreSQL (a savepoint's rollback would not take back a deferred write).
    defer: bool,
    deferred: Option<Deferred>,
}

/// Row writes left for one statement, and the function that writes them.
struct Deferred {
    writes: Box<dyn std::any::Any + Send>,
    flush: FlushDeferred,
}

/// Writes the deferred rows (the `Any` is the type the operations chose) and empties them.
pub type FlushDeferred = fn(&mut dyn std::any::Any, &mut DbConnection) -> Result<(), StoreError>;

impl BatchReads {
    fn new(hints: impl Iterator<Item = Option<Hint>>, defer: bool) -> Self {
        let hints: Vec<Hint> = hints.flatten().collect();
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for h in &hints {
            for n in h.names() {
                *seen.entry(n).or_default() += 1;
            }
        }
        let hints = hints
            .into_iter()
            .filter(|h| h.names().iter().all(|n| seen[n] == 1))
            .collect();
        BatchReads {
            hints,
            memo: None,
            running: None,
            defer,
            deferred: None,
        }
    }

    /// Where an operation may leave row writes of type `T` for one statement instead of one
    /// round trip each under the head lock: `None` when it must write now (SQLite, in process;
    /// a batch run with savepoints). Deferred writes are written, by `flush`, before any
    /// operation that is not a transition runs and at the end of the operations; a transition
    /// reads and writes only its own request and claim, and must [`BatchReads::flush`] first
    /// if the deferred writes touch either. If writing them fails, the batch is run again with
    /// a savepoint per operation, which defers nothing, so a failing write fails only its own
    /// operation.
    pub fn deferred<T: Default + Send + 'static>(&mut self, flush: FlushDeferred) -> Option<&mut T> {
        if !self.defer {
            return None;
        }
        let d = self.deferred.get_or_insert_with(|| Deferred {
            writes: Box::new(T::default()),
            flush,
        });
        d.writes.downcast_mut()
    }

    /// The deferred writes, if there are any of type `T`.
    pub fn pending<T: 'static>(&mut self) -> Option<&mut T> {
        self.deferred.as_mut()?.writes.downcast_mut()
    }

    /// Writes the deferred rows now.
    pub fn flush(&mut self, conn: &mut DbConnection) -> Result<(), StoreError> {
        match self.deferred.take() {
            Some(mut d) => (d.flush)(d.writes.as_mut(), conn),
            None => Ok(()),
        }
    }

    /// Before each operation: withdraws everything unless it has a hint of the kind run so far.
    fn enter(&mut self, hint: Option<&Hint>) {
        match (hint, &self.running) {
            (Some(h), Some(r)) if h.same_kind(r) => {}
            (Some(h), None) => self.running = Some(h.clone()),
            _ => self.withdraw(),
        }
    }

    /// The hints on offer (each for exactly one operation of the batch).
    pub fn hints(&self) -> &[Hint] {
        &self.hints
    }

    /// Whether the operation whose own hint is the one `mine` matches should be served by one
    /// read for the batch: only on PostgreSQL (where each read under the head lock is a round
    /// trip; SQLite reads in process) and only when at least `min` hints of its kind are on
    /// offer (below that, the operation's own combined read is cheaper).
    pub fn worth_one_read(&self, conn: &DbConnection, min: usize, mine: impl Fn(&Hint) -> bool) -> bool {
        let Some(own) = self.hints.iter().find(|h| mine(h)) else {
            return false;
        };
        matches!(conn, DbConnection::Postgresql(_)) && self.hints.iter().filter(|h| h.same_kind(own)).count() >= min
    }

    /// The memo the operations left, if it is a `T`.
    pub fn memo<T: 'static>(&mut self) -> Option<&mut T> {
        self.memo.as_mut()?.downcast_mut()
    }

    pub fn set_memo<T: Send + 'static>(&mut self, memo: T) {
        self.memo = Some(Box::new(memo));
    }

    /// Withdraws every hint and forgets the memo.
    fn withdraw(&mut self) {
        self.hints.clear();
        self.memo = None;
    }
}

impl AppendCtx<'_> {
    /// `(name, sha256)` of the policy in force (the newest adoption), read once per batch:
    /// on PostgreSQL each read is a round trip under the head lock, and nearly every operation
    /// asks. The memo is forgotten when an operation adopts a policy
    /// ([`AppendCtx::policy_changed`]) and when one is rolled back, so an operation always sees
    /// what the batch's transaction holds.
    pub fn policy_in_force(&mut self) -> Result<Option<(String, String)>, StoreError> {
        if let Some(known) = self.policy {
            return Ok(known.clone());
        }
        let row = super::queries::current_policy_name(self.conn)?;
        *self.policy = Some(row.clone());
        Ok(row)
    }

    /// Called by an operation that adopts a policy: the next read goes to the database.
    pub fn policy_changed(&mut self) {
        *self.policy = None;
    }

    /// The newest entry of kind `kind` about `subject` that an earlier operation of this batch
    /// appended, if any; the table has it only once the batch is written. An operation that
    /// reads a request's entries asks this first, then the table.
    pub fn newest_staged(&self, subject: &str, kind: &str) -> Option<&Entry> {
        self.staged
            .iter()
            .rev()
            .map(|(e, ..)| e)
            .find(|e| e.kind == kind && e.subject.as_deref() == Some(subject))
    }
}

#[derive(Debug, Clone)]
pub struct AppendedEntry {
    pub entry: Entry,
    pub leaf_hash: Hash,
}

/// The result of an operation's batch: its entries and the checkpoint that first covers them.
#[derive(Debug, Clone)]
pub struct Appended {
    pub entries: Vec<AppendedEntry>,
    /// `None` only when the whole batch appended nothing.
    pub checkpoint: Option<SignedCheckpoint>,
}

/// A type-erased operation: its typed output and error stay inside the job until `finish`.
trait Job: Send {
    /// Runs the operation. When `again` may follow (a batch without savepoints, which is
    /// rolled back whole if any operation fails) the operation is kept for another run.
    fn run(&mut self, ctx: &mut AppendCtx<'_>, again: bool) -> Option<Vec<NewEntry>>;
    /// The operation succeeded but its entries could not be written (or it panicked), so its
    /// changes are rolled back: its caller must hear a failure, not its result.
    fn reject(&mut self, reason: StoreError);
    fn finish(self: Box<Self>, outcome: Result<Appended, Arc<StoreError>>);
    fn hint(&self) -> Option<&Hint>;
}

struct TypedJob<T, E, F> {
    hint: Option<Hint>,
    op: Option<F>,
    output: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<(T, Appended), E>>,
}

impl<T, E, F> Job for TypedJob<T, E, F>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut AppendCtx<'_>) -> Result<(T, Vec<NewEntry>), E> + Clone + Send + 'static,
{
    fn run(&mut self, ctx: &mut AppendCtx<'_>, again: bool) -> Option<Vec<NewEntry>> {
        let op = if again { self.op.clone()? } else { self.op.take()? };
        match op(ctx) {
            Ok((t, entries)) => {
                self.output = Some(Ok(t));
                Some(entries)
            }
            Err(e) => {
                self.output = Some(Err(e));
                None
            }
        }
    }

    fn reject(&mut self, reason: StoreError) {
        self.output = Some(Err(E::from(reason)));
    }

    fn hint(&self) -> Option<&Hint> {
        self.hint.as_ref()
    }

    fn finish(self: Box<Self>, outcome: Result<Appended, Arc<StoreError>>) {
        let value = match (self.output, outcome) {
            // A lost connection decides for every operation of the batch, those that failed
            // on their own included: their failure may be the connection's (a query cut off).
            (_, Err(e)) if matches!(&*e, StoreError::Unavailable(..) | StoreError::CommitUnknown(_)) => {
                Err(E::from(match &*e {
                    StoreError::Unavailable(why, after) => StoreError::Unavailable(why.clone(), *after),
                    other => StoreError::CommitUnknown(other.to_string()),
                }))
            }
            // Another connection held SQLite's write lock past the busy timeout: nothing was
            // written, and a later attempt may get it (503 with `Retry-After`, not 500).
            (_, Err(e)) if e.is_busy() => Err(E::from(StoreError::Unavailable(e.to_string(), 1))),
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(t)), Ok(appended)) => Ok((t, appended)),
            (_, Err(e)) => Err(E::from(StoreError::Io(format!("append transaction failed: {e}")))),
            (None, Ok(_)) => Err(E::from(StoreError::Io("operation was not run".into()))),
        };
        // The caller may have gone away (client disconnected); the write stands regardless.
        let _ = self.reply.send(value);
    }
}

/// Handle to the writer thread. Cloning is cheap; the thread stops when the last handle drops.
#[derive(Clone)]
pub struct Sequencer {
    /// Bounded: a full queue refuses the operation (503) instead of growing without bound.
    tx: mpsc::SyncSender<Box<dyn Job>>,
    alive: Arc<std::sync::atomic::AtomicBool>,
    writable: Arc<std::sync::atomic::AtomicBool>,
    clock_behind_ms: Arc<std::sync::atomic::AtomicI64>,
    /// The tree size after this process's last commit, for those who act on new checkpoints
    /// (witnessing) without polling.
    committed: tokio::sync::watch::Receiver<u64>,
    /// The stored hashes this writer committed last, for receipts.
    recent: Arc<RecentHashes>,
}

/// Clears the writer's liveness flag when its thread ends, by return or by panic.
struct AliveGuard(Arc<std::sync::atomic::AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
        if std::thread::panicking() {
            log::error!("the sequencer thread died: no write can be committed until a restart");
        }
    }
}

impl Sequencer {
    /// Starts the writer thread on its own connection, which it keeps for ever (tests).
    pub fn start(
        conn: DbConnection,
        signer: LogSigner,
        metrics: Arc<Metrics>,
        batch_max: usize,
        batch_wait: Duration,
    ) -> Self {
        Self::start_with(conn, None, DEFAULT_QUEUE_MAX, signer, metrics, batch_max, batch_wait)
    }

    /// Starts the writer thread on `conn`; when the connection is lost (a database restart,
    /// a failover) the writer opens a new one from `url`, with back-off, and meanwhile answers
    /// every operation 503 at once.
    pub fn start_reconnecting(
        conn: DbConnection,
        url: &str,
        queue_max: usize,
        signer: LogSigner,
        metrics: Arc<Metrics>,
        batch_max: usize,
        batch_wait: Duration,
    ) -> Self {
        Self::start_with(
            conn,
            Some(url.to_string()),
            queue_max,
            signer,
            metrics,
            batch_max,
            batch_wait,
        )
    }

    fn start_with(
        mut conn: DbConnection,
        url: Option<String>,
        queue_max: usize,
        signer: LogSigner,
        metrics: Arc<Metrics>,
        batch_max: usize,
        batch_wait: Duration,
    ) -> Self {
        let writable = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (tx, rx) = mpsc::sync_channel::<Box<dyn Job>>(queue_max.max(1));
        let clock_behind_ms = Arc::new(std::sync::atomic::AtomicI64::new(0));
        // The size already committed (by an earlier run or another process) is where this
        // process starts: a read it sends to a hot standby needs at least that much.
        let head = super::queries::head_size(&mut conn).unwrap_or(0);
        let (committed_tx, committed) = tokio::sync::watch::channel(head);
        let checkpoints = url.as_deref().and_then(|url| Checkpointer::start(url, &conn));
        let recent = Arc::new(RecentHashes::default());
        let writer = Writer {
            recent: recent.clone(),
            checkpoints,
            committed: committed_tx,
            conn: Some(conn),
            url,
            writable: writable.clone(),
            backoff: MIN_BACKOFF,
            next_attempt: Instant::now(),
            signer,
            metrics,
            batch_max: batch_max.max(1),
            batch_wait,
            clock_behind_ms: clock_behind_ms.clone(),
            isolated_batches: 0,
            tip: None,
        };
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let guard = AliveGuard(alive.clone());
        std::thread::Builder::new()
            .name("ledger-sequencer".into())
            .spawn(move || {
                let _guard = guard;
                writer.run(rx)
            })
            .expect("spawning the sequencer thread");
        Self {
            tx,
            alive,
            writable,
            clock_behind_ms,
            committed,
            recent,
        }
    }

    /// The stored hashes this process's writer committed last (see [`RecentHashes`]).
    pub fn recent_hashes(&self) -> &RecentHashes {
        &self.recent
    }

    /// The tree size at start, then after each commit of this process the new tree size.
    pub fn committed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.committed.clone()
    }

    /// Whether the writer holds a working connection: false from a lost connection until it
    /// has reconnected. Readiness reports it.
    pub fn is_writable(&self) -> bool {
        self.writable.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How far (ms) the host clock was behind the last entry's time at the last commit.
    pub fn clock_behind_ms(&self) -> i64 {
        self.clock_behind_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the writer thread still runs; readiness reports a dead writer.
    pub fn is_alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs `op` atomically with the entries it returns: both commit together or not at all.
    /// `op` runs on the writer thread, under the head lock; keep it to database work. It may
    /// run twice (a clone first, in a batch that is rolled back whole when another operation
    /// fails), so it must have no effect outside the database transaction it is given.
    pub async fn append<T, E, F>(&self, op: F) -> Result<(T, Appended), E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut AppendCtx<'_>) -> Result<(T, Vec<NewEntry>), E> + Clone + Send + 'static,
    {
        self.append_hinted(None, op).await
    }

    /// [`Sequencer::append`] of an operation that declares what it reads and writes
    /// ([`Hint`]), and keeps that promise.
    pub async fn append_hinted<T, E, F>(&self, hint: Option<Hint>, op: F) -> Result<(T, Appended), E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut AppendCtx<'_>) -> Result<(T, Vec<NewEntry>), E> + Clone + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(TypedJob {
            hint,
            op: Some(op),
            output: None,
            reply,
        });
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => E::from(StoreError::Unavailable(
                "the ledger is at capacity: the sequencer's queue is full".into(),
                1,
            )),
            mpsc::TrySendError::Disconnected(_) => E::from(StoreError::SequencerStopped),
        })?;
        rx.await.map_err(|_| E::from(StoreError::SequencerStopped))?
    }
}

/// Operations that may wait for the writer when no bound is configured.
pub const DEFAULT_QUEUE_MAX: usize = 10_000;

/// How often an idle writer checks its connection.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Back-off between reconnection attempts: from 100 ms, doubling, at most 5 s.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

struct Writer {
    /// `None` while the database is unreachable.
    conn: Option<DbConnection>,
    /// Where to reconnect; `None`: never drop the connection.
    url: Option<String>,
    writable: Arc<std::sync::atomic::AtomicBool>,
    backoff: Duration,
    next_attempt: Instant,
    signer: LogSigner,
    metrics: Arc<Metrics>,
    batch_max: usize,
    batch_wait: Duration,
    clock_behind_ms: Arc<std::sync::atomic::AtomicI64>,
    committed: tokio::sync::watch::Sender<u64>,
    /// Batches still to run with a savepoint per operation after the last fall-back.
    isolated_batches: u32,
    /// SQLite with a URL: the thread that checkpoints the WAL, woken after commits.
    checkpoints: Option<Checkpointer>,
    /// The log's tip as this writer's last committed batch left it.
    tip: Option<Tip>,
    /// Where a committed batch's stored hashes are published for receipts.
    recent: Arc<RecentHashes>,
}

/// What a batch reads of the log's tip before it appends: the last leaf hash (the next
/// entry's `prev`) and the frontier hashes (all the tree arithmetic of the next batch reads,
/// see [`merkle::frontier_indexes`]). The writer keeps them from its own last commit and uses
/// them only when the head it locks still has that size and the last entry that time;
/// otherwise (another process appended, the writer just started or lost its connection) the
/// batch reads them from the database. Stored hashes and entries never change once committed.
#[derive(Clone)]
struct Tip {
    size: u64,
    last_leaf: Hash,
    /// The last entry's time: checked against the stored one, which each batch reads anyway.
    last_time: String,
    frontier: std::collections::HashMap<u64, Hash>,
    /// The stored hashes the batch wrote, from the first one's stored index, and whether the
    /// batch followed the writer's own tip: published to [`RecentHashes`] once the batch has
    /// committed, then dropped.
    written: Option<(u64, Vec<Hash>, bool)>,
}

/// How often at most the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// SQLite checkpoints the WAL into the database file in the connection that commits, once the
/// WAL passes 1000 pages: copying the pages and an `fsync` of the database file on the writer
/// thread, a fifth of the writer's time under load. A thread with its own connection copies
/// them first (`PASSIVE`: it never blocks the writer or a reader), so the writer's own
/// checkpoint finds little left to copy. The writer's checkpoint stays: only a checkpoint run
/// between two of the writer's transactions can finish, and only a finished one lets the next
/// transaction start the WAL over (without it the WAL grows without bound). Durability does
/// not change: a commit is durable once its WAL frames are synced (`synchronous = FULL`). The
/// thread ends when the writer does (its channel closes).
struct Checkpointer {
    wake: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// `None` for PostgreSQL, or when no connection can be opened for it.
    fn start(url: &str, writer: &DbConnection) -> Option<Self> {
        if !matches!(writer, DbConnection::Sqlite(_)) {
            return None;
        }
        let mut conn = match super::establish(url) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("no WAL checkpointer, the writer checkpoints alone: {e}");
                return None;
            }
        };
        let (wake, rx) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    while rx.try_recv().is_ok() {}
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        // Busy: another checkpoint is under way; the next wake tries again.
                        log::debug!("WAL checkpoint skipped: {e}");
                    }
                }
            })
            .map_err(|e| log::warn!("no WAL checkpointer, the writer checkpoints alone: {e}"))
            .ok()?;
        Some(Self { wake })
    }

    fn wake(&self) {
        // Full: a wake is already pending, which covers this commit too.
        let _ = self.wake.try_send(());
    }
}

/// Why a savepoint, or a batch run without savepoints, is rolled back.
enum Abort {
    /// An operation failed (its error, or a panic, or an entry that cannot be canonicalised).
    Operation,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Db(e)
    }
}

/// Why a batch transaction is rolled back.
enum BatchAbort {
    /// An operation failed in a batch run without savepoints: run it again with them.
    Operation,
    Store(StoreError),
}

impl From<diesel::result::Error> for BatchAbort {
    fn from(e: diesel::result::Error) -> Self {
        BatchAbort::Store(e.into())
    }
}

impl From<StoreError> for BatchAbort {
    fn from(e: StoreError) -> Self {
        BatchAbort::Store(e)
    }
}

impl From<LedgerError> for BatchAbort {
    fn from(e: LedgerError) -> Self {
        BatchAbort::Store(e.into())
    }
}

/// How many batches after a fall-back run with a savepoint per operation from the start.
pub const ISOLATED_AFTER_FAILURE: u32 = 16;

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Box<dyn Job>>) {
        loop {
            // Idle, the writer checks its connection once a second, so that readiness tells a
            // lost database before a write finds it, and a returned one is reconnected.
            let first = match rx.recv_timeout(IDLE_CHECK) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.idle_check();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = vec![first];
            let deadline = Instant::now() + self.batch_wait;
            while batch.len() < self.batch_max {
                let next = match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => rx.recv_timeout(left).ok(),
                    _ => rx.try_recv().ok(),
                };
                match next {
                    Some(job) => batch.push(job),
                    None => break,
                }
            }
            if self.conn.is_none() {
                // A write tries at once (a refused connection fails in milliseconds), so the
                // first write after the database is back succeeds.
                self.reconnect(true);
            }
            if self.conn.is_some() {
                self.commit_batch(batch);
            } else {
                // Down: every operation is refused at once, with when to try again; none was
                // applied, since none ran.
                let e = Arc::new(StoreError::Unavailable(
                    "the writer has no database connection".into(),
                    self.backoff.as_secs().max(1),
                ));
                for job in batch {
                    job.finish(Err(e.clone()));
                }
            }
        }
    }

    fn idle_check(&mut self) {
        if self.url.is_none() {
            return;
        }
        match self.conn.as_mut() {
            None => self.reconnect(false),
            Some(conn) => {
                if conn.is_broken() || conn.ping().is_err() {
                    self.drop_connection();
                }
            }
        }
    }

    /// One reconnection attempt: when `now`, or when the back-off allows it.
    fn reconnect(&mut self, now: bool) {
        let Some(url) = self.url.clone() else { return };
        if !now && Instant::now() < self.next_attempt {
            return;
        }
        match super::establish(&url) {
            Ok(conn) => {
                log::info!("the writer reconnected to the database");
                self.conn = Some(conn);
                self.backoff = MIN_BACKOFF;
                self.writable.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            Err(e) => {
                log::warn!(
                    "the writer cannot reconnect yet ({e}); next attempt in {:?}",
                    self.backoff
                );
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// After a failed transaction: is the connection still usable? A lost one is dropped, so
    /// that the next batch reconnects instead of failing on a dead socket for ever.
    fn lost_connection(&mut self) -> bool {
        if self.url.is_none() {
            return false;
        }
        let Some(conn) = self.conn.as_mut() else { return true };
        let broken = conn.is_broken() || conn.ping().is_err();
        if broken {
            self.drop_connection();
        }
        broken
    }

    /// Forgets a dead connection: readiness goes to 503 and the next batch (or idle check)
    /// reconnects at once, then with back-off.
    fn drop_connection(&mut self) {
        log::error!("the writer lost its database connection; reconnecting with back-off");
        self.conn = None;
        // The database may come back as another one (a failover, a restore), without the
        // hashes this writer committed last.
        self.tip = None;
        self.recent.forget();
        self.writable.store(false, std::sync::atomic::Ordering::SeqCst);
        self.next_attempt = Instant::now();
        self.backoff = MIN_BACKOFF;
    }

    fn commit_batch(&mut self, mut batch: Vec<Box<dyn Job>>) {
        let started = Instant::now();
        let mut per_job: Vec<Vec<AppendedEntry>> = Vec::with_capacity(batch.len());
        let signer = self.signer.clone();
        let clock = self.clock_behind_ms.clone();
        let Some(conn) = self.conn.as_mut() else { return };
        // Set when the batch's statements all succeeded: an error after that is the COMMIT's,
        // whose outcome a lost connection leaves unknown.
        let mut committing = false;
        let mut isolated = self.isolated_batches > 0;
        self.isolated_batches = self.isolated_batches.saturating_sub(1);
        let mut failed: u64;
        // Taken: a batch that fails leaves the writer without a tip, to read afresh.
        let tip = self.tip.take();
        let mut next_tip: Option<Tip>;
        let result = loop {
            per_job.clear();
            failed = 0;
            next_tip = None;
            let mut run = BatchRun {
                signer: &signer,
                clock_behind_ms: &clock,
                isolated,
                tip: tip.as_ref(),
                failed: &mut failed,
                next_tip: &mut next_tip,
            };
            let attempt: Result<_, BatchAbort> = conn.transaction(|conn| {
                let checkpoint = append_batch(conn, &mut run, &mut batch, &mut per_job)?;
                committing = true;
                Ok(checkpoint)
            });
            match attempt {
                Ok(checkpoint) => break Ok(checkpoint),
                // A batch of one failing operation: the rollback was its savepoint, and the
                // operation has already answered; a second run would change nothing.
                Err(BatchAbort::Operation) if batch.len() == 1 => {
                    per_job.clear();
                    per_job.push(Vec::new());
                    failed = 1;
                    break Ok(None);
                }
                // Nothing of the batch remains: run it again, each operation in a savepoint.
                Err(BatchAbort::Operation) if !isolated => {
                    isolated = true;
                    self.isolated_batches = ISOLATED_AFTER_FAILURE;
                    self.metrics.isolated_reruns.inc();
                }
                Err(BatchAbort::Operation) => {
                    break Err(StoreError::Io("an operation failed outside its savepoint".into()))
                }
                Err(BatchAbort::Store(e)) => break Err(e),
            }
        };
        match result {
            Ok(checkpoint) => {
                // Committed: the tip this batch left (or, when it appended nothing, the one
                // it found), and its stored hashes may now be read from memory.
                if let Some(t) = next_tip.as_mut() {
                    if let Some((first, hashes, follows)) = t.written.take() {
                        self.recent.committed(first, &hashes, &t.frontier, follows);
                    }
                }
                self.tip = next_tip.or(tip);
                let appended: usize = per_job.iter().map(Vec::len).sum();
                self.metrics.failed_operations.inc_by(failed);
                self.metrics.appends.inc_by(appended as u64);
                self.metrics.batch_size.observe(batch.len() as f64);
                self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
                if let Some(cp) = &checkpoint {
                    self.metrics.tree_size.set(cp.size as i64);
                    self.committed.send_replace(cp.size);
                    if let Some(c) = &self.checkpoints {
                        c.wake();
                    }
                }
                self.metrics
                    .clock_behind_seconds
                    .set(self.clock_behind_ms.load(std::sync::atomic::Ordering::Relaxed) / 1000);
                for (job, entries) in batch.into_iter().zip(per_job) {
                    job.finish(Ok(Appended {
                        entries,
                        checkpoint: checkpoint.clone(),
                    }));
                }
            }
            Err(e) => {
                log::error!("append transaction of {} operations failed: {e}", batch.len());
                let e = match self.lost_connection() {
                    true if committing => Arc::new(StoreError::CommitUnknown(e.to_string())),
                    true => Arc::new(StoreError::Unavailable(e.to_string(), 1)),
                    false => Arc::new(e),
                };
                for job in batch {
                    job.finish(Err(e.clone()));
                }
            }
        }
    }
}

/// What one run of a batch works with, and what it leaves for the writer.
struct BatchRun<'a> {
    signer: &'a LogSigner,
    clock_behind_ms: &'a std::sync::atomic::AtomicI64,
    /// A savepoint per operation.
    isolated: bool,
    /// The writer's tip from its last commit, if any.
    tip: Option<&'a Tip>,
    /// Operations rolled back (isolated runs).
    failed: &'a mut u64,
    /// The tip after this run, for the writer to keep once the transaction commits.
    next_tip: &'a mut Option<Tip>,
}

/// Steps 1–4 of the module comment, inside the batch transaction.
fn append_batch(
    conn: &mut DbConnection,
    run: &mut BatchRun<'_>,
    batch: &mut [Box<dyn Job>],
    per_job: &mut Vec<Vec<AppendedEntry>>,
) -> Result<Option<SignedCheckpoint>, BatchAbort> {
    let (signer, isolated) = (run.signer, run.isolated);
    // 1. The head lock, and 2. the head's size and its last entry's time, which the locking
    // statement returns (one round trip on PostgreSQL).
    let (start, stored_time): (i64, Option<String>) =
        per_backend!(&mut *conn, c => super::head_rows::LockHead.get_result(c))?;
    let start = start as u64;
    let mut tip = run.tip.filter(|t| t.size == start);
    let (mut prev, mut last_time) = if start == 0 {
        (GENESIS_PREV.to_string(), String::new())
    } else {
        // Read every batch, though this writer wrote it: the clock check below trusts only
        // the stored time. It also checks the tip: a log that came back to the same size with
        // other entries (a restore, a failover that lost commits) shows another time, and the
        // tip is not used. NULL: entries committed by another process while the lock was
        // awaited, which the lock statement's snapshot does not show (see `LockHead`).
        let time: String = match stored_time {
            Some(t) => t,
            None => per_backend!(&mut *conn, c => entries::table
                .filter(entries::idx.eq(start as i64 - 1))
                .select(entries::time)
                .first(c))?,
        };
        tip = tip.filter(|t| t.last_time == time);
        let leaf = match tip {
            Some(t) => t.last_leaf,
            None => {
                let at = merkle::stored_hash_index(0, start - 1);
                super::hashes::read_indexes(conn, &[at])?
                    .remove(&at)
                    .ok_or_else(|| StoreError::Corrupt(format!("the leaf hash of entry {} is not stored", start - 1)))?
            }
        };
        (hex::encode(leaf.0), time)
    };
    // Entry times never go backwards. A clock behind the last entry (it ran fast once, or was
    // set back) is not followed: the batch keeps the last time, and the lag is logged loudly,
    // exported as a metric and shown by /readyz, for an operator to fix the clock.
    let clock = chrono::Utc::now();
    let last = chrono::DateTime::parse_from_rfc3339(&last_time)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or(clock);
    let behind = (last - clock).num_milliseconds();
    run.clock_behind_ms
        .store(behind.max(0), std::sync::atomic::Ordering::Relaxed);
    if behind > CLOCK_TOLERANCE_MS {
        log::error!(
            "this host's clock is {:.1} s behind the last entry's time: entries keep that time until the clock catches up; fix the clock",
            behind as f64 / 1000.0
        );
    }
    let time = clock.max(last);
    last_time = format_time(time);

    // 3. Operations: each in its savepoint when `isolated`, else all in the batch's
    // transaction, which the first failing operation rolls back whole.
    let mut next = start;
    let mut rows: Vec<Built> = Vec::new();
    let mut policy = None;
    let defer = !isolated && matches!(conn, DbConnection::Postgresql(_));
    let mut reads = BatchReads::new(batch.iter().map(|j| j.hint().cloned()), defer);
    for job in batch.iter_mut() {
        let first = next;
        // Deferred writes go in before an operation that may read them: any but a transition,
        // which checks them against its own request and claim (`BatchReads::deferred`).
        if !matches!(job.hint(), Some(Hint::Transition(_))) {
            flush_deferred(&mut reads, conn)?;
        }
        reads.enter(job.hint());
        let mut run_op = |conn: &mut DbConnection| {
            let mut ctx = AppendCtx {
                conn,
                next_index: first,
                time,
                origin: signer.origin(),
                policy: &mut policy,
                reads: &mut reads,
                staged: &rows,
            };
            run_operation(job.as_mut(), &mut ctx, &prev, &last_time, !isolated)
        };
        let staged = if isolated {
            conn.transaction::<_, Abort, _>(run_op)
        } else {
            run_op(conn)
        };
        match staged {
            Ok(staged) => {
                if let Some(last) = staged.last() {
                    prev = hex_hash(&last.2);
                }
                next += staged.len() as u64;
                per_job.push(
                    staged
                        .iter()
                        .map(|(e, _, h, _)| AppendedEntry {
                            entry: e.clone(),
                            leaf_hash: *h,
                        })
                        .collect(),
                );
                rows.extend(staged);
            }
            Err(Abort::Operation) if !isolated => return Err(BatchAbort::Operation),
            Err(Abort::Operation) => {
                // Its savepoint is rolled back, and with it anything it read of the policy.
                policy = None;
                *run.failed += 1;
                per_job.push(Vec::new());
            }
            Err(Abort::Db(e)) => return Err(e.into()),
        }
    }
    flush_deferred(&mut reads, conn)?;
    if rows.is_empty() {
        return Ok(None);
    }

    // 4. Entries, sealed details, tree hashes, checkpoint, head. The hashes first: their reads
    // (of hashes stored before this batch) and the signature need nothing the batch writes.
    let hash_start = merkle::stored_hash_index(0, start);
    // Whether this batch follows the writer's own last one (same size, same last entry): only
    // then may its hashes extend the window of recent ones (see `RecentHashes`).
    let follows_own_tip = tip.is_some();
    let known = tip.map(|t| t.frontier.clone()).unwrap_or_default();
    let mut reader = DbHashReader::with_overlay(conn, hash_start, known);
    for (i, (_, _, leaf, _)) in rows.iter().enumerate() {
        let new = merkle::hashes_to_store(start + i as u64, *leaf, &reader)?;
        reader.push_overlay(&new);
    }
    let size = start + rows.len() as u64;
    let root = merkle::root(size, &reader)?;
    let frontier = merkle::frontier_indexes(size);
    let frontier = frontier
        .iter()
        .copied()
        .zip(tlog_tiles::HashReader::read_hashes(&reader, &frontier).map_err(|e| LedgerError::Proof(e.to_string()))?)
        .collect();
    let new_hashes = reader.overlay().to_vec();
    let conn = reader.conn();
    let checkpoint = signer.sign(size, root)?;
    match conn {
        // One statement for all of it (`BatchRows`).
        DbConnection::Postgresql(c) => {
            let pages = super::hashes::page_writes(hash_start, &new_hashes);
            let (page, filled, tail) = match &pages.extend {
                Some((page, filled, tail)) => (*page, *filled as i64, tail.as_slice()),
                None => (-1, 0, &[][..]),
            };
            let extended: i64 = super::batch_rows::BatchRows {
                entries: super::batch_rows::EntriesWithSealed::new(rows.iter().map(|(e, canonical, _, sealed)| {
                    let sealed = sealed
                        .as_ref()
                        .map(|(salt, restricted)| (salt.as_slice(), restricted.as_str()));
                    (e, canonical.as_str(), sealed)
                })),
                extend: (page, filled, tail),
                new_pages: pages.new.iter().map(|(p, _)| *p).collect(),
                new_hashes: pages.new.iter().map(|(_, b)| b.as_slice()).collect(),
                size: size as i64,
                root: &root.0,
                note: &checkpoint.note,
            }
            .get_result(c)?;
            if extended != pages.extend.is_some() as i64 {
                return Err(super::hashes::misplaced(hash_start, None).into());
            }
        }
        // One cached single-row statement per row: a multi-row `INSERT` has a shape of its own
        // for every batch size, and diesel prepares it again each time; SQLite has no round trip
        // to save.
        DbConnection::Sqlite(c) => {
            for (e, canonical, _, sealed) in &rows {
                diesel::insert_into(entries::table)
                    .values((
                        entries::idx.eq(e.index as i64),
                        entries::kind.eq(&e.kind),
                        entries::subject.eq(&e.subject),
                        entries::time.eq(&e.time),
                        entries::canonical.eq(canonical),
                    ))
                    .execute(c)?;
                if let Some((salt, restricted)) = sealed {
                    diesel::insert_into(sealed_details::table)
                        .values((
                            sealed_details::entry_idx.eq(e.index as i64),
                            sealed_details::salt.eq(Some(salt)),
                            sealed_details::restricted.eq(restricted),
                        ))
                        .execute(c)?;
                }
            }
            super::hashes::append_sqlite(c, hash_start, &new_hashes)?;
            diesel::insert_into(checkpoints::table)
                .values((
                    checkpoints::size.eq(size as i64),
                    checkpoints::root.eq(root.0.to_vec()),
                    checkpoints::note.eq(&checkpoint.note),
                ))
                .execute(c)?;
            super::head_rows::SetHeadSize(size as i64).execute(c)?;
        }
    }
    let last = rows.last().expect("rows is not empty");
    *run.next_tip = Some(Tip {
        size,
        last_leaf: last.2,
        last_time: last.0.time.clone(),
        frontier,
        written: Some((hash_start, new_hashes, follows_own_tip)),
    });
    Ok(Some(checkpoint))
}

/// Writes the operations' deferred rows. They are deferred only in a batch run without
/// savepoints, so a failure that is not the connection's is an operation's: the batch is run
/// again with a savepoint per operation, where each writes its own rows.
fn flush_deferred(reads: &mut BatchReads, conn: &mut DbConnection) -> Result<(), BatchAbort> {
    match reads.flush(conn) {
        Ok(()) => Ok(()),
        Err(e) if e.is_connection_lost() => Err(BatchAbort::Store(e)),
        // Not the error's text: a database's message may quote a row's values.
        Err(_) => {
            log::warn!("a batch's deferred writes failed; running it again one operation at a time");
            Err(BatchAbort::Operation)
        }
    }
}

/// Runs one operation and builds its entries, chained from `prev`. A panic in the operation
/// (a bug, or input no check foresaw) fails that operation only: the writer goes on.
fn run_operation(
    job: &mut dyn Job,
    ctx: &mut AppendCtx<'_>,
    prev: &str,
    time: &str,
    again: bool,
) -> Result<Vec<Built>, Abort> {
    let first = ctx.next_index;
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(ctx, again)));
    let new_entries = match ran {
        Ok(entries) => entries.ok_or(Abort::Operation)?,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            // Logged by the run that counts: a first run without savepoints is run again.
            if !again {
                log::error!("an operation panicked and was rolled back; the writer goes on: {what}");
            }
            job.reject(StoreError::Io("the operation failed unexpectedly".into()));
            return Err(Abort::Operation);
        }
    };
    let mut staged = Vec::with_capacity(new_entries.len());
    let mut link = prev.to_string();
    for (i, ne) in new_entries.into_iter().enumerate() {
        match build_entry(first + i as u64, &link, time, ne) {
            Ok(built) => {
                link = hex_hash(&built.2);
                staged.push(built);
            }
            Err(e) => {
                if !again {
                    log::error!("operation produced an entry that cannot be canonicalised: {e}");
                }
                job.reject(StoreError::Ledger(e));
                return Err(Abort::Operation);
            }
        }
    }
    Ok(staged)
}

type Built = (Entry, String, Hash, Option<(Vec<u8>, String)>);

/// How far the clock may lag the last entry's time before it is reported (ms).
pub const CLOCK_TOLERANCE_MS: i64 = 2_000;

/// The largest canonical entry, in bytes: what a tlog-tiles entry bundle's uint16 length
/// prefix can say.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

fn build_entry(index: u64, prev: &str, time: &str, ne: NewEntry) -> Result<Built, LedgerError> {
    let sealed = match &ne.restricted {
        Some(restricted) => {
            // Canonicalised once: the bytes committed to are the bytes stored.
            let salt = commitment::fresh_nonce();
            let canonical = crate::ledger::entry::canonicalize(restricted)?;
            let c = commitment::sealed_canonical(&salt, &canonical);
            let text = String::from_utf8(canonical).map_err(|e| LedgerError::MalformedJson(e.to_string()))?;
            Some((hex_hash(&c), salt.to_vec(), text))
        }
        None => None,
    };
    let entry = Entry {
        v: 1,
        index,
        prev: prev.to_string(),
        time: time.to_string(),
        kind: ne.kind,
        subject: ne.subject,
        public: ne.public,
        sealed: sealed.as_ref().map(|s| s.0.clone()),
    };
    entry.check_form()?;
    let canonical = entry.canonical_bytes()?;
    // The log never signs what its verifier would refuse: the same single-pass check that
    // `verify` and the monitor run on stored entries (an integer beyond 2^53 − 1, say, which
    // canonicalisation turns into a float's rounding) fails the operation here instead.
    crate::ledger::canonical_check::check_entry(&canonical)?;
    // C2SP tlog-tiles entry bundles prefix each entry with a 16-bit length: a longer entry
    // would corrupt every later record of its bundle, so it is refused, never truncated.
    if canonical.len() > MAX_ENTRY_BYTES {
        return Err(LedgerError::MalformedEntry(format!(
            "an entry of {} bytes exceeds the maximum of {MAX_ENTRY_BYTES}",
            canonical.len()
        )));
    }
    if let Some((_, _, text)) = &sealed {
        if !crate::ledger::canonical_check::is_canonical(text.as_bytes()) {
            return Err(LedgerError::MalformedEntry(
                "restricted details are not canonical I-JSON".into(),
            ));
        }
    }
    let leaf = crate::ledger::entry::leaf_hash(&canonical);
    let canonical = String::from_utf8(canonical).map_err(|e| LedgerError::MalformedJson(e.to_string()))?;
    Ok((entry, canonical, leaf, sealed.map(|(_, salt, text)| (salt, text))))
}
