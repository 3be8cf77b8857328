//! Prometheus metrics. Labels never carry request data: only fixed names (endpoint patterns,
//! status classes), so no identifier can reach a label.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub struct Metrics {
    registry: Registry,
    /// Entries appended by this process.
    pub appends: Counter,
    /// Operations whose savepoint was rolled back.
    pub failed_operations: Counter,
    /// Batches rolled back whole because an operation failed without a savepoint, and run
    /// again with one savepoint per operation.
    pub isolated_reruns: Counter,
    /// Operations per committed batch.
    pub batch_size: Histogram,
    /// Seconds from opening the append transaction to its commit.
    pub commit_seconds: Histogram,
    /// Tree size after this process's last commit.
    pub tree_size: Gauge,
    /// How far (s) this host's clock was behind the last entry's time at the last commit; 0
    /// when it was not.
    pub clock_behind_seconds: Gauge,
    /// Seconds to answer a transparency report (catch-up plus rendering).
    pub report_seconds: Histogram,
    /// Historical records accepted by `POST /v1/imports` (replays not counted).
    pub imported_records: Counter,
    /// Requests past their retention and not yet shredded, after the last sweep.
    pub retention_due: Gauge,
    /// Per witness (label `witness`, its configured name): the size it last cosigned, how far
    /// that is behind this process's tree size, and failed submissions.
    witness_size: Family<WitnessLabel, Gauge>,
    witness_lag: Family<WitnessLabel, Gauge>,
    witness_failures: Family<WitnessLabel, Counter>,
    witness_sizes: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Reads that a hot standby may answer, by who answered (label `answered_by`: `replica`,
    /// `primary_lagging`, `primary_failed`; see `replica::AnsweredBy`).
    replica_reads: Family<WitnessLabel, Counter>,
}

type WitnessLabel = Vec<(String, String)>;

fn witness_label(name: &str) -> WitnessLabel {
    vec![("witness".to_string(), name.to_string())]
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("disclosure_ledger");
        let appends = Counter::default();
        let failed_operations = Counter::default();
        let isolated_reruns = Counter::default();
        registry.register(
            "isolated_reruns",
            "Batches run again with a savepoint per operation after an operation failed",
            isolated_reruns.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let tree_size = Gauge::default();
        let clock_behind_seconds = Gauge::default();
        registry.register(
            "clock_behind_seconds",
            "Seconds this host's clock was behind the last entry's time at the last commit",
            clock_behind_seconds.clone(),
        );
        let report_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let imported_records = Counter::default();
        registry.register("report_seconds", "Transparency report latency", report_seconds.clone());
        registry.register(
            "imported_records",
            "Historical records imported",
            imported_records.clone(),
        );
        registry.register("appends", "Entries appended by this process", appends.clone());
        registry.register(
            "failed_operations",
            "Append operations rolled back",
            failed_operations.clone(),
        );
        registry.register("batch_size", "Operations per group commit", batch_size.clone());
        registry.register(
            "commit_seconds",
            "Append transaction latency, open to commit",
            commit_seconds.clone(),
        );
        registry.register(
            "tree_size",
            "Ledger size after this process's last commit",
            tree_size.clone(),
        );
        let witness_size = Family::<WitnessLabel, Gauge>::default();
        let witness_lag = Family::<WitnessLabel, Gauge>::default();
        let witness_failures = Family::<WitnessLabel, Counter>::default();
        registry.register(
            "witness_cosigned_size",
            "Tree size each witness last cosigned",
            witness_size.clone(),
        );
        registry.register(
            "witness_lag_entries",
            "Entries between this process's tree size and each witness's last cosigned size",
            witness_lag.clone(),
        );
        registry.register(
            "witness_failures",
            "Failed checkpoint submissions per witness",
            witness_failures.clone(),
        );
        let retention_due = Gauge::default();
        registry.register(
            "retention_due_requests",
            "Requests past their retention and not yet shredded, after the last sweep",
            retention_due.clone(),
        );
        let replica_reads = Family::<WitnessLabel, Counter>::default();
        registry.register(
            "replica_reads",
            "Reads a hot standby may answer (--read-database-url), by who answered them",
            replica_reads.clone(),
        );
        Self {
            replica_reads,
            retention_due,
            witness_size,
            witness_lag,
            witness_failures,
            witness_sizes: Default::default(),
            registry,
            appends,
            failed_operations,
            isolated_reruns,
            batch_size,
            commit_seconds,
            tree_size,
            clock_behind_seconds,
            report_seconds,
            imported_records,
        }
    }

    /// A witness cosigned (or reported) `size`.
    pub fn witness_cosigned_size(&self, witness: &str, size: u64) {
        self.witness_size
            .get_or_create(&witness_label(witness))
            .set(size as i64);
        self.witness_sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(witness.to_string(), size);
    }

    /// A read that a hot standby may answer was answered by `by`.
    pub fn replica_read(&self, by: crate::replica::AnsweredBy) {
        self.replica_reads
            .get_or_create(&vec![("answered_by".to_string(), by.label().to_string())])
            .inc();
    }

    /// A submission to a witness failed.
    pub fn witness_failure(&self, witness: &str) {
        self.witness_failures.get_or_create(&witness_label(witness)).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let tree = self.tree_size.get();
        for (name, size) in self.witness_sizes.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            self.witness_lag
                .get_or_create(&witness_label(name))
                .set((tree - *size as i64).max(0));
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
