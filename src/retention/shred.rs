//! Crypto-shredding (DESIGN §4.4): for a request past its retention, the vault's raw values and
//! nonces and the salts and restricted details of its sealed entries are destroyed, in the same
//! transaction as the `retention.shredded` entry that says so. Entries, leaf hashes and proofs
//! stay; a sealed commitment without its salt can no longer be opened, which is the point.
//!
//! Crash safety: this runs inside an append operation (its savepoint, the batch's transaction),
//! so a kill at any moment leaves either the deletions and their entry, or neither. Requests
//! already shredded are skipped, so a later pass resumes where an interrupted one stopped.

use chrono::{DateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;
use serde_json::json;

use super::due::{due, Due, Facts, FINAL_STATES};
use crate::ledger::entry::format_time;
use crate::policy::document::LedgerRetention;
use crate::policy::Policy;
use crate::store::schema::{entries, requests, sealed_details, vault};
use crate::store::{queries, AppendCtx, DbConnection, NewEntry, StoreError};

/// Requests shredded in one operation at most, so that one transaction stays short.
pub const BATCH: usize = 500;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The policy in force and its `[ledger_retention]`, if it has one.
pub fn policy_retention(conn: &mut DbConnection) -> Result<Option<(String, LedgerRetention)>, StoreError> {
    let Some((_, sha, document)) = queries::current_policy(conn)? else {
        return Ok(None);
    };
    let policy = Policy::parse(&document).map_err(|e| corrupt(format!("policy in force: {e}")))?;
    Ok(policy.ledger_retention.map(|r| (sha, r)))
}

/// Retention's view of every request not yet shredded that is in a final state or held, with
/// its id.
pub fn candidates(conn: &mut DbConnection) -> Result<Vec<(String, Facts)>, StoreError> {
    type Row = (String, String, String, bool, bool);
    let rows: Vec<Row> = requests::table
        .filter(requests::shredded_entry.is_null())
        .filter(requests::status.eq_any(FINAL_STATES).or(requests::legal_hold.eq(true)))
        .select((
            requests::id,
            requests::status,
            requests::notification,
            requests::emergency,
            requests::legal_hold,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, status, notification, emergency, legal_hold)| {
            let last: Option<String> = entries::table
                .filter(entries::subject.eq(&id))
                .select(max(entries::time))
                .first(conn)?;
            let last_change = parse_time(&last.ok_or_else(|| corrupt(format!("request {id} has no entry")))?)?;
            let delayed_until = if notification == "delayed" {
                delayed_until(conn, &id)?
            } else {
                None
            };
            let facts = Facts {
                status,
                notification,
                emergency,
                legal_hold,
                shredded: false,
                last_change,
                delayed_until,
            };
            Ok((id, facts))
        })
        .collect()
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    Ok(DateTime::parse_from_rfc3339(s).map_err(corrupt)?.with_timezone(&Utc))
}

/// `until` of the request's newest `notification.delayed` entry.
fn delayed_until(conn: &mut DbConnection, id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let canonical: Option<String> = entries::table
        .filter(entries::subject.eq(id))
        .filter(entries::kind.eq("notification.delayed"))
        .order(entries::idx.desc())
        .select(entries::canonical)
        .first(conn)
        .optional()?;
    let Some(canonical) = canonical else { return Ok(None) };
    let entry: serde_json::Value = serde_json::from_str(&canonical).map_err(corrupt)?;
    entry["public"]["until"].as_str().map(parse_time).transpose()
}

/// Inside an append operation: shreds up to [`BATCH`] requests past their retention under the
/// policy in force, each with its `retention.shredded` entry; `first_index` is the index the
/// first of them will get. Nothing when the policy states no retention.
pub fn shred_due(ctx: &mut AppendCtx<'_>, first_index: u64) -> Result<Vec<NewEntry>, StoreError> {
    let Some((policy_sha256, retention)) = policy_retention(ctx.conn)? else {
        return Ok(Vec::new());
    };
    let now = ctx.time;
    let mut out = Vec::new();
    for (id, facts) in candidates(ctx.conn)? {
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
    diesel::update(requests::table.filter(requests::id.eq(id)))
        .set(requests::shredded_entry.eq(Some(index as i64)))
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
