//! The hash chain: entry `i` carries index `i` and, as `prev`, the leaf hash of entry `i - 1`.
//! A verifier recomputes every leaf hash from the entry itself, so a changed payload shows up
//! at the *following* entry (and, for the last entry, at the signed checkpoint's root).

use super::{entry::GENESIS_PREV, hex_hash, Entry, Hash};

/// Where a sequence of entries stops being a valid chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// Position in the sequence of the first entry whose index or prev is wrong.
    pub position: u64,
    pub reason: String,
}

/// Checks indexes and `prev` links of a whole sequence starting at entry 0, and returns the
/// recomputed leaf hashes so that the caller can go on to the Merkle root.
pub fn verify_chain(entries: &[Entry]) -> Result<Vec<Hash>, ChainBreak> {
    let mut leaves = Vec::with_capacity(entries.len());
    let mut expected_prev = GENESIS_PREV.to_string();
    for (pos, e) in entries.iter().enumerate() {
        let pos = pos as u64;
        check_link(pos, &expected_prev, e)?;
        let leaf = e.leaf_hash().map_err(|err| ChainBreak {
            position: pos,
            reason: err.to_string(),
        })?;
        expected_prev = hex_hash(&leaf);
        leaves.push(leaf);
    }
    Ok(leaves)
}

/// One link: the entry at `pos` must say it is at `pos` and point at `expected_prev`.
pub fn check_link(pos: u64, expected_prev: &str, e: &Entry) -> Result<(), ChainBreak> {
    if e.index != pos {
        return Err(ChainBreak {
            position: pos,
            reason: format!("entry at position {pos} says index {}", e.index),
        });
    }
    if e.prev != expected_prev {
        return Err(ChainBreak {
            position: pos,
            reason: format!(
                "prev {} does not match the leaf hash {expected_prev} of entry {}",
                e.prev,
                pos.wrapping_sub(1)
            ),
        });
    }
    Ok(())
}
