//! Authority public keys: accepted as SPKI PEM or as a JWK, stored as a normalised public JWK
//! (RFC 7517) and identified by its RFC 7638 thumbprint unless the registrar names a `kid`.

use base64::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// One algorithm per key (DESIGN §1): a key registered for EdDSA never verifies ES256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum KeyAlg {
    EdDSA,
    ES256,
}

impl KeyAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::EdDSA => "EdDSA",
            KeyAlg::ES256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "EdDSA" => Some(KeyAlg::EdDSA),
            "ES256" => Some(KeyAlg::ES256),
            _ => None,
        }
    }

    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            KeyAlg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            KeyAlg::ES256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

/// A key as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthorityKey {
    pub kid: String,
    pub alg: KeyAlg,
    #[schema(value_type = Object)]
    pub jwk: Value,
    pub not_before: String,
    pub not_after: Option<String>,
    pub revoked_at: Option<String>,
}

/// The normalised public JWK of `pem` or `jwk` for `alg`, or why it is not acceptable.
pub fn normalise(alg: KeyAlg, pem: Option<&str>, jwk: Option<&Value>) -> Result<Value, String> {
    match (pem, jwk) {
        (Some(pem), None) => from_pem(alg, pem),
        (None, Some(jwk)) => from_jwk(alg, jwk),
        _ => Err("give the key as exactly one of pem or jwk".into()),
    }
}

fn from_pem(alg: KeyAlg, pem: &str) -> Result<Value, String> {
    match alg {
        KeyAlg::EdDSA => {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            let k = ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                .map_err(|_| "pem is not an Ed25519 SubjectPublicKeyInfo".to_string())?;
            strong(&k, k.as_bytes())?;
            Ok(okp(k.as_bytes()))
        }
        KeyAlg::ES256 => {
            use p256::pkcs8::DecodePublicKey;
            let k = p256::PublicKey::from_public_key_pem(pem)
                .map_err(|_| "pem is not a P-256 SubjectPublicKeyInfo".to_string())?;
            Ok(ec(&k))
        }
    }
}

fn from_jwk(alg: KeyAlg, jwk: &Value) -> Result<Value, String> {
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let s = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or(format!("jwk needs {name}"))?;
        BASE64_URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| format!("jwk {name} is not base64url"))
    };
    if jwk.get("d").is_some() {
        return Err("jwk holds a private key (d): register only the public key".into());
    }
    match alg {
        KeyAlg::EdDSA => {
            if jwk.get("kty") != Some(&json!("OKP")) || jwk.get("crv") != Some(&json!("Ed25519")) {
                return Err("an EdDSA jwk has kty OKP and crv Ed25519".into());
            }
            let x: [u8; 32] = field("x")?
                .try_into()
                .map_err(|_| "jwk x must be 32 bytes".to_string())?;
            let k =
                ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| "jwk x is not an Ed25519 point".to_string())?;
            strong(&k, &x)?;
            Ok(okp(k.as_bytes()))
        }
        KeyAlg::ES256 => {
            if jwk.get("kty") != Some(&json!("EC")) || jwk.get("crv") != Some(&json!("P-256")) {
                return Err("an ES256 jwk has kty EC and crv P-256".into());
            }
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("jwk x and y must be 32 bytes".into());
            }
            let sec1 = [&[0x04u8][..], &x, &y].concat();
            let k = p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| "jwk x, y is not a P-256 point".to_string())?;
            Ok(ec(&k))
        }
    }
}

/// Refuses an Ed25519 key that proves nothing: a point of small order (the identity among
/// them), for which signatures verify without any private key, and a non-canonical encoding
/// of a point, which would give one key two spellings (RFC 8032 §5.1.3; ed25519-dalek
/// `is_weak`).
fn strong(k: &ed25519_dalek::VerifyingKey, encoded: &[u8]) -> Result<(), String> {
    if k.is_weak() {
        return Err("the Ed25519 key is of small order: anybody could sign for it".into());
    }
    if k.to_edwards().compress().as_bytes() != encoded {
        return Err("the Ed25519 key is not canonically encoded".into());
    }
    Ok(())
}

fn okp(x: &[u8]) -> Value {
    json!({ "kty": "OKP", "crv": "Ed25519", "x": BASE64_URL_SAFE_NO_PAD.encode(x) })
}

fn ec(k: &p256::PublicKey) -> Value {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let p = k.to_encoded_point(false);
    let (x, y) = (p.x().expect("uncompressed point"), p.y().expect("uncompressed point"));
    json!({ "kty": "EC", "crv": "P-256", "x": BASE64_URL_SAFE_NO_PAD.encode(x), "y": BASE64_URL_SAFE_NO_PAD.encode(y) })
}

/// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, base64url.
pub fn thumbprint(jwk: &Value) -> String {
    let canonical = crate::ledger::entry::canonicalize(jwk).expect("a normalised JWK has no floats");
    BASE64_URL_SAFE_NO_PAD.encode(Sha256::digest(canonical))
}

/// The key for verifying a JWT.
pub fn decoding_key(jwk: &Value) -> Result<jsonwebtoken::DecodingKey, String> {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).map_err(|e| e.to_string())?;
    jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())
}
