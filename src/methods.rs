//! HTTP method semantics for every route (RFC 9110 §9): `HEAD` is answered as `GET` without a
//! body (§9.3.2), `OPTIONS` with the methods a resource allows (§9.3.7), and any other method a
//! resource does not take with 405 and `Allow` (§15.5.6) rather than 404. A path that names no
//! resource is 404 problem+json. The routes come from the OpenAPI document, so they cannot
//! drift from the handlers.

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::AppError;

/// Each route of the API as path segments (`None` matches one segment, `Some("**")` the rest)
/// and the methods it takes.
pub struct Routes(Vec<(Vec<Segment>, Vec<String>)>);

enum Segment {
    Literal(String),
    Any,
    Rest,
}

impl Routes {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let mut out = Vec::new();
        for (path, item) in &doc.paths.paths {
            let segments = path
                .trim_start_matches('/')
                .split('/')
                .map(|s| match s {
                    // The tile route takes the rest of the path (`/tile/<L>/<N>.p/<W>`).
                    "{path}" => Segment::Rest,
                    s if s.starts_with('{') => Segment::Any,
                    s => Segment::Literal(s.to_string()),
                })
                .collect();
            let value = serde_json::to_value(item).unwrap_or_default();
            let mut methods: Vec<String> = ["get", "put", "post", "delete", "patch"]
                .iter()
                .filter(|m| value.get(**m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".into());
            }
            methods.push("OPTIONS".into());
            out.push((segments, methods));
        }
        Routes(out)
    }

    /// The methods the resource at `path` allows, or `None` when no route matches.
    fn allowed(&self, path: &str) -> Option<&[String]> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.0
            .iter()
            .find(|(segments, _)| matches(segments, &parts))
            .map(|(_, m)| m.as_slice())
    }
}

fn matches(segments: &[Segment], parts: &[&str]) -> bool {
    let mut i = 0;
    for s in segments {
        match s {
            Segment::Rest => return i < parts.len(),
            Segment::Any if i < parts.len() && !parts[i].is_empty() => i += 1,
            Segment::Literal(l) if i < parts.len() && parts[i] == l => i += 1,
            _ => return false,
        }
    }
    i == parts.len()
}

/// Runs before routing: a `HEAD` request is routed as `GET`. actix-web's codec remembers the
/// request was `HEAD` and sends the headers without the body.
pub fn head_as_get(req: &mut actix_web::dev::ServiceRequest) {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
}

/// A path or query that decodes to a NUL character is refused before routing: PostgreSQL
/// cannot store or compare such text, and SQLite can, so without this the two backends would
/// answer differently (a 500 on one). Bodies are held to the same rule by [`crate::body`].
pub fn nul_in_uri(req: &actix_web::dev::ServiceRequest) -> Option<AppError> {
    let uri = req.uri();
    let has = |s: &str| {
        s.as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
    };
    (has(uri.path()) || uri.query().is_some_and(has))
        .then(|| AppError::bad_request("the path and query may not hold a NUL character (%00)"))
}

/// Longest path and query accepted (414 beyond): our longest legitimate URL is a tile path or
/// a report query of a few hundred bytes.
pub const MAX_URI: usize = 4 * 1024;
/// Most bytes of header names and values accepted (431 beyond): a bearer token is the largest
/// header we read, under 8 KiB.
pub const MAX_HEADERS: usize = 16 * 1024;

/// A request head beyond [`MAX_URI`] or [`MAX_HEADERS`] is refused before routing, whatever
/// the endpoint: no handler, token check or log line sees it.
pub fn oversized_head(req: &actix_web::dev::ServiceRequest) -> Option<AppError> {
    let uri = req.uri();
    let uri_len = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if uri_len > MAX_URI {
        return Some(AppError::head_too_large(
            actix_web::http::StatusCode::URI_TOO_LONG,
            format!("the path and query exceed {MAX_URI} bytes"),
        ));
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers > MAX_HEADERS).then(|| {
        AppError::head_too_large(
            actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request's headers exceed {MAX_HEADERS} bytes"),
        )
    })
}

/// The default service: what no handler took.
pub async fn unrouted(req: HttpRequest, routes: web::Data<Routes>) -> HttpResponse {
    let Some(allowed) = routes.allowed(req.path()) else {
        return actix_web::ResponseError::error_response(&AppError::not_found("no resource at this path"));
    };
    let allow = allowed.join(", ");
    if req.method() == Method::OPTIONS {
        return HttpResponse::NoContent().insert_header((header::ALLOW, allow)).finish();
    }
    let mut response = actix_web::ResponseError::error_response(&AppError::method_not_allowed(format!(
        "this resource allows {allow}"
    )));
    if let Ok(v) = header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_templates_and_the_tile_rest() {
        let routes = Routes::from_openapi(&crate::openapi::api());
        assert_eq!(routes.allowed("/v1/log/entries/7").unwrap(), ["GET", "HEAD", "OPTIONS"]);
        assert!(routes.allowed("/v1/requests").unwrap().contains(&"POST".to_string()));
        assert!(routes.allowed("/tile/0/001.p/4").is_some());
        assert!(routes.allowed("/v1/log/entries/7/x").is_none());
        assert!(routes.allowed("/nothing").is_none());
    }
}
