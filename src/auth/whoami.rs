use actix_web::{get, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Caller, Role};
use crate::error::{AppError, Problem};

/// What the ledger makes of the caller's token.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub iss: String,
    pub sub: String,
    pub role: Role,
    /// The authority an officer acts for.
    pub authority: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// Check a token: answers with its verified claims, or 401 with the reason it is refused.
#[utoipa::path(
    get, path = "/v1/auth/whoami", tag = "auth",
    responses(
        (status = 200, body = WhoAmI),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/auth/whoami")]
pub async fn whoami(caller: Caller) -> Result<HttpResponse, AppError> {
    let c = caller.require(&[Role::Officer, Role::Reviewer, Role::Auditor, Role::Admin])?;
    Ok(HttpResponse::Ok().json(WhoAmI {
        iss: c.iss.clone(),
        sub: c.sub.clone(),
        role: c.role,
        authority: c.authority.clone(),
        exp: c.exp,
    }))
}
