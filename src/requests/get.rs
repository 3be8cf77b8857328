use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;

use super::RequestView;
use crate::auth::{Caller, Role};
use crate::error::{AppError, FieldError, Problem};
use crate::ledger::{entry::leaf_hash, hex_hash};
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::schema::{entries, requests};
use crate::store::{DbConnection, StoreError};

/// The columns of a [`RequestView`], in the order of [`ViewRow`]: one list that gives both
/// [`VIEW_COLUMNS`] and its type.
macro_rules! view_columns {
    () => {
        (
            requests::id,
            requests::authority_id,
            requests::issuing_authority_id,
            requests::instrument,
            requests::country,
            requests::emergency,
            requests::status,
            requests::received_at,
            requests::due_at,
            requests::policy_sha256,
            requests::data_categories,
            requests::identifiers,
            requests::failed_rules,
        )
    };
}

/// The type of [`VIEW_COLUMNS`].
type ViewColumns = view_columns!();

/// The columns of a [`RequestView`], in the order of [`ViewRow`].
pub(super) const VIEW_COLUMNS: ViewColumns = view_columns!();

/// A row of [`VIEW_COLUMNS`].
pub(super) type ViewRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    bool,
    String,
    String,
    String,
    String,
    String,
    i32,
    String,
);

/// Whose requests a caller may see: an officer only its own authority's (`Some`), anyone else
/// every request (`None`). An officer token without an authority sees none.
pub(super) fn viewer(claims: &crate::auth::Claims) -> Option<String> {
    (claims.role == Role::Officer).then(|| claims.authority.clone().unwrap_or_default())
}

/// The request row as the API shows it, and its stored failures.
pub(super) fn load(conn: &mut DbConnection, id: &str) -> Result<Option<(RequestView, Vec<FieldError>)>, StoreError> {
    load_visible(conn, id, None)
}

/// [`load`] as `viewer` may see it: for an officer the authority is part of the query, so
/// another authority's request and a request that does not exist are the same lookup that
/// finds nothing, and take the same time (security review, issue 16 item 9).
pub(super) fn load_visible(
    conn: &mut DbConnection,
    id: &str,
    viewer: Option<&str>,
) -> Result<Option<(RequestView, Vec<FieldError>)>, StoreError> {
    let mut query = requests::table.filter(requests::id.eq(id)).into_boxed();
    if let Some(authority) = viewer {
        query = query.filter(requests::authority_id.eq(authority));
    }
    let row: Option<ViewRow> = query.select(VIEW_COLUMNS).first(conn).optional()?;
    row.map(view_of).transpose()
}

/// The view of a [`VIEW_COLUMNS`] row, and its stored failures.
pub(super) fn view_of(r: ViewRow) -> Result<(RequestView, Vec<FieldError>), StoreError> {
    let failures: Vec<FieldError> = serde_json::from_str(&r.12).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut rules: Vec<String> = failures
        .iter()
        .filter_map(|f| f.message.split(':').next().map(str::to_string))
        .collect();
    rules.dedup();
    let view = RequestView {
        id: r.0,
        authority: r.1,
        issuing_authority: r.2,
        instrument: r.3,
        country: r.4,
        emergency: r.5,
        status: r.6,
        received_at: r.7,
        due_at: r.8,
        policy_sha256: r.9,
        data_categories: serde_json::from_str(&r.10).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        identifiers: r.11,
        failed_rules: rules,
    };
    Ok((view, failures))
}

/// Index and canonical text of every entry of a request, in order.
pub(super) fn entry_texts(conn: &mut DbConnection, id: &str) -> Result<Vec<(u64, String)>, StoreError> {
    let rows: Vec<(i64, String)> = entries::table
        .filter(entries::subject.eq(id))
        .order(entries::idx.asc())
        .select((entries::idx, entries::canonical))
        .load(conn)?;
    Ok(rows.into_iter().map(|(i, c)| (i as u64, c)).collect())
}

/// The first answer for `(authority, key)` when the body is the same; 409 when it is not.
/// Read from the primary, never a standby: it answers a write, whose first answer another
/// process may have recorded a moment ago.
pub(super) async fn replay(
    state: &AppState,
    authority: &str,
    key: &str,
    request_sha256: &str,
) -> Result<Option<HttpResponse>, AppError> {
    let (authority, key) = (authority.to_string(), key.to_string());
    let found: Option<(String, String)> = state
        .read(move |conn| {
            Ok(requests::table
                .filter(
                    requests::authority_id
                        .eq(&authority)
                        .and(requests::idempotency_key.eq(&key)),
                )
                // Planned afresh on every call (a literal makes diesel send it unnamed, so
                // PostgreSQL never keeps a generic plan for it): a pooled connection that cached
                // one early in a fresh ledger's life served it through `requests_by_authority`
                // and read every request of the authority (2,830 calls reading 39 million rows,
                // 48 s of the server's CPU in one load run), until an `ANALYZE` replaced it.
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("TRUE"))
                .select((requests::id, requests::request_sha256))
                .first(conn)
                .optional()
                .map_err(StoreError::from)?)
        })
        .await?;
    let Some((id, sha)) = found else { return Ok(None) };
    if sha != request_sha256 {
        return Err(AppError::conflict(
            "this Idempotency-Key was used with a different request body",
        ));
    }
    let (view, failures, leaves) = state
        .read(move |conn| {
            let (view, failures) = load(conn, &id)?.ok_or_else(|| AppError::internal("request vanished"))?;
            Ok((view, failures, submission_entries(conn, &id)?))
        })
        .await?;
    // The first answer's status is its validation's (201, replayed as 200, or 422 with the
    // failed rules), whatever happened to the request since: a reviewer's later rejection
    // does not turn a retry of an accepted submission into a 422.
    let validated = leaves.get(1).is_some_and(|(_, kind, _)| kind != "request.rejected");
    let failures = if validated { Vec::new() } else { failures };
    let leaves = leaves.into_iter().map(|(i, _, leaf)| (i, leaf)).collect();
    let receipt = EntryReceipt::for_indexes(state, leaves).await?;
    Ok(Some(super::submit::respond(view, failures, receipt, true)))
}

/// The entries a submission appended (`request.received` and its validation's
/// `request.validated` or `request.rejected`): the request's first two, with index, kind and
/// leaf hash. A receipt replayed for the submission covers these, not what was appended of
/// the request since.
fn submission_entries(conn: &mut DbConnection, id: &str) -> Result<Vec<(u64, String, String)>, StoreError> {
    let rows: Vec<(i64, String, String)> = entries::table
        .filter(entries::subject.eq(id))
        .order(entries::idx.asc())
        .limit(2)
        .select((entries::idx, entries::kind, entries::canonical))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(i, kind, c)| (i as u64, kind, hex_hash(&leaf_hash(c.as_bytes()))))
        .collect())
}

/// One request. Officers see only their own authority's requests; no raw identifier is shown.
#[utoipa::path(
    get, path = "/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "Request id (UUID)")),
    responses(
        (status = 200, body = RequestView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/requests/{id}")]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Officer, Role::Reviewer, Role::Auditor])?.clone();
    let id = id.into_inner();
    let viewer = viewer(&claims);
    let found = state
        .read_at_least(0, move |conn| Ok(load_visible(conn, &id, viewer.as_deref())?))
        .await?;
    // Not 403 for another authority's request: whether it exists is not an officer's business.
    let (view, _) = found.ok_or_else(|| AppError::not_found("no request with that id"))?;
    Ok(HttpResponse::Ok().json(view))
}
