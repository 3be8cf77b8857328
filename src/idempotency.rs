//! `Idempotency-Key` on the mutating calls that are neither a submission nor a lifecycle
//! transition (those two keep theirs, `requests::submit` and `requests::transition`): the
//! administrative calls, policy adoption, amendments, opening the vault, legal hold.
//!
//! A key names, per token subject, the first call made with it; its fingerprint is the action,
//! the target and the SHA-256 of the body. The key is claimed, and the call's answer kept
//! (without its receipt), inside the call's own append operation, under the head lock: of
//! concurrent calls with one key exactly one applies, and a crash can never leave a key that
//! was applied but has no answer (the crash harness found that window in an earlier design).
//! Every retry with the same fingerprint gets that answer again, with a receipt of the same
//! entries against the checkpoint served now. The same key with another fingerprint is 409.
//! Keys and answers are kept for 24 hours, then forgotten (an answer to opening the vault
//! quotes raw identifiers), and at once when retention shreds their request.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;

use crate::error::AppError;
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::schema::idempotent_answers;
use crate::store::{AppendCtx, StoreError};

/// How long a key and its answer are kept: retries come within minutes, and an answer may
/// quote the vault, which must not be copied for longer than it takes to retry.
pub const KEPT: Duration = Duration::from_secs(24 * 3600);

/// Forgets the keys and answers older than [`KEPT`]; the sweeper calls it. Returns how many.
pub fn expire(conn: &mut crate::store::DbConnection, now: chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError> {
    let cutoff = now - chrono::Duration::from_std(KEPT).expect("24 hours");
    Ok(diesel::delete(
        idempotent_answers::table.filter(idempotent_answers::created_at.lt(crate::ledger::entry::format_time(cutoff))),
    )
    .execute(conn)?)
}

/// One call's key and fingerprint.
#[derive(Debug, Clone)]
pub struct Call {
    subject: String,
    key: String,
    fingerprint: String,
}

impl Call {
    /// The call a request makes, if it carries `Idempotency-Key` (1 to 200 visible ASCII
    /// characters, else 400): `action` names the endpoint, `target` the resource in its path.
    pub fn from_request(
        http: &HttpRequest,
        subject: &str,
        action: &str,
        target: &str,
        body_sha256: &str,
    ) -> Result<Option<Call>, AppError> {
        Ok(crate::requests::idempotency_key(http)?.map(|key| Call {
            subject: subject.to_string(),
            key,
            fingerprint: format!("{action} {target} {body_sha256}"),
        }))
    }
}

type Stored = (String, i64, i32, Option<i32>, Option<String>);

fn stored(conn: &mut crate::store::DbConnection, call: &Call) -> Result<Option<Stored>, StoreError> {
    Ok(idempotent_answers::table
        .filter(idempotent_answers::subject.eq(&call.subject))
        .filter(idempotent_answers::idem_key.eq(&call.key))
        .select((
            idempotent_answers::fingerprint,
            idempotent_answers::entry_index,
            idempotent_answers::entries,
            idempotent_answers::status,
            idempotent_answers::answer,
        ))
        .first(conn)
        .optional()?)
}

/// Our answers are JSON, problems (4xx with a recorded entry, e.g. a rejected amendment)
/// problem+json.
fn content_type(status: StatusCode) -> &'static str {
    if status.is_client_error() {
        "application/problem+json"
    } else {
        "application/json"
    }
}

/// For a handler whose operation found the key already claimed: the first call's answer.
pub async fn replayed(state: &AppState, call: &Option<Call>) -> Result<HttpResponse, AppError> {
    replay(state, call)
        .await?
        .ok_or_else(|| AppError::internal("an Idempotency-Key was claimed but has no record"))
}

/// Before the call: the first answer again when the key was used with the same fingerprint —
/// its body as kept, with a receipt of its entries against the checkpoint served now; 409 when
/// with another fingerprint; `None` when the key is new (or there is none).
pub async fn replay(state: &AppState, call: &Option<Call>) -> Result<Option<HttpResponse>, AppError> {
    let Some(call) = call.clone() else { return Ok(None) };
    let c = call.clone();
    let Some((fingerprint, first, count, status, answer)) = state.read(move |conn| Ok(stored(conn, &c)?)).await? else {
        return Ok(None);
    };
    if fingerprint != call.fingerprint {
        return Err(AppError::conflict(
            "this Idempotency-Key was used for another call (action, resource or body); use a new key",
        ));
    }
    // The key and its answer commit together with the call's entries, so a claimed key
    // without an answer is never visible; say so rather than guess if it ever is.
    let (Some(status), Some(answer)) = (status, answer) else {
        return Err(AppError::internal("an Idempotency-Key is claimed without its answer"));
    };
    let status = StatusCode::from_u16(status as u16).map_err(AppError::internal)?;
    let mut body: serde_json::Value = serde_json::from_str(&answer).map_err(AppError::internal)?;
    let receipt = EntryReceipt::for_stored(state, first as u64, count as u64).await?;
    body["receipt"] = serde_json::to_value(receipt).map_err(AppError::internal)?;
    Ok(Some(
        HttpResponse::build(status)
            .content_type(content_type(status))
            .insert_header(("Idempotent-Replayed", "true"))
            .json(body),
    ))
}

/// Inside the call's append operation: claims the key for the entries from `ctx.next_index`.
/// `false` when it is already claimed (a concurrent call with the same key got there first):
/// the operation must then append nothing and the handler answer with [`replayed`].
pub fn claim(ctx: &mut AppendCtx<'_>, call: &Option<Call>) -> Result<bool, StoreError> {
    let Some(call) = call else { return Ok(true) };
    if stored(ctx.conn, call)?.is_some() {
        return Ok(false);
    }
    diesel::insert_into(idempotent_answers::table)
        .values((
            idempotent_answers::subject.eq(&call.subject),
            idempotent_answers::idem_key.eq(&call.key),
            idempotent_answers::fingerprint.eq(&call.fingerprint),
            idempotent_answers::entry_index.eq(ctx.next_index as i64),
            idempotent_answers::entries.eq(0),
            idempotent_answers::created_at.eq(crate::ledger::entry::format_time(ctx.time)),
        ))
        .execute(ctx.conn)?;
    Ok(true)
}

/// Inside the same operation, once its answer is known: keeps `status` and `body` (the answer
/// without its receipt) and how many `entries` the operation appends, in the transaction that
/// commits them — so that a crash between the commit and the answer cannot leave a key that
/// was applied but cannot be replayed.
pub fn keep(
    ctx: &mut AppendCtx<'_>,
    call: &Option<Call>,
    status: StatusCode,
    body: &impl Serialize,
    entries: usize,
) -> Result<(), StoreError> {
    let Some(call) = call else { return Ok(()) };
    let mut json = serde_json::to_value(body).map_err(|e| StoreError::Io(e.to_string()))?;
    if let Some(map) = json.as_object_mut() {
        map.remove("receipt");
    }
    diesel::update(
        idempotent_answers::table
            .filter(idempotent_answers::subject.eq(&call.subject))
            .filter(idempotent_answers::idem_key.eq(&call.key)),
    )
    .set((
        idempotent_answers::status.eq(Some(status.as_u16() as i32)),
        idempotent_answers::answer.eq(Some(json.to_string())),
        idempotent_answers::entries.eq(entries as i32),
    ))
    .execute(ctx.conn)?;
    Ok(())
}

/// After the commit: the answer, `status` with `body`.
pub fn answer(status: StatusCode, body: &impl Serialize) -> Result<HttpResponse, AppError> {
    let json = serde_json::to_string(body).map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type(content_type(status))
        .body(json))
}
