//! The stored tree hashes (every hash `tlog_tiles::stored_hashes` assigns a stored-hash index:
//! each leaf, then each subtree it completes) and the readers over them.
//!
//! They are kept in rows of [`PER_ROW`] consecutive indexes, the row's hashes concatenated in
//! index order: row `page` holds indexes `PER_ROW·page …`, and only the newest row may be short
//! (the batch after it completes it). Hashes are written only by the sequencer, under the head
//! lock, by [`append`]; a hash once written never changes. Reads go by index
//! ([`read_indexes`], [`read_range`]) and never see more than the row holds: an index beyond
//! it is simply not stored.

use std::cell::RefCell;
use std::collections::HashMap;

use diesel::prelude::*;

use super::{per_backend, schema::tree_hash_pages, DbConnection, StoreError};
use crate::ledger::Hash;

/// Stored hashes per row: 32 × 32 bytes = 1 KiB, within one SQLite page and below
/// PostgreSQL's TOAST threshold, so that rewriting the newest row stays cheap.
pub const PER_ROW: u64 = 32;
const ROW_BYTES: usize = (PER_ROW * 32) as usize;

/// The hashes a row holds, by index; a row whose length is not a multiple of 32 bytes holds
/// none (its hashes count as missing).
fn unpack(page: i64, bytes: &[u8]) -> impl Iterator<Item = (u64, Hash)> + '_ {
    let whole = bytes.len().is_multiple_of(32) && bytes.len() <= ROW_BYTES;
    bytes
        .chunks_exact(32)
        .take(if whole { PER_ROW as usize } else { 0 })
        .enumerate()
        .map(move |(k, c)| (page as u64 * PER_ROW + k as u64, Hash(c.try_into().expect("32 bytes"))))
}

/// The stored hashes among `indexes` (those not stored are absent from the map).
pub fn read_indexes(conn: &mut DbConnection, indexes: &[u64]) -> Result<HashMap<u64, Hash>, diesel::result::Error> {
    let mut pages: Vec<i64> = indexes.iter().map(|i| (i / PER_ROW) as i64).collect();
    pages.sort_unstable();
    pages.dedup();
    let rows: Vec<(i64, Vec<u8>)> = per_backend!(conn, c => tree_hash_pages::table
        .filter(tree_hash_pages::page.eq_any(&pages))
        .select((tree_hash_pages::page, tree_hash_pages::hashes))
        .load(c))?;
    // Only the hashes asked for: a proof touches one or two hashes of each row it reads, and
    // keeping all 32 of each was most of a receipt's cost.
    let mut wanted = indexes.to_vec();
    wanted.sort_unstable();
    Ok(rows
        .iter()
        .flat_map(|(p, b)| unpack(*p, b))
        .filter(|(i, _)| wanted.binary_search(i).is_ok())
        .collect())
}

/// The stored hashes with indexes in `[lo, hi)`, in order: `None` where none is stored (or its
/// row is malformed).
pub fn read_range(conn: &mut DbConnection, lo: u64, hi: u64) -> Result<Vec<Option<Hash>>, diesel::result::Error> {
    let mut out = vec![None; hi.saturating_sub(lo) as usize];
    if hi <= lo {
        return Ok(out);
    }
    let rows: Vec<(i64, Vec<u8>)> = per_backend!(conn, c => tree_hash_pages::table
        .filter(tree_hash_pages::page.ge((lo / PER_ROW) as i64))
        .filter(tree_hash_pages::page.le(((hi - 1) / PER_ROW) as i64))
        .select((tree_hash_pages::page, tree_hash_pages::hashes))
        .load(c))?;
    for (page, bytes) in &rows {
        for (i, h) in unpack(*page, bytes) {
            if (lo..hi).contains(&i) {
                out[(i - lo) as usize] = Some(h);
            }
        }
    }
    Ok(out)
}

/// Whether any row holds more than the first `count` stored hashes: a row before index 0 or
/// after the one holding index `count − 1`, or that row holding more (an empty row counts: it
/// would stop the writer from adding that row). `count` is what the entries stored.
pub fn rows_beyond(conn: &mut DbConnection, count: u64) -> Result<bool, diesel::result::Error> {
    // The row holding the last stored hash, and how many bytes it holds; -1 when none.
    let (last, last_bytes) = match count {
        0 => (-1i64, 0usize),
        n => (((n - 1) / PER_ROW) as i64, (((n - 1) % PER_ROW) + 1) as usize * 32),
    };
    let outside: i64 = tree_hash_pages::table
        .filter(tree_hash_pages::page.lt(0).or(tree_hash_pages::page.gt(last)))
        .count()
        .get_result(conn)?;
    if outside > 0 {
        return Ok(true);
    }
    let newest: Option<Vec<u8>> = tree_hash_pages::table
        .filter(tree_hash_pages::page.eq(last))
        .select(tree_hash_pages::hashes)
        .first(conn)
        .optional()?;
    Ok(newest.is_some_and(|b| b.len() > last_bytes))
}

/// A batch's stored hashes laid out in rows ([`PER_ROW`] each).
pub(super) struct PageWrites {
    /// The newest row, short: its page, the bytes it holds, and the bytes the batch adds to it.
    pub extend: Option<(i64, usize, Vec<u8>)>,
    /// Rows after it, each whole but perhaps the last.
    pub new: Vec<(i64, Vec<u8>)>,
}

/// The rows that store `hashes` from stored-hash index `first` on, `first` being how many are
/// stored.
pub(super) fn page_writes(first: u64, hashes: &[Hash]) -> PageWrites {
    let mut page = (first / PER_ROW) as i64;
    let filled = (first % PER_ROW) as usize * 32;
    let mut extend = None;
    let mut rest = hashes;
    if filled > 0 && !hashes.is_empty() {
        let room = (ROW_BYTES - filled) / 32;
        let (tail, after) = hashes.split_at(room.min(hashes.len()));
        extend = Some((page, filled, tail.iter().flat_map(|h| h.0).collect()));
        rest = after;
        page += 1;
    }
    let new = rest
        .chunks(PER_ROW as usize)
        .enumerate()
        .map(|(k, row)| (page + k as i64, row.iter().flat_map(|h| h.0).collect()))
        .collect();
    PageWrites { extend, new }
}

/// The error for a newest row that does not end at `first`, the stored hashes the head says.
pub(super) fn misplaced(first: u64, stored: Option<u64>) -> StoreError {
    match stored {
        Some(end) => StoreError::Corrupt(format!("stored tree hashes end at {end} but the log head says {first}")),
        None => StoreError::Corrupt(format!(
            "stored tree hashes do not end where the log head says ({first})"
        )),
    }
}

/// SQLite: stores `hashes` as the stored hashes from index `first` on, `first` being how many
/// are stored: completes the newest row and adds rows after it, one cached single-row
/// statement each (a multi-row `INSERT … VALUES` has a text of its own for every number of
/// rows, prepared again each time; in process, there is no round trip to save). Called by the
/// sequencer in the batch transaction, under the head lock; PostgreSQL's batch writes the same
/// rows in its one statement, `batch_rows::BatchRows`. A newest row that does not end exactly
/// at `first` means the store is not what the head says: [`StoreError::Corrupt`], and the
/// batch fails: its checkpoint, signed in memory, is never stored or served.
pub(super) fn append_sqlite(
    c: &mut diesel::sqlite::SqliteConnection,
    first: u64,
    hashes: &[Hash],
) -> Result<(), StoreError> {
    let PageWrites { extend, new } = page_writes(first, hashes);
    if let Some((page, filled, tail)) = extend {
        let mut newest: Vec<u8> = tree_hash_pages::table
            .filter(tree_hash_pages::page.eq(page))
            .select(tree_hash_pages::hashes)
            .first(c)?;
        if newest.len() != filled {
            return Err(misplaced(
                first,
                Some(page as u64 * PER_ROW + (newest.len() / 32) as u64),
            ));
        }
        newest.extend_from_slice(&tail);
        super::head_rows::SetHashPage { page, hashes: &newest }.execute(c)?;
    }
    for (p, b) in &new {
        diesel::insert_into(tree_hash_pages::table)
            .values((tree_hash_pages::page.eq(*p), tree_hash_pages::hashes.eq(b)))
            .execute(c)?;
    }
    Ok(())
}

/// A `HashReader` over a database connection. Hashes with a stored index at or above
/// `overlay_start` come from `overlay` (the batch in progress); the rest from `known` (given
/// by the caller, or read before), else from the table.
pub struct DbHashReader<'a> {
    conn: RefCell<&'a mut DbConnection>,
    overlay_start: u64,
    overlay: Vec<Hash>,
    /// Stored hashes already known (committed): given, or read from the table before.
    known: RefCell<HashMap<u64, Hash>>,
}

impl<'a> DbHashReader<'a> {
    pub fn new(conn: &'a mut DbConnection) -> Self {
        Self {
            conn: RefCell::new(conn),
            overlay_start: u64::MAX,
            overlay: Vec::new(),
            known: RefCell::new(HashMap::new()),
        }
    }

    /// `known`: committed stored hashes below `overlay_start` (the writer's frontier from its
    /// last batch), read from memory instead of the table.
    pub(super) fn with_overlay(conn: &'a mut DbConnection, overlay_start: u64, known: HashMap<u64, Hash>) -> Self {
        Self {
            conn: RefCell::new(conn),
            overlay_start,
            overlay: Vec::new(),
            known: RefCell::new(known),
        }
    }

    pub(super) fn push_overlay(&mut self, hashes: &[Hash]) {
        self.overlay.extend_from_slice(hashes);
    }

    pub(super) fn overlay(&self) -> &[Hash] {
        &self.overlay
    }

    pub(super) fn conn(&mut self) -> &mut DbConnection {
        self.conn.get_mut()
    }

    fn read_db(&self, indexes: &[u64]) -> Result<HashMap<u64, Hash>, diesel::result::Error> {
        let mut conn = self.conn.borrow_mut();
        read_indexes(&mut conn, indexes)
    }
}

impl tlog_tiles::HashReader for DbHashReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let wanted: Vec<u64> = {
            let known = self.known.borrow();
            indexes
                .iter()
                .copied()
                .filter(|&i| i < self.overlay_start && !known.contains_key(&i))
                .collect()
        };
        if !wanted.is_empty() {
            // Kept: the root and the frontier after a batch ask for hashes read before.
            let read = self
                .read_db(&wanted)
                .map_err(|e| tlog_tiles::Error::InvalidInput(format!("reading tree hashes: {e}")))?;
            self.known.borrow_mut().extend(read);
        }
        let known = self.known.borrow();
        indexes
            .iter()
            .map(|&i| {
                if i >= self.overlay_start {
                    self.overlay.get((i - self.overlay_start) as usize).copied()
                } else {
                    known.get(&i).copied()
                }
                .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// Reads every hash a computation needs in one query: the computation runs once against a
/// recorder (the tree arithmetic asks for the same indexes whatever the hashes are), the
/// recorded indexes are fetched together, and it runs again on them. A proof then costs one
/// round trip instead of one per `read_hashes` call.
pub fn with_prefetch<T, E>(
    conn: &mut DbConnection,
    f: impl Fn(&Prefetched) -> Result<T, E>,
) -> Result<Result<T, E>, diesel::result::Error> {
    let loaded = read_indexes(
        conn,
        &wanted_indexes(|r| {
            let _ = f(r);
        }),
    )?;
    Ok(f(&Prefetched::Loaded(loaded)))
}

/// The stored-hash indexes `f` reads (the first pass of [`with_prefetch`]): which hashes a proof
/// needs depends on its sizes and indexes only, never on the hashes' values.
pub fn wanted_indexes(f: impl FnOnce(&Prefetched)) -> Vec<u64> {
    let recorder = Prefetched::Recording(RefCell::new(Vec::new()));
    f(&recorder);
    let Prefetched::Recording(wanted) = recorder else {
        unreachable!()
    };
    wanted.into_inner()
}

/// The two passes of [`with_prefetch`].
pub enum Prefetched {
    Recording(RefCell<Vec<u64>>),
    Loaded(HashMap<u64, Hash>),
}

impl tlog_tiles::HashReader for Prefetched {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        match self {
            Prefetched::Recording(seen) => {
                seen.borrow_mut().extend_from_slice(indexes);
                Ok(vec![Hash([0; 32]); indexes.len()])
            }
            Prefetched::Loaded(map) => indexes
                .iter()
                .map(|i| map.get(i).copied().ok_or(tlog_tiles::Error::IndexesNotInTree))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(n: usize) -> Vec<Hash> {
        (0..n).map(|i| Hash([i as u8; 32])).collect()
    }

    #[test]
    fn a_batch_extends_the_newest_short_row_and_then_adds_whole_rows() {
        let w = page_writes(37, &hashes(40));
        let (page, filled, tail) = w.extend.unwrap();
        assert_eq!((page, filled, tail.len()), (1, 5 * 32, 27 * 32));
        assert_eq!(&tail[..32], &[0; 32]);
        assert_eq!(
            w.new.iter().map(|(p, b)| (*p, b.len() / 32)).collect::<Vec<_>>(),
            vec![(2, 13)]
        );
        assert_eq!(&w.new[0].1[..32], &[27; 32]);

        // A batch that does not fill the short row, and one that starts a row.
        let w = page_writes(33, &hashes(3));
        assert_eq!(w.extend.map(|(p, f, t)| (p, f, t.len())), Some((1, 32, 96)));
        assert!(w.new.is_empty());
        let w = page_writes(64, &hashes(65));
        assert!(w.extend.is_none());
        assert_eq!(
            w.new.iter().map(|(p, b)| (*p, b.len() / 32)).collect::<Vec<_>>(),
            vec![(2, 32), (3, 32), (4, 1)]
        );
        assert!(page_writes(5, &[]).extend.is_none());
    }
}
