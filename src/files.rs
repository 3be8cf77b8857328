//! The instance's private files on disk: the data directory is 0700, the key files and the
//! SQLite database (with its `-wal` and `-shm`) 0600, whatever the umask — the vault holds raw
//! identifiers and the keys sign the log. A server refuses to start on a key or database file
//! that group or others may read, rather than serve from it.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` as 0700, or narrows an existing one to 0700.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private (0700): {e}", dir.display()))?;
        log::warn!("data directory {} was mode {:o}; now 0700", dir.display(), mode & 0o777);
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 unless it exists, so that a file another library then
/// opens (SQLite, which gives its `-wal` and `-shm` the database's mode) is private from birth.
pub fn private_file(path: &Path) -> Result<(), String> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("create {}: {e}", path.display())),
    }
}

/// Refuses a file that group or others may read or write; a missing file is fine.
pub fn check_private(path: &Path) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is mode {mode:o}: group or others may read it; run `chmod 600 {}` (it holds a key or the vault)",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}
