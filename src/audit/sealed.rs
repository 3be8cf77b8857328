use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use crate::store::schema::{entries, requests, sealed_details};
use crate::store::StoreError;

#[derive(Debug, Serialize, ToSchema)]
pub struct SealedDetails {
    pub index: u64,
    /// Hex salt; null once crypto-shredded at the end of retention.
    pub salt: Option<String>,
    /// The restricted details, as their canonical JSON; null once shredded.
    #[schema(value_type = Object)]
    pub restricted: Box<RawValue>,
    /// When shredded: the index of the `retention.shredded` entry that destroyed them.
    pub shredded_by: Option<u64>,
}

/// The restricted details behind an entry's `sealed` commitment, with the salt:
/// `SHA-256("disclosure-ledger:sealed:v1" ‖ 0x00 ‖ salt ‖ JCS(restricted))` must equal the
/// entry's `sealed`. Auditors only.
#[utoipa::path(
    get, path = "/v1/audit/entries/{index}/sealed", tag = "audit",
    params(("index" = u64, Path, description = "Entry index")),
    responses(
        (status = 200, body = SealedDetails),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry, or it seals nothing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/audit/entries/{index}/sealed")]
pub async fn sealed(
    state: web::Data<AppState>,
    caller: Caller,
    index: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    caller.require(&[Role::Auditor])?;
    let index = index.into_inner();
    if index > i64::MAX as u64 {
        return Err(AppError::not_found("no entry with that index"));
    }
    let row: Option<(Option<Vec<u8>>, String, Option<i64>)> = state
        .read_at_least(0, move |conn| {
            let row: Option<(Option<Vec<u8>>, String, Option<String>)> = sealed_details::table
                .inner_join(entries::table.on(entries::idx.eq(sealed_details::entry_idx)))
                .filter(sealed_details::entry_idx.eq(index as i64))
                .select((sealed_details::salt, sealed_details::restricted, entries::subject))
                .first(conn)
                .optional()
                .map_err(StoreError::from)?;
            let Some((salt, restricted, subject)) = row else {
                return Ok(None);
            };
            let shredded_by = match (&salt, subject) {
                (None, Some(request)) => requests::table
                    .filter(requests::id.eq(request))
                    .select(requests::shredded_entry)
                    .first::<Option<i64>>(conn)
                    .optional()
                    .map_err(StoreError::from)?
                    .flatten(),
                _ => None,
            };
            Ok(Some((salt, restricted, shredded_by)))
        })
        .await?;
    let (salt, restricted, shredded_by) = row.ok_or_else(|| AppError::not_found("no sealed details for that entry"))?;
    Ok(HttpResponse::Ok().json(SealedDetails {
        index,
        salt: salt.map(hex::encode),
        restricted: RawValue::from_string(restricted).map_err(AppError::internal)?,
        shredded_by: shredded_by.map(|n| n as u64),
    }))
}
