use actix_web::{post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::schema::{requests, vault};
use crate::store::{NewEntry, StoreError};

/// Why the vault is opened. In the body, not the URL: a URL ends up in access logs and caches.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenVault {
    /// 3–500 characters; sealed in the `vault.opened` entry.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultIdentifier {
    pub kind: String,
    /// Normalised value; null once crypto-shredded.
    pub value: Option<String>,
    /// Hex nonce of the commitment; null once crypto-shredded.
    pub nonce: Option<String>,
    pub commitment: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultOpened {
    pub identifiers: Vec<VaultIdentifier>,
    /// The receipt of the `vault.opened` entry this read appended.
    pub receipt: EntryReceipt,
}

/// The raw identifiers of a request, for the reviewer who must look them up. Every opening is
/// itself an entry (`vault.opened`), committed before the values are returned; the answer is
/// `Cache-Control: no-store`.
#[utoipa::path(
    post, path = "/v1/requests/{id}/identifiers", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = OpenVault,
    responses(
        (status = 200, body = VaultOpened),
        (status = 400, description = "No or too short a reason", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Destroyed at the end of retention; the detail names the retention.shredded entry", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/identifiers")]
pub async fn open(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Reviewer])?.clone();
    let wait = crate::log::Wait::from_query(&req)?;
    let (OpenVault { reason }, sha) = crate::body::json_digest(&req, payload).await?;
    if !(3..=500).contains(&reason.trim().chars().count()) {
        return Err(AppError::invalid_parameter(
            "reason",
            "state a reason of 3 to 500 characters",
        ));
    }
    let id = id.into_inner();
    let call = crate::idempotency::Call::from_request(&req, &claims.sub, "open-vault", &id, &sha)?;
    if let Some(first) = crate::idempotency::replay(&state, &call).await? {
        return Ok(first);
    }
    let claim = call.clone();
    let (identifiers, appended) = state
        .sequencer
        .append(move |ctx| -> Result<_, AppError> {
            if !crate::idempotency::claim(ctx, &claim)? {
                return Ok((None, Vec::new()));
            }
            let shredded: Option<Option<i64>> = requests::table
                .filter(requests::id.eq(&id))
                .select(requests::shredded_entry)
                .first(ctx.conn)
                .optional()
                .map_err(StoreError::from)?;
            match shredded {
                None => return Err(AppError::not_found("no request with that id")),
                Some(Some(n)) => {
                    return Err(AppError::gone(format!(
                        "the request's identifiers were destroyed at the end of retention by entry {n}"
                    )))
                }
                Some(None) => {}
            }
            type Row = (String, Option<String>, Option<Vec<u8>>, String);
            let rows: Vec<Row> = vault::table
                .filter(vault::request_id.eq(&id))
                .order(vault::created_at.asc())
                .select((vault::kind, vault::value, vault::nonce, vault::commitment))
                .load(ctx.conn)
                .map_err(StoreError::from)?;
            let identifiers: Vec<VaultIdentifier> = rows
                .into_iter()
                .map(|(kind, value, nonce, commitment)| VaultIdentifier {
                    kind,
                    value,
                    nonce: nonce.map(hex::encode),
                    commitment,
                })
                .collect();
            let entry = NewEntry {
                kind: "vault.opened".into(),
                subject: Some(id.clone()),
                public: json!({ "identifiers": identifiers.len() })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                restricted: Some(json!({ "reviewer": claims.sub, "reason": reason })),
            };
            crate::idempotency::keep(
                ctx,
                &claim,
                actix_web::http::StatusCode::OK,
                &json!({ "identifiers": identifiers }),
                1,
            )?;
            Ok((Some(identifiers), vec![entry]))
        })
        .await?;
    let Some(identifiers) = identifiers else {
        return crate::idempotency::replayed(&state, &call).await;
    };
    let receipt = EntryReceipt::for_appended(&state, &appended)
        .await?
        .cosigned(&state, wait)
        .await?;
    let mut answer =
        crate::idempotency::answer(actix_web::http::StatusCode::OK, &VaultOpened { identifiers, receipt })?;
    answer.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(answer)
}
