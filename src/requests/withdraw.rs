use actix_web::{post, web, HttpRequest, HttpResponse};
use serde_json::json;

use super::submit::RequestRecorded;
use super::transition::{apply, require_state, Change, Retry};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;

/// The requesting officer withdraws the request, any time before disclosure
/// (`request.withdrawn`).
#[utoipa::path(
    post, path = "/v1/requests/{id}/withdraw", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, body = RequestRecorded),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided past the point of withdrawal", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Officer])?.clone();
    let retry = Retry::from_request(&req, "withdraw", String::new())?;
    let wait = crate::log::Wait::from_query(&req)?;
    apply(state, claims, id.into_inner(), retry, wait, false, |cur| {
        require_state(
            cur,
            &[
                "under_review",
                "clarification_requested",
                "approved",
                "approved_narrowed",
            ],
        )?;
        Ok(Change::to("withdrawn", "request.withdrawn", json!({})))
    })
    .await
}
