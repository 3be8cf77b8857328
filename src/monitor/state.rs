//! What a monitor trusts between runs. Written only when a run verified everything, through a
//! temporary file and a rename, so that a failed or interrupted run leaves the last good state.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::MonitorError;
use crate::ledger::compact::StoredRange;
use crate::reports::Tally;

pub const VERSION: u32 = 1;

/// An entry the monitor has verified as a leaf but not yet folded into its report: seen under
/// embargo, or after one (the report folds request entries in log order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Held {
    pub leaf: String,
    /// A log-level entry is folded at once; it is held only to keep positions.
    pub fed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The pinned verifier key.
    pub log_key: String,
    /// The last checkpoint verified, as signed by the log.
    pub checkpoint: String,
    pub size: u64,
    /// Root at `size`, hex.
    pub root: String,
    pub edge: StoredRange,
    /// Leaf hash (hex) of entry `size - 1`, the next entry's `prev`.
    pub last_leaf: String,
    /// Time of the last entry read in full.
    pub last_time: String,
    /// Entries `0..released` are folded into `tally`; `held` are entries `released..size`.
    pub released: u64,
    /// Leaf hash (hex) of entry `released - 1`.
    pub released_prev: String,
    pub held: Vec<Held>,
    pub tally: Tally,
    /// The last [`COSIGNED_KEPT`] checkpoints verified that carried cosignatures, oldest first,
    /// as served: evidence to hold against the log or a witness later.
    #[serde(default)]
    pub cosigned: Vec<String>,
}

/// Cosigned checkpoints a monitor's state keeps.
pub const COSIGNED_KEPT: usize = 100;

impl State {
    /// Keeps `note` among the cosigned checkpoints seen when it carries more than the log's
    /// own signature line.
    pub fn keep_cosigned(&mut self, note: &str) {
        let signatures = note.rsplit("\n\n").next().map_or(0, |s| s.lines().count());
        if signatures > 1 && self.cosigned.last().map(String::as_str) != Some(note) {
            self.cosigned.push(note.to_string());
            let excess = self.cosigned.len().saturating_sub(COSIGNED_KEPT);
            self.cosigned.drain(..excess);
        }
    }

    pub fn new(log_key: &str) -> State {
        let genesis = hex::encode([0u8; 32]);
        State {
            version: VERSION,
            log_key: log_key.to_string(),
            checkpoint: String::new(),
            size: 0,
            root: String::new(),
            edge: StoredRange { size: 0, peaks: vec![] },
            last_leaf: genesis.clone(),
            last_time: String::new(),
            released: 0,
            released_prev: genesis,
            held: vec![],
            cosigned: vec![],
            tally: Tally::default(),
        }
    }

    /// The state kept at `path`, or a fresh one when there is none yet.
    pub fn load(path: &Path, log_key: &str) -> Result<State, MonitorError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::new(log_key)),
            Err(e) => return Err(MonitorError::State(format!("{}: {e}", path.display()))),
        };
        let state: State = serde_json::from_slice(&bytes)
            .map_err(|e| MonitorError::State(format!("{} is not a monitor state: {e}", path.display())))?;
        if state.version != VERSION {
            return Err(MonitorError::State(format!(
                "{}: unknown state version",
                path.display()
            )));
        }
        if state.log_key != log_key {
            return Err(MonitorError::State(format!(
                "{} was written for another log key ({})",
                path.display(),
                state.log_key
            )));
        }
        Ok(state)
    }

    pub fn save(&self, path: &Path) -> Result<(), MonitorError> {
        // A fresh temporary file beside the state (random name, created exclusively, mode
        // 0600), never a predictable path that a planted symlink could redirect; then an
        // atomic rename over the state.
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mut f = tempfile::NamedTempFile::new_in(dir)?;
            f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
            f.as_file().sync_all()?;
            f.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|e| MonitorError::State(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_never_follows_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        let path = dir.path().join("state.json");
        // The path the old code wrote through first.
        std::os::unix::fs::symlink(&victim, dir.path().join("state.tmp")).unwrap();
        State::new("example.org/log+00000000+AAAA").save(&path).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert!(std::fs::read_to_string(&path).unwrap().starts_with('{'));
    }
}
