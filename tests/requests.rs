//! Submitting disclosure requests over HTTP: validation V1–V12 under the policy in force, the
//! entries each submission leaves, receipts, replay protection, and the September 2024
//! policy change made visible in the ledger.

mod common;

use common::requests::{act, act_with_key, approve, check_receipt, court, order, submit, submit_with_key};
use common::spawn;
use disclosure_ledger::auth::Role;
use serde_json::{json, Value};

#[tokio::test]
async fn a_valid_court_order_is_recorded_as_received_and_validated_with_a_receipt() {
    let app = spawn().await;
    let c = court(&app).await;
    let (status, body) = submit(&app, &c.officer, &order(&c, "order-1", "drug_trafficking")).await;
    assert_eq!(status, 201, "{body}");
    let entries = check_receipt(&app, &body["receipt"]).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["request.received", "request.validated"]);
    let id = body["request"]["id"].as_str().unwrap();
    assert!(entries.iter().all(|e| e.subject.as_deref() == Some(id)));
    let received = &entries[0].public;
    assert_eq!(received["country"], "FRA");
    assert_eq!(received["authority_kind"], "court");
    assert_eq!(received["identifiers"], 3);
    assert_eq!(received["data_categories"], json!(["ip_address", "phone_number"]));
    assert!(entries[0].sealed.is_some());
    let current = app.get_json("/v1/policies/current").await;
    assert_eq!(entries[1].public["policy_sha256"], current["sha256"]);
    assert_eq!(entries[1].public["result"], "pass");

    let view: Value = app
        .client
        .get(app.url(&format!("/v1/requests/{id}")))
        .bearer_auth(&c.officer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "under_review");
    // The public sees the request's entries only as leaf hashes until the embargo ends.
    let public = app.get_json(&format!("/v1/log/entries/{}", entries[0].index)).await;
    assert!(
        public.get("kind").is_none() && public["embargoed_until"].is_string(),
        "{public}"
    );
}

#[tokio::test]
async fn a_defective_request_is_rejected_with_every_failed_rule_and_still_recorded() {
    let app = spawn().await;
    let c = court(&app).await;
    let mut body = order(&c, "order-2", "drug_trafficking");
    body.as_object_mut().unwrap().remove("file_number");
    body["data_categories"] = json!(["ip_address", "content"]);
    body["targets"][1]["value"] = json!("203.0.113.*");
    body["order"]["signature"] = json!("00".repeat(64));
    body["non_disclosure"] = json!({ "basis": "" });
    let (status, problem) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 422, "{problem}");
    let rules: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["message"].as_str().unwrap()[..3])
        .collect();
    for rule in ["V1:", "V3:", "V5:", "V7:", "V11"] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    let entries = check_receipt(&app, &problem["receipt"]).await;
    assert_eq!(entries[1].kind, "request.rejected");
    let reasons = entries[1].public["reasons"].as_array().unwrap();
    for code in [
        "missing_fields",
        "signature_invalid",
        "category_not_allowed",
        "overbroad",
        "gag_defective",
    ] {
        assert!(reasons.contains(&json!(code)), "{code} missing from {reasons:?}");
    }
    assert_eq!(problem["request"]["status"], "rejected");
}

#[tokio::test]
async fn the_september_2024_policy_change_is_visible_in_the_ledger() {
    let app = spawn().await;
    let c = court(&app).await;
    let old = app.adopt_policy("telegram-2018").await;
    let old_sha = old["sha256"].as_str().unwrap().to_string();
    let (status, before) = submit(&app, &c.officer, &order(&c, "order-2023", "drug_trafficking")).await;
    assert_eq!(status, 422, "{before}");
    let rejected = check_receipt(&app, &before["receipt"]).await;
    assert_eq!(rejected[1].kind, "request.rejected");
    assert_eq!(rejected[1].public["failed_rules"], json!(["V6"]));
    assert_eq!(rejected[1].public["policy_sha256"], old_sha.as_str());

    let new = app.adopt_policy("telegram-2024-09").await;
    let new_sha = new["sha256"].as_str().unwrap().to_string();
    assert_ne!(old_sha, new_sha);
    let (status, after) = submit(&app, &c.officer, &order(&c, "order-2024", "drug_trafficking")).await;
    assert_eq!(status, 201, "{after}");
    let validated = check_receipt(&app, &after["receipt"]).await;
    assert_eq!(validated[1].kind, "request.validated");
    assert_eq!(validated[1].public["policy_sha256"], new_sha.as_str());
    // The adoption sits between the two decisions in the chain.
    let adopted = new["entries"][0]["index"].as_u64().unwrap();
    assert!(rejected[1].index < adopted && adopted < validated[1].index);
}

#[tokio::test]
async fn an_order_is_accepted_once_and_refused_when_replayed() {
    let app = spawn().await;
    let c = court(&app).await;
    let body = order(&c, "order-3", "fraud");
    assert_eq!(submit(&app, &c.officer, &body).await.0, 201);
    let (status, problem) = submit(&app, &c.officer, &body).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["code"], "duplicate");
    // Another authority submitting the same order document is refused too.
    let other = court(&app).await;
    let mut stolen = body.clone();
    stolen["issuing_authority"] = json!(c.id);
    let (status, problem) = submit(&app, &other.officer, &stolen).await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "duplicate"),
        "{problem}"
    );
    // Naming an issuer the ledger does not know takes another path to rule V12's question:
    // the order is still found used.
    let mut unknown_issuer = body.clone();
    unknown_issuer["issuing_authority"] = json!("00000000-0000-4000-8000-000000000000");
    let (status, problem) = submit(&app, &other.officer, &unknown_issuer).await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "duplicate"),
        "{problem}"
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let app = spawn().await;
    let c = court(&app).await;
    let body = order(&c, "order-4", "fraud");
    let first = submit_with_key(&app, &c.officer, "k-1", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = submit_with_key(&app, &c.officer, "k-1", &body).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["request"]["id"], first["request"]["id"]);
    check_receipt(&app, &again["receipt"]).await;
    let other = submit_with_key(&app, &c.officer, "k-1", &order(&c, "order-5", "fraud")).await;
    assert_eq!(other.status(), 409);
    let page = app.get_json("/v1/log/entries?limit=1000").await;
    assert_eq!(
        page["entries"].as_array().unwrap().len(),
        3 + 2,
        "policy, authority, key, one request's two entries"
    );
}

/// A retry is answered with the first answer even when its own operation cannot run: here
/// another connection holds SQLite's write lock, so the writer's batch fails after its busy
/// timeout (503 for a submission never recorded), while reads go on. Retries come exactly
/// when the writer is in trouble.
#[tokio::test]
async fn a_retry_replays_the_first_answer_even_when_the_writer_cannot_write() {
    use diesel::connection::SimpleConnection;
    let app = spawn().await;
    if disclosure_ledger::store::is_postgres(&app.database_url) {
        return;
    }
    let c = court(&app).await;
    let body = order(&c, "order-locked", "fraud");
    let send = || submit_with_key(&app, &c.officer, "k-locked", &body);
    let first = send().await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();

    // A transition's retry, the sibling: the reviewer's approval applied once with its key.
    let id = first["request"]["id"].as_str().unwrap().to_string();
    let reviewer = app.token(Role::Reviewer);
    let approve_once = |decision: &str| {
        act_with_key(
            &app,
            &reviewer,
            &id,
            "decision",
            "k-approve",
            json!({ "decision": decision }),
        )
    };
    let (status, approved) = approve_once("approve").await;
    assert_eq!(status, 200, "{approved}");
    let (status, other) = submit(&app, &c.officer, &order(&c, "order-locked-3", "fraud")).await;
    assert_eq!(status, 201, "{other}");
    let other = other["request"]["id"].as_str().unwrap().to_string();
    let before = app.get_json("/v1/log/entries?limit=1000").await["entries"]
        .as_array()
        .unwrap()
        .len();

    let mut lock = disclosure_ledger::store::establish(&app.database_url).unwrap();
    lock.batch_execute("BEGIN IMMEDIATE").unwrap();
    let fresh = order(&c, "order-locked-2", "fraud");
    let (again, new, approved_again, other_body, unkeyed) = tokio::join!(
        send(),
        submit(&app, &c.officer, &fresh),
        approve_once("approve"),
        approve_once("clarify"),
        approve(&app, &reviewer, &other),
    );
    lock.batch_execute("ROLLBACK").unwrap();
    // What was never recorded is refused as a passing unavailability.
    assert_eq!(new.0, 503, "{}", new.1);
    assert_eq!(unkeyed.0, 503, "{}", unkeyed.1);
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["request"]["id"], first["request"]["id"]);
    check_receipt(&app, &again["receipt"]).await;
    assert_eq!(approved_again.0, 200, "{}", approved_again.1);
    assert_eq!(
        approved_again.1["receipt"]["entries"][0]["index"],
        approved["receipt"]["entries"][0]["index"]
    );
    check_receipt(&app, &approved_again.1["receipt"]).await;
    assert_eq!(
        other_body.0, 409,
        "the key was used with another body: {}",
        other_body.1
    );
    let after = app.get_json("/v1/log/entries?limit=1000").await["entries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before, "the retry appended nothing");
}

/// A submission's retry replays its first answer, not the request's fate since: accepted
/// (200, with the receipt of the two entries the submission appended) even after a reviewer
/// rejected the request, and 422 for one that failed validation.
#[tokio::test]
async fn a_retry_replays_the_submissions_answer_not_what_the_request_became() {
    let app = spawn().await;
    let c = court(&app).await;
    let body = order(&c, "order-rejected-later", "fraud");
    let first = submit_with_key(&app, &c.officer, "k-later", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let id = first["request"]["id"].as_str().unwrap();
    let reviewer = app.token(Role::Reviewer);
    let (status, _) = act(
        &app,
        &reviewer,
        id,
        "decision",
        json!({ "decision": "reject", "reasons": ["not_proportionate"] }),
    )
    .await;
    assert_eq!(status, 200);
    let again = submit_with_key(&app, &c.officer, "k-later", &body).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["request"]["status"], "rejected", "the request as it is now");
    let leaves = |answer: &Value| -> Vec<Value> {
        answer["receipt"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| json!([e["index"], e["leaf_hash"]]))
            .collect()
    };
    assert_eq!(leaves(&again), leaves(&first), "the submission's entries only");
    check_receipt(&app, &again["receipt"]).await;

    let mut bad = order(&c, "order-bad-retried", "fraud");
    bad["data_categories"] = json!(["content"]);
    let refused = submit_with_key(&app, &c.officer, "k-bad", &bad).await;
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().await.unwrap();
    let again = submit_with_key(&app, &c.officer, "k-bad", &bad).await;
    assert_eq!(again.status(), 422);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["errors"], refused["errors"]);
    assert_eq!(leaves(&again), leaves(&refused));
}

#[tokio::test]
async fn only_officers_submit_and_officers_see_only_their_own_authority() {
    let app = spawn().await;
    let c = court(&app).await;
    let (status, _) = submit(&app, &app.token(Role::Reviewer), &order(&c, "order-6", "fraud")).await;
    assert_eq!(status, 403);
    let (status, body) = submit(&app, &c.officer, &order(&c, "order-7", "fraud")).await;
    assert_eq!(status, 201);
    let id = body["request"]["id"].as_str().unwrap();
    let other = court(&app).await;
    let r = app
        .client
        .get(app.url(&format!("/v1/requests/{id}")))
        .bearer_auth(&other.officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .get(app.url(&format!("/v1/requests/{id}")))
        .bearer_auth(app.token(Role::Reviewer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn raw_identifiers_never_leave_the_vault() {
    let app = spawn().await;
    let c = court(&app).await;
    let mut bodies = Vec::new();
    let (_, ok) = submit(&app, &c.officer, &order(&c, "order-8", "fraud")).await;
    bodies.push(ok.to_string());
    let mut bad = order(&c, "order-9", "fraud");
    bad["targets"][0]["value"] = json!("06 12 34 56 78");
    bad["data_categories"] = json!(["content"]);
    let (_, rejected) = submit(&app, &c.officer, &bad).await;
    bodies.push(rejected.to_string());

    let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
    use diesel::prelude::*;
    use disclosure_ledger::store::schema::{entries, requests, sealed_details};
    let mut stored: Vec<String> = entries::table.select(entries::canonical).load(&mut conn).unwrap();
    stored.extend(
        sealed_details::table
            .select(sealed_details::restricted)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    stored.extend(
        requests::table
            .select(requests::failed_rules)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    stored.extend(bodies);
    let needles = [
        "+33612345678",
        "612345678",
        "12 34 56 78",
        "2001:db8::42",
        // With its colon: "0db8" alone occurs by chance in hex hashes (about one run in a
        // hundred had a commitment holding it).
        "2001:0DB8",
        "night_owl_77",
        "Night_Owl",
    ];
    for text in &stored {
        for needle in needles {
            assert!(
                !text.to_lowercase().contains(&needle.to_lowercase()),
                "{needle} found in {text}"
            );
        }
    }
    // The vault has them, normalised.
    use disclosure_ledger::store::schema::vault;
    let values: Vec<Option<String>> = vault::table.select(vault::value).load(&mut conn).unwrap();
    assert!(values.contains(&Some("+33612345678".into())));
    assert!(values.contains(&Some("2001:db8::42".into())));
}

#[tokio::test]
async fn requests_are_listed_by_state_and_country_and_officers_see_only_their_own() {
    let app = spawn().await;
    let c = court(&app).await;
    let other = court(&app).await;
    assert_eq!(submit(&app, &c.officer, &order(&c, "list-1", "fraud")).await.0, 201);
    let mut bad = order(&c, "list-2", "fraud");
    bad["data_categories"] = json!(["content"]);
    assert_eq!(submit(&app, &c.officer, &bad).await.0, 422);
    assert_eq!(
        submit(&app, &other.officer, &order(&other, "list-3", "fraud")).await.0,
        201
    );
    let list = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(app.url(&format!("/v1/requests{query}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["requests"].as_array().unwrap().len()
        }
    };
    let reviewer = app.token(Role::Reviewer);
    assert_eq!(list(reviewer.clone(), "").await, 3);
    assert_eq!(list(reviewer.clone(), "?status=rejected").await, 1);
    assert_eq!(list(reviewer.clone(), "?status=under_review&country=FRA").await, 2);
    assert_eq!(list(reviewer.clone(), "?country=DEU").await, 0);
    assert_eq!(list(reviewer.clone(), "?overdue=true").await, 0);
    assert_eq!(list(reviewer.clone(), "?overdue=false").await, 3);
    assert_eq!(list(reviewer.clone(), "?limit=2").await, 2);
    assert_eq!(list(c.officer.clone(), "").await, 2);
    assert_eq!(list(other.officer.clone(), "").await, 1);
    let r = app
        .client
        .get(app.url("/v1/requests?overdue=maybe"))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    common::assert_problem(r, 400).await;
}

#[tokio::test]
async fn opening_the_vault_needs_a_reason_and_is_itself_an_entry() {
    let app = spawn().await;
    let c = court(&app).await;
    let (_, body) = submit(&app, &c.officer, &order(&c, "vault-1", "fraud")).await;
    let id = body["request"]["id"].as_str().unwrap();
    let reviewer = app.token(Role::Reviewer);
    let r = app
        .client
        .post(app.url(&format!("/v1/requests/{id}/identifiers")))
        .json(&json!({}))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    common::assert_problem(r, 400).await;
    let r = app
        .client
        .post(app.url(&format!("/v1/requests/{id}/identifiers")))
        .json(&json!({ "reason": "ab" }))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    common::assert_problem(r, 400).await;
    let r = app
        .client
        .post(app.url(&format!("/v1/requests/{id}/identifiers")))
        .json(&json!({ "reason": "lookup for production" }))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let opened: Value = r.json().await.unwrap();
    let values: Vec<&str> = opened["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["+33612345678", "2001:db8::42", "night_owl_77"]);
    // Each value, with its nonce, reproduces the commitment sealed in the request.
    for i in opened["identifiers"].as_array().unwrap() {
        let nonce: [u8; 32] = hex::decode(i["nonce"].as_str().unwrap()).unwrap().try_into().unwrap();
        let c = disclosure_ledger::ledger::commitment::identifier(
            i["kind"].as_str().unwrap(),
            &nonce,
            i["value"].as_str().unwrap(),
        );
        assert_eq!(
            disclosure_ledger::ledger::hex_hash(&c),
            i["commitment"].as_str().unwrap()
        );
    }
    let entries = check_receipt(&app, &opened["receipt"]).await;
    assert_eq!(
        (entries[0].kind.as_str(), entries[0].subject.as_deref()),
        ("vault.opened", Some(id))
    );
    assert!(
        !serde_json::to_string(&entries[0]).unwrap().contains("lookup"),
        "the reason is sealed"
    );
    for token in [c.officer.clone(), app.token(Role::Auditor)] {
        let r = app
            .client
            .post(app.url(&format!("/v1/requests/{id}/identifiers")))
            .json(&json!({ "reason": "curious me" }))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
}

#[tokio::test]
async fn a_burst_of_concurrent_submissions_gets_gap_free_indexes_and_a_verifying_chain() {
    let app = spawn().await;
    let c = court(&app).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let body = order(&c, &format!("burst-{i}"), "fraud");
        let (client, url, officer) = (app.client.clone(), app.url("/v1/requests"), c.officer.clone());
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).bearer_auth(officer).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()
        }));
    }
    let mut indexes = Vec::new();
    for t in tasks {
        let body = t.await.unwrap();
        for e in check_receipt(&app, &body["receipt"]).await {
            indexes.push(e.index);
        }
    }
    indexes.sort();
    let first = indexes[0];
    assert_eq!(indexes, (first..first + 80).collect::<Vec<_>>());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
        .args(["verify", "--database", &app.database_url, "--data-dir"])
        .arg(app.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn concurrent_submissions_with_one_idempotency_key_record_once_and_replay_the_rest() {
    let app = spawn().await;
    let c = court(&app).await;
    let body = order(&c, "idem-concurrent", "fraud");
    let sends = (0..20).map(|_| {
        app.client
            .post(app.url("/v1/requests"))
            .bearer_auth(&c.officer)
            .header("Idempotency-Key", "same-key-20")
            .json(&body)
            .send()
    });
    let mut ids = std::collections::BTreeSet::new();
    let mut statuses = Vec::new();
    for r in futures_util::future::join_all(sends).await {
        let r = r.unwrap();
        statuses.push(r.status().as_u16());
        let v: Value = r.json().await.unwrap();
        ids.insert(v["request"]["id"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 200), "{statuses:?}");
    assert_eq!(ids.len(), 1, "one request: {ids:?}");
}

/// Submissions that land in one batch each see the requests recorded before them: on
/// PostgreSQL one read serves a batch's submissions, but never two of one order. Many orders
/// submitted at once, one of them six times, one used before, and one submission sent twice
/// under one `Idempotency-Key`: every other order is accepted, the repeated one once, the used
/// one refused, the key recorded once and replayed.
#[tokio::test]
async fn submissions_racing_in_one_batch_each_see_the_requests_before_them() {
    let app = spawn().await;
    let c = court(&app).await;
    let repeated = order(&c, "batch-repeated", "fraud");
    let keyed = order(&c, "batch-keyed", "fraud");
    // An order used before the race, submitted once in it: its batch's read must find it used.
    let used = order(&c, "batch-used", "fraud");
    assert_eq!(submit(&app, &c.officer, &used).await.0, 201);
    type Call<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (String, u16, Value)> + 'a>>;
    let mut calls: Vec<Call<'_>> = Vec::new();
    let (app, officer) = (&app, c.officer.as_str());
    for i in 0..24 {
        let body = order(&c, &format!("batch-distinct-{i}"), "fraud");
        calls.push(Box::pin(async move {
            let (s, b) = submit(app, officer, &body).await;
            ("distinct".to_string(), s, b)
        }));
        if i % 4 == 0 {
            let body = repeated.clone();
            calls.push(Box::pin(async move {
                let (s, b) = submit(app, officer, &body).await;
                ("repeated".to_string(), s, b)
            }));
        }
        if i == 12 {
            let body = used.clone();
            calls.push(Box::pin(async move {
                let (s, b) = submit(app, officer, &body).await;
                ("used".to_string(), s, b)
            }));
        }
        if i == 5 || i == 6 {
            let body = keyed.clone();
            calls.push(Box::pin(async move {
                let r = app
                    .client
                    .post(app.url("/v1/requests"))
                    .bearer_auth(officer)
                    .header("Idempotency-Key", "batch-key")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let s = r.status().as_u16();
                ("keyed".to_string(), s, r.json().await.unwrap())
            }));
        }
    }
    let answers = futures_util::future::join_all(calls).await;
    let of = |what: &str| answers.iter().filter(|(w, ..)| w == what).collect::<Vec<_>>();
    assert!(of("distinct").iter().all(|(_, s, _)| *s == 201), "{answers:?}");
    let repeated = of("repeated");
    assert_eq!(repeated.len(), 6);
    assert_eq!(repeated.iter().filter(|(_, s, _)| *s == 201).count(), 1, "{repeated:?}");
    for (_, s, b) in repeated.iter().filter(|(_, s, _)| *s != 201) {
        assert_eq!(*s, 422, "{b}");
        assert!(
            b["errors"].as_array().unwrap().iter().any(|e| e["code"] == "duplicate"),
            "{b}"
        );
    }
    let used = of("used");
    assert_eq!(used[0].1, 422, "{:?}", used[0]);
    assert!(
        used[0].2["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "duplicate"),
        "{:?}",
        used[0]
    );
    let keyed = of("keyed");
    let mut statuses: Vec<u16> = keyed.iter().map(|(_, s, _)| *s).collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 201], "{keyed:?}");
    assert_eq!(keyed[0].2["request"]["id"], keyed[1].2["request"]["id"]);
}
