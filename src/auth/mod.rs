//! Bearer tokens (DESIGN §1), from two kinds of issuer, each pinned to one algorithm per key:
//! - the ledger itself (EdDSA with the instance's token key, `iss` = the log origin), for any
//!   role;
//! - a registered authority (`iss` = its id, `kid` = one of its registered keys, EdDSA or
//!   ES256 as registered), for its own officers only.
//!
//! Every token must carry `iss`, `sub`, `aud`, `exp`, `iat` and a known `role`, and live no
//! longer than the configured maximum.

mod caller;
pub mod whoami;

pub use caller::Caller;

use std::time::Duration;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Officer,
    Reviewer,
    Auditor,
    Admin,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "officer" => Ok(Role::Officer),
            "reviewer" => Ok(Role::Reviewer),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            _ => Err("role must be one of officer, reviewer, auditor, admin".to_string()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub role: Role,
    /// The authority an officer acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("token lifetime exceeds the maximum of {0} seconds")]
    TooLong(u64),
    #[error("cannot sign: {0}")]
    Signing(String),
}

/// Mints and checks the ledger's own tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
    max_ttl: Duration,
}

impl TokenKeys {
    pub fn new(key: &SigningKey, issuer: &str, audience: &str, max_ttl: Duration) -> Result<Self, TokenError> {
        let der = key.to_pkcs8_der().map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(Self {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_der(key.verifying_key().as_bytes()),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            max_ttl,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks a token signed by a registered authority key: the key's algorithm only, `iss` =
    /// the authority, the configured audience and lifetime, and `role` = officer.
    pub fn verify_authority_token(
        &self,
        token: &str,
        authority: &str,
        alg: jsonwebtoken::Algorithm,
        key: &DecodingKey,
    ) -> Result<Claims, TokenError> {
        let mut v = Validation::new(alg);
        v.set_audience(&[&self.audience]);
        v.set_issuer(&[authority]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        v.validate_nbf = true;
        v.leeway = 5;
        let mut c = jsonwebtoken::decode::<Claims>(token, key, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
        if c.role != Role::Officer {
            return Err(TokenError::Invalid("an authority may issue only officer tokens".into()));
        }
        if c.exp.saturating_sub(c.iat) > self.max_ttl.as_secs() {
            return Err(TokenError::TooLong(self.max_ttl.as_secs()));
        }
        c.authority = Some(authority.to_string());
        Ok(c)
    }

    pub fn mint(&self, role: Role, sub: &str, ttl: Duration, authority: Option<String>) -> Result<String, TokenError> {
        if ttl > self.max_ttl {
            return Err(TokenError::TooLong(self.max_ttl.as_secs()));
        }
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: sub.to_string(),
            aud: self.audience.clone(),
            exp: now + ttl.as_secs(),
            iat: now,
            nbf: None,
            role,
            authority,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Checks signature (EdDSA only: `none` and HMAC are refused by the algorithm pin),
    /// issuer, audience, expiry, not-before, required claims and lifetime.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&[&self.audience]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        v.validate_nbf = true;
        v.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let c = data.claims;
        if c.exp.saturating_sub(c.iat) > self.max_ttl.as_secs() {
            return Err(TokenError::TooLong(self.max_ttl.as_secs()));
        }
        Ok(c)
    }
}
