//! Legal hold: a reviewer or an auditor keeps a request's data past its retention (litigation,
//! an inquiry); lifting the hold lets retention run again. Each is an entry
//! (`request.legal_hold_placed`, `request.legal_hold_lifted`) whose reason is sealed.

use actix_web::{post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::schema::requests;
use crate::store::{NewEntry, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldReason {
    /// Why (3 to 500 characters); sealed in the entry, never public.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldChanged {
    pub request_id: String,
    pub legal_hold: bool,
    pub receipt: EntryReceipt,
}

/// Places a legal hold: the request is never shredded while it holds.
#[utoipa::path(
    post, path = "/v1/requests/{id}/legal-hold", tag = "retention",
    params(("id" = String, Path, description = "Request id")),
    request_body = HoldReason,
    responses(
        (status = 200, body = HoldChanged),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already under legal hold", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Already shredded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/legal-hold")]
pub async fn place(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    change(state, caller, id.into_inner(), req, payload, true).await
}

/// Lifts a legal hold: retention applies again from the next sweep.
#[utoipa::path(
    post, path = "/v1/requests/{id}/legal-hold/lift", tag = "retention",
    params(("id" = String, Path, description = "Request id")),
    request_body = HoldReason,
    responses(
        (status = 200, body = HoldChanged),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not under legal hold", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/legal-hold/lift")]
pub async fn lift(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    change(state, caller, id.into_inner(), req, payload, false).await
}

async fn change(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    req: HttpRequest,
    payload: web::Payload,
    hold: bool,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Reviewer, Role::Auditor])?.clone();
    let wait = crate::log::Wait::from_query(&req)?;
    let (HoldReason { reason }, sha) = crate::body::json_digest(&req, payload).await?;
    if !(3..=500).contains(&reason.trim().chars().count()) {
        return Err(AppError::invalid_parameter(
            "reason",
            "state a reason of 3 to 500 characters",
        ));
    }
    let request_id = id.clone();
    let action = if hold { "legal-hold" } else { "legal-hold-lift" };
    let call = crate::idempotency::Call::from_request(&req, &claims.sub, action, &id, &sha)?;
    if let Some(first) = crate::idempotency::replay(&state, &call).await? {
        return Ok(first);
    }
    let claim = call.clone();
    let (applied, appended) = state
        .sequencer
        .append(move |ctx| -> Result<_, AppError> {
            if !crate::idempotency::claim(ctx, &claim)? {
                return Ok((false, Vec::new()));
            }
            let row: Option<(bool, Option<i64>)> = requests::table
                .filter(requests::id.eq(&id))
                .select((requests::legal_hold, requests::shredded_entry))
                .first(ctx.conn)
                .optional()
                .map_err(StoreError::from)?;
            let (held, shredded) = row.ok_or_else(|| AppError::not_found("no request with that id"))?;
            if let Some(n) = shredded {
                return Err(AppError::gone(format!(
                    "the request's data was shredded by entry {n}; there is nothing left to hold"
                )));
            }
            if held == hold {
                return Err(AppError::conflict(if hold {
                    "the request is already under legal hold"
                } else {
                    "the request is not under legal hold"
                }));
            }
            diesel::update(requests::table.filter(requests::id.eq(&id)))
                .set(requests::legal_hold.eq(hold))
                .execute(ctx.conn)
                .map_err(StoreError::from)?;
            let entry = NewEntry {
                kind: if hold {
                    "request.legal_hold_placed"
                } else {
                    "request.legal_hold_lifted"
                }
                .into(),
                subject: Some(id.clone()),
                public: Default::default(),
                restricted: Some(json!({ "by": claims.sub, "role": claims.role, "reason": reason })),
            };
            crate::idempotency::keep(
                ctx,
                &claim,
                actix_web::http::StatusCode::OK,
                &json!({ "request_id": id, "legal_hold": hold }),
                1,
            )?;
            Ok((true, vec![entry]))
        })
        .await?;
    if !applied {
        return crate::idempotency::replayed(&state, &call).await;
    }
    let receipt = EntryReceipt::for_appended(&state, &appended)
        .await?
        .cosigned(&state, wait)
        .await?;
    let changed = HoldChanged {
        request_id,
        legal_hold: hold,
        receipt,
    };
    crate::idempotency::answer(actix_web::http::StatusCode::OK, &changed)
}
