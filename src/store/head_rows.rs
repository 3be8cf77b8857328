//! The batch's statements on the log's head row (`log_head`, id 1) and on tree-hash pages, as
//! query types of their own: diesel never caches an `UPDATE` (its `SET` list may vary) nor a
//! multi-row `INSERT`, so each of these was prepared again for every batch, under the head
//! lock: parsed and planned on SQLite, and one more round trip (`Parse`) on PostgreSQL. A fixed
//! statement with a static query id is prepared once per connection.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary};
use diesel::{QueryResult, RunQueryDsl};

/// `UPDATE log_head SET size = size WHERE id = 1 RETURNING size, <time of entry size - 1>`:
/// takes the head lock (the row lock on PostgreSQL, the write lock on SQLite) and returns the
/// log's size and its last entry's time, in one statement. The time is NULL for an empty log,
/// and may be NULL on PostgreSQL when another process committed entries while this statement
/// waited for the lock: the `UPDATE` sees the newest head, its subquery only the snapshot taken
/// before the wait. The caller then reads the time in a statement of its own.
pub(super) struct LockHead;

impl QueryId for LockHead {
    type QueryId = LockHead;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for LockHead {
    type SqlType = (BigInt, diesel::sql_types::Nullable<diesel::sql_types::Text>);
}

impl<DB: Backend> QueryFragment<DB> for LockHead {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(
            "UPDATE log_head SET size = size WHERE id = 1 \
             RETURNING size, (SELECT time FROM entries WHERE idx = log_head.size - 1)",
        );
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for LockHead {}

/// `UPDATE log_head SET size = ? WHERE id = 1`: the batch's new size, the last statement before
/// its commit.
pub(super) struct SetHeadSize(pub i64);

impl QueryId for SetHeadSize {
    type QueryId = SetHeadSize;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB: Backend> QueryFragment<DB> for SetHeadSize
where
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE log_head SET size = ");
        out.push_bind_param::<BigInt, i64>(&self.0)?;
        out.push_sql(" WHERE id = 1");
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for SetHeadSize {}

/// `UPDATE tree_hash_pages SET hashes = ? WHERE page = ?`: the newest page, completed by the
/// batch (see [`super::hashes::append`]).
pub(super) struct SetHashPage<'a> {
    pub page: i64,
    pub hashes: &'a [u8],
}

impl QueryId for SetHashPage<'_> {
    type QueryId = SetHashPage<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB: Backend> QueryFragment<DB> for SetHashPage<'_>
where
    i64: ToSql<BigInt, DB>,
    [u8]: ToSql<Binary, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE tree_hash_pages SET hashes = ");
        out.push_bind_param::<Binary, [u8]>(self.hashes)?;
        out.push_sql(" WHERE page = ");
        out.push_bind_param::<BigInt, i64>(&self.page)?;
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for SetHashPage<'_> {}

#[cfg(test)]
mod tests {
    use diesel::query_builder::QueryFragment;

    use super::*;

    fn cached_on_both<Q>(q: &Q) -> bool
    where
        Q: QueryFragment<diesel::sqlite::Sqlite> + QueryFragment<diesel::pg::Pg>,
    {
        QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(q, &diesel::sqlite::Sqlite).unwrap()
            && QueryFragment::<diesel::pg::Pg>::is_safe_to_cache_prepared(q, &diesel::pg::Pg).unwrap()
    }

    /// Each runs once per batch under the head lock; diesel's own `UPDATE` is never cached.
    #[test]
    fn the_batch_statements_stay_prepared_on_both_backends() {
        assert!(cached_on_both(&LockHead));
        assert!(cached_on_both(&SetHeadSize(7)));
        assert!(cached_on_both(&SetHashPage {
            page: 1,
            hashes: &[0; 32]
        }));
        // What they replace is prepared every time.
        use crate::store::schema::log_head;
        use diesel::prelude::*;
        let diesels = diesel::update(log_head::table.filter(log_head::id.eq(1))).set(log_head::size.eq(7i64));
        assert!(!cached_on_both(&diesels));
    }
}
