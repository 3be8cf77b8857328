//! The `Caller` extractor: who is asking. No `Authorization` header means the public; a header
//! that does not hold a valid token is refused with 401 rather than treated as the public, so a
//! client never silently loses access it thinks it has.

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::{Claims, Role, Verified};
use crate::authorities::{self, key::decoding_key};
use crate::error::AppError;
use crate::ledger::entry::format_time;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Caller(pub Option<Claims>);

impl Caller {
    pub fn role(&self) -> Option<Role> {
        self.0.as_ref().map(|c| c.role)
    }

    /// Refuses the public with 401 and a token of another role with 403.
    pub fn require(&self, allowed: &[Role]) -> Result<&Claims, AppError> {
        match &self.0 {
            None => Err(AppError::unauthorized("this endpoint needs a bearer token")),
            Some(c) if allowed.contains(&c.role) => Ok(c),
            Some(_) => Err(AppError::forbidden("the token's role may not use this endpoint")),
        }
    }

    /// Auditors see every entry at once (DESIGN §4.5).
    pub fn sees_embargoed(&self) -> bool {
        self.role() == Some(Role::Auditor)
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { extract(&req).await })
    }
}

async fn extract(req: &HttpRequest) -> Result<Caller, AppError> {
    let mut all = req.headers().get_all(actix_web::http::header::AUTHORIZATION);
    let Some(header) = all.next() else {
        return Ok(Caller(None));
    };
    if all.next().is_some() {
        return Err(AppError::unauthorized("send one Authorization header"));
    }
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .ok_or_else(|| AppError::unauthorized("Authorization must be 'Bearer <token>'"))?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let claims = verify(state, token.trim()).await?;
    if crate::limits::is_costly(req.method(), req.path()) {
        let subject = format!("{}\n{}", claims.iss, claims.sub);
        if let Err(wait) = state.subject_rate.check(&subject) {
            return Err(AppError::too_many_requests_for(
                "too many requests for this token's subject",
                wait,
            ));
        }
    }
    Ok(Caller(Some(claims)))
}

/// Checks a bearer token from either kind of issuer. Refusals are 401 with a reason that names
/// no secret. A token verified before is not verified again while it lives (`VerifiedTokens`),
/// but its authority's standing and its key's validity are read again on every call.
async fn verify(state: &AppState, token: &str) -> Result<Claims, AppError> {
    let now = jsonwebtoken::get_current_timestamp();
    if let Some(known) = state.verified_tokens.get(token, now) {
        if still_in_force(state, &known).await? {
            return Ok(known.claims);
        }
    }
    let verified = verify_afresh(state, token).await?;
    state.verified_tokens.put(token, verified.clone(), now);
    Ok(verified.claims)
}

/// Whether what a cached verification relied on still holds: an officer's authority in good
/// standing, and for an authority's token the same key still active under its kid. `false`
/// sends the token through the whole verification again, which then says why it fails.
async fn still_in_force(state: &AppState, known: &Verified) -> Result<bool, AppError> {
    let claims = &known.claims;
    match &known.key {
        None if claims.role == Role::Officer => {
            officer_authority_in_good_standing(state, claims).await?;
            Ok(true)
        }
        None => Ok(true),
        Some((kid, jwk)) => {
            let (iss, kid, jwk) = (claims.iss.clone(), kid.clone(), jwk.clone());
            let now = format_time(chrono::Utc::now());
            state
                .read(move |conn| {
                    Ok(authorities::find_active_key(conn, &iss, &kid, &now)?.is_ok_and(|key| key.jwk == jwk))
                })
                .await
        }
    }
}

async fn verify_afresh(state: &AppState, token: &str) -> Result<Verified, AppError> {
    let refused = |why: String| AppError::unauthorized(format!("token refused: {why}"));
    // The form first (header members, strict JSON), before any key is chosen; `alg: none` and
    // unknown algorithms fail in `decode_header`.
    super::check_shape(token).map_err(|e| refused(e.to_string()))?;
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| refused("malformed token or unsupported algorithm".into()))?;
    let unverified: Unverified = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|_| refused("the token has no issuer".into()))?;
    if unverified.iss == state.tokens.issuer() {
        let claims = state.tokens.verify(token).map_err(|e| refused(e.to_string()))?;
        if claims.role == Role::Officer {
            officer_authority_in_good_standing(state, &claims).await?;
        }
        return Ok(Verified { claims, key: None });
    }
    let kid = header
        .kid
        .ok_or_else(|| refused("an authority token must name its key (kid)".into()))?;
    let iss = unverified.iss;
    let now = format_time(chrono::Utc::now());
    let lookup = (iss.clone(), kid.clone());
    // On the blocking pool, never on the async worker: a slow or unreachable database must
    // not stall every other request this worker serves.
    let key = state
        .read(move |conn| Ok(authorities::find_active_key(conn, &lookup.0, &lookup.1, &now)?))
        .await?
        .map_err(|why| refused(why.to_string()))?;
    let decoding = decoding_key(&key.jwk).map_err(AppError::internal)?;
    let claims = state
        .tokens
        .verify_authority_token(token, &iss, key.alg.jwt(), &decoding)
        .map_err(|e| refused(e.to_string()))?;
    Ok(Verified {
        claims,
        key: Some((kid, key.jwk)),
    })
}

/// A ledger-minted officer token acts for an authority like one the authority signed: it must
/// name the authority, and the authority must be registered and not suspended. Without this an
/// officer token with no authority would act for the empty authority, and a suspended court's
/// officers would keep reading and withdrawing.
async fn officer_authority_in_good_standing(state: &AppState, claims: &Claims) -> Result<(), AppError> {
    let refused = |why: &str| AppError::unauthorized(format!("token refused: {why}"));
    let id = claims
        .authority
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| refused("an officer token must name its authority"))?;
    let status = state
        .read(move |conn| Ok(authorities::load_without_keys(conn, &id)?.map(|a| a.status)))
        .await?;
    match status.as_deref() {
        Some(authorities::STATUS_VERIFIED) => Ok(()),
        Some(_) => Err(refused("the officer's authority is suspended")),
        None => Err(refused("the officer's authority is not registered")),
    }
}

#[derive(serde::Deserialize)]
struct Unverified {
    iss: String,
}
