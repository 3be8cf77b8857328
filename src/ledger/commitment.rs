//! Commitments of DESIGN §4.4. Both are domain-separated SHA-256 over a fresh 32-byte random
//! value and the committed data, so that nothing short of the salt or nonce lets anyone test a
//! guess: phone numbers and IPv4 addresses are far too few to hash plainly.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{entry::canonicalize, Hash, LedgerError};

const SEALED_DOMAIN: &[u8] = b"disclosure-ledger:sealed:v1";
const IDENTIFIER_DOMAIN: &[u8] = b"disclosure-ledger:identifier:v1";

/// `SHA-256("disclosure-ledger:sealed:v1" ‖ 0x00 ‖ salt ‖ JCS(restricted))`.
pub fn sealed(salt: &[u8; 32], restricted: &Value) -> Result<Hash, LedgerError> {
    Ok(sealed_canonical(salt, &canonicalize(restricted)?))
}

/// [`sealed`] of restricted details already in their RFC 8785 form (`canonical`), for a
/// caller that keeps those bytes too: the append path stores them as the sealed details.
pub fn sealed_canonical(salt: &[u8; 32], canonical: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(SEALED_DOMAIN);
    h.update([0]);
    h.update(salt);
    h.update(canonical);
    Hash(h.finalize().into())
}

/// `SHA-256("disclosure-ledger:identifier:v1" ‖ 0x00 ‖ kind ‖ 0x00 ‖ nonce ‖ normalised)`.
/// `normalised` must come from [`super::identifier::normalize`].
pub fn identifier(kind: &str, nonce: &[u8; 32], normalised: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(IDENTIFIER_DOMAIN);
    h.update([0]);
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(nonce);
    h.update(normalised.as_bytes());
    Hash(h.finalize().into())
}

/// A fresh 32-byte salt or nonce from the operating system's CSPRNG.
pub fn fresh_nonce() -> [u8; 32] {
    use rand_core::{OsRng, RngCore};
    let mut n = [0u8; 32];
    OsRng.fill_bytes(&mut n);
    n
}
