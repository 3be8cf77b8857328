//! Witness cosignatures: C2SP `tlog-cosignature`, the Ed25519 `cosignature/v1` type.
//!
//! A cosignature is a signed-note signature line `— <name> base64(key id ‖ timestamp ‖ sig)`
//! where key id = SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4], timestamp is a big-endian u64
//! of POSIX seconds (≤ 2^63 − 1, never 0 from a witness) and sig is Ed25519 (RFC 8032) over
//!
//! ```text
//! cosignature/v1\n
//! time <timestamp>\n
//! <the checkpoint's note body, final newline included>
//! ```
//!
//! It says "as of `time`, this is the largest tree I have seen for this origin, consistent
//! with every one I saw before", and nothing about whether the entries are true.
//! Verifier keys are `<name>+<hex key id>+<base64(0x04 ‖ public key)>` (C2SP signed-note
//! §verifier keys with signature type 0x04).

use base64::prelude::{Engine as _, BASE64_STANDARD};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, Signature};

use super::LedgerError;

/// The signature type byte of Ed25519 `cosignature/v1` (C2SP tlog-cosignature).
pub const COSIGNATURE_V1: u8 = 0x04;

/// Largest timestamp a cosignature may carry (tlog-cosignature: "MUST NOT exceed 2^63 − 1").
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The message a `cosignature/v1` signs: header line, time line, then the note body.
pub fn signed_message(timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(body);
    msg
}

fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut key = vec![COSIGNATURE_V1];
    key.extend_from_slice(public.as_bytes());
    signed_note::key_id(name, &key)
}

/// `<name>+<hex key id>+<base64(0x04 ‖ public key)>`.
pub fn verifier_key(name: &str, public: &VerifyingKey) -> String {
    let mut key = vec![COSIGNATURE_V1];
    key.extend_from_slice(public.as_bytes());
    format!("{name}+{:08x}+{}", key_id(name, public), BASE64_STANDARD.encode(&key))
}

/// A witness's public identity: what a log or a client pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    key: VerifyingKey,
    id: u32,
}

impl WitnessKey {
    /// Parses a verifier key of type 0x04.
    ///
    /// # Errors
    /// [`LedgerError::Signature`] naming what is wrong: the form, the type byte, the key or a
    /// key id that does not match the name and key.
    pub fn parse(vkey: &str) -> Result<Self, LedgerError> {
        let bad = |why: &str| LedgerError::Signature(format!("witness key: {why}"));
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<hex key id>+<base64 key>"));
        };
        if !signed_note::is_key_name_valid(name) {
            return Err(bad("the name is not a valid key name"));
        }
        let id = u32::from_str_radix(id_hex, 16)
            .ok()
            .filter(|_| id_hex.len() == 8)
            .ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let raw = BASE64_STANDARD
            .decode(key_b64)
            .map_err(|_| bad("the key is not base64"))?;
        if raw.len() != 33 || raw[0] != COSIGNATURE_V1 {
            return Err(bad("not an Ed25519 cosignature/v1 key (type 0x04 and 32 bytes)"));
        }
        let key = VerifyingKey::from_bytes(raw[1..].try_into().expect("32 bytes"))
            .map_err(|_| bad("not an Ed25519 public key"))?;
        if key_id(name, &key) != id {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(Self {
            name: name.to_string(),
            key,
            id,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 public key: two witnesses are one if they share it.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    pub fn verifier_key(&self) -> String {
        verifier_key(&self.name, &self.key)
    }

    /// The timestamp of `sig` when it is this witness's valid cosignature of `body`.
    pub fn check(&self, body: &[u8], sig: &Signature) -> Option<u64> {
        if sig.name() != self.name || sig.id() != self.id {
            return None;
        }
        let raw = sig.signature();
        if raw.len() != 72 {
            return None;
        }
        let timestamp = u64::from_be_bytes(raw[..8].try_into().expect("8 bytes"));
        // A witness's cosignature always carries its time (tlog-witness: "MUST NOT be zero").
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return None;
        }
        let signature = ed25519_dalek::Signature::from_bytes(raw[8..].try_into().expect("64 bytes"));
        self.key
            .verify_strict(&signed_message(timestamp, body), &signature)
            .ok()
            .map(|_| timestamp)
    }
}

/// A witness's signing side.
#[derive(Clone)]
pub struct Cosigner {
    name: String,
    key: SigningKey,
    id: u32,
}

impl Cosigner {
    /// # Errors
    /// [`LedgerError::Signature`] when `name` is not a valid signed-note key name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, LedgerError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(LedgerError::Signature(format!("{name:?} is not a valid key name")));
        }
        let id = key_id(name, &key.verifying_key());
        Ok(Self {
            name: name.to_string(),
            key,
            id,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier_key(&self) -> String {
        verifier_key(&self.name, &self.key.verifying_key())
    }

    pub fn public(&self) -> WitnessKey {
        WitnessKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            id: self.id,
        }
    }

    /// The cosignature of a note body (checkpoint text, final newline included) at
    /// `timestamp` (POSIX seconds, 1 ≤ timestamp ≤ 2^63 − 1).
    pub fn cosign(&self, body: &[u8], timestamp: u64) -> Result<Signature, LedgerError> {
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(LedgerError::Signature(format!("timestamp {timestamp} out of range")));
        }
        let mut sig = timestamp.to_be_bytes().to_vec();
        sig.extend_from_slice(&self.key.sign(&signed_message(timestamp, body)).to_bytes());
        Signature::new(self.name.clone(), self.id, sig).map_err(|e| LedgerError::Signature(e.to_string()))
    }
}

/// A signed note split into its body (final newline included) and its signature lines, after
/// C2SP signed-note's well-formedness checks (`signed_note::Note::from_bytes`).
///
/// # Errors
/// [`LedgerError::Checkpoint`] when `note` is not a well-formed signed note.
pub fn split_note(note: &[u8]) -> Result<(Vec<u8>, Vec<Signature>), LedgerError> {
    let malformed = || LedgerError::Checkpoint("not a well-formed signed note".into());
    Note::from_bytes(note).map_err(|_| malformed())?;
    let text = std::str::from_utf8(note).map_err(|_| malformed())?;
    let at = text.rfind("\n\n").ok_or_else(malformed)?;
    let sigs = text[at + 2..]
        .lines()
        .map(|l| Signature::from_bytes(l.as_bytes()).map_err(|_| malformed()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((note[..at + 1].to_vec(), sigs))
}

/// A cosignature found valid on a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub witness: String,
    pub timestamp: u64,
}

/// The valid cosignatures on `note` by the given witnesses, one per distinct public key: a key
/// listed twice, or under two names (`cosignature/v1` does not sign the name), counts once.
/// Signature lines of other keys (the log's, unknown witnesses') are ignored, as tlog-witness
/// says.
///
/// # Errors
/// [`LedgerError::Checkpoint`] when `note` is not a signed note.
pub fn cosignatures(note: &[u8], witnesses: &[WitnessKey]) -> Result<Vec<Cosigned>, LedgerError> {
    let (body, sigs) = split_note(note)?;
    let mut seen = std::collections::HashSet::new();
    Ok(witnesses
        .iter()
        .filter(|w| seen.insert(*w.key.as_bytes()))
        .filter_map(|w| {
            sigs.iter().find_map(|s| {
                w.check(&body, s).map(|timestamp| Cosigned {
                    witness: w.name.clone(),
                    timestamp,
                })
            })
        })
        .collect())
}

/// Demands at least `quorum` valid cosignatures by distinct witnesses of `witnesses`.
///
/// # Errors
/// [`LedgerError::Signature`] naming how many were found and which witnesses are missing.
pub fn require_quorum(note: &[u8], witnesses: &[WitnessKey], quorum: usize) -> Result<Vec<Cosigned>, LedgerError> {
    let found = cosignatures(note, witnesses)?;
    if found.len() >= quorum {
        return Ok(found);
    }
    let mut missing: Vec<&str> = witnesses
        .iter()
        .map(|w| w.name.as_str())
        .filter(|n| !found.iter().any(|c| c.witness == *n))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    Err(LedgerError::Signature(format!(
        "the checkpoint carries {} valid cosignature(s) of the {} required; missing: {}",
        found.len(),
        quorum,
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn witness(name: &str, seed: u8) -> Cosigner {
        Cosigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn a_verifier_key_round_trips_and_checks_its_key_id() {
        let w = witness("witness.example/w1", 7);
        let vkey = w.verifier_key();
        assert_eq!(WitnessKey::parse(&vkey).unwrap(), w.public());
        let mut parts: Vec<&str> = vkey.split('+').collect();
        parts[1] = "00000000";
        assert!(WitnessKey::parse(&parts.join("+")).is_err());
    }

    #[test]
    fn a_cosignature_verifies_only_over_its_own_body_and_time() {
        let w = witness("witness.example/w1", 7);
        let body = b"example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let sig = w.cosign(body, 1_679_315_147).unwrap();
        assert_eq!(w.public().check(body, &sig), Some(1_679_315_147));
        assert_eq!(w.public().check(b"example.com/log\n4\nx\n", &sig), None);
        let mut raw = sig.signature().to_vec();
        raw[7] ^= 1;
        let moved = Signature::new(sig.name().into(), sig.id(), raw).unwrap();
        assert_eq!(w.public().check(body, &moved), None);
        assert!(w.cosign(body, 0).is_err());
    }

    #[test]
    fn a_quorum_names_the_missing_witnesses() {
        let (a, b) = (witness("a.example/w", 1), witness("b.example/w", 2));
        let body = b"example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let line = String::from_utf8(a.cosign(body, 5).unwrap().to_bytes()).unwrap();
        let note = format!("{}\n{line}", String::from_utf8_lossy(body));
        let keys = [a.public(), b.public()];
        assert_eq!(require_quorum(note.as_bytes(), &keys, 1).unwrap().len(), 1);
        let err = require_quorum(note.as_bytes(), &keys, 2).unwrap_err().to_string();
        assert!(err.contains("missing: b.example/w"), "{err}");
        // A key listed twice, or the same key under another name, is still one witness.
        let twice = [a.public(), a.public()];
        assert!(require_quorum(note.as_bytes(), &twice, 2).is_err());
        let alias = Cosigner::new("alias.example/w", SigningKey::from_bytes(&[1; 32])).unwrap();
        let alias_line = String::from_utf8(alias.cosign(body, 5).unwrap().to_bytes()).unwrap();
        let both = format!("{note}{alias_line}");
        assert!(require_quorum(both.as_bytes(), &[a.public(), alias.public()], 2).is_err());
    }
}
