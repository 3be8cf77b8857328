//! PostgreSQL's one statement for a batch's entries and their sealed details, written by the
//! sequencer under the head lock (step 4 of `append_batch`).
//!
//! Diesel never caches a multi-row `INSERT … VALUES`: its text depends on the number of rows,
//! so PostgreSQL parsed and planned the batch's inserts again on every batch. Here both tables
//! are written from `UNNEST` of one array per column, in one statement whose text never
//! changes, so diesel prepares it once per connection; and it is one round trip, not two.
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

impl QueryId for EntriesWithSealed<'_> {
    type QueryId = EntriesWithSealed<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for EntriesWithSealed<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // The sealed details reference their entry: the foreign key is checked at the end of
        // the statement, when the entries of the `WITH` are in place.
        out.push_sql("WITH e AS (INSERT INTO entries (idx, kind, subject, time, canonical) SELECT * FROM UNNEST(");
        out.push_bind_param::<Array<BigInt>, _>(&self.idx)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.kinds)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.subjects)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.times)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.canonical)?;
        out.push_sql(")) INSERT INTO sealed_details (entry_idx, salt, restricted) SELECT * FROM UNNEST(");
        out.push_bind_param::<Array<BigInt>, _>(&self.sealed_idx)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Binary>>, _>(&self.salts)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.restricted)?;
        out.push_sql(")");
        Ok(())
    }
}

impl RunQueryDsl<diesel::pg::PgConnection> for EntriesWithSealed<'_> {}
