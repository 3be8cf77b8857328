//! Tree hashes read from the `tree_hashes` table, optionally overlaid with hashes computed in
//! the current batch but not yet written.

use std::cell::RefCell;

use diesel::prelude::*;

use super::{schema::tree_hashes, DbConnection};
use crate::ledger::Hash;

/// A `HashReader` over a database connection. Hashes with a stored index at or above
/// `overlay_start` come from `overlay` (the batch in progress), the rest from the table.
pub struct DbHashReader<'a> {
    conn: RefCell<&'a mut DbConnection>,
    overlay_start: u64,
    overlay: Vec<Hash>,
}

impl<'a> DbHashReader<'a> {
    pub fn new(conn: &'a mut DbConnection) -> Self {
        Self {
            conn: RefCell::new(conn),
            overlay_start: u64::MAX,
            overlay: Vec::new(),
        }
    }

    pub(super) fn with_overlay(conn: &'a mut DbConnection, overlay_start: u64) -> Self {
        Self {
            conn: RefCell::new(conn),
            overlay_start,
            overlay: Vec::new(),
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

    fn read_db(&self, ids: &[i64]) -> Result<Vec<(i64, Vec<u8>)>, diesel::result::Error> {
        let mut conn = self.conn.borrow_mut();
        tree_hashes::table
            .filter(tree_hashes::id.eq_any(ids))
            .select((tree_hashes::id, tree_hashes::hash))
            .load::<(i64, Vec<u8>)>(&mut **conn)
    }
}

impl tlog_tiles::HashReader for DbHashReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let wanted: Vec<i64> = indexes
            .iter()
            .filter(|&&i| i < self.overlay_start)
            .map(|&i| i as i64)
            .collect();
        let mut from_db = std::collections::HashMap::with_capacity(wanted.len());
        if !wanted.is_empty() {
            let rows = self
                .read_db(&wanted)
                .map_err(|e| tlog_tiles::Error::InvalidInput(format!("reading tree hashes: {e}")))?;
            for (id, bytes) in rows {
                let h: [u8; 32] = bytes.try_into().map_err(|_| tlog_tiles::Error::MalformedHash)?;
                from_db.insert(id as u64, Hash(h));
            }
        }
        indexes
            .iter()
            .map(|&i| {
                if i >= self.overlay_start {
                    self.overlay.get((i - self.overlay_start) as usize).copied()
                } else {
                    from_db.get(&i).copied()
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
    let recorder = Prefetched::Recording(RefCell::new(Vec::new()));
    let _ = f(&recorder);
    let Prefetched::Recording(wanted) = recorder else {
        unreachable!()
    };
    let wanted: Vec<i64> = wanted.into_inner().into_iter().map(|i| i as i64).collect();
    let rows: Vec<(i64, Vec<u8>)> = tree_hashes::table
        .filter(tree_hashes::id.eq_any(&wanted))
        .select((tree_hashes::id, tree_hashes::hash))
        .load(conn)?;
    let loaded = rows
        .into_iter()
        .filter_map(|(id, bytes)| Some((id as u64, Hash(bytes.try_into().ok()?))))
        .collect();
    Ok(f(&Prefetched::Loaded(loaded)))
}

/// The two passes of [`with_prefetch`].
pub enum Prefetched {
    Recording(RefCell<Vec<u64>>),
    Loaded(std::collections::HashMap<u64, Hash>),
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
