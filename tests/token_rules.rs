//! Token rules claim by claim and header by header (RFC 7519 §4.1, RFC 8725), for both kinds of
//! issuer: the ledger's own key and a registered authority key. Tokens are built byte by byte
//! here, so that a header or claims set no JWT library would write can be sent.

mod common;

use base64::prelude::*;
use common::TestApp;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

/// `header.claims.signature` in JWS compact form, signed with EdDSA over the exact bytes.
fn raw_token(key: &SigningKey, header: &str, claims: &str) -> String {
    let input = format!(
        "{}.{}",
        BASE64_URL_SAFE_NO_PAD.encode(header),
        BASE64_URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", BASE64_URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

async fn whoami(app: &TestApp, token: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url("/v1/auth/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// One issuer under test: its key, `kid` header and the claims of a valid token.
struct Issuer {
    name: &'static str,
    key: SigningKey,
    kid: Option<String>,
    claims: Value,
}

impl Issuer {
    fn header(&self, extra: &str) -> String {
        match &self.kid {
            Some(kid) => format!(r#"{{"alg":"EdDSA","kid":"{kid}"{extra}}}"#),
            None => format!(r#"{{"alg":"EdDSA"{extra}}}"#),
        }
    }

    fn token(&self, extra_header: &str, claims: &Value) -> String {
        raw_token(&self.key, &self.header(extra_header), &claims.to_string())
    }
}

async fn issuers(app: &TestApp) -> Vec<Issuer> {
    let ledger_key =
        disclosure_ledger::keys::read(&app.settings.data_dir.join(disclosure_ledger::keys::TOKEN_KEY_FILE))
            .expect("the ledger's token key");
    let now = jsonwebtoken::get_current_timestamp();
    let ledger = Issuer {
        name: "ledger",
        key: ledger_key,
        kid: None,
        claims: json!({
            "iss": app.settings.origin, "sub": "alice", "aud": app.settings.origin,
            "iat": now, "exp": now + 600, "role": "admin"
        }),
    };
    let authority = app.register_authority().await;
    let (kid, key) = app.add_ed25519_key(&authority).await;
    let officer = Issuer {
        name: "authority",
        key,
        kid: Some(kid),
        claims: common::officer_claims(app, &authority),
    };
    vec![ledger, officer]
}

fn with(claims: &Value, member: &str, value: Value) -> Value {
    let mut c = claims.clone();
    c[member] = value;
    c
}

fn without(claims: &Value, member: &str) -> Value {
    let mut c = claims.clone();
    c.as_object_mut().unwrap().remove(member);
    c
}

#[tokio::test]
async fn every_claim_rule_holds_for_both_issuers() {
    let app = common::spawn().await;
    let now = jsonwebtoken::get_current_timestamp();
    let max = app.settings.max_token_ttl.as_secs();
    for i in issuers(&app).await {
        let c = &i.claims;
        let aud = app.settings.origin.clone();
        let accepted = [
            ("valid", c.clone()),
            (
                "aud as an array holding ours",
                with(c, "aud", json!(["someone-else", aud])),
            ),
            ("iat within the leeway ahead", with(c, "iat", json!(now + 3))),
            ("an unknown claim, ignored", with(c, "jti", json!("abc"))),
        ];
        for (what, claims) in accepted {
            let (status, body) = whoami(&app, &i.token("", &claims)).await;
            assert_eq!(status, 200, "{}: {what}: {body}", i.name);
        }
        let refused = [
            (
                "iat 5 years ahead, exp an hour after",
                with(
                    &with(c, "iat", json!(now + 5 * 365 * 86400)),
                    "exp",
                    json!(now + 5 * 365 * 86400 + 3600),
                ),
            ),
            (
                "exp beyond the maximum lifetime from now",
                with(c, "exp", json!(now + max + 60)),
            ),
            ("aud as an array without ours", with(c, "aud", json!(["someone-else"]))),
            ("aud empty array", with(c, "aud", json!([]))),
            ("aud of another type", with(c, "aud", json!(7))),
            ("no aud", without(c, "aud")),
            ("no iat", without(c, "iat")),
            ("no exp", without(c, "exp")),
            ("no sub", without(c, "sub")),
            ("empty sub", with(c, "sub", json!(""))),
            ("no role", without(c, "role")),
            ("unknown role", with(c, "role", json!("superuser"))),
            (
                "expired",
                with(&with(c, "iat", json!(now - 900)), "exp", json!(now - 300)),
            ),
            ("nbf ahead", with(c, "nbf", json!(now + 300))),
            ("exp as a string", with(c, "exp", json!((now + 60).to_string()))),
            ("exp as a fraction", with(c, "exp", json!((now + 60) as f64 + 0.5))),
            ("iss another issuer", with(c, "iss", json!("https://elsewhere.example"))),
        ];
        for (what, claims) in refused {
            let (status, body) = whoami(&app, &i.token("", &claims)).await;
            assert_eq!(status, 401, "{}: {what}", i.name);
            let detail = body["detail"].as_str().unwrap_or_default();
            for parser_word in ["invalid type", "sequence", "line ", "column", "JSON error", "expected"] {
                assert!(
                    !detail.contains(parser_word),
                    "{}: {what}: a parser message in {detail:?}",
                    i.name
                );
            }
        }
    }
}

#[tokio::test]
async fn headers_that_could_choose_a_key_or_change_meaning_are_refused() {
    let app = common::spawn().await;
    let attacker = SigningKey::generate(&mut rand_core::OsRng);
    let attacker_x = BASE64_URL_SAFE_NO_PAD.encode(attacker.verifying_key().as_bytes());
    for i in issuers(&app).await {
        let c = &i.claims;
        for (what, extra) in [
            ("typ JWT", r#","typ":"JWT""#),
            ("typ jwt in lower case", r#","typ":"jwt""#),
        ] {
            assert_eq!(whoami(&app, &i.token(extra, c)).await.0, 200, "{}: {what}", i.name);
        }
        let jwk = format!(r#","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{attacker_x}"}}"#);
        for (what, extra) in [
            ("typ of another kind of token", r#","typ":"at+jwt""#.to_string()),
            ("crit naming an extension", r#","crit":["exp"],"exp":1"#.to_string()),
            ("jku", r#","jku":"https://attacker.example/jwks.json""#.to_string()),
            ("x5u", r#","x5u":"https://attacker.example/cert.pem""#.to_string()),
            ("x5c", r#","x5c":["MIIB"]"#.to_string()),
            ("jwk", jwk.clone()),
            ("cty (a nested token)", r#","cty":"JWT""#.to_string()),
            ("a repeated alg", r#","alg":"EdDSA""#.to_string()),
        ] {
            assert_eq!(whoami(&app, &i.token(&extra, c)).await.0, 401, "{}: {what}", i.name);
        }
        // The attacker's own key in `jwk`, the token signed with it: refused, never followed.
        let forged = raw_token(&attacker, &i.header(&jwk), &c.to_string());
        assert_eq!(whoami(&app, &forged).await.0, 401, "{}: jwk-signed forgery", i.name);
        // A claim repeated: the second `role` would win in a lenient parser.
        let text = c.to_string();
        let doubled = format!("{},\"role\":\"admin\"}}", &text[..text.len() - 1]);
        let t = raw_token(&i.key, &i.header(""), &doubled);
        assert_eq!(whoami(&app, &t).await.0, 401, "{}: repeated claim", i.name);
        // Not three parts, or padded base64.
        let good = i.token("", c);
        assert_eq!(whoami(&app, &format!("{good}.x")).await.0, 401);
        let padded = good.replacen('.', "=.", 1);
        assert_eq!(whoami(&app, &padded).await.0, 401);
    }
}

#[tokio::test]
async fn an_authority_kid_selects_only_that_authoritys_active_keys() {
    let app = common::spawn().await;
    let a = app.register_authority().await;
    let b = app.register_authority().await;
    let (kid_a, key_a) = app.add_ed25519_key(&a).await;
    let (kid_b, _) = app.add_ed25519_key(&b).await;
    // A's key under B's name, and A's claims naming B's kid.
    let claims_b = common::officer_claims(&app, &b);
    let t = raw_token(
        &key_a,
        &format!(r#"{{"alg":"EdDSA","kid":"{kid_a}"}}"#),
        &claims_b.to_string(),
    );
    assert_eq!(whoami(&app, &t).await.0, 401);
    let claims_a = common::officer_claims(&app, &a);
    let t = raw_token(
        &key_a,
        &format!(r#"{{"alg":"EdDSA","kid":"{kid_b}"}}"#),
        &claims_a.to_string(),
    );
    assert_eq!(whoami(&app, &t).await.0, 401);
    // No kid, an empty kid, an over-long kid.
    for header in [
        r#"{"alg":"EdDSA"}"#.to_string(),
        r#"{"alg":"EdDSA","kid":""}"#.to_string(),
        format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, "k".repeat(5000)),
    ] {
        let t = raw_token(&key_a, &header, &claims_a.to_string());
        assert_eq!(whoami(&app, &t).await.0, 401, "{}", &header[..header.len().min(40)]);
    }
    // An authority may not mint any role but officer.
    let t = raw_token(
        &key_a,
        &format!(r#"{{"alg":"EdDSA","kid":"{kid_a}"}}"#),
        &with(&claims_a, "role", json!("admin")).to_string(),
    );
    assert_eq!(whoami(&app, &t).await.0, 401);
    let t = raw_token(
        &key_a,
        &format!(r#"{{"alg":"EdDSA","kid":"{kid_a}"}}"#),
        &claims_a.to_string(),
    );
    assert_eq!(whoami(&app, &t).await.0, 200);
}
