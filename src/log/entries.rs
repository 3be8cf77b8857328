use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::embargo::embargo_ends;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::ledger::{canonical_check::check_entry, entry::leaf_hash, hex_hash};
use crate::state::AppState;
use crate::store::queries::{self, StoredEntry};

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;
/// A page holds at most about this many bytes of entries (1 MiB).
pub const MAX_PAGE_BYTES: usize = 1 << 20;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// First index to return (default 0).
    #[serde(default, deserialize_with = "crate::body::safe_opt_u64")]
    pub start: Option<u64>,
    /// At most this many entries (default 100, capped at 1000).
    #[serde(default, deserialize_with = "crate::body::safe_opt_u64")]
    pub limit: Option<u64>,
}

/// What the public sees of an entry still under embargo: enough to check it is in the tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbargoedEntry {
    pub index: u64,
    pub leaf_hash: String,
    /// RFC 3339; after this the entry is served in full.
    pub embargoed_until: String,
}

/// A page of entries. Each item is either the entry object of DESIGN §4.1, served as its
/// canonical bytes, or an [`EmbargoedEntry`].
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryPage {
    pub start: u64,
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Box<RawValue>>,
    /// Where the next page starts, or null at the end of the log.
    pub next: Option<u64>,
}

/// The entry as the caller may see it. Auditors get the stored bytes as they are; for the
/// public, the single-pass canonical check reads `subject` and `time` without building a JSON
/// tree (a stored entry that fails it is read the slow way, so that a damaged row is still
/// served, and then caught by whoever verifies it).
fn visible(caller: &Caller, e: &StoredEntry) -> Result<Box<RawValue>, AppError> {
    if !caller.sees_embargoed() {
        let until = match check_entry(e.canonical.as_bytes()) {
            Ok(view) => embargo_ends(view.subject, view.time),
            Err(_) => {
                let value: serde_json::Value = serde_json::from_str(&e.canonical).map_err(AppError::internal)?;
                let subject = value.get("subject").and_then(|s| s.as_str());
                embargo_ends(subject, value.get("time").and_then(|s| s.as_str()).unwrap_or_default())
            }
        };
        if let Some(until) = until.filter(|u| *u > chrono::Utc::now()) {
            let stub = EmbargoedEntry {
                index: e.idx as u64,
                leaf_hash: hex_hash(&leaf_hash(e.canonical.as_bytes())),
                embargoed_until: until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            return serde_json::value::to_raw_value(&stub).map_err(AppError::internal);
        }
    }
    RawValue::from_string(e.canonical.clone()).map_err(AppError::internal)
}

/// Entries in index order, paginated.
#[utoipa::path(get, path = "/v1/log/entries", tag = "log", params(PageParams),
    responses(
        (status = 200, body = EntryPage),
        (status = 400, description = "Malformed parameter", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/v1/log/entries")]
pub async fn list_entries(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    let start = params.start.unwrap_or(0);
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 {
        return Err(AppError::invalid_parameter("limit", "limit must be at least 1"));
    }
    if start > i64::MAX as u64 {
        return Err(AppError::invalid_parameter("start", "start is out of range"));
    }
    let limit = limit.min(MAX_LIMIT);
    let (rows, size) = state
        .read_at_least(0, move |conn| {
            Ok((queries::entries_page(conn, start, limit)?, queries::head_size(conn)?))
        })
        .await?;
    // A page is bounded by bytes as well as by count: it ends before the entry that would take
    // it past MAX_PAGE_BYTES (always holding at least one), and `next` says where to go on.
    let mut bytes = 0;
    let mut entries = Vec::with_capacity(rows.len());
    for e in &rows {
        bytes += e.canonical.len();
        if bytes > MAX_PAGE_BYTES && !entries.is_empty() {
            break;
        }
        entries.push(visible(&caller, e)?);
    }
    let end = start + entries.len() as u64;
    let next = (end < size && !entries.is_empty()).then_some(end);
    Ok(HttpResponse::Ok().json(EntryPage { start, entries, next }))
}

/// One entry by index.
#[utoipa::path(get, path = "/v1/log/entries/{index}", tag = "log",
    params(("index" = u64, Path, description = "0-based entry index")),
    responses(
        (status = 200, description = "The entry object, or an EmbargoedEntry", body = Object),
        (status = 400, description = "Malformed index", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/v1/log/entries/{index}")]
pub async fn get_entry(
    state: web::Data<AppState>,
    caller: Caller,
    index: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let index = index.into_inner();
    if index > i64::MAX as u64 {
        return Err(AppError::not_found("no entry with that index"));
    }
    let row = state
        .read_at_least(index + 1, move |conn| Ok(queries::entry(conn, index)?))
        .await?;
    let row = row.ok_or_else(|| AppError::not_found("no entry at that index"))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(visible(&caller, &row)?.get().to_string()))
}
