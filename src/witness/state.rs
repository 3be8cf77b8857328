//! A witness's durable memory, in its state directory:
//!
//! ```text
//! <state>/<sha256(origin) hex>/checkpoint       latest cosigned checkpoint: the log's verified
//!                                                signature(s) and this witness's cosignature
//! <state>/<sha256(origin) hex>/origin           the origin, for people reading the directory
//! <state>/<sha256(origin) hex>/evidence/<t>-<n>  a refused checkpoint the log validly signed
//! ```
//!
//! Crash safety: a new checkpoint is written to a temporary file, fsynced, renamed over the old
//! one, and the directory fsynced, before the cosignature is returned; a witness killed at any
//! moment restarts with either the old or the new checkpoint, never a torn one. The check of
//! `old` against the stored size and the update happen under one lock (tlog-witness's race).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The directory and the lock that makes check-then-update atomic.
pub struct WitnessState {
    dir: PathBuf,
    lock: Mutex<()>,
}

/// The lowercase hex SHA-256 of an origin: the `<origin hash>` of tlog-witness's monitoring
/// path and the name of the origin's directory here.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl WitnessState {
    /// Opens (creating, mode 0700) the state directory.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        crate::files::private_dir(dir).map_err(std::io::Error::other)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    fn log_dir(&self, origin: &str) -> PathBuf {
        self.dir.join(origin_hash(origin))
    }

    /// Runs `f` with exclusive access to the stored state: every add-checkpoint goes through
    /// here, so a check and its update are one step.
    pub fn exclusive<T>(&self, f: impl FnOnce(&Self) -> T) -> T {
        // A panic while holding the lock leaves the files as they were (writes are atomic
        // renames), so a poisoned lock is safe to take.
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        f(self)
    }

    /// The latest cosigned checkpoint note of `origin`, if any.
    pub fn latest(&self, origin: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.latest_by_hash(&origin_hash(origin))
    }

    /// As [`Self::latest`], by the hex origin hash (the monitoring path).
    pub fn latest_by_hash(&self, hash: &str) -> std::io::Result<Option<Vec<u8>>> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Ok(None);
        }
        match std::fs::read(self.dir.join(hash).join("checkpoint")) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Durably replaces the latest checkpoint of `origin` (see the module's crash-safety order).
    pub fn store(&self, origin: &str, note: &[u8]) -> std::io::Result<()> {
        let dir = self.log_dir(origin);
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("origin"), format!("{origin}\n"))?;
            sync_dir(&self.dir)?;
        }
        let tmp = dir.join("checkpoint.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(note)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join("checkpoint"))?;
        sync_dir(&dir)
    }

    /// Keeps a refused checkpoint whose signature verified, with the reason and the request
    /// body, as evidence of the log's misbehaviour. Returns the file written.
    pub fn keep_evidence(&self, origin: &str, reason: &str, body: &[u8]) -> std::io::Result<PathBuf> {
        let dir = self.log_dir(origin).join("evidence");
        std::fs::create_dir_all(&dir)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let count = std::fs::read_dir(&dir)?.count();
        let path = dir.join(format!("{now}-{count}"));
        let mut f = std::fs::File::create(&path)?;
        writeln!(f, "reason: {reason}")?;
        f.write_all(b"request:\n")?;
        f.write_all(body)?;
        f.sync_all()?;
        sync_dir(&dir)?;
        Ok(path)
    }

    /// The evidence files kept for `origin`, oldest first.
    pub fn evidence(&self, origin: &str) -> std::io::Result<Vec<PathBuf>> {
        let dir = self.log_dir(origin).join("evidence");
        let mut files = match std::fs::read_dir(&dir) {
            Ok(rd) => rd.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        files.sort();
        Ok(files)
    }
}
