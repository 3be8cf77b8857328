use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::submit::RequestRecorded;
use super::transition::{apply, require_state, Change, Retry};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;

/// Reviewer reason codes (DESIGN §3) a rejection may give.
const REVIEW_REASONS: &[&str] = &["defective_process", "not_proportionate", "no_data", "other"];

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
    Clarify,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub decision: Verdict,
    /// With `approve`: a subset of the requested categories narrows the approval.
    pub data_categories: Option<Vec<String>>,
    /// With `approve`: fewer identifiers than requested narrows the approval.
    pub identifiers: Option<i32>,
    /// With `reject`: `defective_process`, `not_proportionate`, `no_data`, `other`.
    pub reasons: Option<Vec<String>>,
}

/// Decide a validated request: approve (in full or narrowed), reject with reasons, or ask
/// the authority for clarification. Appends `request.approved`, `request.rejected` or
/// `request.clarification_requested` naming the policy in force.
#[utoipa::path(
    post, path = "/v1/requests/{id}/decision", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = Decision,
    responses(
        (status = 200, body = RequestRecorded),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not under review; the detail names the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Reviewer])?.clone();
    let (body, digest): (Decision, String) = crate::body::json_digest(&req, payload).await?;
    let retry = Retry::from_request(&req, "decision", digest)?;
    let wait = crate::log::Wait::from_query(&req)?;
    let reviewer = claims.sub.clone();
    apply(state, claims, id.into_inner(), retry, wait, false, move |cur| {
        require_state(cur, &["under_review"])?;
        match body.decision {
            Verdict::Approve => {
                let categories = body.data_categories.unwrap_or_else(|| cur.data_categories.clone());
                let identifiers = body.identifiers.unwrap_or(cur.identifiers);
                if categories.is_empty() || !categories.iter().all(|c| cur.data_categories.contains(c)) {
                    return Err(AppError::invalid_parameter("data_categories", "approve a non-empty subset of the requested categories"));
                }
                if !(1..=cur.identifiers).contains(&identifiers) {
                    return Err(AppError::invalid_parameter("identifiers", "approve between 1 and the requested number of identifiers"));
                }
                // The second of two approvals can narrow the first, never widen it: what both
                // reviewers approved is what is approved.
                let (categories, identifiers) = match (&cur.first_approver, &cur.first_approval) {
                    (Some(first), Some((first_categories, first_identifiers))) if *first != reviewer => (
                        categories.into_iter().filter(|c| first_categories.contains(c)).collect::<Vec<_>>(),
                        identifiers.min(*first_identifiers),
                    ),
                    _ => (categories, identifiers),
                };
                if categories.is_empty() {
                    return Err(AppError::invalid_parameter(
                        "data_categories",
                        "the second approval shares no category with the first",
                    ));
                }
                let narrowed = categories.len() < cur.data_categories.len() || identifiers < cur.identifiers;
                // Four eyes: an emergency request needs two distinct reviewers' approvals when
                // the policy says so; the first is recorded and the request stays under review.
                let (approvals, required) = if cur.emergency && cur.four_eyes_emergency { (1, 2) } else { (1, 1) };
                let approvals = match (&cur.first_approver, required) {
                    (Some(first), 2) if *first == reviewer => {
                        return Err(AppError::conflict("this reviewer already approved: a second, different reviewer must approve"))
                    }
                    (Some(_), 2) => 2,
                    _ => approvals,
                };
                if approvals < required {
                    let mut change = Change::entry_only(
                        "request.approved",
                        json!({ "scope": "pending_second_approval", "approvals": 1, "approvals_required": 2,
                                "data_categories": categories, "identifiers": identifiers, "policy_sha256": cur.policy_sha256 }),
                    );
                    change.first_approver = Some(reviewer);
                    return Ok(change);
                }
                let (status, scope) = if narrowed { ("approved_narrowed", "narrowed") } else { ("approved", "full") };
                let mut change = Change::to(
                    status,
                    "request.approved",
                    json!({ "scope": scope, "data_categories": categories, "identifiers": identifiers, "policy_sha256": cur.policy_sha256 }),
                );
                change.approved_categories = Some(categories);
                Ok(change)
            }
            Verdict::Reject => {
                let reasons = body.reasons.unwrap_or_default();
                if reasons.is_empty() || !reasons.iter().all(|r| REVIEW_REASONS.contains(&r.as_str())) {
                    return Err(AppError::invalid_parameter("reasons", "give one or more of defective_process, not_proportionate, no_data, other"));
                }
                Ok(Change::to(
                    "rejected",
                    "request.rejected",
                    json!({ "result": "fail", "by": "reviewer", "failed_rules": [], "reasons": reasons, "policy_sha256": cur.policy_sha256 }),
                ))
            }
            Verdict::Clarify => Ok(Change::to(
                "clarification_requested",
                "request.clarification_requested",
                json!({ "policy_sha256": cur.policy_sha256 }),
            )),
        }
    })
    .await
}
