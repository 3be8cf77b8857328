use actix_web::{http::StatusCode, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde_json::json;

use super::load;
use super::register::AuthorityChanged;
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::idempotency;
use crate::ledger::entry::format_time;
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::{schema::authority_keys, NewEntry, StoreError};

/// Revoke a key from now on; appends `authority.key_revoked`. Tokens and orders it signed are
/// refused from this moment.
#[utoipa::path(
    post, path = "/v1/authorities/{id}/keys/{kid}/revoke", tag = "authorities",
    params(("id" = String, Path, description = "Authority id"), ("kid" = String, Path, description = "Key id")),
    responses(
        (status = 200, body = AuthorityChanged),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/authorities/{id}/keys/{kid}/revoke")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Admin])?.clone();
    let wait = crate::log::Wait::from_query(&req)?;
    let (id, kid) = path.into_inner();
    let call = idempotency::Call::from_request(&req, &claims.sub, "revoke-key", &format!("{id}/{kid}"), "")?;
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
            let key =
                authority_keys::table.filter(authority_keys::authority_id.eq(&id).and(authority_keys::kid.eq(&kid)));
            let revoked: Option<Option<String>> = key
                .select(authority_keys::revoked_at)
                .first(ctx.conn)
                .optional()
                .map_err(StoreError::from)?;
            match revoked {
                None => return Err(AppError::not_found("this authority has no key with that id")),
                Some(Some(at)) => return Err(AppError::conflict(format!("the key was revoked at {at}"))),
                Some(None) => {}
            }
            let now = format_time(chrono::Utc::now());
            diesel::update(key)
                .set(authority_keys::revoked_at.eq(&now))
                .execute(ctx.conn)
                .map_err(StoreError::from)?;
            let authority = load(ctx.conn, &id)?.ok_or_else(|| AppError::internal("authority vanished"))?;
            let public = json!({ "authority": id, "kid": kid });
            idempotency::keep(ctx, &claim, StatusCode::OK, &json!({ "authority": authority }), 1)?;
            Ok((
                Some(authority),
                vec![NewEntry::log_level(
                    "authority.key_revoked",
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
