use actix_web::{post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::submit::{field_error, record, respond_parts, RequestRecorded, Submission};
use super::SubmitRequest;
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::{schema::requests, StoreError};

/// After a reviewer asked for clarification, the officer sends the amended request in full.
/// It is validated again under the policy in force: `request.amended`, then
/// `request.validated` (back under review) or `request.rejected`.
#[utoipa::path(
    post, path = "/v1/requests/{id}/amend", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = SubmitRequest,
    responses(
        (status = 200, body = RequestRecorded),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No clarification was requested; the detail names the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Recorded and rejected: every failed rule, plus `request` and `receipt`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/amend")]
pub async fn amend(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Officer])?.clone();
    let wait = crate::log::Wait::from_query(&req)?;
    let body: SubmitRequest = crate::body::json(&req, payload).await?;
    let shape = body.shape_errors();
    if !shape.is_empty() {
        return Err(AppError::unprocessable(
            "the request exceeds the ledger's shape limits; nothing was recorded",
            shape,
        ));
    }
    let id = id.into_inner();
    let request_sha256 = hex::encode(Sha256::digest(serde_json::to_vec(&body).map_err(AppError::internal)?));
    let call = crate::idempotency::Call::from_request(&req, &claims.sub, "amend", &id, &request_sha256)?;
    if let Some(first) = crate::idempotency::replay(&state, &call).await? {
        return Ok(first);
    }
    let order_verified_with = super::submit::verify_order_early(&state, &body).await?;
    let claim = call.clone();
    let (outcome, appended) = state
        .sequencer
        .append(move |ctx| {
            if !crate::idempotency::claim(ctx, &claim).map_err(AppError::from)? {
                return Ok((None, Vec::new()));
            }
            let row: Option<(String, String)> = requests::table
                .filter(requests::id.eq(&id))
                .select((requests::status, requests::authority_id))
                .first(ctx.conn)
                .optional()
                .map_err(StoreError::from)?;
            match row {
                Some((_, authority)) if claims.authority.as_deref() != Some(authority.as_str()) => {
                    Err(AppError::not_found("no request with that id"))
                }
                None => Err(AppError::not_found("no request with that id")),
                Some((status, _)) if status != "clarification_requested" => Err(AppError::conflict(format!(
                    "illegal transition: the request is {status}"
                ))),
                Some(_) => {
                    let submission = Submission {
                        body,
                        authority: claims.authority.clone(),
                        sub: claims.sub.clone(),
                        idempotency_key: None,
                        request_sha256,
                        amending: Some(id),
                        order_verified_with,
                    };
                    // An amendment updates its row; no key is claimed.
                    let (outcome, entries) = record(ctx, submission)?
                        .ok_or_else(|| AppError::internal("an amendment claimed an idempotency key"))?;
                    // The answer a retry replays (its receipt is rebuilt then).
                    let no_receipt = EntryReceipt {
                        entries: Vec::new(),
                        checkpoint: String::new(),
                        cosignatures: Vec::new(),
                    };
                    let failures = outcome.failures.iter().map(field_error).collect();
                    let (status, answer) = respond_parts(outcome.view.clone(), failures, no_receipt, true);
                    crate::idempotency::keep(ctx, &claim, status, &answer, entries.len())?;
                    Ok((Some(outcome), entries))
                }
            }
        })
        .await?;
    let Some(outcome) = outcome else {
        return crate::idempotency::replayed(&state, &call).await;
    };
    let receipt = EntryReceipt::for_appended(&state, &appended)
        .await?
        .cosigned(&state, wait)
        .await?;
    let (status, body) = respond_parts(
        outcome.view,
        outcome.failures.iter().map(field_error).collect(),
        receipt,
        true,
    );
    crate::idempotency::answer(status, &body)
}
