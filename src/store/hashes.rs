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
