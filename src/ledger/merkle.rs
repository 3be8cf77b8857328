//! The RFC 9162 §2.1 Merkle tree over leaf hashes, with inclusion (§2.1.3) and consistency
//! (§2.1.4) proofs.
//!
//! The tree's interior hashes are kept in the "stored hashes" layout of Go's
//! `golang.org/x/mod/sumdb/tlog` (via `tlog_tiles`): appending leaf `n` stores `1 + tz(n + 1)`
//! hashes at consecutive indexes from [`tlog_tiles::stored_hash_index`]`(0, n)`, and any root
//! or proof costs O(log n) reads. Storage is the caller's, behind [`HashReader`].

pub use tlog_tiles::{stored_hash_count, stored_hash_index, Hash, HashReader, EMPTY_HASH};

use super::LedgerError;

fn proof_err(e: tlog_tiles::Error) -> LedgerError {
    LedgerError::Proof(e.to_string())
}

/// The hashes to store when appending the leaf with index `n`, in stored-hash order starting
/// at `stored_hash_index(0, n)`. Reads at most log₂ n earlier hashes from `r`.
pub fn hashes_to_store<R: HashReader>(n: u64, leaf: Hash, r: &R) -> Result<Vec<Hash>, LedgerError> {
    tlog_tiles::stored_hashes_for_record_hash(n, leaf, r).map_err(proof_err)
}

/// The stored-hash indexes of the tree's frontier at `size`: the root of each complete subtree
/// of its RFC 9162 §2.1.1 decomposition (one per bit set in `size`, largest first). They are
/// all that [`root`] of `size` and [`hashes_to_store`] of leaf `size` read.
pub fn frontier_indexes(size: u64) -> Vec<u64> {
    (0..64)
        .rev()
        .filter(|level| size >> level & 1 == 1)
        .map(|level| stored_hash_index(level, (size >> level) - 1))
        .collect()
}

/// Root of the tree of the first `size` leaves.
pub fn root<R: HashReader>(size: u64, r: &R) -> Result<Hash, LedgerError> {
    tlog_tiles::tree_hash(size, r).map_err(proof_err)
}

/// Audit path proving leaf `index` is in the tree of `size` leaves.
pub fn inclusion_proof<R: HashReader>(index: u64, size: u64, r: &R) -> Result<Vec<Hash>, LedgerError> {
    tlog_tiles::prove_record(size, index, r).map_err(proof_err)
}

/// Proof that the tree of `from` leaves is a prefix of the tree of `to` leaves (1 ≤ from ≤ to).
pub fn consistency_proof<R: HashReader>(from: u64, to: u64, r: &R) -> Result<Vec<Hash>, LedgerError> {
    tlog_tiles::prove_tree(to, from, r).map_err(proof_err)
}

/// Checks an audit path; needs nothing but the proof, the root and the leaf hash.
pub fn check_inclusion(proof: &[Hash], size: u64, root: Hash, index: u64, leaf: Hash) -> Result<(), LedgerError> {
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf).map_err(proof_err)
}

/// Checks a consistency proof between two roots.
pub fn check_consistency(
    proof: &[Hash],
    from: u64,
    from_root: Hash,
    to: u64,
    to_root: Hash,
) -> Result<(), LedgerError> {
    tlog_tiles::check_tree(&proof.to_vec(), to, to_root, from, from_root).map_err(proof_err)
}

/// The whole stored-hash array in memory: what a verifier builds while it re-reads a log,
/// and what tests use in place of a database.
#[derive(Debug, Default, Clone)]
pub struct MemoryHashes {
    hashes: Vec<Hash>,
    leaves: u64,
}

impl MemoryHashes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next leaf and returns the stored hashes it produced.
    pub fn push(&mut self, leaf: Hash) -> Result<&[Hash], LedgerError> {
        let start = self.hashes.len();
        let new = hashes_to_store(self.leaves, leaf, self)?;
        self.hashes.extend(new);
        self.leaves += 1;
        Ok(&self.hashes[start..])
    }

    pub fn size(&self) -> u64 {
        self.leaves
    }

    pub fn root(&self) -> Result<Hash, LedgerError> {
        root(self.leaves, self)
    }

    /// The stored hashes, index `i` at position `i`.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }
}

impl HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.hashes
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A reader over `MemoryHashes` that records every index asked for.
    struct Recording<'a>(&'a MemoryHashes, RefCell<Vec<u64>>);

    impl HashReader for Recording<'_> {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
            self.1.borrow_mut().extend_from_slice(indexes);
            self.0.read_hashes(indexes)
        }
    }

    /// The sequencer keeps only the frontier between batches; this holds it to what the tree
    /// arithmetic reads.
    #[test]
    fn the_root_and_the_next_leaf_read_only_the_frontier() {
        let mut tree = MemoryHashes::new();
        for size in 0..600u64 {
            let frontier = frontier_indexes(size);
            assert_eq!(frontier.len(), size.count_ones() as usize);
            let reader = Recording(&tree, RefCell::new(Vec::new()));
            if size > 0 {
                root(size, &reader).unwrap();
            }
            let leaf = Hash([size as u8; 32]);
            hashes_to_store(size, leaf, &reader).unwrap();
            for i in reader.1.into_inner() {
                assert!(frontier.contains(&i), "size {size} read {i}, not in {frontier:?}");
            }
            tree.push(leaf).unwrap();
        }
    }
}
