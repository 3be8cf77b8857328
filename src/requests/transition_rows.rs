//! The row-level statements of a transition (`transition.rs`), all run under the head lock:
//! the one read of the request with its `Idempotency-Key` claim, and the write of its changes
//! with that claim. Fixed-shape query types where diesel would otherwise build, parse and plan
//! a statement on every call.

use diesel::prelude::*;

use super::transition::Retry;
use crate::error::AppError;
use crate::store::schema::requests;
use crate::store::{per_backend, AppendCtx, DbConnection, Hint, RequestHint, StoreError};

/// The columns of `requests` a transition may set; `None` leaves a column as it is.
pub(super) struct RequestChanges<'a> {
    pub(super) status: Option<&'a str>,
    pub(super) approved_categories: Option<String>,
    pub(super) first_approver: Option<&'a str>,
    pub(super) notification: Option<&'a str>,
}

impl RequestChanges<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.approved_categories.is_none()
            && self.first_approver.is_none()
            && self.notification.is_none()
    }
}

/// The `Idempotency-Key` claim a transition makes for its entry, once every rule has passed.
pub(super) struct Claim<'a> {
    /// The token's issuer and subject, a newline between: keys are per caller.
    pub(super) subject: &'a str,
    pub(super) retry: &'a Retry,
    pub(super) entry_index: i64,
}

/// The columns of `requests` the rules read beyond the view: approved categories (JSON),
/// notification, first approver, the entry that shredded the request's data.
const RULE_COLUMNS: (
    requests::approved_categories,
    requests::notification,
    requests::first_approver,
    requests::shredded_entry,
) = (
    requests::approved_categories,
    requests::notification,
    requests::first_approver,
    requests::shredded_entry,
);
pub(super) type RuleRow = (Option<String>, String, Option<String>, Option<i64>);

/// A stored claim: action, request id, body digest, the index of the entry it applied.
pub(super) type StoredClaim = (String, String, String, i64);

/// The request's view, what the rules read, and the stored claim of `claim`'s key if there is
/// one, in one statement: under the head lock every statement is a round trip on PostgreSQL.
/// `None` when no request has the id.
#[allow(clippy::type_complexity)]
pub(super) fn read_current(
    conn: &mut DbConnection,
    id: &str,
    claim: Option<&Claim<'_>>,
) -> Result<Option<((super::get::ViewRow, RuleRow), Option<StoredClaim>)>, StoreError> {
    use crate::store::schema::idempotency_keys as k;
    let row = match claim {
        None => per_backend!(conn, conn => requests::table
            .filter(requests::id.eq(id))
            .select((super::get::VIEW_COLUMNS, RULE_COLUMNS))
            .first::<(super::get::ViewRow, RuleRow)>(conn)
            .optional())?
        .map(|row| (row, None)),
        Some(c) => per_backend!(conn, conn => requests::table
            .left_join(k::table.on(k::subject.eq(c.subject).and(k::idem_key.eq(&c.retry.key))))
            .filter(requests::id.eq(id))
            .select((
                (super::get::VIEW_COLUMNS, RULE_COLUMNS),
                (k::action, k::request_id, k::body_sha256, k::entry_index).nullable(),
            ))
            .first(conn)
            .optional())?,
    };
    Ok(row)
}

/// What [`read_current`] answers for one request.
pub(super) type CurrentRow = Option<((super::get::ViewRow, RuleRow), Option<StoredClaim>)>;

/// Transitions on offer in a batch from which one read serves them: it costs two statements,
/// against one per transition.
const BATCH_READ_MIN: usize = 3;

/// The answers of one read for every hinted transition of a batch (see
/// [`crate::store::BatchReads`]), by request id, with the claim each was read for; each is
/// taken once, so a second operation on a request would read it afresh (the batch offers no
/// such hint anyway).
struct Prefetched(std::collections::HashMap<String, (Option<(String, String)>, CurrentRow)>);

/// [`read_current`] inside an append operation appended with a [`RequestHint`]: on
/// PostgreSQL, the first such operation of a batch that offers at least [`BATCH_READ_MIN`]
/// reads the rows of all of them (requests and claims, two statements), and each takes its own; a batch of 32 transitions makes 2
/// reads instead of 32 round trips under the head lock. SQLite, in process, reads each.
pub(super) fn read_current_in(
    ctx: &mut AppendCtx<'_>,
    id: &str,
    claim: Option<&Claim<'_>>,
) -> Result<CurrentRow, StoreError> {
    // A write of this batch to this request or this claim that is still deferred goes in
    // first, so that the read below sees it.
    if ctx.reads.pending::<Deferred>().is_some_and(|d| d.touches(id, claim)) {
        ctx.reads.flush(ctx.conn)?;
    }
    let hinted = ctx.reads.worth_one_read(
        ctx.conn,
        BATCH_READ_MIN,
        |h| matches!(h, Hint::Transition(t) if t.request == id),
    );
    if hinted && ctx.reads.memo::<Prefetched>().is_none() {
        let memo = prefetch(ctx.conn, ctx.reads.hints())?;
        ctx.reads.set_memo(memo);
    }
    let wanted = claim.map(|c| (c.subject.to_string(), c.retry.key.clone()));
    if let Some(Prefetched(rows)) = ctx.reads.memo::<Prefetched>() {
        match rows.remove(id) {
            Some((read_for, row)) if read_for == wanted => return Ok(row),
            _ => {}
        }
    }
    read_current(ctx.conn, id, claim)
}

#[derive(diesel::QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    subject: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    idem_key: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    action: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    request_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    body_sha256: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    entry_index: i64,
}

/// PostgreSQL's batch read (SQLite reads per operation: see [`read_current_in`]).
fn prefetch(conn: &mut DbConnection, hints: &[Hint]) -> Result<Prefetched, StoreError> {
    let DbConnection::Postgresql(c) = conn else {
        return Err(StoreError::Io("a batch read runs on PostgreSQL only".into()));
    };
    let hints: Vec<&RequestHint> = hints
        .iter()
        .filter_map(|h| match h {
            Hint::Transition(t) => Some(t),
            _ => None,
        })
        .collect();
    let ids: Vec<&str> = hints.iter().map(|h| h.request.as_str()).collect();
    let rows: Vec<(super::get::ViewRow, RuleRow)> = requests::table
        .filter(requests::id.eq_any(&ids))
        .select((super::get::VIEW_COLUMNS, RULE_COLUMNS))
        .load(c)?;
    let mut rows: std::collections::HashMap<String, (super::get::ViewRow, RuleRow)> =
        rows.into_iter().map(|r| (r.0 .0.clone(), r)).collect();
    let (subjects, keys): (Vec<&str>, Vec<&str>) = hints
        .iter()
        .filter_map(|h| h.claim.as_ref().map(|(s, k)| (s.as_str(), k.as_str())))
        .unzip();
    let mut claims: std::collections::HashMap<(String, String), StoredClaim> = std::collections::HashMap::new();
    if !keys.is_empty() {
        // Each (subject, key) pair looked up in the primary index. Not `subject = ANY(…) AND
        // idem_key = ANY(…)`: one reviewer's keys all share the subject, and PostgreSQL read
        // every key of the subject for it (4.4 ms a batch at 250,000 keys, a third of the
        // writer's time).
        use diesel::sql_types::{Array, Text};
        let found: Vec<ClaimRow> = diesel::sql_query(
            "SELECT k.subject, k.idem_key, k.action, k.request_id, k.body_sha256, k.entry_index \
             FROM UNNEST($1::text[], $2::text[]) AS w(subject, idem_key) \
             JOIN idempotency_keys k ON k.subject = w.subject AND k.idem_key = w.idem_key",
        )
        .bind::<Array<Text>, _>(&subjects)
        .bind::<Array<Text>, _>(&keys)
        .load(c)?;
        claims = found
            .into_iter()
            .map(|r| {
                (
                    (r.subject, r.idem_key),
                    (r.action, r.request_id, r.body_sha256, r.entry_index),
                )
            })
            .collect();
    }
    Ok(Prefetched(
        hints
            .iter()
            .map(|h| {
                let stored = h.claim.as_ref().and_then(|c| claims.get(c).cloned());
                let row = rows.remove(&h.request).map(|r| (r, stored));
                (h.request.clone(), (h.claim.clone(), row))
            })
            .collect(),
    ))
}

/// A transition's `UPDATE` of its request, one fixed statement for any change: `None` leaves a
/// column as it is (`COALESCE`; no transition sets one back to NULL). A query type of its own
/// because diesel never caches its `UPDATE`s (their `SET` lists vary), so each was prepared
/// again on every call, SQL text built, parsed and planned, under the head lock.
struct RequestUpdate<'a> {
    id: &'a str,
    changes: &'a RequestChanges<'a>,
}

impl diesel::query_builder::QueryId for RequestUpdate<'_> {
    type QueryId = RequestUpdate<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for RequestUpdate<'_>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        use diesel::sql_types::{Nullable, Text};
        let changes = self.changes;
        out.push_sql("UPDATE requests SET status = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&changes.status)?;
        out.push_sql(", status), approved_categories = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&changes.approved_categories)?;
        out.push_sql(", approved_categories), first_approver = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&changes.first_approver)?;
        out.push_sql(", first_approver), notification = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&changes.notification)?;
        out.push_sql(", notification) WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for RequestUpdate<'_> {}

/// PostgreSQL's one statement for a transition's claim and changes: a data-modifying `WITH`
/// inserts the claim, and the [`RequestUpdate`] runs only if it did. Cached like it.
struct ClaimAndUpdate<'a> {
    update: RequestUpdate<'a>,
    claim: &'a Claim<'a>,
}

impl diesel::query_builder::QueryId for ClaimAndUpdate<'_> {
    type QueryId = ClaimAndUpdate<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for ClaimAndUpdate<'_> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        let c = self.claim;
        out.push_sql(
            "WITH claim AS (INSERT INTO idempotency_keys \
             (subject, idem_key, action, request_id, body_sha256, entry_index) VALUES (",
        );
        out.push_bind_param::<Text, _>(c.subject)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.retry.key)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(c.retry.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.update.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.retry.body_sha256)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&c.entry_index)?;
        out.push_sql(") ON CONFLICT DO NOTHING RETURNING 1) ");
        self.update.walk_ast(out.reborrow())?;
        out.push_sql(" AND EXISTS (SELECT 1 FROM claim)");
        Ok(())
    }
}

impl RunQueryDsl<diesel::pg::PgConnection> for ClaimAndUpdate<'_> {}

/// 409 for a key already claimed for another action, request or body.
pub(super) fn key_taken() -> AppError {
    AppError::conflict("this Idempotency-Key was used for another action, request or body")
}

/// Writes a transition's changes and claims its key, if any. On PostgreSQL the claim and the
/// update are one statement (a data-modifying `WITH`), one round trip under the head lock;
/// SQLite, in process, runs them as two. A transition that changes no column writes only its
/// claim. The claim was read as absent under the same head lock, so it cannot conflict; if it
/// ever did, the transition is refused (409) and writes nothing.
pub(super) fn write_change(
    conn: &mut DbConnection,
    id: &str,
    changes: &RequestChanges<'_>,
    claim: Option<&Claim<'_>>,
) -> Result<(), AppError> {
    match (conn, claim) {
        (DbConnection::Postgresql(pg), Some(c)) if !changes.is_empty() => {
            let update = RequestUpdate { id, changes };
            let updated = ClaimAndUpdate { update, claim: c }
                .execute(pg)
                .map_err(StoreError::from)?;
            if updated == 0 {
                return Err(key_taken());
            }
        }
        (conn, claim) => {
            if let Some(c) = claim {
                claim_key(conn, id, c)?;
            }
            if !changes.is_empty() {
                let update = RequestUpdate { id, changes };
                match conn {
                    DbConnection::Postgresql(pg) => update.execute(pg),
                    DbConnection::Sqlite(lite) => update.execute(lite),
                }
                .map_err(StoreError::from)?;
            }
        }
    }
    Ok(())
}

/// Inserts `c`, the claim of a key for the entry of a transition of request `id`; 409 if the
/// key is already claimed.
fn claim_key(conn: &mut DbConnection, id: &str, c: &Claim<'_>) -> Result<(), AppError> {
    use crate::store::schema::idempotency_keys as k;
    let row = (
        k::subject.eq(c.subject),
        k::idem_key.eq(&c.retry.key),
        k::action.eq(c.retry.action),
        k::request_id.eq(id),
        k::body_sha256.eq(&c.retry.body_sha256),
        k::entry_index.eq(c.entry_index),
    );
    let insert = diesel::insert_into(k::table).values(row).on_conflict_do_nothing();
    let claimed = match conn {
        DbConnection::Postgresql(pg) => insert.execute(pg),
        DbConnection::Sqlite(lite) => insert.execute(lite),
    }
    .map_err(StoreError::from)?;
    if claimed == 0 {
        return Err(key_taken());
    }
    Ok(())
}

/// A transition's write: deferred to the batch's one statement where the batch allows it
/// ([`crate::store::BatchReads::deferred`]: PostgreSQL, a batch run without savepoints), else
/// [`write_change`] now. Its claim was read as absent under the head lock, and no deferred
/// write claims the same key (the read flushes them first), so the deferred claim cannot
/// conflict; if it ever did, the batch's write fails and the batch is run again one operation
/// at a time, where this one gets its 409.
pub(super) fn write_change_in(
    ctx: &mut AppendCtx<'_>,
    id: &str,
    changes: &RequestChanges<'_>,
    claim: Option<&Claim<'_>>,
) -> Result<(), AppError> {
    if let Some(d) = ctx.reads.deferred::<Deferred>(write_deferred) {
        d.push(id, changes, claim);
        return Ok(());
    }
    write_change(ctx.conn, id, changes, claim)
}

/// The transitions' writes a batch has deferred: each request's changes and each claim.
#[derive(Default)]
struct Deferred {
    ids: Vec<String>,
    status: Vec<Option<String>>,
    approved_categories: Vec<Option<String>>,
    first_approver: Vec<Option<String>>,
    notification: Vec<Option<String>>,
    claims: Vec<(String, String, String, String, String, i64)>,
}

impl Deferred {
    fn touches(&self, id: &str, claim: Option<&Claim<'_>>) -> bool {
        self.ids.iter().any(|i| i == id)
            || self.claims.iter().any(|(_, _, _, request, _, _)| request == id)
            || claim.is_some_and(|c| {
                self.claims
                    .iter()
                    .any(|(subject, key, ..)| subject == c.subject && *key == c.retry.key)
            })
    }

    fn push(&mut self, id: &str, changes: &RequestChanges<'_>, claim: Option<&Claim<'_>>) {
        if !changes.is_empty() {
            self.ids.push(id.to_string());
            self.status.push(changes.status.map(str::to_string));
            self.approved_categories.push(changes.approved_categories.clone());
            self.first_approver.push(changes.first_approver.map(str::to_string));
            self.notification.push(changes.notification.map(str::to_string));
        }
        if let Some(c) = claim {
            self.claims.push((
                c.subject.to_string(),
                c.retry.key.clone(),
                c.retry.action.to_string(),
                id.to_string(),
                c.retry.body_sha256.clone(),
                c.entry_index,
            ));
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    claimed: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    updated: i64,
}

/// Writes a batch's deferred transitions in one statement (PostgreSQL): the claims inserted
/// and the requests updated (`COALESCE` as in [`RequestUpdate`]) by one data-modifying `WITH`.
/// Every claim must be inserted and every request updated, or nothing stands (the batch is
/// run again, one operation at a time).
fn write_deferred(writes: &mut dyn std::any::Any, conn: &mut DbConnection) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    let Some(d) = writes.downcast_mut::<Deferred>() else {
        return Err(StoreError::Io("deferred writes of another kind".into()));
    };
    let d = std::mem::take(d);
    if d.ids.is_empty() && d.claims.is_empty() {
        return Ok(());
    }
    let DbConnection::Postgresql(c) = conn else {
        return Err(StoreError::Io(
            "transitions defer their writes on PostgreSQL only".into(),
        ));
    };
    let (mut subjects, mut keys, mut actions, mut requests, mut digests, mut indexes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (s, k, a, r, b, i) in &d.claims {
        subjects.push(s.as_str());
        keys.push(k.as_str());
        actions.push(a.as_str());
        requests.push(r.as_str());
        digests.push(b.as_str());
        indexes.push(*i);
    }
    let written: Written = diesel::sql_query(
        "WITH c AS (INSERT INTO idempotency_keys \
         (subject, idem_key, action, request_id, body_sha256, entry_index) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) \
         ON CONFLICT DO NOTHING RETURNING 1), \
         v AS (SELECT * FROM UNNEST($7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) \
         AS v(id, status, approved_categories, first_approver, notification)), \
         u AS (UPDATE requests r SET status = COALESCE(v.status, r.status), \
         approved_categories = COALESCE(v.approved_categories, r.approved_categories), \
         first_approver = COALESCE(v.first_approver, r.first_approver), \
         notification = COALESCE(v.notification, r.notification) \
         FROM v WHERE r.id = v.id RETURNING 1) \
         SELECT (SELECT count(*) FROM c) AS claimed, (SELECT count(*) FROM u) AS updated",
    )
    .bind::<Array<Text>, _>(&subjects)
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<Text>, _>(&actions)
    .bind::<Array<Text>, _>(&requests)
    .bind::<Array<Text>, _>(&digests)
    .bind::<Array<BigInt>, _>(&indexes)
    .bind::<Array<Text>, _>(&d.ids)
    .bind::<Array<Nullable<Text>>, _>(&d.status)
    .bind::<Array<Nullable<Text>>, _>(&d.approved_categories)
    .bind::<Array<Nullable<Text>>, _>(&d.first_approver)
    .bind::<Array<Nullable<Text>>, _>(&d.notification)
    .get_result(c)?;
    if written.claimed != d.claims.len() as i64 || written.updated != d.ids.len() as i64 {
        return Err(StoreError::Io(format!(
            "deferred transitions: {} of {} claims and {} of {} requests written",
            written.claimed,
            d.claims.len(),
            written.updated,
            d.ids.len()
        )));
    }
    Ok(())
}
