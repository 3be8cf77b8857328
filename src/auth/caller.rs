//! The `Caller` extractor: who is asking. No `Authorization` header means the public; a header
//! that does not hold a valid token is refused with 401 rather than treated as the public, so a
//! client never silently loses access it thinks it has.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::{Claims, Role};
use crate::app::AppState;
use crate::error::AppError;

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
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(req))
    }
}

fn extract(req: &HttpRequest) -> Result<Caller, AppError> {
    let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(Caller(None));
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| AppError::unauthorized("Authorization must be 'Bearer <token>'"))?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let claims = state
        .tokens
        .verify(token.trim())
        .map_err(|e| AppError::unauthorized(format!("token refused: {e}")))?;
    Ok(Caller(Some(claims)))
}
