//! The OpenAPI document, generated from the handlers' annotations. `api-spec/openapi.json` is
//! this document as committed; `tests/openapi.rs` fails when the two differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Disclosure Ledger",
        description = "A verifiable, append-only ledger of law-enforcement data disclosure requests. Errors are RFC 9457 problem+json.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::pages::index,
        crate::pages::receipt,
        crate::pages::about,
        crate::pages::asset,
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::log::key::key,
        crate::log::witnesses::witnesses,
        crate::log::checkpoint::checkpoint,
        crate::log::entries::list_entries,
        crate::log::entries::get_entry,
        crate::log::proof::inclusion,
        crate::log::proof::consistency,
        crate::policy::adopt::adopt,
        crate::policy::current::current,
        crate::authorities::register::register,
        crate::authorities::list::list,
        crate::authorities::get::get,
        crate::authorities::add_key::add_key,
        crate::authorities::revoke_key::revoke_key,
        crate::authorities::status::suspend,
        crate::authorities::status::reinstate,
        crate::auth::whoami::whoami,
        crate::requests::submit::submit,
        crate::requests::list::list,
        crate::requests::get::get,
        crate::requests::identifiers::open,
        crate::requests::history::history,
        crate::requests::amend::amend,
        crate::audit::sealed::sealed,
        crate::audit::verify::verify,
        crate::log::tiles::checkpoint,
        crate::log::tiles::tile,
        crate::requests::decision::decide,
        crate::requests::disclosure::disclose,
        crate::requests::withdraw::withdraw,
        crate::requests::notification::notify,
        crate::requests::emergency_validation::validate_emergency,
        crate::reports::transparency::transparency,
        crate::imports::create::create,
        crate::subjects::prove::prove,
        crate::retention::view::view,
        crate::retention::hold::place,
        crate::retention::hold::lift,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError, crate::log::EmbargoedEntry)),
    modifiers(&BearerAuth),
    tags(
        (name = "log", description = "Checkpoints, entries and proofs"),
        (name = "policies", description = "Legal-validity policies"),
        (name = "authorities", description = "Requesting authorities and their keys"),
        (name = "auth", description = "Tokens"),
        (name = "requests", description = "Disclosure requests"),
        (name = "retention", description = "Crypto-shredding at the end of retention, and legal hold"),
        (name = "audit", description = "For oversight bodies"),
        (name = "imports", description = "Historical backfill"),
        (name = "subjects", description = "For the affected user"),
        (name = "reports", description = "Transparency reports, recomputable from the entries"),
        (name = "tiles", description = "C2SP tlog-tiles"),
        (name = "ops", description = "Health and metrics"),
        (name = "pages", description = "The public pages: figures and verification in the reader's browser"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as served and committed: the handlers' annotations with the conventions of
/// `docs/API.md` that hold for every operation added by [`conventions`].
pub fn api() -> utoipa::openapi::OpenApi {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    conventions(&mut doc);
    serde_json::from_value(doc).expect("the amended OpenAPI document is still one")
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn document() -> String {
    let mut s = api().to_pretty_json().expect("the OpenAPI document serialises");
    s.push('\n');
    s
}

/// What every operation shares, so that the spec and the server agree exactly:
/// - every operation that takes a body may answer 400 (malformed, or a member repeated), 413
///   (over its size limit), 415 (not its media type) and 422 (a number beyond I-JSON, or a
///   failed check), each as problem+json;
/// - every integer carries its real bounds: at most 2^53 − 1 (RFC 7493 §2.2), and the range of
///   its Rust type where that is narrower.
fn conventions(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            // The expensive reads are rate-limited like writes (`limits::is_costly`).
            if crate::limits::is_costly(&actix_web::http::Method::GET, path) {
                if let Some(responses) = item
                    .get_mut("get")
                    .and_then(|op| op.get_mut("responses"))
                    .and_then(Value::as_object_mut)
                {
                    responses
                        .entry("429")
                        .or_insert_with(|| problem("Over a rate limit; `Retry-After` says when to try again"));
                }
            }
            // Lifecycle transitions take `Idempotency-Key` (`requests::transition::Retry`).
            let transition = [
                "decision",
                "disclosure",
                "notification",
                "emergency-validation",
                "withdraw",
            ]
            .iter()
            .any(|a| path.starts_with("/v1/requests/{id}/") && path.ends_with(a));
            // …and so do the other mutating calls (`idempotency`).
            let keyed = transition
                || [
                    "/v1/authorities",
                    "/v1/authorities/{id}/keys",
                    "/v1/authorities/{id}/keys/{kid}/revoke",
                    "/v1/authorities/{id}/suspend",
                    "/v1/authorities/{id}/reinstate",
                    "/v1/requests/{id}/amend",
                    "/v1/requests/{id}/identifiers",
                    "/v1/requests/{id}/legal-hold",
                    "/v1/requests/{id}/legal-hold/lift",
                ]
                .contains(&path.as_str());
            if keyed {
                if let Some(op) = item.get_mut("post").and_then(Value::as_object_mut) {
                    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                        responses
                            .entry("400")
                            .or_insert_with(|| problem("Malformed Idempotency-Key, parameter or body"));
                        // A key used before for another call (action, resource or body).
                        responses
                            .entry("409")
                            .or_insert_with(|| problem("Conflict, or an Idempotency-Key used for another call"));
                    }
                    let params = op.entry("parameters").or_insert_with(|| json!([]));
                    if let Some(params) = params.as_array_mut() {
                        params.push(json!({
                            "name": "Idempotency-Key", "in": "header", "required": false,
                            "description": "A retry with the same key, request and body replays the first answer (its receipt); with another action, request or body it is 409",
                            "schema": { "type": "string", "minLength": 1, "maxLength": 200 }
                        }));
                    }
                }
            }
            // Every write answered with a receipt may wait for witnesses (`log::receipt::Wait`).
            if keyed || path == "/v1/requests" || path == "/v1/policies" {
                if let Some(op) = item.get_mut("post").and_then(Value::as_object_mut) {
                    let params = op.entry("parameters").or_insert_with(|| json!([]));
                    if let Some(params) = params.as_array_mut() {
                        params.push(json!({
                            "name": "wait", "in": "query", "required": false,
                            "description": "`cosigned`: answer with a receipt against a checkpoint a quorum of witnesses cosigned (see `timeout`); if the quorum does not come in time, the batch's own receipt",
                            "schema": { "type": "string", "enum": ["cosigned"] }
                        }));
                        params.push(json!({
                            "name": "timeout", "in": "query", "required": false,
                            "description": "Seconds `wait=cosigned` waits at most (default 10)",
                            "schema": { "type": "integer", "minimum": 1, "maximum": 60 }
                        }));
                    }
                }
            }
            // Every write is rate-limited per client and per token subject (`limits`).
            if let Some(responses) = item
                .get_mut("post")
                .and_then(|op| op.get_mut("responses"))
                .and_then(Value::as_object_mut)
            {
                responses
                    .entry("429")
                    .or_insert_with(|| problem("Over a rate limit; `Retry-After` says when to try again"));
            }
            for op in item.values_mut().filter_map(Value::as_object_mut) {
                if !op.contains_key("requestBody") {
                    continue;
                }
                let responses = op
                    .entry("responses")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .expect("responses is an object");
                for (status, description) in [
                    (
                        "400",
                        "Malformed body: not JSON, a member repeated, or not of this schema (the field is named)",
                    ),
                    (
                        "408",
                        "The body arrived too slowly (a pause over 5 s, or too long in all)",
                    ),
                    ("413", "The body exceeds this endpoint's size limit"),
                    ("415", "The body is not of a media type this endpoint takes"),
                    (
                        "422",
                        "A well-formed body that fails validation, or a number beyond ±(2^53 − 1); each field named",
                    ),
                ] {
                    responses.entry(status).or_insert_with(|| problem(description));
                }
            }
        }
    }
    bound_integers(doc);
}

fn bound_integers(v: &mut serde_json::Value) {
    use serde_json::Value;
    const MAX_SAFE: i64 = (1 << 53) - 1;
    match v {
        Value::Object(o) => {
            let is_integer = match o.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                _ => false,
            };
            if is_integer {
                let unsigned = o.get("minimum").and_then(Value::as_i64).is_some_and(|m| m >= 0);
                let (lo, hi) = match (o.get("format").and_then(Value::as_str), unsigned) {
                    (Some("int32"), true) => (0, u32::MAX as i64),
                    (Some("int32"), false) => (i32::MIN as i64, i32::MAX as i64),
                    (_, true) => (0, MAX_SAFE),
                    (_, false) => (-MAX_SAFE, MAX_SAFE),
                };
                let lo = o.get("minimum").and_then(Value::as_i64).map_or(lo, |m| m.max(lo));
                let hi = o.get("maximum").and_then(Value::as_i64).map_or(hi, |m| m.min(hi));
                o.insert("minimum".into(), lo.into());
                o.insert("maximum".into(), hi.into());
                if unsigned && o.get("format").and_then(Value::as_str) == Some("int32") {
                    o.insert("format".into(), "uint32".into());
                }
            }
            o.values_mut().for_each(bound_integers);
        }
        Value::Array(a) => a.iter_mut().for_each(bound_integers),
        _ => {}
    }
}
