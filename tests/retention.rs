//! Retention: a closed request past the policy's `[ledger_retention]` is crypto-shredded with a
//! `retention.shredded` entry, and everything public still verifies; legal hold and a gag keep
//! the values; on SQLite the destroyed values are gone from the files, not only from the rows.

mod common;

use std::time::{Duration, Instant};

use common::requests::{act, approve, check_receipt, court, order, submit, Court, PHONE};
use common::TestApp;
use disclosure_ledger::auth::Role;
use serde_json::{json, Value};

/// The default policy with retention measured in seconds.
fn short_retention(after_closure: &str, after_gag: &str) -> (String, String) {
    let doc = common::policy_document("telegram-2024-09")
        .replacen("name = \"telegram-2024-09\"", "name = \"short-retention\"", 1)
        .replacen(
            "after_closure = \"730d\"",
            &format!("after_closure = \"{after_closure}\""),
            1,
        )
        .replacen("after_gag = \"90d\"", &format!("after_gag = \"{after_gag}\""), 1);
    assert!(doc.contains(after_closure));
    ("short-retention".to_string(), doc)
}

async fn spawn(after_closure: &str, after_gag: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let policy = short_retention(after_closure, after_gag);
    common::spawn_with(dir, db, move |s| {
        s.policy = Some(policy);
        s.sweep_interval = Duration::from_millis(200);
    })
    .await
}

/// A request taken to disclosure; returns its id and the vault as opened.
async fn disclosed(app: &TestApp, c: &Court, document: &str) -> (String, Value) {
    let reviewer = app.token(Role::Reviewer);
    let (status, body) = submit(app, &c.officer, &order(c, document, "fraud")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["request"]["id"].as_str().unwrap().to_string();
    let (status, body) = approve(app, &reviewer, &id).await;
    assert_eq!(status, 200, "{body}");
    let (status, vault) = act(app, &reviewer, &id, "identifiers", json!({ "reason": "production" })).await;
    assert_eq!(status, 200, "{vault}");
    let ids = vault["identifiers"].as_array().unwrap();
    let disclosure = json!({
        "outcome": "fully_produced", "accounts_affected": 1,
        "values": { "phone_number": 1, "ip_address": 1 }, "package_sha256": "ab".repeat(32),
        "identifiers": [
            { "commitment": ids[0]["commitment"], "values": { "phone_number": 1 } },
            { "commitment": ids[1]["commitment"], "values": { "ip_address": 1 } }
        ]
    });
    let (status, body) = act(app, &reviewer, &id, "disclosure", disclosure).await;
    assert_eq!(status, 200, "{body}");
    (id, vault)
}

async fn history(app: &TestApp, id: &str) -> Vec<String> {
    let h = app
        .get_json_as(&format!("/v1/requests/{id}/entries"), &app.token(Role::Auditor))
        .await;
    h["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{h}"))
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Waits (10 s at most) until the request's history has `kind`, or fails.
async fn until_entry(app: &TestApp, id: &str, kind: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kinds = history(app, id).await;
        if kinds.iter().any(|k| k == kind) {
            return kinds;
        }
        assert!(Instant::now() < deadline, "no {kind} for {id}: {kinds:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subject_proof(app: &TestApp, id: &str, vault: &Value) -> (u16, Value) {
    let phone = &vault["identifiers"][0];
    let r = app
        .client
        .post(app.url("/v1/subjects/proof"))
        .json(&json!({ "request_id": id, "kind": "phone_number", "value": PHONE, "nonce": phone["nonce"] }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_closed_request_past_its_retention_is_shredded_and_everything_public_still_verifies() {
    let app = spawn("1s", "1s").await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let auditor = app.token(Role::Auditor);
    let (id, vault) = disclosed(&app, &c, "retained-1").await;
    // Disclosed but the user not yet notified: not closed, so kept.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!history(&app, &id).await.contains(&"retention.shredded".to_string()));
    let (status, proof) = subject_proof(&app, &id, &vault).await;
    assert_eq!(status, 200, "the user proves it before retention ends: {proof}");
    let mut report_before = app.get_json_as("/v1/reports/transparency", &auditor).await["live"].clone();
    report_before[0]["notifications"]["sent"] = json!(1); // the notification sent next

    let (status, body) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 200, "{body}");
    let kinds = until_entry(&app, &id, "retention.shredded").await;
    assert_eq!(kinds.last().unwrap(), "retention.shredded");

    // The entry says what was destroyed, in counts, under which policy.
    let h = app.get_json_as(&format!("/v1/requests/{id}/entries"), &auditor).await;
    let shred = h["entries"].as_array().unwrap().last().unwrap().clone();
    let index = shred["index"].as_u64().unwrap();
    assert_eq!(shred["public"]["destroyed"]["identifier_values"], 3, "{shred}");
    assert_eq!(shred["public"]["destroyed"]["nonces"], 3);
    assert!(shred["public"]["destroyed"]["sealed_salts"].as_u64().unwrap() >= 1);
    assert_eq!(
        shred["public"]["policy_sha256"],
        app.get_json("/v1/policies/current").await["sha256"]
    );
    assert!(!shred.to_string().contains("612345678"), "no value in the entry");
    // Every proof of the history still holds.
    check_receipt(&app, &h["proofs"]).await;

    // The vault and the user's proof are gone, naming the entry; the sealed details say so.
    let (status, body) = act(&app, &reviewer, &id, "identifiers", json!({ "reason": "production" })).await;
    assert_eq!(status, 410, "{body}");
    assert!(body["detail"].as_str().unwrap().contains(&format!("entry {index}")));
    let (status, body) = subject_proof(&app, &id, &vault).await;
    assert_eq!(status, 410, "{body}");
    assert!(body["detail"].as_str().unwrap().contains(&format!("entry {index}")));
    let sealed_entry = h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| !e["sealed"].is_null())
        .unwrap()["index"]
        .as_u64()
        .unwrap();
    let sealed = app
        .get_json_as(&format!("/v1/audit/entries/{sealed_entry}/sealed"), &auditor)
        .await;
    assert_eq!(sealed["salt"], Value::Null, "{sealed}");
    assert_eq!(sealed["restricted"], Value::Null);
    assert_eq!(sealed["shredded_by"], index);

    // The ledger verifies; the report is the same.
    let verify = app.get_json_as("/v1/audit/verify", &auditor).await;
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(verify["shredded"].as_u64().unwrap() >= 1, "{verify}");
    assert_eq!(
        app.get_json_as("/v1/reports/transparency", &auditor).await["live"],
        report_before
    );
    // Shredding is idempotent: later sweeps add nothing for this request.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = history(&app, &id).await;
    assert_eq!(again.iter().filter(|k| *k == "retention.shredded").count(), 1);

    // The operator's view.
    let status = app.get_json_as("/v1/retention", &auditor).await;
    assert_eq!(status["totals"]["shredded"], 1, "{status}");
    assert_eq!(status["after_closure"], "1s");
    // Counted under the policy the request was validated under.
    let by_policy = status["by_policy"].as_array().unwrap();
    assert_eq!(by_policy.len(), 1, "{status}");
    assert_eq!(by_policy[0]["policy_sha256"], shred["public"]["policy_sha256"]);
    assert_eq!(by_policy[0]["shredded"], 1, "{status}");
    let r = app
        .client
        .get(app.url("/v1/retention"))
        .bearer_auth(app.token(Role::Reviewer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(app
        .text("/metrics")
        .await
        .contains("disclosure_ledger_retention_due_requests 0"));
}

#[tokio::test]
async fn a_held_request_is_not_shredded_until_the_hold_is_lifted() {
    let app = spawn("1s", "1s").await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let auditor = app.token(Role::Auditor);
    let (id, _) = disclosed(&app, &c, "held-1").await;
    let hold = |path: &'static str, token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            let r = app
                .client
                .post(app.url(&format!("/v1/requests/{id}/{path}")))
                .bearer_auth(token)
                .json(&json!({ "reason": "pending litigation" }))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = hold("legal-hold", auditor.clone()).await;
    assert_eq!(status, 200, "{body}");
    check_receipt(&app, &body["receipt"]).await;
    assert_eq!(hold("legal-hold", reviewer.clone()).await.0, 409, "already held");
    assert_eq!(
        hold("legal-hold", c.officer.clone()).await.0,
        403,
        "officers cannot hold"
    );
    let (status, _) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let kinds = history(&app, &id).await;
    assert!(kinds.contains(&"request.legal_hold_placed".to_string()));
    assert!(!kinds.contains(&"retention.shredded".to_string()), "{kinds:?}");
    assert_eq!(app.get_json_as("/v1/retention", &auditor).await["totals"]["held"], 1);

    let (status, body) = hold("legal-hold/lift", reviewer.clone()).await;
    assert_eq!(status, 200, "{body}");
    let kinds = until_entry(&app, &id, "retention.shredded").await;
    assert!(kinds.contains(&"request.legal_hold_lifted".to_string()));
    assert_eq!(hold("legal-hold", auditor).await.0, 410, "nothing left to hold");
}

#[tokio::test]
async fn a_gagged_request_keeps_its_values_until_the_gag_ends_and_the_grace_passes() {
    let app = spawn("1s", "2s").await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let (id, vault) = disclosed(&app, &c, "gagged-1").await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, body) = act(
        &app,
        &reviewer,
        &id,
        "notification",
        json!({ "action": "delay", "until": until.to_rfc3339(), "basis": "non-disclosure order" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Gag end (2 s) plus the grace (2 s): still there at 3 s, gone soon after 4 s.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert!(!history(&app, &id).await.contains(&"retention.shredded".to_string()));
    assert_eq!(subject_proof(&app, &id, &vault).await.0, 200);
    let started = Instant::now();
    until_entry(&app, &id, "retention.shredded").await;
    assert!(
        chrono::Utc::now() >= until + chrono::Duration::seconds(2),
        "not before the grace ended"
    );
    eprintln!("shredded {:?} after the check at 3 s", started.elapsed());
}

/// Every occurrence of `needle` in the file at `path`.
fn occurrences(path: &std::path::Path, needle: &[u8]) -> usize {
    let Ok(bytes) = std::fs::read(path) else { return 0 };
    bytes.windows(needle.len()).filter(|w| *w == needle).count()
}

#[tokio::test]
async fn on_sqlite_the_shredded_values_are_gone_from_the_database_and_wal_files() {
    if common::is_postgres() {
        return; // PostgreSQL: VACUUM and backups, see the README.
    }
    let app = spawn("1s", "1s").await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let auditor = app.token(Role::Auditor);
    let (id, vault) = disclosed(&app, &c, "scanned-1").await;
    let phone = vault["identifiers"][0]["value"].as_str().unwrap().to_string();
    let nonce = hex::decode(vault["identifiers"][0]["nonce"].as_str().unwrap()).unwrap();
    let h = app.get_json_as(&format!("/v1/requests/{id}/entries"), &auditor).await;
    let sealed_entry = h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| !e["sealed"].is_null())
        .unwrap()["index"]
        .as_u64()
        .unwrap();
    let salt = app
        .get_json_as(&format!("/v1/audit/entries/{sealed_entry}/sealed"), &auditor)
        .await["salt"]
        .as_str()
        .map(|s| hex::decode(s).unwrap())
        .unwrap();
    let db = std::path::PathBuf::from(&app.database_url);
    let wal = db.with_extension("db-wal");
    let files = [db.clone(), wal.clone()];
    let found = |needle: &[u8]| files.iter().map(|f| occurrences(f, needle)).sum::<usize>();
    assert!(
        found(phone.as_bytes()) > 0,
        "the scan can find the value before shredding"
    );

    let (status, _) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 200);
    until_entry(&app, &id, "retention.shredded").await;
    // The sweeper checkpoints the WAL after shredding; give it its pass.
    let deadline = Instant::now() + Duration::from_secs(5);
    while found(phone.as_bytes()) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        found(phone.as_bytes()),
        0,
        "the normalised phone number survives in {files:?}"
    );
    assert_eq!(found(&nonce), 0, "the nonce survives");
    assert_eq!(found(&salt), 0, "the salt survives");
}

fn entry_time(h: &Value, kind: &str) -> chrono::DateTime<chrono::Utc> {
    let e = h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {h}"));
    chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap())
        .unwrap()
        .into()
}

#[tokio::test]
async fn retention_runs_from_the_closing_entry_not_from_any_later_one() {
    let app = spawn("2s", "2s").await;
    let c = court(&app).await;
    let auditor = app.token(Role::Auditor);
    let reviewer = app.token(Role::Reviewer);

    // Closed by the sweeper itself (order expiry): shredded after_closure later, not in the
    // same sweep.
    let mut expiring = order(&c, "expiring-1", "fraud");
    expiring["expires_at"] = json!((chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339());
    common::requests::sign(&c, &mut expiring);
    let (status, body) = submit(&app, &c.officer, &expiring).await;
    assert_eq!(status, 201, "{body}");
    let expired_id = body["request"]["id"].as_str().unwrap().to_string();

    // Closed by its notification, then the vault opened again and again: that does not
    // postpone the shredding.
    let (id, _) = disclosed(&app, &c, "reopened-1").await;
    let (status, _) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if history(&app, &id).await.contains(&"retention.shredded".to_string()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reopening the vault kept the request from retention"
        );
        let (status, _) = act(
            &app,
            &reviewer,
            &id,
            "identifiers",
            json!({ "reason": "keep it alive" }),
        )
        .await;
        assert!(status == 200 || status == 410, "{status}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let h = app.get_json_as(&format!("/v1/requests/{id}/entries"), &auditor).await;
    let waited = entry_time(&h, "retention.shredded") - entry_time(&h, "notification.sent");
    assert!(waited >= chrono::Duration::seconds(2), "{waited}");
    assert!(
        waited < chrono::Duration::seconds(6),
        "{waited}: postponed by the reopened vault"
    );
    // Nothing more is recorded of a shredded request.
    let (status, body) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
    assert_eq!(status, 410, "{body}");

    until_entry(&app, &expired_id, "retention.shredded").await;
    let h = app
        .get_json_as(&format!("/v1/requests/{expired_id}/entries"), &auditor)
        .await;
    let waited = entry_time(&h, "retention.shredded") - entry_time(&h, "request.expired");
    assert!(
        waited >= chrono::Duration::seconds(2),
        "shredded {waited} after it expired"
    );
}

/// Sealed details lost behind the ledger's back (by someone with database access) — the row
/// deleted, or only its salt destroyed — are named at the very entry, and told apart from what
/// retention destroyed: "missing", not shredded.
#[tokio::test]
async fn verify_tells_a_salt_lost_without_a_shredding_entry_from_one_retention_destroyed() {
    for (tamper, says) in [
        (
            "DELETE FROM sealed_details WHERE entry_idx = {i}",
            "its sealed details are missing",
        ),
        (
            "UPDATE sealed_details SET salt = NULL WHERE entry_idx = {i}",
            "lost their salt, and no retention.shredded entry accounts for it",
        ),
    ] {
        let app = spawn("730d", "90d").await;
        let c = court(&app).await;
        let auditor = app.token(Role::Auditor);
        let (id, _) = disclosed(&app, &c, "tampered-1").await;
        let h = app.get_json_as(&format!("/v1/requests/{id}/entries"), &auditor).await;
        let sealing: Vec<u64> = h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !e["sealed"].is_null())
            .map(|e| e["index"].as_u64().unwrap())
            .collect();
        assert!(sealing.len() >= 2, "{h}");
        // The second sealing entry: the first keeps its details, so the check must name the
        // very entry, not merely notice that something is gone.
        let lost = sealing[1];
        {
            use diesel::RunQueryDsl;
            let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
            diesel::sql_query(tamper.replace("{i}", &lost.to_string()))
                .execute(&mut conn)
                .unwrap();
        }
        let verify = app.get_json_as("/v1/audit/verify", &auditor).await;
        assert_eq!(verify["ok"], false, "{tamper}: {verify}");
        assert_eq!(verify["failure"]["index"], lost, "{tamper}: {verify}");
        assert!(
            verify["failure"]["message"].as_str().unwrap().contains(says),
            "{tamper}: {verify}"
        );
    }
}

/// The sweep reads candidates a page at a time, oldest receipt first: every request due is
/// found once across pages, a limit stops the read, and when `after_gag` is the shorter period
/// a delayed notification received inside `after_closure` is still found when its gag and
/// grace have ended. Read at instants ahead of the clock, with a sweeper that does not run.
#[tokio::test]
async fn the_sweep_finds_each_due_request_once_across_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let policy = short_retention("1d", "1s");
    let app = common::spawn_with(dir, db, move |s| {
        s.policy = Some(policy);
        s.sweep_interval = Duration::from_secs(3600);
    })
    .await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let mut closed = Vec::new();
    for i in 0..5 {
        let (id, _) = disclosed(&app, &c, &format!("paged-{i}")).await;
        let (status, body) = act(&app, &reviewer, &id, "notification", json!({ "action": "send" })).await;
        assert_eq!(status, 200, "{body}");
        closed.push(id);
    }
    let (gagged, _) = disclosed(&app, &c, "paged-gagged").await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, body) = act(
        &app,
        &reviewer,
        &gagged,
        "notification",
        json!({ "action": "delay", "until": until.to_rfc3339(), "basis": "non-disclosure order" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    use disclosure_ledger::retention::shred::due_in_pages;
    let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
    // An hour on: the gag and its grace are over, the closed requests are a day from due.
    let hour = chrono::Utc::now() + chrono::Duration::hours(1);
    for page in [1, 2, 1000] {
        assert_eq!(
            due_in_pages(&mut conn, hour, usize::MAX, page).unwrap(),
            vec![gagged.clone()]
        );
    }
    // Two days on: all six, each once, closed ones in the order they were received.
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    for page in [1, 2, 4, 1000] {
        let mut due = due_in_pages(&mut conn, later, usize::MAX, page).unwrap();
        assert_eq!(due.len(), 6, "page of {page}: {due:?}");
        let mut sorted = due.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 6, "page of {page}: a request twice: {due:?}");
        due.retain(|id| id != &gagged);
        assert_eq!(due, closed, "page of {page}");
        assert_eq!(
            due_in_pages(&mut conn, later, 3, page).unwrap().len(),
            3,
            "limit, page of {page}"
        );
    }
}
