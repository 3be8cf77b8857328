use actix_web::{get, web, HttpResponse};

use crate::app::AppState;
use crate::error::{AppError, Problem};
use crate::store::queries;

/// The newest signed checkpoint (C2SP tlog-checkpoint in a signed note).
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    responses(
        (status = 200, description = "Signed note", body = String, content_type = "text/plain"),
        (status = 404, description = "Nothing committed yet", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/v1/log/checkpoint")]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    latest(&state).await
}

/// The newest signed note, answered as text and never cached.
pub(super) async fn latest(state: &AppState) -> Result<HttpResponse, AppError> {
    let latest = state.read(|conn| Ok(queries::latest_checkpoint(conn)?)).await?;
    let (_, note) = latest.ok_or_else(|| AppError::not_found("no checkpoint has been signed yet"))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(note))
}
