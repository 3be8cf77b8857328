//! The public log API over HTTP: key, checkpoint, entries, proofs, policies, errors.

mod common;

use common::{assert_problem, hashes, spawn};
use disclosure_ledger::auth::Role;
use disclosure_ledger::ledger::{merkle, parse_hex_hash, Entry};

#[tokio::test]
async fn a_new_ledger_starts_with_the_default_policy_as_entry_zero() {
    let app = spawn().await;
    let e = app.get_json("/v1/log/entries/0").await;
    assert_eq!(e["kind"], "policy.adopted");
    assert_eq!(e["index"], 0);
    assert_eq!(e["prev"], "0".repeat(64));
    assert_eq!(e["public"]["name"], "telegram-2024-09");
    let current = app.get_json("/v1/policies/current").await;
    assert_eq!(current["sha256"], e["public"]["policy_sha256"]);
    let doc = current["document"].as_str().unwrap();
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(doc.as_bytes())),
        current["sha256"].as_str().unwrap()
    );
}

#[tokio::test]
async fn the_checkpoint_is_signed_by_the_published_key_and_commits_to_the_entries() {
    let app = spawn().await;
    app.adopt_policy("telegram-2018").await;
    let cp = app
        .verifier()
        .await
        .verify(&app.text("/v1/log/checkpoint").await)
        .unwrap();
    assert_eq!(cp.size, 2);
    let page = app.get_json("/v1/log/entries?start=0&limit=10").await;
    let entries: Vec<Entry> = serde_json::from_value(page["entries"].clone()).unwrap();
    let leaves = disclosure_ledger::ledger::verify_chain(&entries).unwrap();
    let mut tree = merkle::MemoryHashes::new();
    for l in leaves {
        tree.push(l).unwrap();
    }
    assert_eq!(tree.root().unwrap(), cp.root);
}

#[tokio::test]
async fn a_policy_receipt_verifies_with_the_crypto_core_alone() {
    let app = spawn().await;
    let receipt = app.adopt_policy("eu-2023-1543").await;
    let cp = app
        .verifier()
        .await
        .verify(receipt["checkpoint"].as_str().unwrap())
        .unwrap();
    let item = &receipt["entries"][0];
    let index = item["index"].as_u64().unwrap();
    let leaf = parse_hex_hash(item["leaf_hash"].as_str().unwrap()).unwrap();
    merkle::check_inclusion(&hashes(&item["inclusion_proof"]), cp.size, cp.root, index, leaf).unwrap();
    let entry = app.get_json(&format!("/v1/log/entries/{index}")).await;
    let entry: Entry = serde_json::from_value(entry).unwrap();
    assert_eq!(entry.leaf_hash().unwrap(), leaf);
    assert_eq!(entry.public["name"], "eu-2023-1543");
    assert_eq!(app.get_json("/v1/policies/current").await["name"], "eu-2023-1543");
}

#[tokio::test]
async fn inclusion_and_consistency_proofs_check_against_signed_checkpoints() {
    let app = spawn().await;
    let verifier = app.verifier().await;
    let first = verifier.verify(&app.text("/v1/log/checkpoint").await).unwrap();
    for i in 0..6 {
        app.adopt_policy(&format!("p{i}")).await;
    }
    let last = verifier.verify(&app.text("/v1/log/checkpoint").await).unwrap();
    assert_eq!((first.size, last.size), (1, 7));
    for index in 0..last.size {
        let p = app
            .get_json(&format!("/v1/log/proof/inclusion?index={index}&size={}", last.size))
            .await;
        assert_eq!(parse_hex_hash(p["root"].as_str().unwrap()).unwrap(), last.root);
        let leaf = parse_hex_hash(p["leaf_hash"].as_str().unwrap()).unwrap();
        let entry: Entry = serde_json::from_value(app.get_json(&format!("/v1/log/entries/{index}")).await).unwrap();
        assert_eq!(entry.leaf_hash().unwrap(), leaf);
        merkle::check_inclusion(&hashes(&p["proof"]), last.size, last.root, index, leaf).unwrap();
    }
    let c = app
        .get_json(&format!(
            "/v1/log/proof/consistency?from={}&to={}",
            first.size, last.size
        ))
        .await;
    merkle::check_consistency(&hashes(&c["proof"]), first.size, first.root, last.size, last.root).unwrap();
    assert!(merkle::check_consistency(&hashes(&c["proof"]), first.size, last.root, last.size, last.root).is_err());
}

#[tokio::test]
async fn entries_are_paginated_with_a_capped_limit() {
    let app = spawn().await;
    for i in 0..4 {
        app.adopt_policy(&format!("p{i}")).await;
    }
    let p1 = app.get_json("/v1/log/entries?limit=2").await;
    assert_eq!(p1["entries"].as_array().unwrap().len(), 2);
    assert_eq!(p1["next"], 2);
    let p3 = app.get_json("/v1/log/entries?start=4&limit=2").await;
    assert_eq!(p3["entries"].as_array().unwrap().len(), 1);
    assert_eq!(p3["next"], serde_json::Value::Null);
    let big = app.get_json("/v1/log/entries?limit=100000").await;
    assert_eq!(big["entries"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn malformed_and_out_of_range_parameters_get_problem_answers_not_500s() {
    let app = spawn().await;
    for (path, status) in [
        ("/v1/log/entries/abc", 404),
        ("/v1/log/entries/-1", 404),
        ("/v1/log/entries/99", 404),
        ("/v1/log/entries/18446744073709551615", 404),
        ("/v1/log/entries?limit=0", 400),
        ("/v1/log/entries?start=x", 400),
        ("/v1/log/entries?start=18446744073709551615", 400),
        ("/v1/log/proof/inclusion", 400),
        ("/v1/log/proof/inclusion?index=1", 404),
        ("/v1/log/proof/inclusion?index=0&size=2", 404),
        ("/v1/log/proof/inclusion?index=0&size=0", 404),
        ("/v1/log/proof/inclusion?index=zz&size=1", 400),
        ("/v1/log/proof/consistency?from=0&to=1", 400),
        ("/v1/log/proof/consistency?from=2&to=1", 400),
        ("/v1/log/proof/consistency?from=1&to=9", 404),
        ("/v1/log/proof/consistency?from=1", 400),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        assert_problem(r, status).await;
    }
}

#[tokio::test]
async fn adopting_a_policy_needs_an_admin_token_and_a_valid_body() {
    let app = spawn().await;
    let body = serde_json::json!({ "name": "x", "document": common::policy_document("x") });
    let post = |token: Option<String>, body: serde_json::Value| {
        let mut req = app.client.post(app.url("/v1/policies")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_problem(post(None, body.clone()).await.unwrap(), 401).await;
    assert_problem(post(Some("not.a.token".into()), body.clone()).await.unwrap(), 401).await;
    assert_problem(post(Some(app.token(Role::Auditor)), body.clone()).await.unwrap(), 403).await;
    assert_problem(
        post(
            Some(app.token(Role::Admin)),
            serde_json::json!({ "name": "BAD NAME", "document": "a" }),
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    assert_problem(
        post(Some(app.token(Role::Admin)), serde_json::json!({ "name": "x" }))
            .await
            .unwrap(),
        400,
    )
    .await;
    let not_a_policy = serde_json::json!({ "name": "x", "document": "terror_only = true\n" });
    let body = assert_problem(post(Some(app.token(Role::Admin)), not_a_policy).await.unwrap(), 422).await;
    assert_eq!(body["errors"][0]["code"], "invalid_policy");
    // None of the refusals appended anything.
    let cp = app
        .verifier()
        .await
        .verify(&app.text("/v1/log/checkpoint").await)
        .unwrap();
    assert_eq!(cp.size, 1);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn().await;
    assert_eq!(app.text("/healthz").await, "ok");
    assert_eq!(app.text("/readyz").await, "ready");
    app.adopt_policy("p").await;
    let metrics = app.text("/metrics").await;
    assert!(metrics.contains("disclosure_ledger_appends_total 2"), "{metrics}");
    assert!(metrics.contains("disclosure_ledger_tree_size 2"), "{metrics}");
    assert!(metrics.contains("disclosure_ledger_commit_seconds_bucket"), "{metrics}");
}

#[tokio::test]
async fn a_body_error_never_echoes_the_submitted_value() {
    let app = spawn().await;
    let r = app
        .client
        .post(app.url("/v1/policies"))
        .bearer_auth(app.token(Role::Admin))
        .header("content-type", "application/json")
        .body(r#"{"name": 33612345678, "document": "x"}"#)
        .send()
        .await
        .unwrap();
    let body = assert_problem(r, 400).await;
    assert!(!body.to_string().contains("33612345678"), "{body}");
    let r = app
        .client
        .post(app.url("/v1/policies"))
        .bearer_auth(app.token(Role::Admin))
        .json(&serde_json::json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(r, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("missing field `document`"),
        "{body}"
    );
}
