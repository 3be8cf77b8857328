//! The affected user: with what a notification hands over (request id, kind, raw value,
//! nonce) the ledger proves which entries of the request commit to the identifier; without the
//! nonce it says nothing.

mod common;

use common::requests::{act, approve, court, order, submit, PHONE};
use common::{assert_problem, spawn, TestApp};
use disclosure_ledger::auth::Role;
use disclosure_ledger::subjects::{check_proof, SubjectProof};
use serde_json::{json, Value};

async fn prove(app: &TestApp, claim: Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/subjects/proof"))
        .json(&claim)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_notified_user_gets_proofs_of_the_entries_that_commit_to_their_number() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let (status, body) = submit(&app, &c.officer, &order(&c, "subj-1", "fraud")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["request"]["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&app, &reviewer, &id).await.0, 200);
    let vault: Value = app.open_vault(&id, &reviewer, "notification").await;
    let phone = vault["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "phone_number")
        .unwrap()
        .clone();
    let nonce = phone["nonce"].as_str().unwrap().to_string();
    let disclosure = json!({ "outcome": "partially_produced", "accounts_affected": 1, "values": { "phone_number": 1 },
        "identifiers": [{ "commitment": phone["commitment"], "values": { "phone_number": 1 } }] });
    assert_eq!(act(&app, &reviewer, &id, "disclosure", disclosure).await.0, 200);

    // The user types the number as they know it, not in E.164.
    let claim = json!({ "request_id": id, "kind": "phone_number", "value": PHONE, "nonce": nonce });
    let r = prove(&app, claim).await;
    assert_eq!(r.status(), 200);
    let proof: SubjectProof = r.json().await.unwrap();
    let mut n = [0u8; 32];
    hex::decode_to_slice(&nonce, &mut n).unwrap();
    let (_, entries) = check_proof(&proof, &app.verifier().await, &id, "phone_number", PHONE, &n).unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["request.received", "request.disclosed"]);
    assert_eq!(entries[1].public["values"], json!({ "phone_number": 1 }));

    // Someone else's number, the wrong nonce, another request: the same 404, nothing told.
    let mut other = n;
    other[0] ^= 1;
    for claim in [
        json!({ "request_id": id, "kind": "phone_number", "value": "+33 6 00 00 00 00", "nonce": nonce }),
        json!({ "request_id": id, "kind": "phone_number", "value": PHONE, "nonce": hex::encode(other) }),
        json!({ "request_id": uuid::Uuid::new_v4().to_string(), "kind": "phone_number", "value": PHONE, "nonce": nonce }),
        json!({ "request_id": "not-a-request", "kind": "phone_number", "value": PHONE, "nonce": nonce }),
    ] {
        let problem = assert_problem(prove(&app, claim).await, 404).await;
        assert!(!problem.to_string().contains("612345678"), "{problem}");
    }
    // Malformed input is 400 and does not echo the value.
    let bad = json!({ "request_id": id, "kind": "phone_number", "value": "+33 6 12 34 56 7x", "nonce": nonce });
    let problem = assert_problem(prove(&app, bad).await, 400).await;
    assert!(!problem.to_string().contains("7x"), "{problem}");
    let bad = json!({ "request_id": id, "kind": "phone_number", "value": PHONE, "nonce": "abc" });
    assert_problem(prove(&app, bad).await, 400).await;

    // A proof the ledger doctored does not check.
    let mut doctored = proof.clone();
    doctored.entries[0].salt = "00".repeat(32);
    assert!(check_proof(&doctored, &app.verifier().await, &id, "phone_number", PHONE, &n).is_err());

    // The command line does the same, reading the number from the environment.
    let (url, key) = (app.base.clone(), app.text("/v1/log/key").await);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
            .args([
                "prove-subject",
                "--url",
                &url,
                "--log-key",
                key.trim(),
                "--request",
                &id,
            ])
            .args(["--kind", "phone_number", "--nonce", &nonce])
            .env("SUBJECT_VALUE", PHONE)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("PROVEN: 2 entries of request"), "{stdout}");
}

#[tokio::test]
async fn a_national_number_is_read_in_the_requesting_authoritys_country() {
    let app = spawn().await;
    let c = court(&app).await;
    let (status, submitted) = submit(&app, &c.officer, &order(&c, "national", "fraud")).await;
    assert_eq!(status, 201);
    let id = submitted["request"]["id"].as_str().unwrap().to_string();
    let reviewer = app.token(Role::Reviewer);
    let vault = app.open_vault(&id, &reviewer, "notification").await;
    let phone = vault["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "phone_number")
        .unwrap()
        .clone();
    // The French court's request; the user types the number as the French write it.
    let r = app
        .client
        .post(app.url("/v1/subjects/proof"))
        .json(&json!({ "request_id": id, "kind": "phone_number", "value": "06 12 34 56 78", "nonce": phone["nonce"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
