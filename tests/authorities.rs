//! Authorities and their keys over HTTP: registration, keys (PEM and JWK, EdDSA and ES256),
//! revocation, suspension; every change is an entry, and refusals change nothing.

mod common;

use common::{assert_problem, spawn};
use disclosure_ledger::auth::Role;
use serde_json::json;

#[tokio::test]
async fn registering_an_authority_appends_its_public_fields_and_seals_the_rest() {
    let app = spawn().await;
    let (status, body) = app
        .admin_post(
            "/v1/authorities",
            json!({ "country": "DEU", "kind": "prosecutor", "judicial": false, "name": "Staatsanwaltschaft Berlin", "domains": ["berlin.de"] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["authority"]["id"].as_str().unwrap();
    assert_eq!(body["authority"]["status"], "verified");
    let index = body["receipt"]["entries"][0]["index"].as_u64().unwrap();
    let entry = app.get_json(&format!("/v1/log/entries/{index}")).await;
    assert_eq!(entry["kind"], "authority.registered");
    assert_eq!(
        entry["public"],
        json!({ "authority": id, "country": "DEU", "authority_kind": "prosecutor", "judicial": false })
    );
    assert!(entry["sealed"].as_str().unwrap().len() == 64);
    assert!(!entry.to_string().contains("Staatsanwaltschaft"));

    let auditor = app.token(Role::Auditor);
    let got: serde_json::Value = app
        .client
        .get(app.url(&format!("/v1/authorities/{id}")))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], "Staatsanwaltschaft Berlin");
    let page: serde_json::Value = app
        .client
        .get(app.url("/v1/authorities"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["authorities"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_authorities_are_refused_with_every_failed_field_and_append_nothing() {
    let app = spawn().await;
    let before = app.size().await;
    let r = app
        .client
        .post(app.url("/v1/authorities"))
        .bearer_auth(app.token(Role::Admin))
        .json(&json!({ "country": "XXX", "kind": "court", "judicial": true, "name": "", "domains": ["NOT A DOMAIN"] }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(r, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["country", "name", "domains"]);
    let r = app
        .client
        .post(app.url("/v1/authorities"))
        .bearer_auth(app.token(Role::Admin))
        .json(&json!({ "country": "FRA", "kind": "ministry", "judicial": true, "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 400).await;
    assert_eq!(app.size().await, before);
}

#[tokio::test]
async fn keys_are_accepted_as_pem_or_jwk_for_eddsa_and_es256() {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    let app = spawn().await;
    let id = app.register_authority().await;
    let ed = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let ed_pem = ed.verifying_key().to_public_key_pem(Default::default()).unwrap();
    let (status, body) = app
        .admin_post(
            &format!("/v1/authorities/{id}/keys"),
            json!({ "alg": "EdDSA", "pem": ed_pem, "kid": "ed-1" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let ec = p256::SecretKey::random(&mut rand_core::OsRng);
    let ec_pem = ec.public_key().to_public_key_pem(Default::default()).unwrap();
    let (status, body) = app
        .admin_post(
            &format!("/v1/authorities/{id}/keys"),
            json!({ "alg": "ES256", "pem": ec_pem }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let keys = body["authority"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let ec_key = keys.iter().find(|k| k["alg"] == "ES256").unwrap();
    assert_eq!(ec_key["jwk"]["kty"], "EC");
    assert_eq!(
        ec_key["kid"].as_str().unwrap().len(),
        43,
        "RFC 7638 thumbprint, base64url SHA-256"
    );
    // The same key as a JWK normalises to the same thumbprint, so the kid is taken: 409.
    let (status, _) = app
        .admin_post(
            &format!("/v1/authorities/{id}/keys"),
            json!({ "alg": "ES256", "jwk": ec_key["jwk"] }),
        )
        .await;
    assert_eq!(status, 409);
    // An EdDSA key offered as ES256, a private JWK, both forms, and garbage are refused.
    for bad in [
        json!({ "alg": "ES256", "pem": ed.verifying_key().to_public_key_pem(Default::default()).unwrap() }),
        json!({ "alg": "EdDSA", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": "AAAA" } }),
        json!({ "alg": "EdDSA", "pem": "x", "jwk": {} }),
        json!({ "alg": "EdDSA", "pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" }),
        json!({ "alg": "EdDSA", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": "AAAA" }, "not_before": "yesterday" }),
    ] {
        let (status, body) = app.admin_post(&format!("/v1/authorities/{id}/keys"), bad.clone()).await;
        assert_eq!(status, 422, "{bad} -> {body}");
    }
    let (status, _) = app
        .admin_post(
            "/v1/authorities/no-such-id/keys",
            json!({ "alg": "EdDSA", "pem": ed_pem }),
        )
        .await;
    assert_eq!(status, 404);

    // The list carries each authority's own keys, as the single view does.
    let other = app.register_authority().await;
    let (other_kid, _) = app.add_ed25519_key(&other).await;
    let auditor = app.token(Role::Auditor);
    let get = |path: String| {
        let (app, auditor) = (&app, auditor.clone());
        async move {
            let r = app
                .client
                .get(app.url(&path))
                .bearer_auth(auditor)
                .send()
                .await
                .unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let page = get("/v1/authorities".into()).await;
    let listed = page["authorities"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{page}");
    for a in listed {
        let one = get(format!("/v1/authorities/{}", a["id"].as_str().unwrap())).await;
        assert_eq!(a["keys"], one["keys"], "{page}");
    }
    let keys_of = |id: &str| listed.iter().find(|a| a["id"] == id).unwrap()["keys"].clone();
    assert_eq!(keys_of(&id).as_array().unwrap().len(), 2, "{page}");
    assert_eq!(keys_of(&other).as_array().unwrap().len(), 1, "{page}");
    assert_eq!(keys_of(&other)[0]["kid"], other_kid.as_str());
}

#[tokio::test]
async fn revocation_and_suspension_are_entries_and_illegal_repeats_conflict() {
    let app = spawn().await;
    let id = app.register_authority().await;
    let (kid, _) = app.add_ed25519_key(&id).await;
    let (status, body) = app
        .admin_post(&format!("/v1/authorities/{id}/keys/{kid}/revoke"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["authority"]["keys"][0]["revoked_at"].is_string());
    let (status, _) = app
        .admin_post(&format!("/v1/authorities/{id}/keys/{kid}/revoke"), json!({}))
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .admin_post(&format!("/v1/authorities/{id}/keys/nope/revoke"), json!({}))
        .await;
    assert_eq!(status, 404);

    let (status, body) = app
        .admin_post(&format!("/v1/authorities/{id}/suspend"), json!({}))
        .await;
    assert_eq!((status, body["authority"]["status"].as_str()), (200, Some("suspended")));
    let (status, body) = app
        .admin_post(&format!("/v1/authorities/{id}/suspend"), json!({}))
        .await;
    assert_eq!(status, 409);
    assert!(body["detail"].as_str().unwrap().contains("suspended"));
    let (status, _) = app
        .admin_post(&format!("/v1/authorities/{id}/reinstate"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .admin_post(&format!("/v1/authorities/{id}/reinstate"), json!({}))
        .await;
    assert_eq!(status, 409);

    let page = app.get_json("/v1/log/entries?start=1").await;
    let kinds: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "authority.registered",
            "authority.key_added",
            "authority.key_revoked",
            "authority.suspended",
            "authority.reinstated"
        ]
    );
}
