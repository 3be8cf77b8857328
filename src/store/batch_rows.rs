//! PostgreSQL's one statement for everything a batch writes, by the sequencer under the head
//! lock (step 4 of `append_batch`): entries, sealed details, tree hashes, checkpoint, head.
//!
//! Diesel never caches a multi-row `INSERT … VALUES`: its text depends on the number of rows,
//! so PostgreSQL parsed and planned the batch's inserts again on every batch. Here every table
//! is written from `UNNEST` of one array per column, in one statement whose text never
//! changes, so diesel prepares it once per connection; and it is one round trip.
//! SQLite, in process with no round trip to save, writes them one cached single-row statement
//! at a time (a multi-row `INSERT` was prepared again for every batch size there too).

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Binary, Nullable, Text};

use crate::ledger::Entry;

/// The rows of a batch's entries (`entries`) and of the sealed details of those that have
/// them (`sealed_details`), column by column.
pub(super) struct EntriesWithSealed<'a> {
    idx: Vec<i64>,
    kinds: Vec<&'a str>,
    subjects: Vec<Option<&'a str>>,
    times: Vec<&'a str>,
    canonical: Vec<&'a str>,
    sealed_idx: Vec<i64>,
    salts: Vec<Option<&'a [u8]>>,
    restricted: Vec<&'a str>,
}

impl<'a> EntriesWithSealed<'a> {
    /// `rows`: each entry, its canonical text, and its salt and restricted details (canonical
    /// JSON) if it has sealed details.
    pub fn new(rows: impl Iterator<Item = (&'a Entry, &'a str, Option<(&'a [u8], &'a str)>)>) -> Self {
        let mut s = EntriesWithSealed {
            idx: Vec::new(),
            kinds: Vec::new(),
            subjects: Vec::new(),
            times: Vec::new(),
            canonical: Vec::new(),
            sealed_idx: Vec::new(),
            salts: Vec::new(),
            restricted: Vec::new(),
        };
        for (e, canonical, sealed) in rows {
            s.idx.push(e.index as i64);
            s.kinds.push(&e.kind);
            s.subjects.push(e.subject.as_deref());
            s.times.push(&e.time);
            s.canonical.push(canonical);
            if let Some((salt, restricted)) = sealed {
                s.sealed_idx.push(e.index as i64);
                s.salts.push(Some(salt));
                s.restricted.push(restricted);
            }
        }
        s
    }
}

/// PostgreSQL's one statement for all a batch writes after its operations (step 4 of
/// `append_batch`): its entries and sealed details ([`EntriesWithSealed`]), its stored tree
/// hashes (the newest short row extended in place, `hashes || tail`, only if it holds exactly
/// the bytes the head says; the rows after it inserted), its checkpoint, and the head's new
/// size. It returns how many rows were extended, which must be 1 when the batch extends one
/// and 0 otherwise: anything else means the stored hashes do not end where the head says.
///
/// One round trip where there were six (the newest row's read, its update, the new rows, the
/// checkpoint, the head), each waiting for a PostgreSQL process on a busy machine while the
/// head lock is held.
pub(super) struct BatchRows<'a> {
    pub entries: EntriesWithSealed<'a>,
    /// `(page, bytes held, bytes added)`, or `(-1, 0, [])`, which extends nothing.
    pub extend: (i64, i64, &'a [u8]),
    pub new_pages: Vec<i64>,
    pub new_hashes: Vec<&'a [u8]>,
    pub size: i64,
    pub root: &'a [u8],
    pub note: &'a str,
}

impl QueryId for BatchRows<'_> {
    type QueryId = BatchRows<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for BatchRows<'_> {
    type SqlType = BigInt;
}

impl QueryFragment<Pg> for BatchRows<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let e = &self.entries;
        // Every part is a `WITH` of the one `UPDATE log_head`; the sealed details' foreign key
        // is checked at the end of the statement, when the entries are in place.
        out.push_sql("WITH e AS (INSERT INTO entries (idx, kind, subject, time, canonical) SELECT * FROM UNNEST(");
        out.push_bind_param::<Array<BigInt>, _>(&e.idx)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&e.kinds)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&e.subjects)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&e.times)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&e.canonical)?;
        out.push_sql(")), s AS (INSERT INTO sealed_details (entry_idx, salt, restricted) SELECT * FROM UNNEST(");
        out.push_bind_param::<Array<BigInt>, _>(&e.sealed_idx)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Binary>>, _>(&e.salts)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&e.restricted)?;
        out.push_sql(")), x AS (UPDATE tree_hash_pages SET hashes = hashes || ");
        out.push_bind_param::<Binary, _>(&self.extend.2)?;
        out.push_sql(" WHERE page = ");
        out.push_bind_param::<BigInt, _>(&self.extend.0)?;
        out.push_sql(" AND length(hashes) = ");
        out.push_bind_param::<BigInt, _>(&self.extend.1)?;
        out.push_sql(" RETURNING 1), n AS (INSERT INTO tree_hash_pages (page, hashes) SELECT * FROM UNNEST(");
        out.push_bind_param::<Array<BigInt>, _>(&self.new_pages)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Binary>, _>(&self.new_hashes)?;
        out.push_sql(")), c AS (INSERT INTO checkpoints (size, root, note) VALUES (");
        out.push_bind_param::<BigInt, _>(&self.size)?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(&self.root)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.note)?;
        out.push_sql(")) UPDATE log_head SET size = ");
        out.push_bind_param::<BigInt, _>(&self.size)?;
        out.push_sql(" WHERE id = 1 RETURNING (SELECT count(*) FROM x)");
        Ok(())
    }
}

impl RunQueryDsl<diesel::pg::PgConnection> for BatchRows<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// It runs once per batch under the head lock: prepared once per connection.
    #[test]
    fn the_batch_statement_stays_prepared() {
        let rows = BatchRows {
            entries: EntriesWithSealed::new(std::iter::empty()),
            extend: (-1, 0, &[]),
            new_pages: vec![],
            new_hashes: vec![],
            size: 1,
            root: &[0; 32],
            note: "",
        };
        assert!(QueryFragment::<Pg>::is_safe_to_cache_prepared(&rows, &Pg).unwrap());
        const { assert!(<BatchRows<'_> as QueryId>::HAS_STATIC_QUERY_ID) };
    }
}
