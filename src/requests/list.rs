use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::RequestView;
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::ledger::entry::format_time;
use crate::state::AppState;
use crate::store::{schema::requests, StoreError};

/// States in which a request still waits for the platform.
pub const OPEN_STATES: &[&str] = &[
    "under_review",
    "clarification_requested",
    "approved",
    "approved_narrowed",
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only requests in this state.
    pub status: Option<String>,
    /// Only open requests past their policy deadline (`true`), or not (`false`).
    pub overdue: Option<bool>,
    /// Only requests from this country (ISO 3166-1 alpha-3).
    pub country: Option<String>,
    /// Cursor: the `next` of the previous page.
    pub after: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default, deserialize_with = "crate::body::safe_opt_u64")]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestPage {
    pub requests: Vec<RequestView>,
    /// Cursor for the next page, or null at the end.
    pub next: Option<String>,
}

/// Requests, ordered by id, cursor-paginated and filtered. Officers see only their own
/// authority's requests.
#[utoipa::path(
    get, path = "/v1/requests", tag = "requests", params(ListParams),
    responses(
        (status = 200, body = RequestPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/requests")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Officer, Role::Reviewer, Role::Auditor])?.clone();
    let p = params.into_inner();
    let limit = match p.limit.unwrap_or(100) {
        0 => return Err(AppError::invalid_parameter("limit", "limit must be at least 1")),
        n => n.min(1000) as i64,
    };
    let own = (claims.role == Role::Officer).then(|| claims.authority.clone().unwrap_or_default());
    let views = state
        .read_at_least(0, move |conn| {
            // The page's rows themselves, in one statement (not one more read per request).
            let mut q = requests::table
                .select(super::get::VIEW_COLUMNS)
                .order(requests::id.asc())
                .limit(limit)
                .into_boxed();
            if let Some(a) = own {
                q = q.filter(requests::authority_id.eq(a));
            }
            if let Some(s) = p.status {
                q = q.filter(requests::status.eq(s));
            }
            if let Some(c) = p.country {
                q = q.filter(requests::country.eq(c));
            }
            if let Some(after) = p.after {
                q = q.filter(requests::id.gt(after));
            }
            let now = format_time(chrono::Utc::now());
            match p.overdue {
                Some(true) => q = q.filter(requests::due_at.lt(now).and(requests::status.eq_any(OPEN_STATES))),
                Some(false) => q = q.filter(requests::due_at.ge(now).or(requests::status.ne_all(OPEN_STATES))),
                None => {}
            }
            let rows: Vec<super::get::ViewRow> = q.load(conn).map_err(StoreError::from)?;
            rows.into_iter()
                .map(|r| Ok(super::get::view_of(r)?.0))
                .collect::<Result<Vec<_>, AppError>>()
        })
        .await?;
    let next = (views.len() as i64 == limit)
        .then(|| views.last().map(|v| v.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(RequestPage { requests: views, next }))
}
