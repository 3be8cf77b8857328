//! The witness's HTTP interface (C2SP `tlog-witness` §HTTP Interface). Submission and
//! monitoring prefixes are both the server's root.

use std::sync::Arc;

use actix_web::{dev::Server, get, http::StatusCode, post, web, App, HttpResponse, HttpServer};

use super::{Refusal, Witness, WitnessError, WitnessSettings};

/// A request body beyond this is refused (413): a checkpoint note and 63 proof lines are a
/// few kilobytes; signed-note caps a note at 1 MB.
const MAX_BODY: usize = 1 << 20;

fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{}\n", body.into()))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[post("/add-checkpoint")]
async fn add_checkpoint(witness: web::Data<Arc<Witness>>, body: web::Bytes) -> HttpResponse {
    let w = witness.get_ref().clone();
    // File writes and fsync: off the async workers.
    let outcome = web::block(move || w.add_checkpoint(&body, unix_now()))
        .await
        .map_err(|e| WitnessError::State(e.to_string()))
        .and_then(|r| r);
    match outcome {
        Ok(Ok(cosignature)) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(cosignature),
        Ok(Err(refusal)) => match refusal {
            Refusal::BadRequest(why) => text(StatusCode::BAD_REQUEST, why),
            Refusal::UnknownOrigin => text(StatusCode::NOT_FOUND, "unknown log origin"),
            Refusal::Forbidden(why) => text(StatusCode::FORBIDDEN, why),
            Refusal::Conflict(size) => HttpResponse::Conflict()
                .content_type("text/x.tlog.size")
                .body(format!("{size}\n")),
            Refusal::Unprocessable(why) => text(StatusCode::UNPROCESSABLE_ENTITY, why),
        },
        Err(e) => {
            log::error!("add-checkpoint failed: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness could not record the checkpoint",
            )
        }
    }
}

/// tlog-witness §Monitor Retrieval Mechanism: `GET /<origin hash>/checkpoint`.
#[get("/{origin_hash}/checkpoint")]
async fn checkpoint(witness: web::Data<Arc<Witness>>, path: web::Path<String>) -> HttpResponse {
    let w = witness.get_ref().clone();
    let hash = path.into_inner();
    let read = web::block(move || w.state().latest_by_hash(&hash))
        .await
        .map_err(|e| WitnessError::State(e.to_string()))
        .and_then(|r| r.map_err(WitnessError::from));
    match read {
        Ok(Some(note)) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("Cache-Control", "no-cache"))
            .body(note),
        Ok(None) => text(StatusCode::NOT_FOUND, "no checkpoint of that log was cosigned"),
        Err(e) => {
            log::error!("reading the witness state failed: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness could not read its state",
            )
        }
    }
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    text(StatusCode::OK, "ok")
}

/// A running witness server.
pub struct WitnessServer {
    port: u16,
    server: Server,
    summary: String,
}

impl WitnessServer {
    /// Opens the witness (key, trusted logs, state) and binds its listener.
    ///
    /// # Errors
    /// [`WitnessError::Config`] for bad settings or an address that cannot be bound.
    pub fn build(settings: &WitnessSettings) -> Result<Self, WitnessError> {
        let witness = Arc::new(Witness::open(settings)?);
        let mut origins: Vec<&str> = witness.origins().collect();
        origins.sort_unstable();
        let summary = format!(
            "witness {}; verifier key {}; state {}; logs witnessed: {}",
            settings.name,
            witness.verifier_key(),
            settings.state.display(),
            origins.join(", ")
        );
        let data = web::Data::new(witness);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .service(add_checkpoint)
                // Another method on the submission path is 405, not 404.
                .route(
                    "/add-checkpoint",
                    web::route().to(|| async {
                        HttpResponse::MethodNotAllowed()
                            .insert_header(("Allow", "POST"))
                            .content_type("text/plain; charset=utf-8")
                            .body("use POST\n")
                    }),
                )
                .service(checkpoint)
                .service(healthz)
        })
        .workers(2)
        .shutdown_timeout(5)
        // actix binds with SO_REUSEADDR: a witness restarted after a crash gets its port back
        // even while connections of the old process linger in TIME_WAIT.
        .bind(&settings.listen)
        .map_err(|e| WitnessError::Config(format!("cannot listen on {}: {e}", settings.listen)))?;
        let port = server.addrs().first().map(|a| a.port()).unwrap_or_default();
        let server = server.run();
        Ok(Self { port, server, summary })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The witness's name, verifier key, state directory and logs, for the operator.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

impl From<WitnessError> for std::io::Error {
    fn from(e: WitnessError) -> Self {
        std::io::Error::other(e.to_string())
    }
}
