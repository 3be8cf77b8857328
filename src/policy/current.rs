use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, Problem};
use crate::state::AppState;
use crate::store::queries;

#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentPolicy {
    pub name: String,
    pub sha256: String,
    pub document: String,
}

/// The policy in force: the newest adopted document.
#[utoipa::path(
    get, path = "/v1/policies/current", tag = "policies",
    responses(
        (status = 200, body = CurrentPolicy),
        (status = 404, description = "No policy adopted yet", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/policies/current")]
pub async fn current(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let row = state
        .read_at_least(0, |conn| Ok(queries::current_policy(conn)?))
        .await?;
    let (name, sha256, document) = row.ok_or_else(|| AppError::not_found("no policy has been adopted"))?;
    Ok(HttpResponse::Ok().json(CurrentPolicy { name, sha256, document }))
}
