use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::submit::RequestRecorded;
use super::transition::{apply, require_state, Change, Retry};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyValidation {
    /// Whether the issuing authority validated the emergency order after the fact.
    pub validated: bool,
}

/// Post-hoc validation of an emergency disclosure (V9): `request.emergency_validated` or
/// `request.emergency_validation_failed`.
#[utoipa::path(
    post, path = "/v1/requests/{id}/emergency-validation", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = EmergencyValidation,
    responses(
        (status = 200, body = RequestRecorded),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a disclosed emergency request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/emergency-validation")]
pub async fn validate_emergency(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Reviewer])?.clone();
    let (body, digest): (EmergencyValidation, String) = crate::body::json_digest(&req, payload).await?;
    let retry = Retry::from_request(&req, "emergency-validation", digest)?;
    let wait = crate::log::Wait::from_query(&req)?;
    let validated = body.validated;
    apply(state, claims, id.into_inner(), retry, wait, false, move |cur| {
        require_state(cur, &["disclosed", "no_data"])?;
        if !cur.emergency {
            return Err(AppError::conflict(format!(
                "the request is {} and is not an emergency request",
                cur.status
            )));
        }
        Ok(if validated {
            Change::to("emergency_validated", "request.emergency_validated", json!({}))
        } else {
            Change::to(
                "emergency_validation_failed",
                "request.emergency_validation_failed",
                json!({}),
            )
        })
    })
    .await
}
