//! What a requesting authority needs on its side, offered by the CLI so that an authority can
//! use the ledger without writing code: an Ed25519 key, officer tokens signed with it, and
//! detached order signatures (DESIGN §1, §3 V3).

use std::path::Path;
use std::time::Duration;

use base64::prelude::*;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::keys::{self, KeyError};

/// Creates a key file (PKCS#8 PEM, mode 0600) and returns the public JWK to register.
pub fn keygen(out: &Path) -> Result<Value, KeyError> {
    let key = keys::create(out)?;
    Ok(public_jwk(&key))
}

pub fn public_jwk(key: &SigningKey) -> Value {
    json!({ "kty": "OKP", "crv": "Ed25519", "x": BASE64_URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()) })
}

/// An officer token: EdDSA, `kid` = the registered key id, `iss` = the authority id.
pub fn officer_token(
    key: &SigningKey,
    kid: &str,
    authority: &str,
    sub: &str,
    audience: &str,
    ttl: Duration,
) -> Result<String, String> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({
        "iss": authority, "sub": sub, "aud": audience, "iat": now, "exp": now + ttl.as_secs(), "role": "officer"
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .map_err(|e| e.to_string())
}

/// Completes a request body's `order` for rule V3: sets `kid`, the `document_sha256` of
/// `document` when given (else the body's own), and `signature`, the Ed25519 signature of the
/// order statement (`disclosure-ledger:order:v2`, see [`crate::requests::order_statement`]) for
/// the ledger `origin`. Returns the same body with `order` completed.
///
/// # Errors
/// A message naming what is missing: a body that is not a request, no digest, or a field the
/// statement needs (`issuing_authority`, `issued_at`, …).
pub fn sign_order(
    key: &SigningKey,
    kid: &str,
    origin: &str,
    mut body: Value,
    document: Option<&[u8]>,
) -> Result<Value, String> {
    let order = body
        .as_object_mut()
        .ok_or("the request body must be a JSON object")?
        .entry("order")
        .or_insert_with(|| json!({}));
    let order = order.as_object_mut().ok_or("order must be a JSON object")?;
    if let Some(document) = document {
        order.insert("document_sha256".into(), json!(hex::encode(Sha256::digest(document))));
    }
    if !order.get("document_sha256").is_some_and(Value::is_string) {
        return Err("order.document_sha256 is missing: give --document or put it in the body".into());
    }
    order.insert("kid".into(), json!(kid));
    order.insert("signature".into(), json!(""));
    let request: crate::requests::SubmitRequest =
        serde_json::from_value(body.clone()).map_err(|e| format!("not a request body: {e}"))?;
    let statement = crate::requests::order_statement::statement(origin, &request)
        .map_err(|e| format!("{}: {}", e.field, e.message))?;
    let signature = key.sign(statement.as_bytes());
    body["order"]["signature"] = json!(hex::encode(signature.to_bytes()));
    Ok(body)
}
