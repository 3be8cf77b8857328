//! The witness's decision on an `add-checkpoint` request, in the order C2SP `tlog-witness`
//! gives its checks. No HTTP here: [`super::http`] maps each [`Refusal`] to its status.

use signed_note::Verifier as _;
use tlog_tiles::Checkpoint;

use super::{Witness, WitnessError};
use crate::ledger::add_checkpoint::AddCheckpoint;
use crate::ledger::cosignature::split_note;
use crate::ledger::{merkle, Hash};

/// Why a checkpoint was not cosigned, one case per status tlog-witness prescribes.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the body breaks the grammar, or old size > checkpoint size.
    BadRequest(String),
    /// 404: no trusted key for this origin.
    UnknownOrigin,
    /// 403: no valid signature by a trusted key of the origin, or one that fails.
    Forbidden(String),
    /// 409 with `text/x.tlog.size`: `old` is not the size of the latest cosigned checkpoint.
    Conflict(u64),
    /// 422: the proof does not verify, a size-0 tree with another root, a proof with old 0,
    /// or the same size with another root. The checkpoint is kept as evidence.
    Unprocessable(String),
}

/// The latest cosigned tree of a log, read back from its stored note.
fn stored_tree(note: &[u8]) -> Result<(u64, Hash), WitnessError> {
    let (text, _) = split_note(note).map_err(|e| WitnessError::State(format!("stored checkpoint: {e}")))?;
    let cp = Checkpoint::from_bytes(&text).map_err(|e| WitnessError::State(format!("stored checkpoint: {e}")))?;
    Ok((cp.size(), *cp.hash()))
}

impl Witness {
    /// Checks `body` and, when every check passes, durably records the checkpoint and returns
    /// the cosignature line(s) to send back. `now` is POSIX seconds.
    ///
    /// # Errors
    /// The inner `Err` is a [`Refusal`] for the client; the outer one a storage failure
    /// ([`WitnessError`], answered 500), after which nothing was cosigned.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<Result<Vec<u8>, Refusal>, WitnessError> {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return Ok(Err(Refusal::BadRequest(e.to_string()))),
        };
        let (text, sigs) = match split_note(&request.checkpoint) {
            Ok(parts) => parts,
            Err(e) => return Ok(Err(Refusal::BadRequest(e.to_string()))),
        };
        let checkpoint = match Checkpoint::from_bytes(&text) {
            Ok(cp) => cp,
            Err(e) => return Ok(Err(Refusal::BadRequest(format!("not a checkpoint: {e}")))),
        };
        let Some(keys) = self.logs.get(checkpoint.origin()) else {
            return Ok(Err(Refusal::UnknownOrigin));
        };
        // Signatures of unknown keys are ignored; one of a trusted key that fails makes the
        // note malformed (signed-note), so 403.
        let mut verified: Vec<signed_note::Signature> = Vec::new();
        for sig in &sigs {
            // The same line twice is kept once.
            if verified.iter().any(|v| v.name() == sig.name() && v.id() == sig.id()) {
                continue;
            }
            for key in keys.iter().filter(|k| k.name() == sig.name() && k.key_id() == sig.id()) {
                if !key.verify(&text, sig.signature()) {
                    return Ok(Err(Refusal::Forbidden(format!(
                        "the signature of {}+{:08x} does not verify",
                        sig.name(),
                        sig.id()
                    ))));
                }
                verified.push(sig.clone());
            }
        }
        if verified.is_empty() {
            return Ok(Err(Refusal::Forbidden(format!(
                "no signature by a trusted key of {}",
                checkpoint.origin()
            ))));
        }
        if request.old_size > checkpoint.size() {
            return Ok(Err(Refusal::BadRequest(format!(
                "old size {} is beyond the checkpoint's size {}",
                request.old_size,
                checkpoint.size()
            ))));
        }
        let origin = checkpoint.origin().to_string();
        self.state.exclusive(|state| {
            let (size, root) = match state.latest(&origin)? {
                Some(note) => stored_tree(&note)?,
                None => (0, merkle::EMPTY_HASH),
            };
            if request.old_size != size {
                return Ok(Err(Refusal::Conflict(size)));
            }
            if let Err(why) = consistent(&request, size, root, &checkpoint) {
                // The evidence: the request reduced to what the log signed and proved.
                let evidence = AddCheckpoint {
                    checkpoint: signed(&text, &verified),
                    ..request.clone()
                };
                state.keep_evidence(&origin, &why, &evidence.to_bytes())?;
                log::warn!("refused a checkpoint of {origin} at size {}: {why}", checkpoint.size());
                return Ok(Err(Refusal::Unprocessable(why)));
            }
            let cosignature = self
                .cosigner
                .cosign(&text, now)
                .map_err(|e| WitnessError::State(e.to_string()))?;
            let mut note = signed(&text, &verified);
            let line = cosignature.to_bytes();
            note.extend_from_slice(&line);
            state.store(&origin, &note)?;
            Ok(Ok(line))
        })
    }
}

/// The checkpoint text with the given signature lines.
fn signed(text: &[u8], sigs: &[signed_note::Signature]) -> Vec<u8> {
    let mut note = text.to_vec();
    note.push(b'\n');
    for sig in sigs {
        note.extend_from_slice(&sig.to_bytes());
    }
    note
}

/// The consistency checks, once `old` is known to be the stored size.
fn consistent(request: &AddCheckpoint, size: u64, root: Hash, cp: &Checkpoint) -> Result<(), String> {
    if cp.size() == 0 && *cp.hash() != merkle::EMPTY_HASH {
        return Err("a tree of size 0 must have the empty tree's root".into());
    }
    if request.old_size == 0 {
        return match request.proof.is_empty() {
            true => Ok(()),
            false => Err("a consistency proof from size 0 must be empty".into()),
        };
    }
    if cp.size() == size && *cp.hash() != root {
        return Err(format!("a different root at size {size}, which this witness cosigned"));
    }
    merkle::check_consistency(&request.proof, size, root, cp.size(), *cp.hash())
        .map_err(|e| format!("the consistency proof from size {size} does not verify: {e}"))
}
