use actix_web::{get, web, HttpResponse};

use crate::cosigning::store::served;
use crate::error::{AppError, Problem};
use crate::state::AppState;

/// The checkpoint served (C2SP tlog-checkpoint in a signed note): with witnesses and a quorum
/// K, the newest one K witnesses cosigned, its note carrying their cosignature lines (C2SP
/// tlog-cosignature); without, the newest one.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    responses(
        (status = 200, description = "Signed note", body = String, content_type = "text/plain"),
        (status = 404, description = "Nothing committed yet", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/v1/log/checkpoint")]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    latest(&state).await
}

/// The served note, answered as text and never cached.
pub(super) async fn latest(state: &AppState) -> Result<HttpResponse, AppError> {
    let quorum = state.cosigning.quorum;
    let latest = state.read_served(move |conn| Ok(served(conn, quorum)?)).await?;
    let note = latest
        .ok_or_else(|| {
            AppError::not_found("no checkpoint has been signed (and, with witnesses, cosigned by the quorum) yet")
        })?
        .note;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(note))
}
