//! Writing a new request's row and its vault rows (the raw identifiers, their nonces and
//! commitments) under the head lock.
//!
//! On PostgreSQL every statement under the head lock is a loopback round trip, and a request
//! has 1.65 identifiers on average in Telegram's figures: the request's `INSERT` and all its
//! vault rows are one statement there ([`RequestWithVault`]). SQLite, in process, runs one
//! `INSERT` per row.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Binary, Text};

use crate::store::schema::vault;
use crate::store::{per_backend, DbConnection, StoreError};

/// One identifier of a request as the vault keeps it: kind, normalised value, nonce, and the
/// hex commitment to them (DESIGN §4).
pub(super) struct VaultRow {
    pub kind: String,
    pub value: String,
    pub nonce: Vec<u8>,
    pub commitment: String,
}

/// Inserts `rows` for request `id`, received at `created_at`, one statement per row.
pub(super) fn insert_each(
    conn: &mut DbConnection,
    id: &str,
    rows: &[VaultRow],
    created_at: &str,
) -> Result<(), StoreError> {
    for r in rows {
        per_backend!(&mut *conn, conn => diesel::insert_into(vault::table)
            .values((
                // Time-ordered, as request ids are (see `submit::record`).
                vault::id.eq(uuid::Uuid::now_v7().to_string()),
                vault::request_id.eq(id),
                vault::kind.eq(&r.kind),
                vault::value.eq(Some(&r.value)),
                vault::nonce.eq(Some(&r.nonce)),
                vault::commitment.eq(&r.commitment),
                vault::created_at.eq(created_at),
            ))
            .execute(conn))?;
    }
    Ok(())
}

/// PostgreSQL's one statement for a new request and its vault rows: the request's own
/// `INSERT … ON CONFLICT DO NOTHING` (diesel's, `insert`) in a data-modifying `WITH`, the vault
/// rows from `UNNEST` of one array per column for each request row it inserted, and the number
/// of requests inserted (0 when its `Idempotency-Key` was taken: then no vault row either).
/// One fixed text for any number of identifiers, so diesel prepares and caches it.
pub(super) struct RequestWithVault<'a, I> {
    /// `insert_into(requests::table).values(…).on_conflict_do_nothing()`.
    insert: I,
    created_at: &'a str,
    ids: Vec<String>,
    kinds: Vec<&'a str>,
    values: Vec<&'a str>,
    nonces: Vec<&'a [u8]>,
    commitments: Vec<&'a str>,
}

impl<'a, I> RequestWithVault<'a, I> {
    pub fn new(insert: I, rows: &'a [VaultRow], created_at: &'a str) -> Self {
        RequestWithVault {
            insert,
            created_at,
            ids: rows.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect(),
            kinds: rows.iter().map(|r| r.kind.as_str()).collect(),
            values: rows.iter().map(|r| r.value.as_str()).collect(),
            nonces: rows.iter().map(|r| r.nonce.as_slice()).collect(),
            commitments: rows.iter().map(|r| r.commitment.as_str()).collect(),
        }
    }
}

impl<I: QueryId> QueryId for RequestWithVault<'_, I> {
    type QueryId = RequestWithVault<'static, I::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = I::HAS_STATIC_QUERY_ID;
}

impl<I> Query for RequestWithVault<'_, I> {
    type SqlType = BigInt;
}

impl<I: QueryFragment<Pg>> QueryFragment<Pg> for RequestWithVault<'_, I> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH r AS (");
        self.insert.walk_ast(out.reborrow())?;
        out.push_sql(
            " RETURNING id), v AS (INSERT INTO vault \
             (id, request_id, kind, value, nonce, commitment, created_at) \
             SELECT u.id, r.id, u.kind, u.value, u.nonce, u.commitment, ",
        );
        out.push_bind_param::<Text, _>(self.created_at)?;
        out.push_sql(" FROM r, UNNEST(");
        out.push_bind_param::<Array<Text>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.kinds)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.values)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Binary>, _>(&self.nonces)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.commitments)?;
        out.push_sql(") AS u(id, kind, value, nonce, commitment)) SELECT count(*) FROM r");
        Ok(())
    }
}

impl<I> RunQueryDsl<diesel::pg::PgConnection> for RequestWithVault<'_, I> {}
