//! Suspending and reinstating an authority. A suspended authority's officers' tokens are
//! refused; reinstating restores them. Both are entries.

use actix_web::{http::StatusCode, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde_json::json;

use super::register::AuthorityChanged;
use super::{load, STATUS_SUSPENDED, STATUS_VERIFIED};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::idempotency;
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::{schema::authorities, NewEntry, StoreError};

async fn set_status(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: String,
    from: &'static str,
    to: &'static str,
    kind: &'static str,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Admin])?.clone();
    let wait = crate::log::Wait::from_query(&req)?;
    let call = idempotency::Call::from_request(&req, &claims.sub, kind, &id, "")?;
    if let Some(first) = idempotency::replay(&state, &call).await? {
        return Ok(first);
    }
    let claim = call.clone();
    let (authority, appended) = state
        .sequencer
        .append(move |ctx| -> Result<_, AppError> {
            if !idempotency::claim(ctx, &claim)? {
                return Ok((None, Vec::new()));
            }
            let current = load(ctx.conn, &id)?.ok_or_else(|| AppError::not_found("no authority with that id"))?;
            if current.status != from {
                return Err(AppError::conflict(format!("the authority is {}", current.status)));
            }
            diesel::update(authorities::table.filter(authorities::id.eq(&id)))
                .set(authorities::status.eq(to))
                .execute(ctx.conn)
                .map_err(StoreError::from)?;
            let authority = load(ctx.conn, &id)?.ok_or_else(|| AppError::internal("authority vanished"))?;
            let public = json!({ "authority": id });
            idempotency::keep(ctx, &claim, StatusCode::OK, &json!({ "authority": authority }), 1)?;
            Ok((
                Some(authority),
                vec![NewEntry::log_level(
                    kind,
                    public.as_object().cloned().unwrap_or_default(),
                )],
            ))
        })
        .await?;
    let Some(authority) = authority else {
        return idempotency::replayed(&state, &call).await;
    };
    let receipt = EntryReceipt::for_appended(&state, &appended)
        .await?
        .cosigned(&state, wait)
        .await?;
    idempotency::answer(StatusCode::OK, &AuthorityChanged { authority, receipt })
}

/// Suspend an authority; appends `authority.suspended`.
#[utoipa::path(
    post, path = "/v1/authorities/{id}/suspend", tag = "authorities",
    params(("id" = String, Path, description = "Authority id")),
    responses(
        (status = 200, body = AuthorityChanged),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already suspended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/authorities/{id}/suspend")]
pub async fn suspend(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    set_status(
        state,
        caller,
        req,
        id.into_inner(),
        STATUS_VERIFIED,
        STATUS_SUSPENDED,
        "authority.suspended",
    )
    .await
}

/// Reinstate a suspended authority; appends `authority.reinstated`.
#[utoipa::path(
    post, path = "/v1/authorities/{id}/reinstate", tag = "authorities",
    params(("id" = String, Path, description = "Authority id")),
    responses(
        (status = 200, body = AuthorityChanged),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not suspended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/authorities/{id}/reinstate")]
pub async fn reinstate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    set_status(
        state,
        caller,
        req,
        id.into_inner(),
        STATUS_SUSPENDED,
        STATUS_VERIFIED,
        "authority.reinstated",
    )
    .await
}
