//! The stored tree hashes this process's writer committed last, kept in memory for the
//! receipts it answers with: a receipt's inclusion proofs read about `log2(size)` stored
//! hashes, nearly all written by the last few batches or on the tree's left frontier, and
//! reading them back from the database was one more statement per write (1.26 per write in
//! the load replay, on a pooled connection), a round trip on PostgreSQL.
//!
//! Only hashes the writer has **committed** are published, after the commit returns: a stored
//! hash never changes once committed (see [`super::hashes`]), so a hash found here is the
//! stored one, whatever other processes append. The one way a database can lose committed
//! hashes is to come back as another one (a failover to a standby that had not replayed them,
//! a restore): the writer then loses its connection, and forgets the window with it, and a
//! batch that does not follow the writer's own last one (another process appended, or the
//! writer re-read the log's tip) starts the window over. Hashes not found here are read from
//! the database as before.

use std::collections::{HashMap, VecDeque};
use std::sync::{PoisonError, RwLock};

use crate::ledger::Hash;

/// Stored hashes kept: 65,536 (2 MiB), the last 32,000 or so entries' worth.
const WINDOW: usize = 1 << 16;

#[derive(Default)]
pub struct RecentHashes(RwLock<Window>);

#[derive(Default)]
struct Window {
    /// The stored index of `hashes[0]`.
    start: u64,
    /// Consecutive stored hashes, as the writer's commits appended them.
    hashes: VecDeque<Hash>,
    /// The stored hashes of the perfect subtrees that make up the newest size (by stored index):
    /// the left siblings of every recent leaf's path.
    frontier: HashMap<u64, Hash>,
}

impl RecentHashes {
    /// After a commit: the batch stored `hashes` from stored index `first` on, and `frontier`
    /// is the frontier of the size it left. A batch that does not follow the writer's own last
    /// one (`follows` false: the writer read the log's tip afresh, because another process
    /// appended, or it started or reconnected) starts the window over.
    pub(super) fn committed(&self, first: u64, hashes: &[Hash], frontier: &HashMap<u64, Hash>, follows: bool) {
        let mut w = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if !follows || first != w.start + w.hashes.len() as u64 {
            w.hashes.clear();
            w.start = first;
        }
        w.hashes.extend(hashes.iter().copied());
        let excess = w.hashes.len().saturating_sub(WINDOW);
        w.hashes.drain(..excess);
        w.start += excess as u64;
        w.frontier.clone_from(frontier);
    }

    /// Forgets every hash: the writer lost its connection, and the database may come back as
    /// another one.
    pub(super) fn forget(&self) {
        let mut w = self.0.write().unwrap_or_else(PoisonError::into_inner);
        *w = Window::default();
    }

    /// The hashes of `indexes` found here, and the indexes that were not.
    pub fn lookup(&self, indexes: &[u64]) -> (HashMap<u64, Hash>, Vec<u64>) {
        let w = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let mut found = HashMap::with_capacity(indexes.len());
        let mut missing = Vec::new();
        for &i in indexes {
            match w.get(i) {
                Some(h) => {
                    found.insert(i, h);
                }
                None => missing.push(i),
            }
        }
        (found, missing)
    }
}

impl Window {
    fn get(&self, i: u64) -> Option<Hash> {
        i.checked_sub(self.start)
            .and_then(|k| self.hashes.get(k as usize))
            .or_else(|| self.frontier.get(&i))
            .copied()
    }
}

/// Reads only what is here: any stored hash that is not fails the whole read with
/// `IndexesNotInTree`, so a caller can prove from memory in one pass and fall back to the
/// database when that fails.
impl tlog_tiles::HashReader for RecentHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let w = self.0.read().unwrap_or_else(PoisonError::into_inner);
        indexes
            .iter()
            .map(|&i| w.get(i).ok_or(tlog_tiles::Error::IndexesNotInTree))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Hash {
        Hash([n; 32])
    }

    #[test]
    fn a_batch_that_does_not_follow_the_last_starts_the_window_over() {
        let r = RecentHashes::default();
        let frontier = HashMap::from([(1, h(1))]);
        r.committed(10, &[h(10), h(11)], &frontier, true);
        r.committed(12, &[h(12)], &frontier, true);
        let (found, missing) = r.lookup(&[1, 9, 10, 12, 13]);
        assert_eq!(found, HashMap::from([(1, h(1)), (10, h(10)), (12, h(12))]));
        assert_eq!(missing, vec![9, 13]);
        // Another process appended 13…19: what this writer had is still right, but the window
        // holds consecutive hashes only.
        r.committed(20, &[h(20)], &HashMap::new(), true);
        let (found, missing) = r.lookup(&[10, 20]);
        assert_eq!(found, HashMap::from([(20, h(20))]));
        assert_eq!(missing, vec![10]);
        // A batch that follows on by index but not from the writer's own tip (the log came
        // back to the same size with other entries) starts over too.
        r.committed(21, &[h(21)], &HashMap::new(), false);
        let (found, missing) = r.lookup(&[20, 21]);
        assert_eq!(found, HashMap::from([(21, h(21))]));
        assert_eq!(missing, vec![20]);
        r.forget();
        assert_eq!(r.lookup(&[21]).1, vec![21]);
    }

    /// Proofs read from the window are the tree's own; one that needs a hash no longer (or
    /// not yet) here fails instead of reading anything else.
    #[test]
    fn a_proof_from_the_window_is_the_trees_or_none() {
        use crate::ledger::merkle::{self, MemoryHashes};
        use sha2::Digest;
        let mut tree = MemoryHashes::new();
        for i in 0..300u32 {
            tree.push(Hash(sha2::Sha256::digest(i.to_be_bytes()).into())).unwrap();
        }
        let size = tree.size();
        let stored = tree.stored();
        let all = RecentHashes::default();
        all.committed(0, stored, &HashMap::new(), true);
        for index in [0, 1, 150, 298, 299] {
            assert_eq!(
                merkle::inclusion_proof(index, size, &all).unwrap(),
                merkle::inclusion_proof(index, size, &tree).unwrap(),
                "leaf {index}"
            );
        }
        let newest = RecentHashes::default();
        let from = stored.len() - 40;
        newest.committed(from as u64, &stored[from..], &HashMap::new(), true);
        assert!(merkle::inclusion_proof(0, size, &newest).is_err());
    }

    #[test]
    fn the_window_keeps_the_newest_hashes() {
        let r = RecentHashes::default();
        let many = vec![h(7); WINDOW + 5];
        r.committed(0, &many, &HashMap::new(), true);
        let (_, missing) = r.lookup(&[4, 5, (WINDOW + 4) as u64, (WINDOW + 5) as u64]);
        assert_eq!(missing, vec![4, (WINDOW + 5) as u64]);
    }
}
