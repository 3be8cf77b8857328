//! The two Ed25519 keys of an instance, as PKCS#8 PEM files in the data directory (mode 0600):
//! the log key signs checkpoints, the token key signs the ledger's own JWTs. Separate keys, so
//! that rotating who may mint tokens never touches what clients pin to verify the log.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;

pub const LOG_KEY_FILE: &str = "log-key.pem";
pub const TOKEN_KEY_FILE: &str = "token-key.pem";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {message}")]
    File { path: PathBuf, message: String },
}

fn file_err(path: &Path, message: impl ToString) -> KeyError {
    KeyError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| file_err(path, format!("not an Ed25519 PKCS#8 PEM key: {e}")))
}

/// Writes a fresh key; refuses to overwrite an existing file.
pub fn create(path: &Path) -> Result<SigningKey, KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    // PKCS#8 v1 (RFC 8410 §7: the seed only). The v2 form with the public key inside is what
    // ed25519-dalek writes by default, and OpenSSL 3.0 and Python's `cryptography` refuse it:
    // an authority must be able to sign its orders with its own tools.
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(Default::default())
    .map_err(|e| file_err(path, e))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_err(path, e))?;
    f.write_all(pem.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| file_err(path, e))?;
    Ok(key)
}

/// Reads the key at `path`, creating it first if it does not exist.
pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
    if path.exists() {
        read(path)
    } else {
        create(path)
    }
}
