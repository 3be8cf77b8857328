//! Operations endpoints: liveness, readiness, Prometheus metrics.

use actix_web::{get, web, HttpResponse};

use crate::error::{AppError, Problem};
use crate::state::AppState;
use crate::store::queries;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = String, content_type = "text/plain")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Readiness: the writer runs and the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, body = String, content_type = "text/plain"),
        (status = 503, description = "The writer is not running or the database is unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if !state.sequencer.is_alive() {
        return Err(AppError::unavailable("the ledger's writer is not running"));
    }
    if !state.sequencer.is_writable() {
        return Err(AppError::unavailable_for(
            "the ledger's writer has lost its database connection and is reconnecting",
            1,
        ));
    }
    state
        .read(|conn| {
            queries::head_size(conn).map_err(|e| {
                log::warn!("readiness check failed: {e}");
                AppError::unavailable("the database is not reachable")
            })
        })
        .await?;
    let behind = state.sequencer.clock_behind_ms();
    let body = if behind > crate::store::sequencer::CLOCK_TOLERANCE_MS {
        format!(
            "ready; warning: this host's clock is {:.1} s behind the last entry's time\n",
            behind as f64 / 1000.0
        )
    } else {
        "ready".to_string()
    };
    Ok(HttpResponse::Ok().content_type("text/plain").body(body))
}

/// Prometheus text exposition: appends, batch sizes, commit latency, tree size.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
