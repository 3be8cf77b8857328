use actix_web::{get, web, HttpResponse};

use crate::state::AppState;

/// The log's verifier key, `<name>+<key id>+<base64 key>`: pin it to check checkpoints.
#[utoipa::path(get, path = "/v1/log/key", tag = "log",
    responses((status = 200, description = "C2SP signed-note verifier key", body = String, content_type = "text/plain")))]
#[get("/v1/log/key")]
pub async fn key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(state.signer.verifier_key())
}
