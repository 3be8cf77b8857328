use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Authority;
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Cursor: the `next` of the previous page.
    pub after: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default, deserialize_with = "crate::body::safe_opt_u64")]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorityPage {
    pub authorities: Vec<Authority>,
    /// Cursor for the next page, or null at the end.
    pub next: Option<String>,
}

/// Registered authorities, ordered by id, cursor-paginated.
#[utoipa::path(
    get, path = "/v1/authorities", tag = "authorities", params(ListParams),
    responses(
        (status = 200, body = AuthorityPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/authorities")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    caller.require(&[Role::Admin, Role::Reviewer, Role::Auditor])?;
    let ListParams { after, limit } = params.into_inner();
    let limit = match limit.unwrap_or(100) {
        0 => return Err(AppError::invalid_parameter("limit", "limit must be at least 1")),
        n => n.min(1000) as i64,
    };
    let authorities = state
        .read_at_least(0, move |conn| Ok(super::store::list(conn, after.as_deref(), limit)?))
        .await?;
    let next = (authorities.len() as i64 == limit)
        .then(|| authorities.last().map(|a| a.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(AuthorityPage { authorities, next }))
}
