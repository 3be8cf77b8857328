//! A witness (C2SP `tlog-witness`, Ed25519 `cosignature/v1` per C2SP `tlog-cosignature`),
//! shipped in the same binary for oversight bodies: `disclosure-ledger witness serve`.
//!
//! It keeps, per log origin it trusts, the latest checkpoint it cosigned; it cosigns a newer
//! one only with a consistency proof from that one, and never two different trees of the same
//! size. Any C2SP log may use it; it knows nothing of this ledger's entries.
//!
//! - `POST /add-checkpoint`: the submission API (see [`add_checkpoint`]).
//! - `GET /<sha256(origin) hex>/checkpoint`: the monitoring API, the latest cosigned checkpoint
//!   with the log's signature and this witness's cosignature; 404 before the first.
//! - `GET /healthz`.

pub mod add_checkpoint;
mod http;
pub mod state;

use std::collections::HashMap;
use std::path::PathBuf;

use signed_note::StandardVerifier;

use crate::ledger::cosignature::Cosigner;
pub use add_checkpoint::Refusal;
pub use http::WitnessServer;
pub use state::{origin_hash, WitnessState};

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("witness state: {0}")]
    State(String),
    #[error("witness configuration: {0}")]
    Config(String),
}

impl From<std::io::Error> for WitnessError {
    fn from(e: std::io::Error) -> Self {
        WitnessError::State(e.to_string())
    }
}

/// What `witness serve` is given.
#[derive(Debug, Clone)]
pub struct WitnessSettings {
    /// Address to bind; port 0 picks a free port.
    pub listen: String,
    /// The witness's Ed25519 key (PKCS#8 PEM, from `witness keygen`).
    pub key: PathBuf,
    /// The witness's name, the key name of its cosignatures (a schema-less URL).
    pub name: String,
    /// Verifier keys (`<origin>+<id>+<base64(0x01 ‖ key)>`) of the logs it witnesses.
    pub logs: Vec<String>,
    /// Where the latest cosigned checkpoints and the evidence are kept.
    pub state: PathBuf,
}

/// The witness: its key, the logs it trusts, its durable state.
pub struct Witness {
    cosigner: Cosigner,
    /// Trusted log keys by origin (a log may have several, e.g. during a key rotation).
    logs: HashMap<String, Vec<StandardVerifier>>,
    state: WitnessState,
}

impl Witness {
    /// # Errors
    /// [`WitnessError::Config`] for an unreadable key, a bad name or a bad log key.
    pub fn open(settings: &WitnessSettings) -> Result<Self, WitnessError> {
        let key = crate::keys::read(&settings.key).map_err(|e| WitnessError::Config(e.to_string()))?;
        crate::files::check_private(&settings.key).map_err(WitnessError::Config)?;
        let cosigner = Cosigner::new(&settings.name, key).map_err(|e| WitnessError::Config(e.to_string()))?;
        if settings.logs.is_empty() {
            return Err(WitnessError::Config(
                "no --log: a witness needs at least one log key".into(),
            ));
        }
        let mut logs: HashMap<String, Vec<StandardVerifier>> = HashMap::new();
        for vkey in &settings.logs {
            let v = StandardVerifier::new(vkey).map_err(|e| WitnessError::Config(format!("log key {vkey:?}: {e}")))?;
            logs.entry(signed_note::Verifier::name(&v).to_string())
                .or_default()
                .push(v);
        }
        let state = WitnessState::open(&settings.state)?;
        Ok(Self { cosigner, logs, state })
    }

    /// The verifier key logs and clients pin: `<name>+<hex id>+<base64(0x04 ‖ key)>`.
    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier_key()
    }

    pub fn state(&self) -> &WitnessState {
        &self.state
    }

    /// The origins this witness trusts.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }
}

/// `witness keygen`: a new key file (PKCS#8 PEM, 0600, never overwritten) and its verifier key.
///
/// # Errors
/// [`WitnessError::Config`] for a bad name or a file that exists or cannot be written.
pub fn keygen(name: &str, out: &std::path::Path) -> Result<String, WitnessError> {
    if !signed_note::is_key_name_valid(name) {
        return Err(WitnessError::Config(format!("{name:?} is not a valid key name")));
    }
    let key = crate::keys::create(out).map_err(|e| WitnessError::Config(e.to_string()))?;
    Ok(Cosigner::new(name, key)
        .map_err(|e| WitnessError::Config(e.to_string()))?
        .verifier_key())
}
