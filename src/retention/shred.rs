//! Crypto-shredding (DESIGN §4.4): for a request past its retention, the vault's raw values and
//! nonces and the salts and restricted details of its sealed entries are destroyed, in the same
//! transaction as the `retention.shredded` entry that says so. Entries, leaf hashes and proofs
//! stay; a sealed commitment without its salt can no longer be opened, which is the point.
//!
//! Crash safety: this runs inside an append operation (the batch's transaction, and its own
//! savepoint when the batch runs with them), so a kill at any moment leaves either the
//! deletions and their entry, or neither. Requests
//! already shredded are skipped, so a later pass resumes where an interrupted one stopped.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::due::{due, Due, Facts, FINAL_STATES};
use crate::ledger::entry::format_time;
use crate::policy::document::LedgerRetention;
use crate::store::schema::{entries, idempotency_keys, idempotent_answers, requests, sealed_details, vault};
use crate::store::{AppendCtx, DbConnection, NewEntry, StoreError};

/// Requests shredded in one operation at most, so that one transaction stays short.
pub const BATCH: usize = 500;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The policy in force and its `[ledger_retention]`, if it has one.
pub fn policy_retention(conn: &mut DbConnection) -> Result<Option<(String, LedgerRetention)>, StoreError> {
    let Some((_, sha, policy)) = crate::policy::in_force(conn)? else {
        return Ok(None);
    };
    Ok(policy.ledger_retention.clone().map(|r| (sha, r)))
}

/// Entries that close a request, or end what keeps it open: its retention runs from the
/// newest of them. Later entries of other kinds (a vault opened again, a hold lifted) do not
/// restart it.
pub const CLOSING_KINDS: &[&str] = &[
    "request.rejected",
    "request.withdrawn",
    "request.expired",
    "request.disclosed",
    "request.no_data",
    "request.emergency_validated",
    "request.emergency_validation_failed",
    "notification.sent",
    "notification.waived",
];

/// One request that retention looks at: its id, the policy it was validated under, and its
/// facts.
pub struct Candidate {
    pub id: String,
    /// When the request was received (RFC 3339, as stored).
    pub received_at: String,
    pub policy_sha256: String,
    pub facts: Facts,
}

#[derive(diesel::QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    received_at: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    notification: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    emergency: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    legal_hold: bool,
    #[diesel(sql_type = diesel::sql_types::Text)]
    policy_sha256: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last_change: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    delayed: Option<String>,
}

/// The statement behind [`candidates`]: every fact in one read, the entries' times through
/// `entries_by_subject`. One statement, not three per request: the sweeper asks this every
/// minute of every closed request, and a read per request grew with the ledger (at 85,000
/// closed requests, 250,000 reads a minute on the connections that serve the API).
/// `marks` are the bind markers of the `only` ids (`$1 …` on PostgreSQL, `?` on SQLite);
/// `page`, the markers of a [`Page`]'s bounds on `received_at` and of the `(received_at, id)`
/// it starts after, and the page's shape.
fn candidates_sql(marks: &[String], page: Option<([&str; 4], &Page)>) -> String {
    let quoted = |kinds: &[&str]| kinds.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    let mut sql = format!(
        "SELECT r.id, r.received_at, r.status, r.notification, r.emergency, r.legal_hold, r.policy_sha256, \
         COALESCE((SELECT max(e.time) FROM entries e WHERE e.subject = r.id AND e.kind IN ({closing})), \
                  (SELECT max(e.time) FROM entries e WHERE e.subject = r.id)) AS last_change, \
         CASE WHEN r.notification = 'delayed' THEN (SELECT e.canonical FROM entries e \
              WHERE e.subject = r.id AND e.kind = 'notification.delayed' ORDER BY e.idx DESC LIMIT 1) END AS delayed \
         FROM requests r WHERE r.shredded_entry IS NULL AND (r.status IN ({final_states}) OR r.legal_hold = TRUE)",
        closing = quoted(CLOSING_KINDS),
        final_states = quoted(FINAL_STATES),
    );
    if !marks.is_empty() {
        sql.push_str(&format!(" AND r.id IN ({})", marks.join(", ")));
    }
    match page {
        // In the index's order with a limit, so that the planner walks the index whatever
        // the table's statistics say: with none (a table grown since its last `ANALYZE`)
        // PostgreSQL expects a third of the rows to match the cutoff and, without the order
        // and the limit, scanned the whole table (370 ms a sweep at 91,000 requests).
        Some(([cutoff, lower, received, id], p)) => sql.push_str(&format!(
            " AND r.received_at <= {cutoff} AND r.received_at > {lower} \
             AND (r.received_at, r.id) > ({received}, {id}){delayed} \
             ORDER BY r.received_at, r.id LIMIT {size}",
            // Spelled out, so that PostgreSQL matches `requests_delayed_unshredded_by_receipt`.
            delayed = if p.delayed_only {
                " AND r.notification = 'delayed'"
            } else {
                ""
            },
            size = p.size,
        )),
        None => sql.push_str(" ORDER BY r.id"),
    }
    sql
}

/// Candidates read per statement by the sweep.
pub const PAGE: usize = 1000;

/// One statement's worth of the sweep's read, in the order of a partial index on
/// `(received_at, id)` of the requests not shredded, with a limit, so that the planner walks
/// the index whatever the table's statistics say.
///
/// Only a request received long enough ago can be due: retention runs from its last change
/// (`after_closure`) or, while its notification is delayed, from the end of the delay
/// (`after_gag`), and both come after its receipt (a delay must end in the future). So the
/// sweep reads the requests received by `now - after_closure` (`requests_unshredded_by_receipt`)
/// and, when `after_gag` is the shorter period, the delayed ones received after that and by
/// `now - after_gag` (`requests_delayed_unshredded_by_receipt`): what is old and not yet
/// forgotten, not every closed request of the ledger.
pub struct Page {
    /// Received at or before this instant (RFC 3339, as stored).
    pub cutoff: String,
    /// Received strictly after this instant; empty for no bound.
    pub lower: String,
    /// Only requests whose notification is delayed.
    pub delayed_only: bool,
    /// Strictly after this `(received_at, id)`; empty strings for the first page.
    pub after: (String, String),
    /// Rows at most.
    pub size: usize,
}

impl Page {
    /// The first page of each range the sweep reads at `now` (see [`Page`]).
    pub fn first_due_at(now: DateTime<Utc>, retention: &LedgerRetention, size: usize) -> Vec<Page> {
        let closure = format_time(now - retention.after_closure());
        let gag = format_time(now - retention.after_gag());
        let page = |cutoff: String, lower: String, delayed_only: bool| Page {
            cutoff,
            lower,
            delayed_only,
            after: (String::new(), String::new()),
            size,
        };
        let mut pages = vec![page(closure.clone(), String::new(), false)];
        if gag > closure {
            pages.push(page(gag, closure, true));
        }
        pages
    }
}

/// Retention's view of the requests not yet shredded that are in a final state or held (of
/// `only`, when given, at most [`BATCH`] ids; or one [`Page`] of them), in one statement.
pub fn candidates(
    conn: &mut DbConnection,
    only: Option<&[String]>,
    page: Option<&Page>,
) -> Result<Vec<Candidate>, StoreError> {
    if only.is_some_and(|ids| ids.is_empty()) {
        return Ok(Vec::new());
    }
    let only = only.unwrap_or_default();
    // The ids, then the page's bounds: the order of the markers in `candidates_sql`.
    let mut values: Vec<&str> = only.iter().map(String::as_str).collect();
    if let Some(p) = page {
        values.extend([
            p.cutoff.as_str(),
            p.lower.as_str(),
            p.after.0.as_str(),
            p.after.1.as_str(),
        ]);
    }
    // One body for both backends' boxed queries, whose types differ.
    macro_rules! load_with_values {
        ($c:expr, $sql:expr) => {{
            let mut q = diesel::sql_query($sql).into_boxed();
            for v in &values {
                q = q.bind::<diesel::sql_types::Text, _>(*v);
            }
            q.load($c)?
        }};
    }
    let rows: Vec<CandidateRow> = match conn {
        DbConnection::Postgresql(c) => {
            let marks: Vec<String> = (1..=only.len()).map(|i| format!("${i}")).collect();
            let n = only.len();
            let page_marks = [n + 1, n + 2, n + 3, n + 4].map(|i| format!("${i}"));
            let sql = candidates_sql(&marks, page.map(|p| (page_marks.each_ref().map(String::as_str), p)));
            load_with_values!(c, sql)
        }
        DbConnection::Sqlite(c) => {
            let sql = candidates_sql(&vec!["?".to_string(); only.len()], page.map(|p| (["?"; 4], p)));
            load_with_values!(c, sql)
        }
    };
    rows.into_iter()
        .map(|r| {
            let last_change = r
                .last_change
                .ok_or_else(|| corrupt(format!("request {} has no entry", r.id)))?;
            let delayed_until = match &r.delayed {
                Some(canonical) => delayed_until(canonical)?,
                None => None,
            };
            Ok(Candidate {
                facts: Facts {
                    status: r.status,
                    notification: r.notification,
                    emergency: r.emergency,
                    legal_hold: r.legal_hold,
                    shredded: false,
                    last_change: parse_time(&last_change)?,
                    delayed_until,
                },
                id: r.id,
                received_at: r.received_at,
                policy_sha256: r.policy_sha256,
            })
        })
        .collect()
}

/// The requests due now, at most [`BATCH`]: read outside the head lock, so that the sweep's
/// operation re-checks only these and holds the lock for what it shreds, not for every
/// closed request.
pub fn due_now(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
    due_in_pages(conn, now, BATCH, PAGE)
}

/// Every request past its retention at `now` and not yet shredded.
pub fn all_due(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
    due_in_pages(conn, now, usize::MAX, PAGE)
}

/// The requests past their retention at `now` and not yet shredded, at most `limit`, read
/// `page` candidates per statement through [`Page`]s (oldest receipt first, within each of
/// its ranges), so that the read costs what is old, not what the ledger holds.
pub fn due_in_pages(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: usize,
    page: usize,
) -> Result<Vec<String>, StoreError> {
    let Some((_, retention)) = policy_retention(conn)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for mut p in Page::first_due_at(now, &retention, page.max(1)) {
        loop {
            if out.len() >= limit {
                return Ok(out);
            }
            let read = candidates(conn, None, Some(&p))?;
            let full = read.len() == p.size;
            if let Some(last) = read.last() {
                p.after = (last.received_at.clone(), last.id.clone());
            }
            out.extend(
                read.into_iter()
                    .filter(|c| matches!(due(&c.facts, &retention), Due::At(at) if at <= now))
                    .map(|c| c.id)
                    .take(limit - out.len()),
            );
            if !full {
                break;
            }
        }
    }
    Ok(out)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    Ok(DateTime::parse_from_rfc3339(s).map_err(corrupt)?.with_timezone(&Utc))
}

/// `until` of a `notification.delayed` entry, from its canonical text.
fn delayed_until(canonical: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let entry: serde_json::Value = serde_json::from_str(canonical).map_err(corrupt)?;
    entry["public"]["until"].as_str().map(parse_time).transpose()
}

/// Inside an append operation: shreds those of `ids` ([`due_now`]) that are still past their
/// retention under the policy in force (re-checked under the head lock: a hold may have been
/// placed since), each with its `retention.shredded` entry; `first_index` is the index the
/// first of them will get. Nothing when the policy states no retention.
pub fn shred_due(ctx: &mut AppendCtx<'_>, first_index: u64, ids: &[String]) -> Result<Vec<NewEntry>, StoreError> {
    let Some((policy_sha256, retention)) = policy_retention(ctx.conn)? else {
        return Ok(Vec::new());
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let now = ctx.time;
    let mut out = Vec::new();
    for Candidate { id, facts, .. } in candidates(ctx.conn, Some(ids), None)? {
        if out.len() == BATCH {
            break;
        }
        let Due::At(at) = due(&facts, &retention) else { continue };
        if at > now {
            continue;
        }
        let index = first_index + out.len() as u64;
        out.push(shred(ctx.conn, &id, index, &policy_sha256, &retention, at)?);
    }
    Ok(out)
}

/// Destroys one request's forgettable data and returns its entry, which will have `index`.
fn shred(
    conn: &mut DbConnection,
    id: &str,
    index: u64,
    policy_sha256: &str,
    retention: &LedgerRetention,
    due_at: DateTime<Utc>,
) -> Result<NewEntry, StoreError> {
    let values: i64 = vault::table
        .filter(vault::request_id.eq(id).and(vault::value.is_not_null()))
        .count()
        .get_result(conn)?;
    let nonces: i64 = vault::table
        .filter(vault::request_id.eq(id).and(vault::nonce.is_not_null()))
        .count()
        .get_result(conn)?;
    diesel::update(vault::table.filter(vault::request_id.eq(id)))
        .set((vault::value.eq(None::<String>), vault::nonce.eq(None::<Vec<u8>>)))
        .execute(conn)?;
    let sealed_entries = entries::table.filter(entries::subject.eq(id)).select(entries::idx);
    let salts: i64 = sealed_details::table
        .filter(sealed_details::entry_idx.eq_any(sealed_entries))
        .filter(sealed_details::salt.is_not_null())
        .count()
        .get_result(conn)?;
    diesel::update(sealed_details::table.filter(sealed_details::entry_idx.eq_any(sealed_entries)))
        .set((
            sealed_details::salt.eq(None::<Vec<u8>>),
            sealed_details::restricted.eq("null"),
        ))
        .execute(conn)?;
    // Idempotency keys are the client's own text, which may quote an identifier; a kept
    // answer to opening the vault holds the raw values themselves.
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::request_id.eq(id))).execute(conn)?;
    diesel::delete(idempotent_answers::table.filter(idempotent_answers::fingerprint.like(format!("% {id} %"))))
        .execute(conn)?;
    diesel::update(requests::table.filter(requests::id.eq(id)))
        .set((
            requests::shredded_entry.eq(Some(index as i64)),
            requests::idempotency_key.eq(None::<String>),
        ))
        .execute(conn)?;
    let public = json!({
        "destroyed": { "identifier_values": values, "nonces": nonces, "sealed_salts": salts },
        "policy_sha256": policy_sha256,
        "after_closure": retention.after_closure,
        "after_gag": retention.after_gag,
        "due": format_time(due_at),
    });
    Ok(NewEntry {
        kind: "retention.shredded".into(),
        subject: Some(id.to_string()),
        public: public.as_object().cloned().unwrap_or_default(),
        restricted: None,
    })
}

#[derive(diesel::QueryableByName)]
struct WalCheckpoint {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
}

/// On SQLite: copies the WAL into the database and truncates it, so that shredded values do not
/// linger in the WAL's old frames. Waits at most 100 ms for readers (never the writer's 10 s),
/// and up to 200 ms for another checkpoint (the sequencer's checkpointer thread, whose
/// checkpoint lock SQLite reports at once as "locked", without the busy handler): `false` when
/// either still held it, to be retried on the next pass. `true` on PostgreSQL, whose WAL is the
/// server's (see the README).
pub fn truncate_wal(conn: &mut DbConnection) -> Result<bool, StoreError> {
    let DbConnection::Sqlite(c) = conn else { return Ok(true) };
    use diesel::connection::SimpleConnection;
    c.batch_execute("PRAGMA busy_timeout = 100;")?;
    let started = std::time::Instant::now();
    let result = loop {
        let r = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result::<WalCheckpoint>(c);
        match &r {
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("locked") && started.elapsed() < std::time::Duration::from_millis(200) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => break r,
        }
    };
    c.batch_execute("PRAGMA busy_timeout = 10000;")?;
    match result {
        Ok(r) => Ok(r.busy == 0),
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("locked") => Ok(false),
        Err(e) => Err(e.into()),
    }
}
