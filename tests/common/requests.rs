//! Helpers for tests that submit disclosure requests.

use super::{officer_claims, sign_ed25519, TestApp};
use disclosure_ledger::auth::Role;
use disclosure_ledger::ledger::{merkle, parse_hex_hash, Entry};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const PHONE: &str = "+33 6 12 34 56 78";
pub const IP: &str = "2001:0DB8:0000:0000:0000:0000:0000:0042";
pub const USERNAME: &str = "@Night_Owl_77";

pub struct Court {
    pub id: String,
    pub kid: String,
    pub key: ed25519_dalek::SigningKey,
    pub officer: String,
    /// The ledger's origin, which the court's order statements name.
    pub origin: String,
}

pub async fn court(app: &TestApp) -> Court {
    let id = app.register_authority().await;
    with_key(app, id).await
}

/// Registers an authority of `country` and `kind` (judicial only for courts) with a key and an
/// officer token.
pub async fn authority(app: &TestApp, country: &str, kind: &str, name: &str) -> Court {
    let body = json!({ "country": country, "kind": kind, "judicial": kind == "court", "name": name });
    let (status, body) = app.admin_post("/v1/authorities", body).await;
    assert_eq!(status, 201, "{body}");
    with_key(app, body["authority"]["id"].as_str().unwrap().to_string()).await
}

async fn with_key(app: &TestApp, id: String) -> Court {
    let (kid, key) = app.add_ed25519_key(&id).await;
    let officer = sign_ed25519(&key, &kid, &officer_claims(app, &id));
    Court {
        id,
        kid,
        key,
        officer,
        origin: app.settings.origin.clone(),
    }
}

/// Signs `body`'s order statement (`disclosure-ledger:order:v2`) with the court's key: after a
/// test changes a field the statement binds, so that only the change it means is judged.
pub fn sign(c: &Court, body: &mut Value) {
    sign_as(c, &c.origin, body)
}

/// [`sign`] for another ledger's origin.
pub fn sign_as(c: &Court, origin: &str, body: &mut Value) {
    use ed25519_dalek::Signer;
    body["order"]["kid"] = json!(c.kid);
    let request: disclosure_ledger::requests::SubmitRequest = serde_json::from_value(body.clone()).unwrap();
    let statement = disclosure_ledger::requests::order_statement::statement(origin, &request).unwrap();
    body["order"]["signature"] = json!(hex::encode(c.key.sign(statement.as_bytes()).to_bytes()));
}

/// A complete, valid court order for a drug-trafficking suspect; `document` makes the order
/// digest unique.
pub fn order(c: &Court, document: &str, offence: &str) -> Value {
    let digest = hex::encode(Sha256::digest(document.as_bytes()));
    let now = chrono::Utc::now();
    let mut body = json!({
        "instrument": "court_order",
        "issuing_authority": c.id,
        "judge_or_prosecutor": "Juge d'instruction",
        "file_number": format!("TJ-PARIS-{document}"),
        "legal_citation": "CPP art. 60-1",
        "offence_category": offence,
        "criminal_case": true,
        "suspect": true,
        "terms_breach": true,
        "targets": [
            { "kind": "phone_number", "value": PHONE },
            { "kind": "ip_address", "value": IP },
            { "kind": "username", "value": USERNAME }
        ],
        "data_categories": ["ip_address", "phone_number"],
        "time_range": { "from": (now - chrono::Duration::days(30)).to_rfc3339(), "to": now.to_rfc3339() },
        "issued_at": (now - chrono::Duration::days(1)).to_rfc3339(),
        "expires_at": (now + chrono::Duration::days(30)).to_rfc3339(),
        "order": { "document_sha256": digest, "signature": "", "kid": c.kid }
    });
    sign(c, &mut body);
    body
}

/// Posts `body` to `/v1/requests/{id}/{action}` with `token`.
pub async fn act(app: &TestApp, token: &str, id: &str, action: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/v1/requests/{id}/{action}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A reviewer's (or anyone's, to see it refused) single approval of request `id`, full scope.
pub async fn approve(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    act(app, token, id, "decision", json!({ "decision": "approve" })).await
}

/// [`act`] with an `Idempotency-Key`.
pub async fn act_with_key(app: &TestApp, token: &str, id: &str, action: &str, key: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/v1/requests/{id}/{action}")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

pub async fn submit(app: &TestApp, officer: &str, body: &Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url("/v1/requests"))
        .bearer_auth(officer)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// `POST /v1/requests` with an `Idempotency-Key`: the response as it came.
pub async fn submit_with_key(app: &TestApp, officer: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/requests"))
        .bearer_auth(officer)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Checks every receipt entry against the receipt's checkpoint with the crypto core alone and
/// returns the entries (read as an auditor).
pub async fn check_receipt(app: &TestApp, receipt: &Value) -> Vec<Entry> {
    let cp = app
        .verifier()
        .await
        .verify(receipt["checkpoint"].as_str().unwrap())
        .unwrap();
    let mut out = Vec::new();
    for item in receipt["entries"].as_array().unwrap() {
        let index = item["index"].as_u64().unwrap();
        let leaf = parse_hex_hash(item["leaf_hash"].as_str().unwrap()).unwrap();
        let proof: Vec<_> = item["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| parse_hex_hash(h.as_str().unwrap()).unwrap())
            .collect();
        merkle::check_inclusion(&proof, cp.size, cp.root, index, leaf).unwrap();
        let e: Value = app
            .client
            .get(app.url(&format!("/v1/log/entries/{index}")))
            .bearer_auth(app.token(Role::Auditor))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let e: Entry = serde_json::from_value(e).unwrap();
        assert_eq!(e.leaf_hash().unwrap(), leaf);
        out.push(e);
    }
    out
}
