use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::submit::RequestRecorded;
use super::transition::{apply, Change, Retry};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationAction {
    Delay,
    Send,
    Waive,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    pub action: NotificationAction,
    /// With `delay`: RFC 3339 date until which the user is not told.
    pub until: Option<String>,
    /// With `delay`: the legal basis (e.g. the authority's non-disclosure order).
    pub basis: Option<String>,
    /// With `waive`: the exception that applies.
    pub exception: Option<String>,
}

/// The affected user's notification after disclosure or no data: pending → delayed(until,
/// basis) → sent | waived(exception). Appends `notification.delayed`, `notification.sent` or
/// `notification.waived`.
#[utoipa::path(
    post, path = "/v1/requests/{id}/notification", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = Notification,
    responses(
        (status = 200, body = RequestRecorded),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No notification is pending or delayed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/notification")]
pub async fn notify(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Reviewer])?.clone();
    let (body, digest): (Notification, String) = crate::body::json_digest(&req, payload).await?;
    let retry = Retry::from_request(&req, "notification", digest)?;
    let wait = crate::log::Wait::from_query(&req)?;
    let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    let change = match body.action {
        NotificationAction::Delay => {
            let until = body
                .until
                .as_deref()
                .and_then(crate::ledger::entry::parse_instant)
                .filter(|u| *u > chrono::Utc::now())
                .ok_or_else(|| AppError::invalid_parameter("until", "until must be a future RFC 3339 date-time"))?;
            if !nonempty(&body.basis) {
                return Err(AppError::invalid_parameter("basis", "a delay needs its legal basis"));
            }
            let until = crate::ledger::entry::format_time(until.with_timezone(&chrono::Utc));
            let mut c = Change::entry_only("notification.delayed", json!({ "until": until }));
            c.restricted = Some(json!({ "basis": body.basis }));
            c.notification = Some("delayed");
            c
        }
        NotificationAction::Send => {
            let mut c = Change::entry_only("notification.sent", json!({}));
            c.notification = Some("sent");
            c
        }
        NotificationAction::Waive => {
            if !nonempty(&body.exception) {
                return Err(AppError::invalid_parameter(
                    "exception",
                    "a waiver names the exception that applies",
                ));
            }
            let mut c = Change::entry_only("notification.waived", json!({}));
            c.restricted = Some(json!({ "exception": body.exception }));
            c.notification = Some("waived");
            c
        }
    };
    apply(state, claims, id.into_inner(), retry, wait, false, move |cur| {
        if !["pending", "delayed"].contains(&cur.notification.as_str()) {
            return Err(AppError::conflict(format!(
                "no notification is pending: the request is {} and its notification {}",
                cur.status, cur.notification
            )));
        }
        Ok(change)
    })
    .await
}
