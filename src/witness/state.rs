//! A witness's durable memory, in its state directory:
//!
//! ```text
//! <state>/<sha256(origin) hex>/checkpoint       latest cosigned checkpoint: the log's verified
//!                                                signature(s) and this witness's cosignature
//! <state>/<sha256(origin) hex>/origin           the origin, for people reading the directory
//! <state>/<sha256(origin) hex>/evidence/<sha256>  a refused checkpoint the log validly signed
//! <state>/lock                                    held (flock) by the one process serving it
//! ```
//!
//! Evidence is the request as the witness judged it, reduced to what a third party needs (the
//! old size, the proof, the checkpoint text and the log's verified signatures), named by its
//! SHA-256 so that a replay adds nothing, at most [`MAX_EVIDENCE`] files per log and
//! [`MAX_EVIDENCE_BYTES`] each: a stranger replaying a public checkpoint with a bad proof must
//! not fill the disk.
//!
//! Crash safety: a new checkpoint is written to a temporary file, fsynced, renamed over the old
//! one, and the directory fsynced, before the cosignature is returned; a witness killed at any
//! moment restarts with either the old or the new checkpoint, never a torn one. The check of
//! `old` against the stored size and the update happen under one lock (tlog-witness's race).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Evidence files kept per log at most.
pub const MAX_EVIDENCE: usize = 1000;
/// Largest evidence file kept.
pub const MAX_EVIDENCE_BYTES: usize = 16 * 1024;

/// The directory and the lock that makes check-then-update atomic.
pub struct WitnessState {
    dir: PathBuf,
    lock: Mutex<()>,
    /// Held for the life of the process: two witnesses on one state directory could each
    /// check against the same stored size and cosign two different trees of one size.
    _exclusive: std::fs::File,
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
    /// Opens (creating, mode 0700) the state directory and takes its lock file.
    ///
    /// # Errors
    /// When the directory cannot be made private, or another process holds it.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        crate::files::private_dir(dir).map_err(std::io::Error::other)?;
        let lock_path = dir.join("lock");
        let exclusive = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        exclusive.try_lock().map_err(|_| {
            std::io::Error::other(format!(
                "{} is in use by another witness process: one state directory, one process",
                dir.display()
            ))
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
            _exclusive: exclusive,
        })
    }

    /// The origin's directory, created with its `origin` file on first use.
    fn ensure_log_dir(&self, origin: &str) -> std::io::Result<PathBuf> {
        let dir = self.log_dir(origin);
        if !dir.join("origin").exists() {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("origin"), format!("{origin}\n"))?;
            sync_dir(&self.dir)?;
        }
        Ok(dir)
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
        let dir = self.ensure_log_dir(origin)?;
        let tmp = dir.join("checkpoint.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(note)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join("checkpoint"))?;
        sync_dir(&dir)
    }

    /// Keeps a refused checkpoint whose signature verified, with the reason, as evidence of
    /// the log's misbehaviour (see the module's bounds). Returns the file, or `None` when it
    /// was already kept, is too large, or the log's evidence is full.
    pub fn keep_evidence(&self, origin: &str, reason: &str, evidence: &[u8]) -> std::io::Result<Option<PathBuf>> {
        let mut content = format!("reason: {reason}\nrequest:\n").into_bytes();
        content.extend_from_slice(evidence);
        if content.len() > MAX_EVIDENCE_BYTES {
            log::warn!("evidence for {origin} not kept: {} bytes", content.len());
            return Ok(None);
        }
        let dir = self.ensure_log_dir(origin)?.join("evidence");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(hex::encode(Sha256::digest(&content)));
        if path.exists() {
            return Ok(None);
        }
        if std::fs::read_dir(&dir)?.count() >= MAX_EVIDENCE {
            log::warn!("evidence for {origin} not kept: {MAX_EVIDENCE} files already");
            return Ok(None);
        }
        let tmp = dir.join(".tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        sync_dir(&dir)?;
        Ok(Some(path))
    }

    /// The evidence files kept for `origin`, by name.
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
