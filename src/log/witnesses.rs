use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// The witnesses this log submits its checkpoints to, and the quorum a served checkpoint
/// carries (C2SP tlog-witness). A client should pin witness keys it obtained another way; this
/// list says which ones the operator configured, so that a reader (the public page) can show
/// and verify their cosignatures.
#[derive(Debug, Serialize, ToSchema)]
pub struct Witnesses {
    /// Cosignatures a served checkpoint carries at least (0: no witnesses).
    pub quorum: usize,
    /// Verifier keys `<name>+<hex key id>+<base64(0x04 ‖ Ed25519 key)>` (cosignature/v1).
    pub witnesses: Vec<String>,
}

#[utoipa::path(get, path = "/v1/log/witnesses", tag = "log",
    responses((status = 200, body = Witnesses)))]
#[get("/v1/log/witnesses")]
pub async fn witnesses(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Witnesses {
        quorum: state.settings.witness_quorum,
        witnesses: state.settings.witnesses.iter().map(|w| w.key.verifier_key()).collect(),
    })
}
