use actix_web::{post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::record::ImportRecord;
use crate::auth::{Caller, Role};
use crate::body::{self, MediaType};
use crate::error::{AppError, FieldError, Problem};
use crate::ledger::entry::format_time;
use crate::state::AppState;
use crate::store::{schema::imports, DbConnection, StoreError};

/// Import rows per INSERT statement on PostgreSQL.
const CHUNK: usize = 1000;
/// At most this many records per call.
pub const MAX_RECORDS: usize = 100_000;
/// At most this many bytes per call (64 MiB).
pub const MAX_BODY: usize = 64 << 20;

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportSummary {
    /// Records in the call.
    pub records: u64,
    /// Records appended now.
    pub imported: u64,
    /// Records already imported with the same content: nothing appended for them.
    pub replayed: u64,
    /// Ledger indexes of the entries appended now, in record order.
    pub indexes: Vec<u64>,
}

/// A parsed record with the digest of its canonical JSON, which decides replay or conflict.
struct Parsed {
    /// Position in the call.
    n: usize,
    record: ImportRecord,
    sha256: String,
}

/// A JSON array of records, or one record per line (NDJSON), each parsed strictly
/// ([`crate::body`]): fields are named `records[n].field`, `n` counting records (or lines).
fn parse(body: &[u8], ndjson: bool) -> Result<Vec<Parsed>, AppError> {
    let values: Vec<(usize, Value)> = if ndjson {
        let mut out = Vec::new();
        for (n, line) in body.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // Counted as the lines are read: the record past the cap stops the parse.
            if out.len() == MAX_RECORDS {
                return Err(AppError::bad_request(format!("send 1 to {MAX_RECORDS} records")));
            }
            out.push((n, body::value(line, &format!("records[{n}]"))?));
        }
        out
    } else {
        match body::value(body, "records")? {
            Value::Array(a) => a.into_iter().enumerate().collect(),
            _ => return Err(AppError::malformed("records", "the body is a JSON array of records")),
        }
    };
    if values.is_empty() || values.len() > MAX_RECORDS {
        return Err(AppError::bad_request(format!("send 1 to {MAX_RECORDS} records")));
    }
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(values.len());
    for (n, v) in values {
        let canonical = crate::ledger::entry::jcs(&v).map_err(AppError::internal)?;
        match body::typed::<ImportRecord>(v, &format!("records[{n}]")) {
            Ok(record) => {
                errors.extend(record.check(n));
                parsed.push(Parsed {
                    n,
                    record,
                    sha256: hex::encode(Sha256::digest(&canonical)),
                });
            }
            Err(e) => errors.extend(e.problem().errors),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for p in &parsed {
        if !seen.insert(p.record.external_id()) {
            errors.push(FieldError {
                field: format!("records[{}].external_id", p.n),
                code: "duplicate".into(),
                message: "this external_id appears earlier in the same import".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(AppError::unprocessable(
            "records are not valid; nothing was imported",
            errors,
        ));
    }
    Ok(parsed)
}

/// Digests already stored for the given external ids.
fn stored(conn: &mut DbConnection, ids: &[&str]) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = imports::table
            .select((imports::external_id, imports::record_sha256))
            .filter(imports::external_id.eq_any(chunk))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

fn conflict(external_id: &str) -> AppError {
    AppError::conflict(format!(
        "external_id {external_id:?} was imported earlier with different content; nothing was imported"
    ))
}

/// Historical backfill: aggregate declarations (`aggregate.imported`) and per-request records
/// (`request.imported`), as a JSON array or as NDJSON (`Content-Type: application/x-ndjson`).
/// All records are checked before anything is appended. Idempotent by `external_id`: a record
/// imported before with the same content is a replay and appends nothing; with other content
/// the call is refused (409) and appends nothing.
#[utoipa::path(
    post, path = "/v1/imports", tag = "imports",
    request_body(content = Vec<ImportRecord>, description = "JSON array, or one record per line with Content-Type application/x-ndjson"),
    responses(
        (status = 200, body = ImportSummary),
        (status = 400, description = "Not a JSON array or NDJSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An external id was imported with other content", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid records, each named", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/imports")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    caller.require(&[Role::Admin])?;
    let ndjson = body::media_type(&req, &[MediaType::Json, MediaType::NdJson])? == MediaType::NdJson;
    let body = body::read(&req, payload, MAX_BODY).await?;
    let parsed = web::block(move || parse(&body, ndjson)).await??;
    let total = parsed.len() as u64;

    // Refuse a conflict before appending anything; the append re-checks under the head lock.
    let ids: Vec<String> = parsed.iter().map(|p| p.record.external_id().to_string()).collect();
    let known = state
        .read(move |conn| Ok(stored(conn, &ids.iter().map(String::as_str).collect::<Vec<_>>())?))
        .await?;
    let mut fresh = Vec::new();
    for p in parsed {
        match known.get(p.record.external_id()) {
            Some(d) if *d == p.sha256 => {}
            Some(_) => return Err(conflict(p.record.external_id())),
            None => fresh.push(p),
        }
    }

    // One operation for the whole call: a conflict found under the head lock refuses all of
    // it, so an import is all or nothing (an earlier chunk never commits alone).
    // Shared, not copied, with each run of the operation (it may run twice, see `append`).
    let fresh = std::sync::Arc::new(fresh);
    let (indexes, _) = state
        .sequencer
        .append(move |ctx: &mut crate::store::AppendCtx<'_>| -> Result<_, AppError> {
            let ids: Vec<&str> = fresh.iter().map(|p| p.record.external_id()).collect();
            let again = stored(ctx.conn, &ids)?;
            let now = format_time(ctx.time);
            let mut entries = Vec::new();
            let mut indexes = Vec::new();
            let mut rows = Vec::new();
            for p in fresh.iter() {
                match again.get(p.record.external_id()) {
                    Some(d) if *d == p.sha256 => continue, // a concurrent identical import
                    Some(_) => return Err(conflict(p.record.external_id())),
                    None => {}
                }
                let index = ctx.next_index + entries.len() as u64;
                rows.push((
                    imports::external_id.eq(p.record.external_id()),
                    imports::record_sha256.eq(&p.sha256),
                    imports::entry_index.eq(index as i64),
                    imports::imported_at.eq(&now),
                ));
                entries.push(p.record.entry());
                indexes.push(index);
            }
            // One statement per chunk on PostgreSQL, where a round trip per record is what
            // bounds the import; SQLite is in process (and diesel's multi-backend connection
            // has no batch insert).
            for chunk in rows.chunks(CHUNK) {
                match &mut *ctx.conn {
                    DbConnection::Postgresql(pg) => diesel::insert_into(imports::table).values(chunk).execute(pg),
                    conn => chunk
                        .iter()
                        .try_for_each(|row| diesel::insert_into(imports::table).values(row).execute(conn).map(drop))
                        .map(|()| chunk.len()),
                }
                .map_err(StoreError::from)?;
            }
            Ok((indexes, entries))
        })
        .await?;
    state.metrics.imported_records.inc_by(indexes.len() as u64);
    Ok(HttpResponse::Ok().json(ImportSummary {
        records: total,
        imported: indexes.len() as u64,
        replayed: total - indexes.len() as u64,
        indexes,
    }))
}
