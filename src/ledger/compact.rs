//! The right edge of an RFC 9162 §2.1 tree: the roots of its maximal perfect subtrees, left to
//! right, O(log n) hashes. A monitor keeps it between runs, appends the leaves it downloads and
//! recomputes the root of any size it reaches without keeping the tree.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{hex_hash, parse_hex_hash, Hash, LedgerError};

/// RFC 9162 §2.1.1 interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactRange {
    size: u64,
    /// `(height, hash)` of each perfect subtree, heights strictly decreasing.
    peaks: Vec<(u32, Hash)>,
}

impl CompactRange {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(h, left)) = self.peaks.last() {
            if h != node.0 {
                break;
            }
            self.peaks.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// The root of the tree of the leaves pushed so far (`None` when empty: RFC 9162 defines
    /// the empty tree's hash, but a checkpoint of size 0 is never signed here).
    pub fn root(&self) -> Option<Hash> {
        let mut iter = self.peaks.iter().rev();
        let mut acc = iter.next()?.1;
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        Some(acc)
    }
}

/// As kept in a monitor's state file: the size and the peaks in hex.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRange {
    pub size: u64,
    pub peaks: Vec<(u32, String)>,
}

impl From<&CompactRange> for StoredRange {
    fn from(r: &CompactRange) -> Self {
        StoredRange {
            size: r.size,
            peaks: r.peaks.iter().map(|(h, x)| (*h, hex_hash(x))).collect(),
        }
    }
}

impl TryFrom<&StoredRange> for CompactRange {
    type Error = LedgerError;

    fn try_from(s: &StoredRange) -> Result<Self, LedgerError> {
        let peaks = s
            .peaks
            .iter()
            .map(|(h, x)| Ok((*h, parse_hex_hash(x)?)))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let covered: u64 = peaks.iter().map(|(h, _)| 1u64.checked_shl(*h).unwrap_or(0)).sum();
        if covered != s.size || peaks.windows(2).any(|w| w[0].0 <= w[1].0) {
            return Err(LedgerError::Proof(
                "the stored tree edge does not describe its size".into(),
            ));
        }
        Ok(CompactRange { size: s.size, peaks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::merkle::MemoryHashes;

    #[test]
    fn the_edge_gives_the_same_root_as_the_stored_tree_at_every_size() {
        let mut tree = MemoryHashes::new();
        let mut edge = CompactRange::default();
        for i in 0..300u32 {
            let leaf = crate::ledger::entry::leaf_hash(&i.to_be_bytes());
            tree.push(leaf).unwrap();
            edge.push(leaf);
            assert_eq!(edge.root().unwrap(), tree.root().unwrap(), "size {}", i + 1);
            let again = CompactRange::try_from(&StoredRange::from(&edge)).unwrap();
            assert_eq!(again, edge);
        }
    }
}
