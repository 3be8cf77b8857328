//! HTTP as RFC 9110 has it, and the same answer on both backends: HEAD, OPTIONS, 405 with
//! `Allow`, the case of the auth scheme, integer parameters within their documented bounds,
//! and text PostgreSQL cannot store refused at the door.

mod common;

use common::assert_problem;
use disclosure_ledger::auth::Role;
use serde_json::json;

#[tokio::test]
async fn head_answers_as_get_without_a_body() {
    let app = common::spawn().await;
    for path in ["/healthz", "/checkpoint", "/v1/log/key", "/v1/log/entries/0"] {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
}

#[tokio::test]
async fn other_methods_are_405_with_allow_and_options_lists_them() {
    let app = common::spawn().await;
    let admin = app.token(Role::Admin);
    for (method, path, allow) in [
        ("DELETE", "/v1/log/checkpoint", "GET, HEAD, OPTIONS"),
        ("PUT", "/v1/requests", "GET, POST, HEAD, OPTIONS"),
        ("TRACE", "/v1/log/entries/3", "GET, HEAD, OPTIONS"),
        ("PATCH", "/tile/0/000.p/1", "GET, HEAD, OPTIONS"),
        ("GET", "/v1/imports", "POST, OPTIONS"),
    ] {
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        assert_problem(r, 405).await;
        let r = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "OPTIONS {path}");
        assert_eq!(r.headers()["allow"], allow);
    }
    // No resource at all: 404 problem+json.
    assert_problem(app.get("/v1/nothing-here").await, 404).await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = common::spawn().await;
    let token = app.token(Role::Auditor);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = app
            .client
            .get(app.url("/v1/auth/whoami"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    let r = app
        .client
        .get(app.url("/v1/auth/whoami"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
}

#[tokio::test]
async fn integer_parameters_beyond_2_pow_53_are_refused() {
    let app = common::spawn().await;
    let auditor = app.token(Role::Auditor);
    for path in [
        "/v1/log/entries?start=9007199254740992",
        "/v1/log/entries?limit=9007199254740992",
        "/v1/log/proof/inclusion?index=9007199254740992",
        "/v1/log/proof/consistency?from=1&to=9007199254740992",
        "/v1/authorities?limit=9007199254740992",
        "/v1/requests?limit=9007199254740992",
    ] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap();
        assert_problem(r, 400).await;
    }
    let r = app.get("/v1/log/entries?start=9007199254740991").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn nul_characters_are_refused_alike_on_both_backends() {
    let app = common::spawn().await;
    let admin = app.token(Role::Admin);
    let before = app.size().await;
    let (status, body) = app
        .admin_post(
            "/v1/authorities",
            json!({ "country": "BEL", "kind": "police", "judicial": false, "name": "Pol\u{0}ice" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "name");
    assert_eq!(body["errors"][0]["code"], "nul_character");
    let r = app
        .client
        .post(app.url("/v1/subjects/proof"))
        .json(&json!({ "request_id": "a\u{0}b", "kind": "phone_number", "value": "+33612345678", "nonce": "0".repeat(64) }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 422).await;
    for path in [
        "/v1/authorities/a%00b",
        "/v1/requests?status=a%00",
        "/v1/log/entries/%00",
    ] {
        let r = app.client.get(app.url(path)).bearer_auth(&admin).send().await.unwrap();
        assert_problem(r, 400).await;
    }
    // In a token's claims: refused as a token, not a database error.
    let authority = app.register_authority().await;
    let (kid, key) = app.add_ed25519_key(&authority).await;
    let mut claims = common::officer_claims(&app, &authority);
    claims["iss"] = json!(format!("{authority}\u{0}"));
    let t = common::sign_ed25519(&key, &kid, &claims);
    let r = app
        .client
        .get(app.url("/v1/auth/whoami"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
    assert_eq!(
        app.size().await,
        before + 2,
        "only the authority and its key were appended"
    );
}

#[tokio::test]
async fn a_sender_that_trickles_its_body_is_cut_off_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = common::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Half a body, then silence.
    let head = format!(
        "POST /v1/subjects/proof HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"request_id\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server held the connection for 20 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() >= disclosure_ledger::body::BODY_IDLE);
}

#[tokio::test]
async fn an_oversized_header_or_url_is_refused_without_reaching_a_handler() {
    let app = common::spawn().await;
    let long = "a".repeat(20 * 1024);
    let r = app
        .client
        .post(app.url("/v1/requests"))
        .header("X-Padding", &long)
        .send()
        .await
        .unwrap();
    assert_problem(r, 431).await;
    let r = app
        .client
        .get(app.url(&format!("/v1/log/entries?start=0&x={long}")))
        .send()
        .await
        .unwrap();
    assert_problem(r, 414).await;
    // Just under the limits is fine.
    let r = app
        .client
        .get(app.url("/v1/log/checkpoint"))
        .header("X-Padding", "a".repeat(8 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The server still answers.
    assert_eq!(app.get("/healthz").await.status(), 200);
}
