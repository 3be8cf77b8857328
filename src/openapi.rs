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
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::log::key::key,
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
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError, crate::log::EmbargoedEntry)),
    modifiers(&BearerAuth),
    tags(
        (name = "log", description = "Checkpoints, entries and proofs"),
        (name = "policies", description = "Legal-validity policies"),
        (name = "authorities", description = "Requesting authorities and their keys"),
        (name = "auth", description = "Tokens"),
        (name = "requests", description = "Disclosure requests"),
        (name = "audit", description = "For oversight bodies"),
        (name = "imports", description = "Historical backfill"),
        (name = "subjects", description = "For the affected user"),
        (name = "reports", description = "Transparency reports, recomputable from the entries"),
        (name = "tiles", description = "C2SP tlog-tiles"),
        (name = "ops", description = "Health and metrics"),
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

/// The document as served and committed: pretty JSON with a trailing newline.
pub fn document() -> String {
    let mut s = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    s.push('\n');
    s
}
