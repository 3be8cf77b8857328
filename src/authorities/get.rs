use actix_web::{get, web, HttpResponse};

use super::{load, Authority};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;

/// One authority with its keys. Officers may read only their own authority.
#[utoipa::path(
    get, path = "/v1/authorities/{id}", tag = "authorities",
    params(("id" = String, Path, description = "Authority id (UUID)")),
    responses(
        (status = 200, body = Authority),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/authorities/{id}")]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Admin, Role::Reviewer, Role::Auditor, Role::Officer])?;
    let id = id.into_inner();
    if claims.role == Role::Officer && claims.authority.as_deref() != Some(id.as_str()) {
        return Err(AppError::forbidden("officers may read only their own authority"));
    }
    let authority = state.read_at_least(0, move |conn| Ok(load(conn, &id)?)).await?;
    Ok(HttpResponse::Ok().json(authority.ok_or_else(|| AppError::not_found("no authority with that id"))?))
}
