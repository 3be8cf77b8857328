use std::collections::BTreeMap;

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::submit::RequestRecorded;
use super::transition::{apply, require_state, Change, Retry};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    FullyProduced,
    PartiallyProduced,
    NoData,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    pub outcome: Outcome,
    /// Accounts whose data was disclosed.
    #[serde(default)]
    pub accounts_affected: u64,
    /// Number of values disclosed per data category, e.g. `{"ip_address": 3}`.
    #[serde(default)]
    pub values: BTreeMap<String, u64>,
    /// SHA-256 (hex) of the package delivered to the authority.
    pub package_sha256: Option<String>,
    /// Per identifier (by its commitment, as the vault and the sealed details hold it): the
    /// values disclosed per category. Sealed; per category they must add up to `values`.
    pub identifiers: Option<Vec<IdentifierDisclosure>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierDisclosure {
    pub commitment: String,
    pub values: BTreeMap<String, u64>,
}

/// Record what was disclosed for an approved request (`request.disclosed`), or that there was
/// nothing to disclose (`request.no_data`). Categories must be within the approval.
#[utoipa::path(
    post, path = "/v1/requests/{id}/disclosure", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = Disclosure,
    responses(
        (status = 200, body = RequestRecorded),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved; the detail names the current state", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests/{id}/disclosure")]
pub async fn disclose(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Reviewer])?.clone();
    let (body, digest): (Disclosure, String) = crate::body::json_digest(&req, payload).await?;
    let retry = Retry::from_request(&req, "disclosure", digest)?;
    let wait = crate::log::Wait::from_query(&req)?;
    let package_ok = body
        .package_sha256
        .as_deref()
        .is_none_or(|p| p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !package_ok {
        return Err(AppError::invalid_parameter(
            "package_sha256",
            "package_sha256 must be 64 hex digits",
        ));
    }
    // The vault's commitments are read only to check per-identifier values.
    let with_commitments = body.identifiers.is_some();
    apply(
        state,
        claims,
        id.into_inner(),
        retry,
        wait,
        with_commitments,
        move |cur| {
            require_state(cur, &["approved", "approved_narrowed"])?;
            if let Outcome::NoData = body.outcome {
                let mut change = Change::to("no_data", "request.no_data", json!({ "outcome": "no_data" }));
                change.notification = Some("pending");
                return Ok(change);
            }
            let approved = cur.approved_categories.clone().unwrap_or_default();
            // The category is not named back: a caller could put anything in a map key.
            if body.values.keys().any(|c| !approved.contains(c)) {
                return Err(AppError::invalid_parameter(
                    "values",
                    format!(
                        "a category in values was not approved (approved: {})",
                        approved.join(", ")
                    ),
                ));
            }
            if body.accounts_affected == 0 || body.values.values().all(|n| *n == 0) {
                return Err(AppError::invalid_parameter(
                    "values",
                    "a disclosure discloses at least one value of one account",
                ));
            }
            if let Some(per) = &body.identifiers {
                // u128: per-identifier figures are each below 2^53, their sum need not be.
                let mut sums: BTreeMap<&String, u128> = BTreeMap::new();
                for d in per {
                    if !cur.commitments.contains(&d.commitment) {
                        return Err(AppError::invalid_parameter(
                            "identifiers",
                            "a commitment is not one of this request's identifiers",
                        ));
                    }
                    for (category, n) in &d.values {
                        *sums.entry(category).or_default() += u128::from(*n);
                    }
                }
                let totals: BTreeMap<&String, u128> = body
                    .values
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(c, n)| (c, u128::from(*n)))
                    .collect();
                sums.retain(|_, n| *n > 0);
                if sums != totals {
                    return Err(AppError::invalid_parameter(
                        "identifiers",
                        "per-identifier values must add up to values",
                    ));
                }
            }
            let outcome = match body.outcome {
                Outcome::FullyProduced => "fully_produced",
                _ => "partially_produced",
            };
            let mut change = Change::to(
                "disclosed",
                "request.disclosed",
                json!({ "outcome": outcome, "accounts_affected": body.accounts_affected, "values": body.values }),
            );
            let per: Vec<_> = body
                .identifiers
                .iter()
                .flatten()
                .map(|d| json!({ "commitment": d.commitment, "values": d.values }))
                .collect();
            change.restricted = Some(json!({ "package_sha256": body.package_sha256, "identifiers": per }));
            change.notification = Some("pending");
            Ok(change)
        },
    )
    .await
}
