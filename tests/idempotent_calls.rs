//! `Idempotency-Key` on the administrative calls, amendments, the vault and legal hold: a retry
//! replays the first answer (receipt included) and appends nothing; the same key for another
//! call is 409; of concurrent calls with one key exactly one applies.

mod common;

use common::TestApp;
use disclosure_ledger::auth::Role;
use serde_json::{json, Value};

async fn post(app: &TestApp, path: &str, token: &str, key: &str, body: Option<&Value>) -> (u16, Value) {
    let mut r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key);
    if let Some(b) = body {
        r = r.json(b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn court() -> Value {
    json!({ "country": "FRA", "kind": "court", "judicial": true, "name": "Tribunal judiciaire de Lyon" })
}

#[tokio::test]
async fn a_retried_administrative_call_replays_its_first_answer_and_appends_nothing() {
    let app = common::spawn().await;
    let admin = app.token(Role::Admin);
    let (status, first) = post(&app, "/v1/authorities", &admin, "reg-1", Some(&court())).await;
    assert_eq!(status, 201, "{first}");
    let size = app.size().await;
    let (status, again) = post(&app, "/v1/authorities", &admin, "reg-1", Some(&court())).await;
    assert_eq!(status, 201);
    assert_eq!(again, first, "the same answer, receipt included");
    assert_eq!(app.size().await, size, "nothing appended");
    let mut other = court();
    other["name"] = json!("Tribunal judiciaire de Lille");
    let (status, problem) = post(&app, "/v1/authorities", &admin, "reg-1", Some(&other)).await;
    assert_eq!(status, 409, "{problem}");
    // Keys are per token subject: another admin's key of the same name is another call.
    let (status, theirs) = post(
        &app,
        "/v1/authorities",
        &app.token_for(Role::Admin, "carol"),
        "reg-1",
        Some(&court()),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(theirs["authority"]["id"], first["authority"]["id"]);

    // A bodiless call: suspending twice with one key is one suspension, answered twice.
    let id = first["authority"]["id"].as_str().unwrap();
    let path = format!("/v1/authorities/{id}/suspend");
    let (status, suspended) = post(&app, &path, &admin, "susp-1", None).await;
    assert_eq!(status, 200, "{suspended}");
    let (status, replayed) = post(&app, &path, &admin, "susp-1", None).await;
    assert_eq!((status, &replayed), (200, &suspended));
    let (status, _) = post(&app, &path, &admin, "susp-2", None).await;
    assert_eq!(status, 409, "a new key is a new call: already suspended");
    let (status, _) = post(&app, &format!("/v1/authorities/{id}/reinstate"), &admin, "susp-1", None).await;
    assert_eq!(status, 409, "the key named the suspension");
}

#[tokio::test]
async fn concurrent_calls_with_one_key_apply_once_and_all_get_the_answer() {
    let app = common::spawn().await;
    let admin = app.token(Role::Admin);
    let size = app.size().await;
    let body = court();
    let calls = (0..12).map(|_| post(&app, "/v1/authorities", &admin, "race-1", Some(&body)));
    let answers = futures_util::future::join_all(calls).await;
    for (status, body) in &answers {
        assert_eq!(*status, 201, "{body}");
        assert_eq!(body["authority"]["id"], answers[0].1["authority"]["id"]);
    }
    assert_eq!(app.size().await, size + 1, "one authority.registered");
}

#[tokio::test]
async fn opening_the_vault_and_legal_hold_replay_with_their_key() {
    let app = common::spawn().await;
    let c = common::requests::court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let (status, body) =
        common::requests::submit(&app, &c.officer, &common::requests::order(&c, "idem-vault", "fraud")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["request"]["id"].as_str().unwrap().to_string();
    let (status, _) = common::requests::approve(&app, &reviewer, &id).await;
    assert_eq!(status, 200);
    let path = format!("/v1/requests/{id}/identifiers");
    let reason = json!({ "reason": "production" });
    let (status, first) = post(&app, &path, &reviewer, "vault-1", Some(&reason)).await;
    assert_eq!(status, 200, "{first}");
    let size = app.size().await;
    let (status, again) = post(&app, &path, &reviewer, "vault-1", Some(&reason)).await;
    assert_eq!((status, &again), (200, &first));
    assert_eq!(app.size().await, size, "one vault.opened");

    let hold = format!("/v1/requests/{id}/legal-hold");
    let why = json!({ "reason": "litigation" });
    let (status, placed) = post(&app, &hold, &reviewer, "hold-1", Some(&why)).await;
    assert_eq!(status, 200, "{placed}");
    let (status, replayed) = post(&app, &hold, &reviewer, "hold-1", Some(&why)).await;
    assert_eq!((status, &replayed), (200, &placed), "a replay, not 409 already held");
}
