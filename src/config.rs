//! Settings for one running instance, passed explicitly (no global): the CLI builds them from
//! flags and environment variables, tests build them directly.

use std::path::PathBuf;
use std::time::Duration;

/// The default log origin, also the checkpoint key name (DESIGN §4.3).
pub const DEFAULT_ORIGIN: &str = "disclosure-ledger.localhost/log";

#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind, e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: String,
    /// Holds the SQLite file (by default) and the key files.
    pub data_dir: PathBuf,
    /// `postgres://…`, or a SQLite path; `None` means `<data_dir>/ledger.db`.
    pub database_url: Option<String>,
    /// A PostgreSQL hot standby of `database_url` that answers the ledger's public and auditor
    /// reads (`--read-database-url`); writes, authentication and authorisation stay on the
    /// primary.
    pub read_database_url: Option<String>,
    /// Log origin: first line of every checkpoint and the name of the log key. Also the `aud`
    /// every token must carry and the origin every order statement names: a copy of the ledger
    /// run under another origin (a staging copy restored from production) accepts neither
    /// production's tokens nor its orders.
    pub origin: String,
    /// Longest token lifetime accepted (`exp - iat`).
    pub max_token_ttl: Duration,
    /// Group commit: most operations in one batch, and how long the sequencer waits for more
    /// after the first arrives.
    pub batch_max: usize,
    pub batch_wait: Duration,
    /// The policy to be in force: `(name, TOML document)`. Adopted at start when it is not the
    /// current one (and as entry 0 of a new ledger); `None` keeps the current policy, or adopts
    /// the built-in default on a new ledger.
    pub policy: Option<(String, String)>,
    /// How often time-driven transitions (order expiry, emergency validation window) run.
    pub sweep_interval: Duration,
    /// `POST /v1/subjects/proof` calls allowed per client address per minute.
    pub subject_proofs_per_minute: u32,
    /// Writes and expensive reads per second per token subject; 0 = no limit.
    pub rate_limit_per_subject: u32,
    /// Writes and expensive reads per second per client address; 0 = no limit.
    pub rate_limit_per_address: u32,
    /// Operations waiting for the sequencer at most; beyond, writes are 503.
    pub queue_max: usize,
    /// Witnesses the log submits its checkpoints to (`--witness VKEY=URL`).
    pub witnesses: Vec<crate::cosigning::WitnessConfig>,
    /// Cosignatures a checkpoint needs before it is served (`--witness-quorum`, ≤ witnesses).
    pub witness_quorum: usize,
}

impl Settings {
    /// Defaults for everything but where the data lives.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: "127.0.0.1:8080".to_string(),
            data_dir: data_dir.into(),
            database_url: None,
            read_database_url: None,
            origin: DEFAULT_ORIGIN.to_string(),
            max_token_ttl: Duration::from_secs(3600),
            batch_max: 256,
            batch_wait: Duration::from_micros(500),
            policy: None,
            sweep_interval: Duration::from_secs(60),
            subject_proofs_per_minute: 30,
            rate_limit_per_subject: 100,
            rate_limit_per_address: 200,
            queue_max: 10_000,
            witnesses: Vec::new(),
            witness_quorum: 0,
        }
    }

    /// The database URL in force: the one given, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => self.data_dir.join("ledger.db").to_string_lossy().into_owned(),
        }
    }
}
