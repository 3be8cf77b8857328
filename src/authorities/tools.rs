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

/// `{document_sha256, signature}` for an order document, as `POST /v1/requests` takes them.
pub fn sign_order(key: &SigningKey, document: &[u8]) -> Value {
    let digest = hex::encode(Sha256::digest(document));
    let signature = key.sign(crate::requests::validate::order_message(&digest).as_bytes());
    json!({ "document_sha256": digest, "signature": hex::encode(signature.to_bytes()) })
}
