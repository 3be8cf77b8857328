//! Reads for the API. Every function takes a connection from the readers' pool.

use diesel::prelude::*;

use super::schema::{checkpoints, entries, log_head, policies};
use super::{DbConnection, StoreError};

/// One stored entry: its index and canonical bytes, verbatim.
#[derive(Debug, Clone, Queryable)]
pub struct StoredEntry {
    pub idx: i64,
    pub canonical: String,
}

/// The newest signed checkpoint, if any batch has been committed.
pub fn latest_checkpoint(conn: &mut DbConnection) -> Result<Option<(i64, String)>, StoreError> {
    Ok(checkpoints::table
        .select((checkpoints::size, checkpoints::note))
        .order(checkpoints::size.desc())
        .first(conn)
        .optional()?)
}

/// Every stored checkpoint as `(size, root, note)`, oldest first.
pub fn all_checkpoints(conn: &mut DbConnection) -> Result<Vec<(i64, Vec<u8>, String)>, StoreError> {
    Ok(checkpoints::table
        .select((checkpoints::size, checkpoints::root, checkpoints::note))
        .order(checkpoints::size.asc())
        .load(conn)?)
}

/// Entries `start..start+limit` in index order.
pub fn entries_page(conn: &mut DbConnection, start: u64, limit: u64) -> Result<Vec<StoredEntry>, StoreError> {
    Ok(entries::table
        .select((entries::idx, entries::canonical))
        .filter(entries::idx.ge(start as i64))
        .order(entries::idx.asc())
        .limit(limit as i64)
        .load(conn)?)
}

pub fn entry(conn: &mut DbConnection, index: u64) -> Result<Option<StoredEntry>, StoreError> {
    Ok(entries::table
        .select((entries::idx, entries::canonical))
        .filter(entries::idx.eq(index as i64))
        .first(conn)
        .optional()?)
}

/// The size recorded in the head row: what the last commit left.
pub fn head_size(conn: &mut DbConnection) -> Result<u64, StoreError> {
    let size: i64 = log_head::table
        .filter(log_head::id.eq(1))
        .select(log_head::size)
        .first(conn)?;
    Ok(size as u64)
}

/// The digest of the policy in force and the index of the entry that adopted it.
pub fn current_policy_entry(conn: &mut DbConnection) -> Result<Option<(String, u64)>, StoreError> {
    let row: Option<(String, i64)> = policies::table
        .select((policies::sha256, policies::adopted_entry))
        .order(policies::adopted_entry.desc())
        .first(conn)
        .optional()?;
    Ok(row.map(|(sha, idx)| (sha, idx as u64)))
}

/// `(name, sha256)` of the policy in force: the newest adoption.
pub fn current_policy_name(conn: &mut DbConnection) -> Result<Option<(String, String)>, StoreError> {
    // Read under the head lock by every submission: on the backend's own connection.
    Ok(super::per_backend!(conn, c => policies::table
        .select((policies::name, policies::sha256))
        .order(policies::adopted_entry.desc())
        .first(c)
        .optional())?)
}

/// The policy in force: `(name, sha256, document)` of the newest adoption.
pub fn current_policy(conn: &mut DbConnection) -> Result<Option<(String, String, String)>, StoreError> {
    Ok(policies::table
        .select((policies::name, policies::sha256, policies::document))
        .order(policies::adopted_entry.desc())
        .first(conn)
        .optional()?)
}
