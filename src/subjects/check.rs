//! What `disclosure-ledger prove-subject` checks of a [`SubjectProof`], trusting only the log
//! key and what the user was given: the commitment is recomputed locally; each entry is of
//! that request, in canonical form, in the signed tree (inclusion proof against a checkpoint
//! signed by the pinned key), and seals restricted details that list the commitment.

use super::prove::SubjectProof;
use crate::ledger::{
    commitment, entry::leaf_hash, hex_hash, identifier, merkle, parse_hex_hash, Entry, LedgerError, LogVerifier,
};

/// An entry proven to commit to the user's identifier.
#[derive(Debug, Clone)]
pub struct ProvenEntry {
    pub index: u64,
    pub kind: String,
    pub time: String,
    pub public: serde_json::Map<String, serde_json::Value>,
}

fn fail(what: impl Into<String>) -> LedgerError {
    LedgerError::Proof(what.into())
}

pub fn check_proof(
    proof: &SubjectProof,
    verifier: &LogVerifier,
    request_id: &str,
    kind: &str,
    value: &str,
    nonce: &[u8; 32],
) -> Result<(u64, Vec<ProvenEntry>), LedgerError> {
    let wanted = hex_hash(&commitment::identifier(
        kind,
        nonce,
        &identifier::normalize(kind, value)?,
    ));
    if proof.commitment != wanted {
        return Err(fail("the ledger names another commitment than the one computed here"));
    }
    let cp = verifier.verify(&proof.proofs.checkpoint)?;
    if proof.entries.is_empty() || proof.entries.len() != proof.proofs.entries.len() {
        return Err(fail("every entry needs exactly one inclusion proof"));
    }
    let mut out = Vec::new();
    for (e, p) in proof.entries.iter().zip(&proof.proofs.entries) {
        let bytes = e.entry.get().as_bytes();
        let entry = Entry::from_canonical(bytes)?;
        if entry.index != e.index || p.index != e.index {
            return Err(fail(format!("entry {}: index mismatch", e.index)));
        }
        if entry.subject.as_deref() != Some(&request_id.to_lowercase()) {
            return Err(fail(format!("entry {} is about another request", e.index)));
        }
        let leaf = leaf_hash(bytes);
        let path = p
            .inclusion_proof
            .iter()
            .map(|h| parse_hex_hash(h))
            .collect::<Result<Vec<_>, _>>()?;
        merkle::check_inclusion(&path, cp.size, cp.root, e.index, leaf)?;
        let restricted: serde_json::Value =
            serde_json::from_str(e.restricted.get()).map_err(|err| LedgerError::MalformedJson(err.to_string()))?;
        let mut salt = [0u8; 32];
        hex::decode_to_slice(&e.salt, &mut salt).map_err(|_| fail("salt is not 64 hex digits"))?;
        let sealed = hex_hash(&commitment::sealed(&salt, &restricted)?);
        if entry.sealed.as_deref() != Some(sealed.as_str()) {
            return Err(fail(format!(
                "entry {}: the restricted details do not match its sealed",
                e.index
            )));
        }
        let listed = restricted["identifiers"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|x| x["commitment"].as_str() == Some(wanted.as_str())));
        if !listed {
            return Err(fail(format!("entry {} does not list the commitment", e.index)));
        }
        out.push(ProvenEntry {
            index: e.index,
            kind: entry.kind,
            time: entry.time,
            public: entry.public,
        });
    }
    Ok((cp.size, out))
}
