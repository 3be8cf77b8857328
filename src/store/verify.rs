//! Full re-verification of a stored ledger, the way an auditor holding a copy of the database
//! would do it: trust nothing stored but the log's public key (and, optionally, checkpoints
//! obtained earlier from the log).
//!
//! For every entry in index order: the row's index is its position; its bytes parse as an
//! entry and are canonical; `prev` is the recomputed leaf hash of the entry before; its
//! recomputed leaf hash equals the stored one. Then the recomputed tree must reproduce every
//! stored tree hash, and every stored (and every given) checkpoint must carry a valid signature
//! and the recomputed root at its size. A history rewritten consistently — entries, hashes
//! and all — is caught by the first checkpoint signed before the rewrite.

use std::time::Instant;

use diesel::prelude::*;

use super::schema::{entries, tree_hashes};
use super::{queries, DbConnection, StoreError};
use crate::ledger::{
    chain::check_link, entry::GENESIS_PREV, hex_hash, merkle, merkle::MemoryHashes, Entry, Hash, LogVerifier,
};

const PAGE: i64 = 20_000;

/// Where verification first failed. `index` names the entry when one can be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    pub index: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub entries: u64,
    pub checkpoints: u64,
    pub seconds: f64,
    pub failure: Option<VerifyFailure>,
}

impl VerifyReport {
    pub fn entries_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.entries as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn fail(index: Option<u64>, message: String) -> Option<VerifyFailure> {
    Some(VerifyFailure { index, message })
}

/// Verifies the whole ledger behind `conn`. `trusted` are signed checkpoints obtained from the
/// log earlier (as a monitor keeps them); `progress` is told the number of entries checked.
pub fn verify_ledger(
    conn: &mut DbConnection,
    verifier: &LogVerifier,
    trusted: &[String],
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let started = Instant::now();
    let mut tree = MemoryHashes::new();
    let mut stored = StoredHashes::default();
    let failure = check_entries(conn, &mut tree, &mut stored, &mut progress)?;
    let size = tree.size();
    let mut checked_checkpoints = 0;
    let failure = match failure {
        Some(f) => Some(f),
        None => check_tail(conn, &tree, &mut stored)?.or(check_checkpoints(
            conn,
            verifier,
            trusted,
            &tree,
            &mut checked_checkpoints,
        )?),
    };
    Ok(VerifyReport {
        entries: size,
        checkpoints: checked_checkpoints,
        seconds: started.elapsed().as_secs_f64(),
        failure,
    })
}

/// The stored tree hashes, read page by page as the entry pass needs them.
#[derive(Default)]
struct StoredHashes {
    hashes: Vec<Option<Hash>>,
    exhausted: bool,
}

impl StoredHashes {
    fn get(&mut self, conn: &mut DbConnection, id: u64) -> Result<Option<Hash>, StoreError> {
        while (id as usize) >= self.hashes.len() && !self.exhausted {
            let from = self.hashes.len() as i64;
            let rows: Vec<(i64, Vec<u8>)> = tree_hashes::table
                .select((tree_hashes::id, tree_hashes::hash))
                .filter(tree_hashes::id.ge(from).and(tree_hashes::id.lt(from + PAGE * 2)))
                .order(tree_hashes::id.asc())
                .load(conn)?;
            self.hashes.resize(from as usize + (PAGE * 2) as usize, None);
            for (i, bytes) in rows.iter() {
                self.hashes[*i as usize] = bytes.as_slice().try_into().ok().map(Hash);
            }
            if rows.is_empty() {
                let more: i64 = tree_hashes::table
                    .filter(tree_hashes::id.ge(from))
                    .count()
                    .get_result(conn)?;
                self.exhausted = more == 0;
            }
        }
        Ok(self.hashes.get(id as usize).copied().flatten())
    }
}

fn check_entries(
    conn: &mut DbConnection,
    tree: &mut MemoryHashes,
    stored: &mut StoredHashes,
    progress: &mut impl FnMut(u64),
) -> Result<Option<VerifyFailure>, StoreError> {
    let mut expected_prev = GENESIS_PREV.to_string();
    let mut pos: u64 = 0;
    loop {
        let rows: Vec<(i64, String)> = entries::table
            .select((entries::idx, entries::canonical))
            .filter(entries::idx.ge(pos as i64))
            .order(entries::idx.asc())
            .limit(PAGE)
            .load(conn)?;
        if rows.is_empty() {
            return Ok(None);
        }
        for (idx, canonical) in rows {
            if idx as u64 != pos {
                return Ok(fail(
                    Some(pos),
                    format!("entry {pos} is missing: the next stored entry is {idx}"),
                ));
            }
            let entry = match Entry::from_canonical(canonical.as_bytes()) {
                Ok(e) => e,
                Err(e) => return Ok(fail(Some(pos), format!("entry {pos}: {e}"))),
            };
            if let Err(brk) = check_link(pos, &expected_prev, &entry) {
                return Ok(fail(
                    Some(brk.position),
                    format!("entry {}: {}", brk.position, brk.reason),
                ));
            }
            let leaf = crate::ledger::entry::leaf_hash(canonical.as_bytes());
            let first_new = merkle::stored_hash_index(0, pos);
            let new = tree.push(leaf)?.to_vec();
            for (k, h) in new.iter().enumerate() {
                let id = first_new + k as u64;
                match stored.get(conn, id)? {
                    Some(s) if s == *h => {}
                    Some(_) if k == 0 => {
                        return Ok(fail(
                            Some(pos),
                            format!("entry {pos}: its content does not match its stored leaf hash (changed after it was written)"),
                        ))
                    }
                    Some(_) => {
                        return Ok(fail(Some(pos), format!("stored tree hash {id} (completed by entry {pos}) does not match the entries")))
                    }
                    None => return Ok(fail(Some(pos), format!("stored tree hash {id} (written with entry {pos}) is missing"))),
                }
            }
            expected_prev = hex_hash(&leaf);
            pos += 1;
        }
        progress(pos);
    }
}

/// The head row and the hash table must end where the entries end.
fn check_tail(
    conn: &mut DbConnection,
    tree: &MemoryHashes,
    stored: &mut StoredHashes,
) -> Result<Option<VerifyFailure>, StoreError> {
    let size = tree.size();
    let head = queries::head_size(conn)?;
    if head != size {
        return Ok(fail(
            Some(head.min(size)),
            format!(
                "the log head says {head} entries but {size} are stored: entries from {} on are missing",
                head.min(size)
            ),
        ));
    }
    let expected = merkle::stored_hash_count(size);
    if stored.get(conn, expected)?.is_some() {
        return Ok(fail(
            Some(size),
            format!("tree hashes exist beyond the {size} stored entries: the tail was truncated"),
        ));
    }
    Ok(None)
}

fn check_checkpoints(
    conn: &mut DbConnection,
    verifier: &LogVerifier,
    trusted: &[String],
    tree: &MemoryHashes,
    checked: &mut u64,
) -> Result<Option<VerifyFailure>, StoreError> {
    let size = tree.size();
    // (size, outcome) for every checkpoint; a bad one is reported against the entries it covers.
    let mut notes: Vec<NoteToCheck> = queries::all_checkpoints(conn)?
        .into_iter()
        .map(|(s, root, note)| (note, Some((s, root))))
        .collect();
    notes.extend(trusted.iter().map(|n| (n.clone(), None)));
    let mut verified: Vec<(u64, bool)> = Vec::with_capacity(notes.len());
    for (note, row) in &notes {
        *checked += 1;
        let cp = match verifier.verify(note) {
            Ok(cp) => cp,
            Err(e) => {
                let at = row.as_ref().map(|r| r.0).unwrap_or(-1);
                return Ok(fail(
                    None,
                    format!("checkpoint stored for size {at} does not verify: {e}"),
                ));
            }
        };
        if let Some((row_size, row_root)) = row {
            if *row_size as u64 != cp.size || row_root.as_slice() != cp.root.0 {
                return Ok(fail(
                    None,
                    format!("checkpoint row for size {row_size} does not match its signed note"),
                ));
            }
        }
        if cp.size > size {
            return Ok(fail(
                Some(size),
                format!("a checkpoint signed for size {} exists but only {size} entries are stored: entries from {size} on are missing", cp.size),
            ));
        }
        let ok = cp.size == 0 || merkle::root(cp.size, tree)? == cp.root;
        verified.push((cp.size, ok));
    }
    verified.sort();
    if let Some(&(bad, _)) = verified.iter().find(|(_, ok)| !ok) {
        let good = verified
            .iter()
            .filter(|(s, ok)| *ok && *s < bad)
            .map(|(s, _)| *s)
            .max()
            .unwrap_or(0);
        let which = if bad - good == 1 {
            format!("entry {good} was")
        } else {
            format!("entries {good} to {} were", bad - 1)
        };
        return Ok(fail(
            Some(good),
            format!("the checkpoint signed for size {bad} does not match the stored entries: {which} rewritten after it was signed"),
        ));
    }
    Ok(None)
}

/// A signed note to check, with its stored row's `(size, root)` when it came from the database.
type NoteToCheck = (String, Option<(i64, Vec<u8>)>);
