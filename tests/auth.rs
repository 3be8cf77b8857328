//! Token rules of DESIGN §1, one test per refusal, and a role × endpoint matrix that covers
//! every endpoint of the OpenAPI document.

mod common;

use base64::prelude::*;
use common::{officer_claims, sign_ed25519, spawn, TestApp};
use disclosure_ledger::auth::Role;
use serde_json::json;

async fn whoami(app: &TestApp, token: &str) -> (u16, serde_json::Value) {
    let r = app
        .client
        .get(app.url("/v1/auth/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status != 200 {
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    (status, r.json().await.unwrap())
}

async fn officer_setup() -> (TestApp, String, String, ed25519_dalek::SigningKey) {
    let app = spawn().await;
    let authority = app.register_authority().await;
    let (kid, key) = app.add_ed25519_key(&authority).await;
    (app, authority, kid, key)
}

#[tokio::test]
async fn an_officer_token_signed_by_a_registered_key_is_accepted() {
    let (app, authority, kid, key) = officer_setup().await;
    let (status, body) = whoami(&app, &sign_ed25519(&key, &kid, &officer_claims(&app, &authority))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "officer");
    assert_eq!(body["authority"], authority.as_str());
}

#[tokio::test]
async fn an_es256_officer_token_is_accepted_for_an_es256_key() {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let app = spawn().await;
    let authority = app.register_authority().await;
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let pem = secret.public_key().to_public_key_pem(Default::default()).unwrap();
    let (status, _) = app
        .admin_post(
            &format!("/v1/authorities/{authority}/keys"),
            json!({ "alg": "ES256", "pem": pem, "kid": "ec-1" }),
        )
        .await;
    assert_eq!(status, 201);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("ec-1".into());
    let private = secret.to_pkcs8_der().unwrap();
    let token = jsonwebtoken::encode(
        &header,
        &officer_claims(&app, &authority),
        &jsonwebtoken::EncodingKey::from_ec_der(private.as_bytes()),
    )
    .unwrap();
    assert_eq!(whoami(&app, &token).await.0, 200);
}

#[tokio::test]
async fn no_token_is_refused_with_401() {
    let app = spawn().await;
    let r = app.get("/v1/auth/whoami").await;
    common::assert_problem(r, 401).await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (app, authority, kid, _) = officer_setup().await;
    let header = BASE64_URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": kid }).to_string());
    let payload = BASE64_URL_SAFE_NO_PAD.encode(officer_claims(&app, &authority).to_string());
    assert_eq!(whoami(&app, &format!("{header}.{payload}.")).await.0, 401);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_bytes_is_refused() {
    let (app, authority, kid, key) = officer_setup().await;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid);
    for secret in [
        key.verifying_key().as_bytes().to_vec(),
        BASE64_URL_SAFE_NO_PAD
            .encode(key.verifying_key().as_bytes())
            .into_bytes(),
    ] {
        let token = jsonwebtoken::encode(
            &header,
            &officer_claims(&app, &authority),
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_eq!(whoami(&app, &token).await.0, 401);
    }
}

#[tokio::test]
async fn unknown_issuer_and_unknown_kid_are_refused() {
    let (app, authority, kid, key) = officer_setup().await;
    let stranger = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        whoami(&app, &sign_ed25519(&key, &kid, &officer_claims(&app, &stranger)))
            .await
            .0,
        401
    );
    assert_eq!(
        whoami(
            &app,
            &sign_ed25519(&key, "no-such-kid", &officer_claims(&app, &authority))
        )
        .await
        .0,
        401
    );
    // Signed by a key that is not the registered one under that kid.
    let other = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    assert_eq!(
        whoami(&app, &sign_ed25519(&other, &kid, &officer_claims(&app, &authority)))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let (app, authority, kid, key) = officer_setup().await;
    let token = sign_ed25519(&key, &kid, &officer_claims(&app, &authority));
    assert_eq!(whoami(&app, &token).await.0, 200);
    app.admin_post(&format!("/v1/authorities/{authority}/keys/{kid}/revoke"), json!({}))
        .await;
    let (status, body) = whoami(&app, &token).await;
    assert_eq!(status, 401);
    assert!(body["detail"].as_str().unwrap().contains("revoked"), "{body}");
}

#[tokio::test]
async fn a_key_before_its_validity_window_is_refused() {
    let app = spawn().await;
    let authority = app.register_authority().await;
    let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let x = BASE64_URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let (status, _) = app
        .admin_post(
            &format!("/v1/authorities/{authority}/keys"),
            json!({ "alg": "EdDSA", "kid": "future", "not_before": "2999-01-01T00:00:00Z", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": x } }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        whoami(&app, &sign_ed25519(&key, "future", &officer_claims(&app, &authority)))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_suspended_authority_is_refused_until_reinstated() {
    let (app, authority, kid, key) = officer_setup().await;
    let token = sign_ed25519(&key, &kid, &officer_claims(&app, &authority));
    app.admin_post(&format!("/v1/authorities/{authority}/suspend"), json!({}))
        .await;
    let (status, body) = whoami(&app, &token).await;
    assert_eq!(status, 401);
    assert!(body["detail"].as_str().unwrap().contains("suspended"), "{body}");
    app.admin_post(&format!("/v1/authorities/{authority}/reinstate"), json!({}))
        .await;
    assert_eq!(whoami(&app, &token).await.0, 200);
}

#[tokio::test]
async fn expired_not_yet_valid_wrong_audience_and_overlong_tokens_are_refused() {
    let (app, authority, kid, key) = officer_setup().await;
    let now = jsonwebtoken::get_current_timestamp();
    let mut cases = Vec::new();
    let mut c = officer_claims(&app, &authority);
    c["iat"] = json!(now - 7200);
    c["exp"] = json!(now - 3600);
    cases.push(("expired", c));
    let mut c = officer_claims(&app, &authority);
    c["nbf"] = json!(now + 3600);
    cases.push(("nbf in the future", c));
    let mut c = officer_claims(&app, &authority);
    c["aud"] = json!("some-other-service");
    cases.push(("wrong audience", c));
    let mut c = officer_claims(&app, &authority);
    c["exp"] = json!(now + 7200);
    cases.push(("lifetime over the maximum", c));
    let mut c = officer_claims(&app, &authority);
    c.as_object_mut().unwrap().remove("role");
    cases.push(("missing role", c));
    let mut c = officer_claims(&app, &authority);
    c["role"] = json!("superuser");
    cases.push(("unknown role", c));
    let mut c = officer_claims(&app, &authority);
    c["role"] = json!("admin");
    cases.push(("an authority minting an admin token", c));
    let mut c = officer_claims(&app, &authority);
    c.as_object_mut().unwrap().remove("iat");
    cases.push(("missing iat", c));
    for (what, claims) in cases {
        assert_eq!(whoami(&app, &sign_ed25519(&key, &kid, &claims)).await.0, 401, "{what}");
    }
}

#[tokio::test]
async fn a_ledger_token_signed_by_another_key_is_refused() {
    let app = spawn().await;
    let forger = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let mut claims = officer_claims(&app, &app.settings.origin);
    claims["role"] = json!("admin");
    let token = sign_ed25519(&forger, "any", &claims);
    assert_eq!(whoami(&app, &token).await.0, 401);
    assert_eq!(whoami(&app, &app.token(Role::Admin)).await.0, 200);
}

/// Every endpoint of the spec, with who may use it: `None` = anyone, else the roles.
fn rules() -> Vec<(&'static str, &'static str, Option<&'static [&'static str]>)> {
    const ANY_TOKEN: &[&str] = &["officer", "reviewer", "auditor", "admin"];
    const ADMIN: &[&str] = &["admin"];
    const READERS: &[&str] = &["reviewer", "auditor", "admin"];
    const READERS_AND_OWN_OFFICER: &[&str] = &["officer", "reviewer", "auditor", "admin"];
    vec![
        ("get", "/healthz", None),
        ("get", "/readyz", None),
        ("get", "/metrics", None),
        ("get", "/v1/log/key", None),
        ("get", "/v1/log/witnesses", None),
        ("get", "/v1/log/checkpoint", None),
        ("get", "/v1/log/entries", None),
        ("get", "/v1/log/entries/{index}", None),
        ("get", "/v1/log/proof/inclusion", None),
        ("get", "/v1/log/proof/consistency", None),
        ("get", "/v1/policies/current", None),
        ("post", "/v1/policies", Some(ADMIN)),
        ("get", "/v1/authorities", Some(READERS)),
        ("post", "/v1/authorities", Some(ADMIN)),
        ("get", "/v1/authorities/{id}", Some(READERS_AND_OWN_OFFICER)),
        ("post", "/v1/authorities/{id}/keys", Some(ADMIN)),
        ("post", "/v1/authorities/{id}/keys/{kid}/revoke", Some(ADMIN)),
        ("post", "/v1/authorities/{id}/suspend", Some(ADMIN)),
        ("post", "/v1/authorities/{id}/reinstate", Some(ADMIN)),
        ("get", "/v1/auth/whoami", Some(ANY_TOKEN)),
        ("post", "/v1/requests", Some(&["officer"])),
        ("get", "/v1/requests/{id}", Some(&["officer", "reviewer", "auditor"])),
        ("post", "/v1/requests/{id}/decision", Some(&["reviewer"])),
        ("post", "/v1/requests/{id}/disclosure", Some(&["reviewer"])),
        ("post", "/v1/requests/{id}/notification", Some(&["reviewer"])),
        ("post", "/v1/requests/{id}/emergency-validation", Some(&["reviewer"])),
        ("post", "/v1/requests/{id}/withdraw", Some(&["officer"])),
        ("get", "/v1/requests", Some(&["officer", "reviewer", "auditor"])),
        ("post", "/v1/requests/{id}/identifiers", Some(&["reviewer"])),
        (
            "get",
            "/v1/requests/{id}/entries",
            Some(&["officer", "reviewer", "auditor"]),
        ),
        ("post", "/v1/requests/{id}/amend", Some(&["officer"])),
        ("get", "/v1/audit/entries/{index}/sealed", Some(&["auditor"])),
        ("get", "/v1/audit/verify", Some(&["auditor"])),
        ("get", "/v1/reports/transparency", None),
        ("post", "/v1/imports", Some(ADMIN)),
        ("post", "/v1/subjects/proof", None),
        ("get", "/v1/retention", Some(&["auditor", "admin"])),
        ("post", "/v1/requests/{id}/legal-hold", Some(&["reviewer", "auditor"])),
        (
            "post",
            "/v1/requests/{id}/legal-hold/lift",
            Some(&["reviewer", "auditor"]),
        ),
        ("get", "/checkpoint", None),
        ("get", "/tile/{path}", None),
        ("get", "/", None),
        ("get", "/receipt", None),
        ("get", "/about", None),
        ("get", "/assets/{name}", None),
    ]
}

#[tokio::test]
async fn every_endpoint_admits_exactly_its_roles() {
    let (app, authority, kid, key) = officer_setup().await;
    let spec: serde_json::Value = serde_json::from_str(&app.text("/openapi.json").await).unwrap();
    let mut in_spec: Vec<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    in_spec.sort();
    let mut covered: Vec<(String, String)> = rules().iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    covered.sort();
    assert_eq!(covered, in_spec, "the matrix must cover every endpoint of the spec");

    let officer = sign_ed25519(&key, &kid, &officer_claims(&app, &authority));
    // Admin actions go to another authority, so that suspending it leaves the officer's intact.
    let target = app.register_authority().await;
    let tokens: Vec<(&str, Option<String>)> = vec![
        ("public", None),
        ("officer", Some(officer)),
        ("reviewer", Some(app.token(Role::Reviewer))),
        ("auditor", Some(app.token(Role::Auditor))),
        ("admin", Some(app.token(Role::Admin))),
    ];
    for (method, path, allowed) in rules() {
        let url = path
            .replace("{index}", "0")
            .replace("{id}", if method == "get" { &authority } else { &target })
            .replace("{kid}", "not-a-key")
            .replace("/tile/{path}", "/tile/0/000.p/1")
            .replace("/v1/log/proof/inclusion", "/v1/log/proof/inclusion?index=0")
            .replace("/v1/log/proof/consistency", "/v1/log/proof/consistency?from=1&to=1");
        let body = match path {
            "/v1/policies" => json!({ "name": "matrix", "document": common::policy_document("matrix") }),
            "/v1/authorities" => {
                json!({ "country": "BEL", "kind": "police", "judicial": false, "name": "Police fédérale" })
            }
            "/v1/authorities/{id}/keys" => {
                json!({ "alg": "EdDSA", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": "not valid" } })
            }
            "/v1/requests/{id}/decision" => json!({ "decision": "clarify" }),
            "/v1/requests/{id}/disclosure" => json!({ "outcome": "no_data" }),
            "/v1/requests/{id}/notification" => json!({ "action": "send" }),
            "/v1/requests/{id}/emergency-validation" => json!({ "validated": true }),
            _ => json!({}),
        };
        // A POST is also sent with an empty body and with a malformed one: a caller without
        // the role learns the same 401 or 403 whatever it sends, because no body is read first.
        let variants: Vec<(&str, Option<(&str, String)>)> = if method == "get" {
            vec![("no body", None)]
        } else {
            vec![
                ("valid body", Some(("application/json", body.to_string()))),
                ("empty body", Some(("", String::new()))),
                (
                    "malformed body",
                    Some(("application/json", r#"{"a":1,"a":2,"#.to_string())),
                ),
            ]
        };
        for (who, token) in &tokens {
            for (variant, payload) in &variants {
                let mut req = match payload {
                    None => app.client.get(app.url(&url)),
                    Some((ct, text)) => {
                        let r = app.client.post(app.url(&url)).body(text.clone());
                        if ct.is_empty() {
                            r
                        } else {
                            r.header("content-type", *ct)
                        }
                    }
                };
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let status = req.send().await.unwrap().status().as_u16();
                let expected_denial = match allowed {
                    None => None,
                    Some(_) if token.is_none() => Some(401),
                    Some(roles) if roles.contains(who) => None,
                    Some(_) => Some(403),
                };
                match expected_denial {
                    Some(denied) => assert_eq!(status, denied, "{who} {method} {path} ({variant})"),
                    None => assert!(
                        status != 401 && status != 403 && status < 500,
                        "{who} {method} {path} ({variant}) got {status}"
                    ),
                }
            }
        }
    }
}

#[tokio::test]
async fn an_officer_may_not_read_another_authority() {
    let (app, authority, kid, key) = officer_setup().await;
    let other = app.register_authority().await;
    let officer = sign_ed25519(&key, &kid, &officer_claims(&app, &authority));
    let own = app
        .client
        .get(app.url(&format!("/v1/authorities/{authority}")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let r = app
        .client
        .get(app.url(&format!("/v1/authorities/{other}")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    common::assert_problem(r, 403).await;
}
