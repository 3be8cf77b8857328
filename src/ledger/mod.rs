//! The ledger's formats, as pure functions over bytes: no I/O, no clock, no database.
//!
//! Everything here is normative (DESIGN §4) and held to `tests/vectors/vectors.json`
//! by `tests/conformance.rs`:
//! - [`entry`]: the entry object and its RFC 8785 (JCS) canonical bytes, the RFC 9162 §2.1.1
//!   leaf hash, and the `prev` hash chain;
//! - [`merkle`]: the RFC 9162 §2.1 tree, with inclusion and consistency proofs, over the
//!   "stored hashes" layout of `tlog_tiles` so that storage lives behind [`merkle::HashReader`];
//! - [`checkpoint`]: C2SP `tlog-checkpoint` signed as a C2SP `signed-note` with Ed25519;
//! - [`cosignature`]: C2SP `tlog-cosignature` (Ed25519 `cosignature/v1`) and
//!   [`add_checkpoint`]: the C2SP `tlog-witness` request body;
//! - [`commitment`]: the sealed-details and identifier commitments of DESIGN §4.4;
//! - [`identifier`]: normalisation of phone numbers, IP addresses, usernames and user ids.

pub mod add_checkpoint;
pub mod canonical_check;
pub mod chain;
pub mod checkpoint;
pub mod commitment;
pub mod compact;
pub mod cosignature;
pub mod entry;
mod error;
pub mod identifier;
pub mod merkle;

pub use chain::{verify_chain, ChainBreak};
pub use checkpoint::{LogSigner, LogVerifier, SignedCheckpoint};
pub use entry::{Entry, EntryKind};
pub use error::LedgerError;
pub use merkle::Hash;

/// Lowercase hex of a hash, the form every JSON document of the ledger uses.
pub fn hex_hash(h: &Hash) -> String {
    hex::encode(h.0)
}

/// The value of each lowercase hex digit; 0xFF for every other byte.
const LOWER_HEX: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Exactly 64 lowercase hex digits (the only spelling of a hash in an entry, DESIGN §4.1) as
/// the hash they spell; `None` for anything else. Branch-free per digit: the verifier decodes
/// one per entry (`prev`) and checks up to two.
pub fn decode_lower_hex64(s: &str) -> Option<Hash> {
    let b: &[u8; 64] = s.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = (LOWER_HEX[pair[0] as usize], LOWER_HEX[pair[1] as usize]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0F);
    }
    (bad & 0xF0 == 0).then_some(Hash(out))
}

/// Whether `s` is exactly 64 lowercase hex digits.
pub fn is_lower_hex64(s: &str) -> bool {
    decode_lower_hex64(s).is_some()
}

/// Parses 64 lowercase or uppercase hex digits into a hash.
pub fn parse_hex_hash(s: &str) -> Result<Hash, LedgerError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| LedgerError::MalformedHash(s.len()))?;
    Ok(Hash(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_64_lowercase_hex_digits_decode_to_a_hash() {
        let h = Hash(std::array::from_fn(|i| (i * 37) as u8));
        assert_eq!(decode_lower_hex64(&hex_hash(&h)), Some(h));
        let good = hex_hash(&h);
        for bad in [
            good.to_uppercase(),
            good[..63].to_string(),
            format!("{good}0"),
            format!("g{}", &good[1..]),
            format!("{}/", &good[..63]),
            format!("{}:", &good[..63]),
            format!("{}`", &good[..63]),
            format!("{}G", &good[..63]),
            String::new(),
        ] {
            assert_eq!(decode_lower_hex64(&bad), None, "{bad}");
            assert!(!is_lower_hex64(&bad), "{bad}");
        }
    }
}
