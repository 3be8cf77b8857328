use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{adoption, document_sha256};
use crate::auth::{Caller, Role};
use crate::error::{AppError, FieldError, Problem};
use crate::log::EntryReceipt;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptPolicy {
    /// Short name, `[a-z0-9._-]`, 1–64 characters.
    pub name: String,
    /// The policy document (TOML, see `policies/` for the three shipped ones).
    pub document: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyAdopted {
    pub name: String,
    pub sha256: String,
    #[serde(flatten)]
    pub receipt: EntryReceipt,
}

const MAX_DOCUMENT: usize = 256 * 1024;

/// Adopt a policy: appends `policy.adopted` naming the document's SHA-256.
#[utoipa::path(
    post, path = "/v1/policies", tag = "policies",
    request_body = AdoptPolicy,
    responses(
        (status = 200, description = "Already in force: nothing appended; the receipt proves the entry that adopted it", body = PolicyAdopted),
        (status = 201, description = "Adopted; the receipt proves the entry", body = PolicyAdopted),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid policy document", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/policies")]
pub async fn adopt(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    caller.require(&[Role::Admin])?;
    let wait = crate::log::Wait::from_query(&req)?;
    let body: AdoptPolicy = crate::body::json(&req, payload).await?;
    let AdoptPolicy { name, document } = body;
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !name_ok {
        return Err(AppError::invalid_parameter(
            "name",
            "name must be 1 to 64 of a-z 0-9 . _ -",
        ));
    }
    if document.trim().is_empty() || document.len() > MAX_DOCUMENT {
        return Err(AppError::invalid_parameter(
            "document",
            "document must be non-empty and at most 256 KiB",
        ));
    }
    if let Err(why) = super::Policy::parse(&document) {
        let field = FieldError {
            field: "document".into(),
            code: "invalid_policy".into(),
            message: why,
        };
        return Err(AppError::unprocessable(
            "the document is not a valid policy",
            vec![field],
        ));
    }
    let sha256 = document_sha256(&document);
    let (op_name, op_sha) = (name.clone(), sha256.clone());
    // Checked under the head lock, so two identical adoptions at once append one entry.
    let (in_force, appended) = state
        .sequencer
        .append(move |ctx| -> Result<_, AppError> {
            match crate::store::queries::current_policy_entry(ctx.conn)? {
                Some((sha, index)) if sha == op_sha => Ok((Some(index), Vec::new())),
                _ => Ok((None, vec![adoption(ctx, &op_name, &document)?])),
            }
        })
        .await?;
    if let Some(index) = in_force {
        let receipt = EntryReceipt::for_stored(&state, index, 1).await?;
        return Ok(HttpResponse::Ok().json(PolicyAdopted { name, sha256, receipt }));
    }
    let receipt = EntryReceipt::for_appended(&state, &appended)
        .await?
        .cosigned(&state, wait)
        .await?;
    Ok(HttpResponse::Created().json(PolicyAdopted { name, sha256, receipt }))
}
