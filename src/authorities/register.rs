use actix_web::{http::StatusCode, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{load, Authority, AuthorityKind, STATUS_VERIFIED};
use crate::auth::{Caller, Role};
use crate::error::{AppError, FieldError, Problem};
use crate::idempotency;
use crate::ledger::entry::format_time;
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::{schema::authorities, NewEntry};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAuthority {
    /// ISO 3166-1 alpha-3, e.g. `FRA`.
    pub country: String,
    pub kind: AuthorityKind,
    /// Whether the authority is judicial (a court or judge, or a prosecutor with judicial
    /// status in its legal system).
    pub judicial: bool,
    /// Official name, 1–200 characters.
    pub name: String,
    /// Official e-mail or web domains, lower case.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// An authority with the receipt of the entry that recorded the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorityChanged {
    pub authority: Authority,
    pub receipt: EntryReceipt,
}

pub(super) fn check(body: &RegisterAuthority) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, code: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        })
    };
    if body.country.len() != 3 || isocountry::CountryCode::for_alpha3(&body.country).is_err() {
        bad(
            "country",
            "invalid",
            "country must be an ISO 3166-1 alpha-3 code in upper case, e.g. FRA",
        );
    }
    if body.name.trim().is_empty() || body.name.chars().count() > 200 {
        bad("name", "invalid", "name must have 1 to 200 characters");
    }
    let domain_ok = |d: &String| {
        !d.is_empty()
            && d.len() <= 253
            && d.contains('.')
            && d.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    };
    if body.domains.len() > 20 || !body.domains.iter().all(domain_ok) {
        bad("domains", "invalid", "domains must be at most 20 lower-case DNS names");
    }
    errors
}

/// Register an authority; appends `authority.registered`.
#[utoipa::path(
    post, path = "/v1/authorities", tag = "authorities",
    request_body = RegisterAuthority,
    responses(
        (status = 201, body = AuthorityChanged),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/authorities")]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Admin])?.clone();
    let wait = crate::log::Wait::from_query(&req)?;
    let (body, sha): (RegisterAuthority, String) = crate::body::json_digest(&req, payload).await?;
    let call = idempotency::Call::from_request(&req, &claims.sub, "register-authority", "", &sha)?;
    if let Some(first) = idempotency::replay(&state, &call).await? {
        return Ok(first);
    }
    let errors = check(&body);
    if !errors.is_empty() {
        return Err(AppError::unprocessable("the authority is not valid", errors));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let claim = call.clone();
    let (authority, appended) = state
        .sequencer
        .append(move |ctx| -> Result<_, AppError> {
            if !idempotency::claim(ctx, &claim)? {
                return Ok((None, Vec::new()));
            }
            diesel::insert_into(authorities::table)
                .values((
                    authorities::id.eq(&id),
                    authorities::country.eq(&body.country),
                    authorities::kind.eq(body.kind.as_str()),
                    authorities::judicial.eq(body.judicial),
                    authorities::name.eq(&body.name),
                    authorities::domains.eq(json!(body.domains).to_string()),
                    authorities::status.eq(STATUS_VERIFIED),
                    authorities::created_at.eq(format_time(chrono::Utc::now())),
                ))
                .execute(ctx.conn)
                .map_err(crate::store::StoreError::from)?;
            let authority = load(ctx.conn, &id)?.ok_or_else(|| AppError::internal("authority vanished"))?;
            let public = json!({
                "authority": id,
                "country": body.country,
                "authority_kind": body.kind.as_str(),
                "judicial": body.judicial,
            });
            let entry = NewEntry {
                kind: "authority.registered".into(),
                subject: None,
                public: public.as_object().cloned().unwrap_or_default(),
                restricted: Some(json!({ "name": body.name, "domains": body.domains })),
            };
            idempotency::keep(ctx, &claim, StatusCode::CREATED, &json!({ "authority": authority }), 1)?;
            Ok((Some(authority), vec![entry]))
        })
        .await?;
    let Some(authority) = authority else {
        return idempotency::replayed(&state, &call).await;
    };
    let receipt = EntryReceipt::for_appended(&state, &appended)
        .await?
        .cosigned(&state, wait)
        .await?;
    idempotency::answer(StatusCode::CREATED, &AuthorityChanged { authority, receipt })
}
