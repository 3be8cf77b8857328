//! The request lifecycle of DESIGN §2 over HTTP: every transition is an entry, illegal ones
//! are 409 naming the current state and append nothing.

mod common;

use common::requests::{act, act_with_key, approve, check_receipt, court, order, submit, Court};
use common::{spawn, TestApp};
use disclosure_ledger::auth::Role;
use serde_json::{json, Value};

async fn submitted(app: &TestApp, c: &Court, document: &str) -> String {
    let (status, body) = submit(app, &c.officer, &order(c, document, "fraud")).await;
    assert_eq!(status, 201, "{body}");
    body["request"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn new_request_ids_are_time_ordered_uuids() {
    // Version 7 (RFC 9562 §5.7), in the order the requests were recorded: what keeps the
    // inserts of a batch at the end of the indexes keyed by request id.
    let app = spawn().await;
    let c = court(&app).await;
    let first = submitted(&app, &c, "ordered-1").await;
    let second = submitted(&app, &c, "ordered-2").await;
    for id in [&first, &second] {
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7, "{id}");
    }
    assert!(first < second, "{first} was recorded before {second}");
}

#[tokio::test]
async fn a_court_order_goes_from_review_to_disclosure_and_notification() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let id = submitted(&app, &c, "life-1").await;

    let (status, body) = approve(&app, &reviewer, &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "approved");
    let approved = check_receipt(&app, &body["receipt"]).await;
    assert_eq!(approved[0].kind, "request.approved");
    assert_eq!(approved[0].public["scope"], "full");
    assert_eq!(
        approved[0].public["policy_sha256"],
        app.get_json("/v1/policies/current").await["sha256"]
    );

    // The reviewer looks the identifiers up (a vault.opened entry) and reports per identifier.
    let opened: Value = app
        .client
        .post(app.url(&format!("/v1/requests/{id}/identifiers")))
        .json(&json!({ "reason": "production" }))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let phone = opened["identifiers"][0]["commitment"].clone();
    let ip = opened["identifiers"][1]["commitment"].clone();
    let wrong = json!({
        "outcome": "fully_produced", "accounts_affected": 1, "values": { "ip_address": 3, "phone_number": 1 },
        "identifiers": [{ "commitment": phone, "values": { "phone_number": 1 } }]
    });
    assert_eq!(
        act(&app, &reviewer, &id, "disclosure", wrong).await.0,
        400,
        "per-identifier values must add up"
    );
    let disclosure = json!({
        "outcome": "fully_produced", "accounts_affected": 1,
        "values": { "ip_address": 3, "phone_number": 1 }, "package_sha256": "ab".repeat(32),
        "identifiers": [
            { "commitment": phone, "values": { "phone_number": 1 } },
            { "commitment": ip, "values": { "ip_address": 3 } }
        ]
    });
    let (status, body) = act(&app, &reviewer, &id, "disclosure", disclosure).await;
    assert_eq!(status, 200, "{body}");
    let disclosed = check_receipt(&app, &body["receipt"]).await;
    assert_eq!(disclosed[0].kind, "request.disclosed");
    assert_eq!(disclosed[0].public, json!({ "outcome": "fully_produced", "accounts_affected": 1, "values": { "ip_address": 3, "phone_number": 1 } }).as_object().unwrap().clone());
    assert!(disclosed[0].sealed.is_some(), "the package digest is sealed");

    let until = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let (status, body) = act(
        &app,
        &reviewer,
        &id,
        "notification",
        json!({ "action": "delay", "until": until, "basis": "non-disclosure order" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 409, "{body}");

    // The officer reads the request's history; every entry proves against one checkpoint.
    let history: Value = app
        .client
        .get(app.url(&format!("/v1/requests/{id}/entries")))
        .bearer_auth(&c.officer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let proven = check_receipt(&app, &history["proofs"]).await;
    let listed: Vec<disclosure_ledger::ledger::Entry> = serde_json::from_value(history["entries"].clone()).unwrap();
    assert_eq!(proven, listed);
    let kinds: Vec<&str> = listed.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "request.received",
            "request.validated",
            "request.approved",
            "vault.opened",
            "request.disclosed",
            "notification.delayed",
            "notification.sent"
        ]
    );
}

#[tokio::test]
async fn illegal_transitions_are_409_with_the_current_state_and_append_nothing() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let id = submitted(&app, &c, "life-2").await;
    let before = app.size().await;
    let (status, body) = act(&app, &reviewer, &id, "disclosure", json!({ "outcome": "no_data" })).await;
    assert_eq!(status, 409);
    assert!(body["detail"].as_str().unwrap().contains("under_review"), "{body}");
    let (status, _) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 409);
    let (status, _) = act(
        &app,
        &reviewer,
        &id,
        "emergency-validation",
        json!({ "validated": true }),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(app.size().await, before);

    assert_eq!(approve(&app, &reviewer, &id).await.0, 200);
    let (status, body) = act(
        &app,
        &reviewer,
        &id,
        "decision",
        json!({ "decision": "reject", "reasons": ["other"] }),
    )
    .await;
    assert_eq!(status, 409);
    assert!(body["detail"].as_str().unwrap().contains("approved"), "{body}");
    assert_eq!(
        act(&app, &reviewer, &id, "disclosure", json!({ "outcome": "no_data" }))
            .await
            .0,
        200
    );
    let (status, _) = act(&app, &c.officer, &id, "withdraw", json!({})).await;
    assert_eq!(status, 409, "no withdrawal after the answer");
    let missing = uuid::Uuid::new_v4().to_string();
    assert_eq!(approve(&app, &reviewer, &missing).await.0, 404);
}

#[tokio::test]
async fn a_narrowed_approval_bounds_what_may_be_disclosed() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let id = submitted(&app, &c, "life-3").await;
    let (status, body) = act(
        &app,
        &reviewer,
        &id,
        "decision",
        json!({ "decision": "approve", "data_categories": ["ip_address"], "identifiers": 1 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "approved_narrowed");
    let entries = check_receipt(&app, &body["receipt"]).await;
    assert_eq!(entries[0].public["scope"], "narrowed");
    let (status, _) = act(
        &app,
        &reviewer,
        &id,
        "disclosure",
        json!({ "outcome": "fully_produced", "accounts_affected": 1, "values": { "phone_number": 1 } }),
    )
    .await;
    assert_eq!(status, 400, "phone numbers were not approved");
    let (status, _) = act(
        &app,
        &reviewer,
        &id,
        "disclosure",
        json!({ "outcome": "partially_produced", "accounts_affected": 1, "values": { "ip_address": 2 } }),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn reviewers_reject_with_reasons_or_ask_for_clarification_and_officers_withdraw() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let a = submitted(&app, &c, "life-4").await;
    assert_eq!(
        act(&app, &reviewer, &a, "decision", json!({ "decision": "reject" }))
            .await
            .0,
        400
    );
    let (status, body) = act(
        &app,
        &reviewer,
        &a,
        "decision",
        json!({ "decision": "reject", "reasons": ["not_proportionate"] }),
    )
    .await;
    assert_eq!(status, 200);
    let e = check_receipt(&app, &body["receipt"]).await;
    assert_eq!(
        (e[0].kind.as_str(), &e[0].public["reasons"]),
        ("request.rejected", &json!(["not_proportionate"]))
    );

    let b = submitted(&app, &c, "life-5").await;
    let (status, body) = act(&app, &reviewer, &b, "decision", json!({ "decision": "clarify" })).await;
    assert_eq!(
        (status, body["request"]["status"].as_str()),
        (200, Some("clarification_requested"))
    );
    // Another authority's officer cannot see, let alone withdraw, it.
    let other = court(&app).await;
    assert_eq!(act(&app, &other.officer, &b, "withdraw", json!({})).await.0, 404);
    let (status, body) = act(&app, &c.officer, &b, "withdraw", json!({})).await;
    assert_eq!((status, body["request"]["status"].as_str()), (200, Some("withdrawn")));
    // Officers do not decide.
    assert_eq!(approve(&app, &c.officer, &a).await.0, 403);
}

#[tokio::test]
async fn an_emergency_disclosure_is_validated_after_the_fact() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let mut body = order(&c, "life-6", "kidnapping");
    body["emergency"] = json!({ "justification": "a child is missing", "imminent_harm": true });
    let (status, submitted) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 201, "{submitted}");
    let received = chrono::DateTime::parse_from_rfc3339(submitted["request"]["received_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(submitted["request"]["due_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - received).num_hours(), 8, "the policy's emergency deadline");
    let id = submitted["request"]["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&app, &reviewer, &id).await.0, 200);
    let disclosure = json!({ "outcome": "fully_produced", "accounts_affected": 1, "values": { "ip_address": 1 } });
    assert_eq!(act(&app, &reviewer, &id, "disclosure", disclosure).await.0, 200);
    let (status, body) = act(
        &app,
        &reviewer,
        &id,
        "emergency-validation",
        json!({ "validated": false }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "emergency_validation_failed");
    assert_eq!(
        check_receipt(&app, &body["receipt"]).await[0].kind,
        "request.emergency_validation_failed"
    );
}

#[tokio::test]
async fn an_eu_production_order_from_a_prosecutor_runs_its_lifecycle_under_the_eu_policy() {
    let app = spawn().await;
    app.adopt_policy("eu-2023-1543").await;
    let c = common::requests::authority(&app, "BEL", "prosecutor", "Parquet de Bruxelles").await;
    let mut body = order(&c, "eu-1", "fraud");
    body["instrument"] = json!("production_order");
    body["suspect"] = json!(false);
    common::requests::sign(&c, &mut body);
    let (status, submitted) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 201, "{submitted}");
    let received = chrono::DateTime::parse_from_rfc3339(submitted["request"]["received_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(submitted["request"]["due_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - received).num_days(), 10, "Art. 10: ten days");
    let id = submitted["request"]["id"].as_str().unwrap().to_string();
    let reviewer = app.token(Role::Reviewer);
    assert_eq!(approve(&app, &reviewer, &id).await.0, 200);
    let (status, body) = act(&app, &reviewer, &id, "disclosure", json!({ "outcome": "no_data" })).await;
    assert_eq!((status, body["request"]["status"].as_str()), (200, Some("no_data")));
    let (status, _) = act(
        &app,
        &reviewer,
        &id,
        "notification",
        json!({ "action": "waive", "exception": "Art. 13(4)" }),
    )
    .await;
    assert_eq!(status, 200);
    let p = common::requests::authority(&app, "BEL", "police", "Police fédérale").await;
    let mut body = order(&p, "eu-2", "fraud");
    body["instrument"] = json!("production_order");
    common::requests::sign(&p, &mut body);
    let (status, problem) = submit(&app, &p.officer, &body).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["code"], "issuer_not_competent", "{problem}");
}

#[tokio::test]
async fn after_a_clarification_request_the_officer_amends_and_it_is_validated_again() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let id = submitted(&app, &c, "amend-1").await;
    // Not before clarification was asked for.
    let mut amended = order(&c, "amend-1", "fraud");
    assert_eq!(act(&app, &c.officer, &id, "amend", amended.clone()).await.0, 409);
    assert_eq!(
        act(&app, &reviewer, &id, "decision", json!({ "decision": "clarify" }))
            .await
            .0,
        200
    );
    // A defective amendment is recorded and rejected.
    amended["data_categories"] = json!(["content"]);
    let (status, body) = act(&app, &c.officer, &id, "amend", amended.clone()).await;
    assert_eq!(status, 422, "{body}");
    let entries = check_receipt(&app, &body["receipt"]).await;
    assert_eq!(
        (entries[0].kind.as_str(), entries[1].kind.as_str()),
        ("request.amended", "request.rejected")
    );

    let id2 = submitted(&app, &c, "amend-2").await;
    assert_eq!(
        act(&app, &reviewer, &id2, "decision", json!({ "decision": "clarify" }))
            .await
            .0,
        200
    );
    let mut fixed = order(&c, "amend-2", "fraud");
    fixed["targets"] = json!([{ "kind": "user_id", "value": "123456789" }]);
    common::requests::sign(&c, &mut fixed);
    let (status, body) = act(&app, &c.officer, &id2, "amend", fixed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "under_review");
    assert_eq!(body["request"]["identifiers"], 1);
    let entries = check_receipt(&app, &body["receipt"]).await;
    assert_eq!(
        (entries[0].kind.as_str(), entries[1].kind.as_str()),
        ("request.amended", "request.validated")
    );
    assert_eq!(approve(&app, &reviewer, &id2).await.0, 200);
}

#[tokio::test]
async fn under_four_eyes_an_emergency_needs_two_distinct_reviewers() {
    let app = spawn().await;
    app.adopt_policy("eu-2023-1543").await;
    let c = common::requests::authority(&app, "NLD", "prosecutor", "Openbaar Ministerie").await;
    let mut body = order(&c, "four-eyes", "kidnapping");
    body["instrument"] = json!("production_order");
    common::requests::sign(&c, &mut body);
    body["emergency"] = json!({ "justification": "hostage situation", "imminent_harm": true });
    let (status, submitted) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 201, "{submitted}");
    let rid = submitted["request"]["id"].as_str().unwrap().to_string();
    let (alice, bob) = (
        app.token_for(Role::Reviewer, "alice"),
        app.token_for(Role::Reviewer, "bob"),
    );
    let (status, first) = approve(&app, &alice, &rid).await;
    assert_eq!(
        (status, first["request"]["status"].as_str()),
        (200, Some("under_review"))
    );
    assert_eq!(check_receipt(&app, &first["receipt"]).await[0].public["approvals"], 1);
    assert_eq!(approve(&app, &alice, &rid).await.0, 409);
    let (status, second) = approve(&app, &bob, &rid).await;
    assert_eq!((status, second["request"]["status"].as_str()), (200, Some("approved")));
}

/// A first approval covers the order as it was: once the request has gone back to the officer
/// and been amended, the four-eyes review starts again, and a single reviewer's approval of the
/// amended order is the first of two, not the second.
#[tokio::test]
async fn after_an_amendment_a_four_eyes_review_starts_again() {
    let app = spawn().await;
    app.adopt_policy("eu-2023-1543").await;
    let c = common::requests::authority(&app, "NLD", "prosecutor", "Openbaar Ministerie").await;
    let emergency_order = || {
        let mut body = order(&c, "four-eyes-amended", "kidnapping");
        body["instrument"] = json!("production_order");
        common::requests::sign(&c, &mut body);
        body["emergency"] = json!({ "justification": "hostage situation", "imminent_harm": true });
        body
    };
    let (status, submitted) = submit(&app, &c.officer, &emergency_order()).await;
    assert_eq!(status, 201, "{submitted}");
    let rid = submitted["request"]["id"].as_str().unwrap().to_string();
    let (alice, bob, carol) = (
        app.token_for(Role::Reviewer, "alice"),
        app.token_for(Role::Reviewer, "bob"),
        app.token_for(Role::Reviewer, "carol"),
    );
    assert_eq!(approve(&app, &alice, &rid).await.0, 200);
    assert_eq!(
        act(&app, &carol, &rid, "decision", json!({ "decision": "clarify" }))
            .await
            .0,
        200
    );
    let (status, amended) = act(&app, &c.officer, &rid, "amend", emergency_order()).await;
    assert_eq!(
        (status, amended["request"]["status"].as_str()),
        (200, Some("under_review")),
        "{amended}"
    );
    let (status, first) = approve(&app, &bob, &rid).await;
    assert_eq!(
        (status, first["request"]["status"].as_str()),
        (200, Some("under_review")),
        "{first}"
    );
    assert_eq!(check_receipt(&app, &first["receipt"]).await[0].public["approvals"], 1);
    let (status, second) = approve(&app, &alice, &rid).await;
    assert_eq!((status, second["request"]["status"].as_str()), (200, Some("approved")));
}

#[tokio::test]
async fn a_second_approval_narrows_the_first_and_never_widens_it() {
    let app = spawn().await;
    app.adopt_policy("eu-2023-1543").await;
    let c = common::requests::authority(&app, "NLD", "prosecutor", "Openbaar Ministerie").await;
    let mut body = order(&c, "four-eyes-widen", "kidnapping");
    body["instrument"] = json!("production_order");
    common::requests::sign(&c, &mut body);
    body["emergency"] = json!({ "justification": "hostage situation", "imminent_harm": true });
    let (status, submitted) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 201, "{submitted}");
    let rid = submitted["request"]["id"].as_str().unwrap().to_string();
    let (alice, bob) = (
        app.token_for(Role::Reviewer, "alice"),
        app.token_for(Role::Reviewer, "bob"),
    );
    // Alice approves only IP addresses of one identifier; Bob then approves everything.
    let (status, _) = act(
        &app,
        &alice,
        &rid,
        "decision",
        json!({ "decision": "approve", "data_categories": ["ip_address"], "identifiers": 1 }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, second) = approve(&app, &bob, &rid).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["request"]["status"], "approved_narrowed");
    let entry = &check_receipt(&app, &second["receipt"]).await[0];
    assert_eq!(entry.public["data_categories"], json!(["ip_address"]));
    assert_eq!(entry.public["identifiers"], 1);
    // Nothing beyond what both approved can be disclosed.
    let (status, _) = act(
        &app,
        &alice,
        &rid,
        "disclosure",
        json!({ "outcome": "fully_produced", "accounts_affected": 1, "values": { "phone_number": 1 } }),
    )
    .await;
    assert_eq!(status, 400);
}

async fn spawn_sweeping() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    common::spawn_with(dir, url, |s| s.sweep_interval = std::time::Duration::from_millis(100)).await
}

async fn status_of(app: &TestApp, id: &str) -> String {
    let v: Value = app
        .client
        .get(app.url(&format!("/v1/requests/{id}")))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_open_request_expires_with_its_order() {
    let app = spawn_sweeping().await;
    let c = court(&app).await;
    let mut body = order(&c, "expiring", "fraud");
    body["expires_at"] = json!((chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339());
    common::requests::sign(&c, &mut body);
    let (status, submitted) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 201, "{submitted}");
    let id = submitted["request"]["id"].as_str().unwrap().to_string();
    assert_eq!(status_of(&app, &id).await, "under_review");
    let mut waited = 0;
    while status_of(&app, &id).await != "expired" {
        assert!(waited < 100, "the request did not expire");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let history: Value = app
        .client
        .get(app.url(&format!("/v1/requests/{id}/entries")))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = history["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["public"]["reason"].as_str()),
        (Some("request.expired"), Some("order_expired"))
    );
    assert_eq!(
        act(
            &app,
            &app.token(Role::Reviewer),
            &id,
            "decision",
            json!({ "decision": "approve" })
        )
        .await
        .0,
        409
    );
}

#[tokio::test]
async fn an_emergency_disclosure_not_validated_within_the_window_fails_validation() {
    let app = spawn_sweeping().await;
    let document = common::policy_document("no-window")
        .replace("emergency_validation_hours = 48", "emergency_validation_hours = 0");
    let (status, _) = app
        .admin_post("/v1/policies", json!({ "name": "no-window", "document": document }))
        .await;
    assert_eq!(status, 201);
    let c = court(&app).await;
    let mut body = order(&c, "emergency-late", "kidnapping");
    body["emergency"] = json!({ "justification": "a child is missing", "imminent_harm": true });
    let (_, submitted) = submit(&app, &c.officer, &body).await;
    let id = submitted["request"]["id"].as_str().unwrap().to_string();
    let reviewer = app.token(Role::Reviewer);
    assert_eq!(approve(&app, &reviewer, &id).await.0, 200);
    let (status, _) = act(
        &app,
        &reviewer,
        &id,
        "disclosure",
        json!({ "outcome": "fully_produced", "accounts_affected": 1, "values": { "ip_address": 1 } }),
    )
    .await;
    assert_eq!(status, 200);
    let mut waited = 0;
    while status_of(&app, &id).await != "emergency_validation_failed" {
        assert!(waited < 100, "the emergency validation window did not close");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
}

/// A reviewer whose answer was lost retries with the same `Idempotency-Key`: the first answer
/// comes back (same entry), nothing is appended twice, even when the retries race; the same
/// key for another body or action is 409.
#[tokio::test]
async fn a_lost_answer_is_retried_with_an_idempotency_key_and_applied_once() {
    let app = spawn().await;
    let c = court(&app).await;
    let (_, submitted) = submit(&app, &c.officer, &order(&c, "idem-decision", "fraud")).await;
    let id = submitted["request"]["id"].as_str().unwrap().to_string();
    let reviewer = app.token(Role::Reviewer);
    let decide = |body: Value, key: &'static str| act_with_key(&app, &reviewer, &id, "decision", key, body);
    let approve = json!({ "decision": "approve" });
    let before = app.size().await;
    let answers = futures_util::future::join_all((0..8).map(|_| decide(approve.clone(), "decide-once"))).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let indexes: std::collections::BTreeSet<u64> = answers
        .iter()
        .map(|(_, b)| b["receipt"]["entries"][0]["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes.len(), 1, "one entry for all retries: {indexes:?}");
    assert_eq!(app.size().await, before + 1);
    let (status, _) = decide(json!({ "decision": "clarify" }), "decide-once").await;
    assert_eq!(status, 409, "same key, other body");
    // Without a key a second approval is the illegal transition it always was.
    assert_eq!(act(&app, &reviewer, &id, "decision", approve).await.0, 409);
}

/// A transition refused with a key leaves the key unclaimed: once the request can take it, the
/// same call with the same key applies (it is not the refusal replayed, nor "key used").
#[tokio::test]
async fn a_transition_refused_with_a_key_applies_when_retried_with_it_later() {
    let app = spawn().await;
    let c = court(&app).await;
    let id = submitted(&app, &c, "idem-refused").await;
    let reviewer = app.token(Role::Reviewer);
    let disclose = || {
        let body = json!({ "outcome": "fully_produced", "accounts_affected": 1, "values": { "ip_address": 1 } });
        act_with_key(&app, &reviewer, &id, "disclosure", "disclose-when-approved", body)
    };
    let before = app.size().await;
    let (status, body) = disclose().await;
    assert_eq!(status, 409, "not approved yet: {body}");
    assert_eq!(app.size().await, before);
    assert_eq!(approve(&app, &reviewer, &id).await.0, 200);
    let (status, body) = disclose().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "disclosed");
    let (again, replayed) = disclose().await;
    assert_eq!(again, 200);
    assert_eq!(
        replayed["receipt"]["entries"][0]["index"],
        body["receipt"]["entries"][0]["index"]
    );
}

/// Transitions that land in one batch each act on what the batch's earlier operations left:
/// on PostgreSQL one read serves a batch's transitions, but never two on one request, nor two
/// with one key, nor any after an operation that may write anything. Many requests decided at
/// once, with racing decisions on one request, one key used on two requests, and an
/// administrative write among them: each request approved exactly once, the shared key applied
/// once, and the ledger verifies.
#[tokio::test]
async fn transitions_racing_in_one_batch_each_see_the_writes_before_them() {
    let app = spawn().await;
    let c = court(&app).await;
    let mut ids = Vec::new();
    for i in 0..16 {
        ids.push(submitted(&app, &c, &format!("batch-race-{i}")).await);
    }
    let reviewer = app.token(Role::Reviewer);
    let approve = json!({ "decision": "approve" });
    let before = app.size().await;
    type Call<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (String, u16)> + 'a>>;
    let mut calls: Vec<Call<'_>> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        // Request 0 is decided eight times, each with its own key; requests 1 and 2 share a key.
        let keys: Vec<String> = match i {
            0 => (0..8).map(|k| format!("race-0-{k}")).collect(),
            1 | 2 => vec!["shared".to_string()],
            _ => vec![format!("race-{i}")],
        };
        for key in keys {
            let (app, reviewer, approve, id) = (&app, reviewer.clone(), approve.clone(), id.clone());
            calls.push(Box::pin(async move {
                let (status, _) = act_with_key(app, &reviewer, &id, "decision", &key, approve).await;
                (id, status)
            }));
        }
        if i == 8 {
            let app = &app;
            calls.push(Box::pin(async move {
                app.adopt_policy("between-the-transitions").await;
                (String::new(), 201)
            }));
        }
    }
    let answers = futures_util::future::join_all(calls).await;
    let applied = |id: &str| answers.iter().filter(|(i, s)| i == id && *s == 200).count();
    assert_eq!(applied(&ids[0]), 1, "one of the racing decisions applies: {answers:?}");
    assert_eq!(
        applied(&ids[1]) + applied(&ids[2]),
        1,
        "one key, one request: {answers:?}"
    );
    for id in &ids[3..] {
        assert_eq!(applied(id), 1, "{answers:?}");
    }
    for (id, status) in &answers {
        assert!(*status == 200 || *status == 201 || *status == 409, "{id}: {status}");
    }
    // Each applied decision is one entry, the adoption one more.
    assert_eq!(app.size().await, before + 1 + 1 + 13 + 1);
    let auditor = app.token(Role::Auditor);
    assert_eq!(app.get_json_as("/v1/audit/verify", &auditor).await["ok"], true);
}

/// The second of two approvals narrows to the first even when both land in one batch, where
/// the first's entry is not yet in the table: many emergency requests under four eyes, one
/// reviewer approving one category and another all, at once. Whatever the order, what both
/// approved is one category.
#[tokio::test]
async fn a_second_approval_in_the_batch_of_the_first_is_narrowed_to_it() {
    let app = spawn().await;
    app.adopt_policy("eu-2023-1543").await;
    let c = common::requests::authority(&app, "NLD", "prosecutor", "Openbaar Ministerie").await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let mut body = order(&c, &format!("four-eyes-batch-{i}"), "kidnapping");
        body["instrument"] = json!("production_order");
        common::requests::sign(&c, &mut body);
        body["emergency"] = json!({ "justification": "hostage situation", "imminent_harm": true });
        let (status, submitted) = submit(&app, &c.officer, &body).await;
        assert_eq!(status, 201, "{submitted}");
        ids.push(submitted["request"]["id"].as_str().unwrap().to_string());
    }
    let (alice, bob) = (
        app.token_for(Role::Reviewer, "alice"),
        app.token_for(Role::Reviewer, "bob"),
    );
    let calls = ids.iter().flat_map(|id| {
        [
            act(
                &app,
                &alice,
                id,
                "decision",
                json!({ "decision": "approve", "data_categories": ["ip_address"] }),
            ),
            act(&app, &bob, id, "decision", json!({ "decision": "approve" })),
        ]
    });
    let answers = futures_util::future::join_all(calls).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let reviewer = app.token(Role::Reviewer);
    for id in &ids {
        let view = app.get_json_as(&format!("/v1/requests/{id}"), &reviewer).await;
        assert_eq!(view["status"], "approved_narrowed", "{id}: {view}");
        let history = app.get_json_as(&format!("/v1/requests/{id}/entries"), &reviewer).await;
        let last = history["entries"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["public"]["data_categories"], json!(["ip_address"]), "{last}");
    }
}

/// `disclosure_ledger_isolated_reruns_total`: batches run again one operation at a time.
async fn isolated_reruns(app: &TestApp) -> u64 {
    let metrics = app.text("/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("disclosure_ledger_isolated_reruns_total "))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0)
}

/// On PostgreSQL the transitions of a batch write their rows in one statement at its end, and
/// one that reads a request an earlier transition of the batch changed has that write go in
/// first. One request approved, disclosed and notified in one batch (the writer held on the
/// head's row lock while they queue), beside other requests' approvals: each applies, in
/// order, and no batch is run again one operation at a time, as a stale read would cost (the
/// disclosure would find the request still under review and fail its batch's first run).
#[tokio::test]
async fn a_requests_transitions_in_one_batch_each_see_the_one_before() {
    use diesel::connection::SimpleConnection;
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let id = submitted(&app, &c, "one-batch-0").await;
    let mut others = Vec::new();
    for i in 1..6 {
        others.push(submitted(&app, &c, &format!("one-batch-{i}")).await);
    }
    let reruns = isolated_reruns(&app).await;
    let before = app.size().await;
    // The first call's batch waits on the lock; the others queue behind it, in order.
    let mut lock = common::is_postgres().then(|| {
        let mut lock = disclosure_ledger::store::establish(&app.database_url).unwrap();
        lock.batch_execute("BEGIN; UPDATE log_head SET size = size WHERE id = 1")
            .unwrap();
        lock
    });
    let after = |ms: u64| tokio::time::sleep(std::time::Duration::from_millis(ms));
    let approval = json!({ "decision": "approve" });
    let (first, approved, disclosed, notified, rest, ()) = tokio::join!(
        approve(&app, &reviewer, &others[0]),
        async {
            after(200).await;
            act(&app, &reviewer, &id, "decision", approval.clone()).await
        },
        async {
            after(300).await;
            act(&app, &reviewer, &id, "disclosure", json!({ "outcome": "no_data" })).await
        },
        async {
            after(400).await;
            act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await
        },
        async {
            after(250).await;
            futures_util::future::join_all(others[1..].iter().map(|o| approve(&app, &reviewer, o))).await
        },
        async {
            after(600).await;
            if let Some(lock) = lock.as_mut() {
                lock.batch_execute("ROLLBACK").unwrap();
            }
        },
    );
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(approved.0, 200, "{}", approved.1);
    assert_eq!(disclosed.0, 200, "{}", disclosed.1);
    assert_eq!(notified.0, 200, "{}", notified.1);
    assert!(rest.iter().all(|(s, _)| *s == 200), "{rest:?}");
    let indexes: Vec<u64> = [&approved.1, &disclosed.1, &notified.1]
        .iter()
        .map(|b| b["receipt"]["entries"][0]["index"].as_u64().unwrap())
        .collect();
    assert!(indexes[0] < indexes[1] && indexes[1] < indexes[2], "{indexes:?}");
    assert_eq!(isolated_reruns(&app).await, reruns, "no batch ran again");
    assert_eq!(app.size().await, before + 3 + 5);
    let view = app.get_json_as(&format!("/v1/requests/{id}"), &reviewer).await;
    assert_eq!(view["status"], "no_data", "{view}");
    let auditor = app.token(Role::Auditor);
    assert_eq!(app.get_json_as("/v1/audit/verify", &auditor).await["ok"], true);
}
