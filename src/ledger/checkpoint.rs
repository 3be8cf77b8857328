//! Checkpoints (DESIGN §4.3): a C2SP `tlog-checkpoint` body — origin, tree size, base64 root,
//! each line ending in `\n` — signed as a C2SP `signed-note` with the log's Ed25519 key.
//! The verifier key `<name>+<hex key id>+<base64(0x01 ‖ public key)>` is what clients pin.

use ed25519_dalek::{Signer as _, SigningKey};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::Checkpoint;

use super::{Hash, LedgerError};

/// The log's signing key under its origin name. Signing is deterministic (Ed25519), so the same
/// key and tree always give the same note.
#[derive(Clone)]
pub struct LogSigner {
    origin: String,
    key: SigningKey,
    id: u32,
}

/// A checkpoint as the log publishes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The full signed note: body, blank line, signature line(s).
    pub note: String,
}

impl LogSigner {
    pub fn new(origin: &str, key: SigningKey) -> Result<Self, LedgerError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(LedgerError::Checkpoint(format!(
                "origin {origin:?} is not a valid key name"
            )));
        }
        let mut pubkey = vec![0x01];
        pubkey.extend_from_slice(key.verifying_key().as_bytes());
        let id = signed_note::key_id(origin, &pubkey);
        Ok(Self {
            origin: origin.to_string(),
            key,
            id,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn verifier_key(&self) -> String {
        signed_note::new_ed25519_verifier_key(&self.origin, &self.key.verifying_key())
    }

    /// Signs the checkpoint of a tree of `size` leaves with root `root`.
    pub fn sign(&self, size: u64, root: Hash) -> Result<SignedCheckpoint, LedgerError> {
        let body = Checkpoint::new(&self.origin, size, root, "").map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        let mut note = Note::new(&body.to_bytes(), &[]).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        note.add_sigs(&[self])
            .map_err(|e| LedgerError::Signature(e.to_string()))?;
        let note = String::from_utf8(note.to_bytes()).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        Ok(SignedCheckpoint { size, root, note })
    }
}

impl signed_note::Signer for LogSigner {
    fn name(&self) -> &str {
        &self.origin
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// Verifies signed checkpoints against one pinned verifier key.
#[derive(Clone)]
pub struct LogVerifier {
    vkey: String,
    origin: String,
}

impl LogVerifier {
    pub fn new(vkey: &str) -> Result<Self, LedgerError> {
        let v = StandardVerifier::new(vkey).map_err(|e| LedgerError::Signature(format!("verifier key: {e}")))?;
        let origin = signed_note::Verifier::name(&v).to_string();
        Ok(Self {
            vkey: vkey.to_string(),
            origin,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Checks the note's signature by the pinned key and parses its checkpoint body, whose
    /// origin must be the key's name.
    pub fn verify(&self, note: &str) -> Result<SignedCheckpoint, LedgerError> {
        let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        let verifier = StandardVerifier::new(&self.vkey).map_err(|e| LedgerError::Signature(e.to_string()))?;
        parsed
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .map_err(|e| LedgerError::Signature(e.to_string()))?;
        let cp = Checkpoint::from_bytes(parsed.text()).map_err(|e| LedgerError::Checkpoint(e.to_string()))?;
        if cp.origin() != self.origin {
            return Err(LedgerError::Checkpoint(format!(
                "origin {:?} is not the pinned log {:?}",
                cp.origin(),
                self.origin
            )));
        }
        Ok(SignedCheckpoint {
            size: cp.size(),
            root: *cp.hash(),
            note: note.to_string(),
        })
    }
}
