use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::ledger::LogVerifier;
use crate::state::AppState;
use crate::store::verify::verify_ledger;

#[derive(Debug, Serialize, ToSchema)]
pub struct Failure {
    /// The entry where the history first goes wrong, when one can be named.
    pub index: Option<u64>,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReport {
    pub ok: bool,
    pub entries: u64,
    pub checkpoints: u64,
    pub seconds: f64,
    pub entries_per_second: f64,
    /// Entries whose sealed details retention destroyed, each accounted for by a
    /// `retention.shredded` entry (missing ones are a failure).
    pub shredded: u64,
    pub failure: Option<Failure>,
}

/// Re-verify the whole ledger on the server, as `disclosure-ledger verify` does on a copy of
/// the database: canonical form, chain, stored tree hashes, every checkpoint's root and
/// signature, and every entry's sealed details present or shredded by a `retention.shredded`
/// entry. Auditors only; it reads every entry, so it takes seconds on a large ledger.
#[utoipa::path(
    get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "The report; `ok` is false when verification failed", body = VerifyReport),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/audit/verify")]
pub async fn verify(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    caller.require(&[Role::Auditor])?;
    let verifier = LogVerifier::new(&state.signer.verifier_key()).map_err(AppError::internal)?;
    let report = state
        .read_at_least(0, move |conn| Ok(verify_ledger(conn, &verifier, &[], |_| {})?))
        .await?;
    Ok(HttpResponse::Ok().json(VerifyReport {
        ok: report.failure.is_none(),
        entries: report.entries,
        checkpoints: report.checkpoints,
        seconds: report.seconds,
        entries_per_second: report.entries_per_second(),
        shredded: report.shredded,
        failure: report.failure.map(|f| Failure {
            index: f.index,
            message: f.message,
        }),
    }))
}
