use actix_web::{http::StatusCode, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::key::{normalise, thumbprint, KeyAlg};
use super::load;
use super::register::AuthorityChanged;
use crate::auth::{Caller, Role};
use crate::error::{AppError, FieldError, Problem};
use crate::idempotency;
use crate::ledger::entry::format_time;
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::{schema::authority_keys, NewEntry, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddKey {
    pub alg: KeyAlg,
    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`). Give this or `jwk`.
    pub pem: Option<String>,
    /// Public JWK (OKP/Ed25519 or EC/P-256). Give this or `pem`.
    #[schema(value_type = Option<Object>)]
    pub jwk: Option<Value>,
    /// Key id; default: the RFC 7638 thumbprint of the key.
    pub kid: Option<String>,
    /// RFC 3339; default: now.
    pub not_before: Option<String>,
    /// RFC 3339; default: no end.
    pub not_after: Option<String>,
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        code: "invalid".into(),
        message: message.into(),
    }
}

fn time(field_name: &str, value: &Option<String>) -> Result<Option<String>, FieldError> {
    value
        .as_deref()
        .map(|s| {
            crate::ledger::entry::parse_instant(s)
                .map(format_time)
                .ok_or_else(|| field(field_name, format!("{field_name} must be an RFC 3339 date-time")))
        })
        .transpose()
}

/// Register a public key of an authority; appends `authority.key_added`.
#[utoipa::path(
    post, path = "/v1/authorities/{id}/keys", tag = "authorities",
    params(("id" = String, Path, description = "Authority id")),
    request_body = AddKey,
    responses(
        (status = 201, body = AuthorityChanged),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/authorities/{id}/keys")]
pub async fn add_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Admin])?.clone();
    let wait = crate::log::Wait::from_query(&req)?;
    let (body, sha): (AddKey, String) = crate::body::json_digest(&req, payload).await?;
    let id = id.into_inner();
    let call = idempotency::Call::from_request(&req, &claims.sub, "add-key", &id, &sha)?;
    if let Some(first) = idempotency::replay(&state, &call).await? {
        return Ok(first);
    }
    let mut errors = Vec::new();
    let jwk = normalise(body.alg, body.pem.as_deref(), body.jwk.as_ref())
        .map_err(|m| errors.push(field("key", m)))
        .ok();
    let not_before = time("not_before", &body.not_before)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let not_after = time("not_after", &body.not_after)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let not_before = not_before.unwrap_or_else(|| format_time(chrono::Utc::now()));
    if not_after.as_ref().is_some_and(|a| *a <= not_before) {
        errors.push(field("not_after", "not_after must be later than not_before"));
    }
    let kid_ok = |k: &String| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic());
    if body.kid.as_ref().is_some_and(|k| !kid_ok(k)) {
        errors.push(field("kid", "kid must be 1 to 128 printable ASCII characters"));
    }
    let Some(jwk) = jwk.filter(|_| errors.is_empty()) else {
        return Err(AppError::unprocessable("the key is not acceptable", errors));
    };
    let kid = body.kid.unwrap_or_else(|| thumbprint(&jwk));
    let alg = body.alg;
    let claim = call.clone();
    let (authority, appended) = state
        .sequencer
        .append(move |ctx| -> Result<_, AppError> {
            if !idempotency::claim(ctx, &claim)? {
                return Ok((None, Vec::new()));
            }
            if load(ctx.conn, &id)?.is_none() {
                return Err(AppError::not_found("no authority with that id"));
            }
            let taken: i64 = authority_keys::table
                .filter(authority_keys::kid.eq(&kid))
                .count()
                .get_result(ctx.conn)
                .map_err(StoreError::from)?;
            if taken > 0 {
                return Err(AppError::conflict(format!("key id {kid:?} is already registered")));
            }
            // A public key belongs to one authority under one kid: otherwise revoking one kid
            // would leave the same key valid through the other.
            let same_key: i64 = authority_keys::table
                .filter(authority_keys::jwk.eq(jwk.to_string()))
                .count()
                .get_result(ctx.conn)
                .map_err(StoreError::from)?;
            if same_key > 0 {
                return Err(AppError::conflict("this public key is already registered"));
            }
            diesel::insert_into(authority_keys::table)
                .values((
                    authority_keys::kid.eq(&kid),
                    authority_keys::authority_id.eq(&id),
                    authority_keys::alg.eq(alg.as_str()),
                    authority_keys::jwk.eq(jwk.to_string()),
                    authority_keys::not_before.eq(&not_before),
                    authority_keys::not_after.eq(&not_after),
                ))
                .execute(ctx.conn)
                .map_err(StoreError::from)?;
            let authority = load(ctx.conn, &id)?.ok_or_else(|| AppError::internal("authority vanished"))?;
            let public = json!({
                "authority": id,
                "kid": kid,
                "alg": alg.as_str(),
                "key_thumbprint": thumbprint(&jwk),
                "not_before": not_before,
                "not_after": not_after,
            });
            idempotency::keep(ctx, &claim, StatusCode::CREATED, &json!({ "authority": authority }), 1)?;
            Ok((
                Some(authority),
                vec![NewEntry::log_level(
                    "authority.key_added",
                    public.as_object().cloned().unwrap_or_default(),
                )],
            ))
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
