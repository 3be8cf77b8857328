//! Authority rows: reads for the API and for token checks.

use diesel::prelude::*;
use serde_json::Value;

use super::key::{AuthorityKey, KeyAlg};
use super::{Authority, AuthorityKind, STATUS_VERIFIED};
use crate::store::schema::{authorities, authority_keys};
use crate::store::{DbConnection, StoreError};

type AuthorityRow = (String, String, String, bool, String, String, String, String);
type KeyRow = (String, String, String, String, Option<String>, Option<String>);

fn key_from_row((kid, alg, jwk, not_before, not_after, revoked_at): KeyRow) -> Result<AuthorityKey, StoreError> {
    Ok(AuthorityKey {
        kid,
        alg: KeyAlg::parse(&alg).ok_or_else(|| StoreError::Corrupt(format!("unknown key algorithm {alg:?}")))?,
        jwk: serde_json::from_str(&jwk).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        not_before,
        not_after,
        revoked_at,
    })
}

fn authority_from_row(row: AuthorityRow, keys: Vec<AuthorityKey>) -> Result<Authority, StoreError> {
    let (id, country, kind, judicial, name, domains, status, created_at) = row;
    Ok(Authority {
        kind: AuthorityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown authority kind {kind:?}")))?,
        domains: serde_json::from_str(&domains).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        id,
        country,
        judicial,
        name,
        status,
        created_at,
        keys,
    })
}

const AUTHORITY_COLUMNS: (
    authorities::id,
    authorities::country,
    authorities::kind,
    authorities::judicial,
    authorities::name,
    authorities::domains,
    authorities::status,
    authorities::created_at,
) = (
    authorities::id,
    authorities::country,
    authorities::kind,
    authorities::judicial,
    authorities::name,
    authorities::domains,
    authorities::status,
    authorities::created_at,
);

const KEY_COLUMNS: (
    authority_keys::kid,
    authority_keys::alg,
    authority_keys::jwk,
    authority_keys::not_before,
    authority_keys::not_after,
    authority_keys::revoked_at,
) = (
    authority_keys::kid,
    authority_keys::alg,
    authority_keys::jwk,
    authority_keys::not_before,
    authority_keys::not_after,
    authority_keys::revoked_at,
);

fn keys_of(conn: &mut DbConnection, id: &str) -> Result<Vec<AuthorityKey>, StoreError> {
    let rows: Vec<KeyRow> = authority_keys::table
        .filter(authority_keys::authority_id.eq(id))
        .order(authority_keys::not_before.asc())
        .select(KEY_COLUMNS)
        .load(conn)?;
    rows.into_iter().map(key_from_row).collect()
}

pub fn load(conn: &mut DbConnection, id: &str) -> Result<Option<Authority>, StoreError> {
    let row: Option<AuthorityRow> = authorities::table
        .filter(authorities::id.eq(id))
        .select(AUTHORITY_COLUMNS)
        .first(conn)
        .optional()?;
    match row {
        None => Ok(None),
        Some(row) => {
            let keys = keys_of(conn, id)?;
            Ok(Some(authority_from_row(row, keys)?))
        }
    }
}

/// The authority without its keys (`keys` empty): one row, for the rules and the token checks
/// that need only its country, kind and standing. Loading every key (and parsing its JWK) on
/// each submission cost the writer a sixth of its time under the head lock (issue 12).
pub fn load_without_keys(conn: &mut DbConnection, id: &str) -> Result<Option<Authority>, StoreError> {
    let row: Option<AuthorityRow> = authorities::table
        .filter(authorities::id.eq(id))
        .select(AUTHORITY_COLUMNS)
        .first(conn)
        .optional()?;
    row.map(|row| authority_from_row(row, Vec::new())).transpose()
}

/// An authority with its key `kid` alone (`keys` holds it, or is empty when it has no such
/// key or it does not parse), and in the same statement rule V12's question about the order
/// whose document has the digest `order_sha256`: do requests other than `not_this`, not
/// rejected, already use it, `(under an authority other than requester, under requester)`. A submission
/// asks both under the head lock, where every statement is a round trip on PostgreSQL.
/// `None` when no authority has the id: the caller then asks V12 apart.
pub fn load_with_key_and_order_uses(
    conn: &mut DbConnection,
    id: &str,
    kid: &str,
    order_sha256: &str,
    not_this: &str,
    requester: Option<&str>,
) -> Result<Option<(Authority, bool, bool)>, StoreError> {
    let (other, same) = order_uses_columns(order_sha256, not_this, requester);
    type Row = (AuthorityRow, Option<KeyRow>, bool, bool);
    let row: Option<Row> = crate::store::per_backend!(conn, conn => authorities::table
        .left_join(
            authority_keys::table.on(authority_keys::authority_id
                .eq(authorities::id)
                .and(authority_keys::kid.eq(kid))),
        )
        .filter(authorities::id.eq(id))
        .select((
            AUTHORITY_COLUMNS,
            KEY_COLUMNS.nullable(),
            other,
            same,
        ))
        .first(conn)
        .optional())?;
    row.map(|(row, key, other, same)| {
        let keys = key.and_then(|k| key_from_row(k).ok()).into_iter().collect();
        authority_from_row(row, keys).map(|a| (a, other, same))
    })
    .transpose()
}

/// [`load_with_key_and_order_uses`] for the new submissions of a batch at once, in three
/// statements, each `(issuer, kid, order_sha256, requester)` by its order's digest (distinct
/// within a batch: see `store::SubmissionHint`). The same answers: the issuer with its key
/// `kid` alone, and whether requests not rejected already use the order, under an authority
/// other than the requester and under the requester.
#[allow(clippy::type_complexity)]
pub fn load_many_with_key_and_order_uses(
    conn: &mut DbConnection,
    wanted: &[(&str, &str, &str, Option<&str>)],
) -> Result<std::collections::HashMap<String, Result<Option<(Authority, bool, bool)>, StoreError>>, StoreError> {
    use crate::store::schema::requests;
    let ids: Vec<&str> = wanted.iter().map(|w| w.0).collect();
    let kids: Vec<&str> = wanted.iter().map(|w| w.1).collect();
    let shas: Vec<&str> = wanted.iter().map(|w| w.2).collect();
    let rows: Vec<AuthorityRow> = crate::store::per_backend!(&mut *conn, c => authorities::table
        .filter(authorities::id.eq_any(&ids))
        .select(AUTHORITY_COLUMNS)
        .load(c))?;
    let rows: std::collections::HashMap<String, AuthorityRow> = rows.into_iter().map(|r| (r.0.clone(), r)).collect();
    let keys: Vec<(String, KeyRow)> = crate::store::per_backend!(&mut *conn, c => authority_keys::table
        .filter(authority_keys::authority_id.eq_any(&ids).and(authority_keys::kid.eq_any(&kids)))
        .select((authority_keys::authority_id, KEY_COLUMNS))
        .load(c))?;
    let keys: std::collections::HashMap<(String, String), KeyRow> =
        keys.into_iter().map(|(a, k)| ((a, k.0.clone()), k)).collect();
    // A rejected submission used nothing (see `OrderUses`); no new submission is `not_this`.
    let uses: Vec<(Option<String>, String)> = match conn {
        DbConnection::Postgresql(c) => order_users_pg(c, &shas)?,
        DbConnection::Sqlite(c) => requests::table
            .filter(requests::order_sha256.eq_any(&shas))
            .filter(requests::status.ne("rejected"))
            .select((requests::order_sha256, requests::authority_id))
            .load(c)?,
    };
    let mut users: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (sha, authority) in uses {
        users.entry(sha.unwrap_or_default()).or_default().push(authority);
    }
    Ok(wanted
        .iter()
        .map(|&(id, kid, sha, requester)| {
            // An issuer row that does not convert fails its own submission only.
            let answer = match rows.get(id) {
                None => Ok(None),
                Some(row) => {
                    let key = keys.get(&(id.to_string(), kid.to_string())).cloned();
                    let keys = key.and_then(|k| key_from_row(k).ok()).into_iter().collect();
                    let requester = requester.unwrap_or("");
                    let by = users.get(sha).map(Vec::as_slice).unwrap_or_default();
                    let other = by.iter().any(|a| a != requester);
                    let same = by.iter().any(|a| a == requester);
                    authority_from_row(row.clone(), keys).map(|a| Some((a, other, same)))
                }
            };
            (sha.to_string(), answer)
        })
        .collect())
}

#[derive(diesel::QueryableByName)]
struct OrderUserRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    order_sha256: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    authority_id: String,
}

/// PostgreSQL: the requests not rejected that use each of the orders `shas`, as
/// `(order_sha256, authority_id)`, one lookup of `requests_by_order` per digest whatever the
/// table's statistics say.
///
/// Written as `= ANY($1)` over the table, the planner chose a sequential scan of `requests`
/// whenever the table had grown since its last `ANALYZE` (or had none yet: autovacuum looks
/// at a database once a minute): with no statistics it expects one row in 200 to match each
/// digest, so a batch of 28 digests "matches" 13 % of the table. In one PostgreSQL load
/// replay that was 9.3 ms a call over 3,211 batches (30 s of PostgreSQL's time, the submit
/// phase at half its speed), against 0.1 ms in a run where `ANALYZE` came early. An `ARRAY`
/// subquery in the select list is never turned into a join, so it is planned as its own
/// parameterised scan, repeated per digest, where the index wins as soon as the table is more
/// than a few pages (a join, even `LATERAL`, may still be hashed over a sequential scan).
fn order_users_pg(c: &mut diesel::PgConnection, shas: &[&str]) -> Result<Vec<(Option<String>, String)>, StoreError> {
    use diesel::sql_types::{Array, Text};
    let rows: Vec<OrderUserRow> = diesel::sql_query(
        "SELECT o.sha AS order_sha256, u.authority_id FROM \
         (SELECT o.sha, ARRAY(SELECT r.authority_id FROM requests r \
                              WHERE r.order_sha256 = o.sha AND r.status <> 'rejected') AS users \
          FROM UNNEST($1::text[]) AS o(sha)) o, UNNEST(o.users) AS u(authority_id)",
    )
    .bind::<Array<Text>, _>(shas)
    .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| (Some(r.order_sha256), r.authority_id))
        .collect())
}

/// Rule V12's question alone, for a submission whose issuer is unknown (otherwise
/// [`load_with_key_and_order_uses`] asks it): `(under an authority other than requester,
/// under requester)`.
pub fn order_uses(
    conn: &mut DbConnection,
    order_sha256: &str,
    not_this: &str,
    requester: Option<&str>,
) -> Result<(bool, bool), StoreError> {
    let columns = order_uses_columns(order_sha256, not_this, requester);
    Ok(crate::store::per_backend!(conn, c => diesel::select(columns).get_result(c))?)
}

/// The two columns of rule V12's question. No requester (never the case for an officer's
/// token): every user is another's.
fn order_uses_columns<'a>(
    order_sha256: &'a str,
    not_this: &'a str,
    requester: Option<&'a str>,
) -> (OrderUses<'a, false>, OrderUses<'a, true>) {
    let requester = requester.unwrap_or("");
    (
        OrderUses {
            order_sha256,
            not_this,
            requester,
        },
        OrderUses {
            order_sha256,
            not_this,
            requester,
        },
    )
}

/// Rule V12's question as a boolean column: `EXISTS` a request other than `not_this`, not
/// rejected, that uses the order whose document has the digest `order_sha256`, under the
/// requester (`BY_REQUESTER`) or under another authority.
///
/// A fixed-shape statement, so that diesel keeps it prepared: written with `sql()` literals it
/// was prepared again on every submission, 18 % of the writer's time under load. The requester
/// is compared inside a `CASE`, which no index can serve: SQLite, with no statistics, otherwise
/// searched `authority_id = ?` through an index on the authority and read all of its requests
/// for every submission, not the one or two rows the order's digest finds through
/// `requests_by_order`.
#[derive(Debug, Clone, Copy)]
struct OrderUses<'a, const BY_REQUESTER: bool> {
    order_sha256: &'a str,
    not_this: &'a str,
    requester: &'a str,
}

impl<const B: bool> diesel::query_builder::QueryId for OrderUses<'_, B> {
    type QueryId = OrderUses<'static, B>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const B: bool> diesel::Expression for OrderUses<'_, B> {
    type SqlType = diesel::sql_types::Bool;
}

impl<QS, const B: bool> diesel::AppearsOnTable<QS> for OrderUses<'_, B> {}

impl<QS, const B: bool> diesel::SelectableExpression<QS> for OrderUses<'_, B> {}

impl<GB, const B: bool> diesel::expression::ValidGrouping<GB> for OrderUses<'_, B> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<DB, const B: bool> diesel::query_builder::QueryFragment<DB> for OrderUses<'_, B>
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        use diesel::sql_types::Text;
        out.push_sql("EXISTS (SELECT 1 FROM requests WHERE order_sha256 = ");
        out.push_bind_param::<Text, str>(self.order_sha256)?;
        out.push_sql(" AND id <> ");
        out.push_bind_param::<Text, str>(self.not_this)?;
        // A rejected submission used nothing: counting it would let anyone who knows an
        // order's digest (or an officer's own failed attempt) burn the genuine order.
        out.push_sql(" AND status <> 'rejected' AND CASE WHEN authority_id = ");
        out.push_bind_param::<Text, str>(self.requester)?;
        out.push_sql(if B {
            " THEN 1 ELSE 0 END = 1)"
        } else {
            " THEN 1 ELSE 0 END = 0)"
        });
        Ok(())
    }
}

/// Authorities ordered by id, after `after`, at most `limit`.
pub fn list(conn: &mut DbConnection, after: Option<&str>, limit: i64) -> Result<Vec<Authority>, StoreError> {
    let mut q = authorities::table
        .select(AUTHORITY_COLUMNS)
        .order(authorities::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(authorities::id.gt(after.to_string()));
    }
    let rows: Vec<AuthorityRow> = q.load(conn)?;
    // The page's keys in one statement, not one read per authority.
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let key_rows: Vec<(String, KeyRow)> = authority_keys::table
        .filter(authority_keys::authority_id.eq_any(&ids))
        .order((authority_keys::authority_id.asc(), authority_keys::not_before.asc()))
        .select((authority_keys::authority_id, KEY_COLUMNS))
        .load(conn)?;
    let mut keys: std::collections::HashMap<String, Vec<AuthorityKey>> = std::collections::HashMap::new();
    for (authority, row) in key_rows {
        keys.entry(authority).or_default().push(key_from_row(row)?);
    }
    rows.into_iter()
        .map(|row| {
            let own = keys.remove(&row.0).unwrap_or_default();
            authority_from_row(row, own)
        })
        .collect()
}

/// A key that may verify a token or an order right now.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub alg: KeyAlg,
    pub jwk: Value,
}

/// The key `kid` of authority `id` if the authority is verified and the key is inside its
/// validity window at `now` (RFC 3339, as stored) and not revoked; otherwise why not, in words
/// that name no secret.
pub fn find_active_key(
    conn: &mut DbConnection,
    id: &str,
    kid: &str,
    now: &str,
) -> Result<Result<ActiveKey, &'static str>, StoreError> {
    // The standing and the key in one statement: every call with an authority's token asks
    // this, and on PostgreSQL each statement is a round trip.
    let found: Option<(String, Option<KeyRow>)> = authorities::table
        .left_join(
            authority_keys::table.on(authority_keys::authority_id
                .eq(authorities::id)
                .and(authority_keys::kid.eq(kid))),
        )
        .filter(authorities::id.eq(id))
        .select((authorities::status, KEY_COLUMNS.nullable()))
        .first(conn)
        .optional()?;
    let row = match found {
        None => return Ok(Err("unknown issuer")),
        Some((status, row)) if status == STATUS_VERIFIED => row,
        Some(_) => return Ok(Err("the issuing authority is suspended")),
    };
    let Some(row) = row else {
        return Ok(Err("unknown key id"));
    };
    let key = key_from_row(row)?;
    if key.revoked_at.as_deref().is_some_and(|r| r <= now) {
        return Ok(Err("the key is revoked"));
    }
    if key.not_before.as_str() > now || key.not_after.as_deref().is_some_and(|a| a <= now) {
        return Ok(Err("the key is outside its validity window"));
    }
    Ok(Ok(ActiveKey {
        alg: key.alg,
        jwk: key.jwk,
    }))
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::query_builder::QueryFragment;

    use super::OrderUses;
    use crate::store::schema::authorities;

    /// A statement holding a `sql()` literal is prepared again on every execution; this one
    /// runs under the head lock for every submission.
    #[test]
    fn the_order_uses_columns_keep_their_statement_prepared_on_both_backends() {
        let uses = |_: ()| OrderUses::<true> {
            order_sha256: "digest",
            not_this: "",
            requester: "authority",
        };
        let query = authorities::table
            .select((authorities::id, uses(())))
            .filter(authorities::id.eq("a"));
        let sqlite =
            QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&query, &diesel::sqlite::Sqlite);
        let pg = QueryFragment::<diesel::pg::Pg>::is_safe_to_cache_prepared(&query, &diesel::pg::Pg);
        assert!(
            sqlite.unwrap(),
            "SQLite would prepare the statement on every submission"
        );
        assert!(
            pg.unwrap(),
            "PostgreSQL would prepare the statement on every submission"
        );
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        assert!(
            sql.contains("CASE WHEN authority_id = ? THEN 1 ELSE 0 END = 1)"),
            "{sql}"
        );
    }
}
