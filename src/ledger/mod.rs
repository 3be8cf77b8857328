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

/// Parses 64 lowercase or uppercase hex digits into a hash.
pub fn parse_hex_hash(s: &str) -> Result<Hash, LedgerError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| LedgerError::MalformedHash(s.len()))?;
    Ok(Hash(out))
}
