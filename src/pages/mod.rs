//! The public pages (issue 13): the figures and the ledger's verification in the reader's own
//! browser. Plain HTML, CSS and ES modules from `web/`, embedded in the binary (no build step,
//! no CDN, no third-party script or font), served with a strict Content-Security-Policy: no
//! inline script or style, and `connect-src 'self'`, so the page can reach only this ledger.
//! The verification itself (`web/verify.js`) uses WebCrypto (SHA-256, Ed25519) and trusts
//! nothing the server says about itself: it checks signatures and proofs.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use crate::error::{AppError, Problem};

/// Every page and asset is answered with this policy (CSP Level 3).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `(name, media type, bytes)` of the assets under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "verify.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/verify.js"),
    ),
    (
        "receipt.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/receipt.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
];

fn serve(media_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(media_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // The bytes change with the binary, not with the log: revalidate, never keep stale.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

const HTML: &str = "text/html; charset=utf-8";

/// The figures and the log's verification.
#[utoipa::path(get, path = "/", tag = "pages", responses((status = 200, description = "HTML page", body = String, content_type = "text/html")))]
#[get("/")]
pub async fn index() -> HttpResponse {
    serve(HTML, include_str!("../../web/index.html"))
}

/// The receipt checker (`/receipt#<base64url of a receipt>` checks one at once).
#[utoipa::path(get, path = "/receipt", tag = "pages", responses((status = 200, description = "HTML page", body = String, content_type = "text/html")))]
#[get("/receipt")]
pub async fn receipt() -> HttpResponse {
    serve(HTML, include_str!("../../web/receipt.html"))
}

/// What the page checks and what it cannot.
#[utoipa::path(get, path = "/about", tag = "pages", responses((status = 200, description = "HTML page", body = String, content_type = "text/html")))]
#[get("/about")]
pub async fn about() -> HttpResponse {
    serve(HTML, include_str!("../../web/about.html"))
}

/// The pages' scripts and style sheet.
#[utoipa::path(get, path = "/assets/{name}", tag = "pages",
    params(("name" = String, Path, description = "app.js, verify.js, receipt.js or style.css")),
    responses(
        (status = 200, description = "An ES module or a style sheet", content(
            (String = "text/javascript"),
            (String = "text/css"),
        )),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/assets/{name}")]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .map(|(_, media_type, body)| serve(media_type, body))
        .ok_or_else(|| AppError::not_found("no such asset"))
}
