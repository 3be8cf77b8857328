//! Bearer tokens (DESIGN §1), from two kinds of issuer, each pinned to one algorithm per key:
//! - the ledger itself (EdDSA with the instance's token key, `iss` = the log origin), for any
//!   role;
//! - a registered authority (`iss` = its id, `kid` = one of its registered keys, EdDSA or
//!   ES256 as registered), for its own officers only.
//!
//! Both kinds are checked by the same rules, claim by claim (RFC 7519 §4.1, RFC 8725):
//! - the header holds only `alg`, `typ` and `kid` ([`check_shape`]): `typ`, when present, is
//!   `JWT` (RFC 8725 §3.11); `crit` names extensions we do not implement (RFC 7515 §4.1.11);
//!   `jku`, `jwk`, `x5u`, `x5c`, `x5t` would let the token pick its own key (RFC 8725 §3.10);
//!   `cty`, `enc`, `zip` mean a nested or encrypted token. Each is refused, never followed.
//! - header and claims are parsed strictly ([`crate::body`]): a repeated member name or a
//!   number that is not an I-JSON integer refuses the token;
//! - `iss`, `sub`, `aud`, `exp`, `iat` and a known `role` are required; `aud` may be a string or
//!   an array that contains the ledger's audience (RFC 7519 §4.1.3);
//! - with a clock leeway of [`LEEWAY_SECS`]: `exp` not passed, `nbf` reached, `iat` not in the
//!   future; the lifetime left (`exp − now`) and the lifetime claimed (`exp − iat`) are both
//!   within the configured maximum, so an `iat` set ahead cannot stretch a token.
//! - Refusals name the rule broken, never a parser's message.

mod caller;
mod verified;
pub mod whoami;

pub use caller::Caller;
pub use verified::{Verified, VerifiedTokens, MAX_VERIFIED_TOKENS};

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

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 5;
/// Longest `sub` accepted, in bytes.
const MAX_SUB: usize = 200;

/// RFC 7519 §4.1.3: one audience or several.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(all) => all.iter().any(|a| a == aud),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
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

/// The only header members a token may carry.
const HEADER_MEMBERS: [&str; 3] = ["alg", "kid", "typ"];

/// Checks the token's form before any key is chosen: three base64url parts, a header of only
/// [`HEADER_MEMBERS`] with `typ` (if any) `JWT`, and header and claims that parse strictly.
pub fn check_shape(token: &str) -> Result<(), TokenError> {
    use base64::prelude::*;
    let bad = |why: &str| TokenError::Invalid(why.to_string());
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(bad(
            "a token is three base64url parts separated by dots (JWS compact form)",
        ));
    }
    let decode = |part: &str, what: &str| -> Result<serde_json::Value, TokenError> {
        let bytes = BASE64_URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| bad(&format!("the {what} is not unpadded base64url")))?;
        match crate::body::value(&bytes, what) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(v),
            _ => Err(bad(&format!(
                "the {what} must be a JSON object without repeated members or non-integer numbers"
            ))),
        }
    };
    let header = decode(parts[0], "header")?;
    decode(parts[1], "claims")?;
    let header = header.as_object().expect("checked to be an object");
    if let Some(name) = header.keys().find(|k| !HEADER_MEMBERS.contains(&k.as_str())) {
        let name = if [
            "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "cty", "enc", "zip",
        ]
        .contains(&name.as_str())
        {
            name.as_str()
        } else {
            "other"
        };
        return Err(TokenError::Invalid(format!(
            "the header may hold only alg, typ and kid (found {name}); keys are never taken from a token"
        )));
    }
    match header.get("typ") {
        None => {}
        Some(serde_json::Value::String(t)) if t.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(bad("typ, when present, must be JWT")),
    }
    if header
        .get("kid")
        .is_some_and(|k| !k.as_str().is_some_and(|k| !k.is_empty() && k.len() <= 200))
    {
        return Err(bad("kid must be a string of 1 to 200 bytes"));
    }
    Ok(())
}

/// A fixed reason for each way `jsonwebtoken` refuses a token: its own messages can quote
/// parser details.
fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature => "the signature does not verify",
        K::ExpiredSignature => "the token has expired (exp)",
        K::ImmatureSignature => "the token is not valid yet (nbf)",
        K::InvalidIssuer => "wrong issuer (iss)",
        K::InvalidAudience => "the audience (aud) does not include this ledger",
        K::MissingRequiredClaim(c) => match c.as_str() {
            "exp" => "missing claim exp",
            "iat" => "missing claim iat",
            "iss" => "missing claim iss",
            "sub" => "missing claim sub",
            "aud" => "missing claim aud",
            _ => "a required claim is missing",
        },
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::UnsupportedAlgorithm | K::MissingAlgorithm => {
            "the algorithm is not the one registered for this key"
        }
        K::Json(_) | K::InvalidClaimFormat(_) => {
            "the claims are not of the required form (iss, sub, aud, exp, iat, role)"
        }
        _ => "malformed token",
    }
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
        let mut c = self.decode(token, alg, authority, key)?;
        if c.role != Role::Officer {
            return Err(TokenError::Invalid("an authority may issue only officer tokens".into()));
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
            aud: Audience::One(self.audience.clone()),
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
        self.decode(token, Algorithm::EdDSA, &self.issuer, &self.decoding)
    }

    /// The rules of the module comment shared by both issuers: shape, signature with `alg`
    /// only, `iss` = `issuer`, audience, times and lifetime.
    fn decode(&self, token: &str, alg: Algorithm, issuer: &str, key: &DecodingKey) -> Result<Claims, TokenError> {
        check_shape(token)?;
        let mut v = Validation::new(alg);
        v.set_audience(&[&self.audience]);
        v.set_issuer(&[issuer]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        v.validate_nbf = true;
        v.leeway = LEEWAY_SECS;
        let c = jsonwebtoken::decode::<Claims>(token, key, &v)
            .map_err(|e| TokenError::Invalid(reason(e.kind()).into()))?
            .claims;
        let now = jsonwebtoken::get_current_timestamp();
        if c.iat > now + LEEWAY_SECS {
            return Err(TokenError::Invalid("the token is issued in the future (iat)".into()));
        }
        if c.exp <= c.iat {
            return Err(TokenError::Invalid("exp must be later than iat".into()));
        }
        let max = self.max_ttl.as_secs();
        if c.exp.saturating_sub(c.iat) > max || c.exp.saturating_sub(now) > max + LEEWAY_SECS {
            return Err(TokenError::TooLong(max));
        }
        if c.sub.is_empty() || c.sub.len() > MAX_SUB || c.sub.chars().any(char::is_control) {
            return Err(TokenError::Invalid(format!(
                "sub must have 1 to {MAX_SUB} bytes without control characters"
            )));
        }
        Ok(c)
    }
}
