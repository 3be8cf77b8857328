//! The transparency report over HTTP: its figures follow the lifecycle, the public sees only
//! quarters past their embargo, and a fresh fold over the published entries gives the same
//! document as the server's running tally.

mod common;

use common::requests::{act, authority, court, order, submit, Court};
use common::{assert_problem, spawn, TestApp};
use disclosure_ledger::auth::Role;
use disclosure_ledger::reports::{Audience, Report, Scope, Tally};
use serde_json::{json, Value};

async fn submitted(app: &TestApp, c: &Court, body: &Value) -> String {
    let (status, r) = submit(app, &c.officer, body).await;
    assert!(status == 201 || status == 422, "{r}");
    r["request"]["id"].as_str().unwrap().to_string()
}

async fn report(app: &TestApp, query: &str, token: Option<&str>) -> Value {
    let mut r = app.client.get(app.url(&format!("/v1/reports/transparency{query}")));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Every entry of the log, as an auditor reads it, as canonical bytes.
async fn all_entries(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let page: Value = app
            .get_json_as(
                &format!("/v1/log/entries?start={}&limit=1000", out.len()),
                &app.token(Role::Auditor),
            )
            .await;
        for e in page["entries"].as_array().unwrap() {
            out.push(serde_json::to_string(e).unwrap());
        }
        if page["next"].is_null() {
            return out;
        }
    }
}

#[tokio::test]
async fn the_report_counts_each_step_of_the_lifecycle_in_its_group() {
    let app = spawn().await;
    let fra = court(&app).await;
    let deu = authority(&app, "DEU", "court", "Amtsgericht Berlin").await;
    let reviewer = app.token(Role::Reviewer);

    let fulfilled = submitted(&app, &fra, &order(&fra, "rep-1", "fraud")).await;
    assert_eq!(
        act(
            &app,
            &reviewer,
            &fulfilled,
            "decision",
            json!({ "decision": "approve" })
        )
        .await
        .0,
        200
    );
    let disclosure = json!({ "outcome": "fully_produced", "accounts_affected": 2, "values": { "ip_address": 3, "phone_number": 1 } });
    assert_eq!(act(&app, &reviewer, &fulfilled, "disclosure", disclosure).await.0, 200);
    assert_eq!(
        act(&app, &reviewer, &fulfilled, "notification", json!({ "action": "send" }))
            .await
            .0,
        200
    );

    let refused = submitted(&app, &fra, &order(&fra, "rep-2", "fraud")).await;
    let reject = json!({ "decision": "reject", "reasons": ["not_proportionate"] });
    assert_eq!(act(&app, &reviewer, &refused, "decision", reject).await.0, 200);

    let withdrawn = submitted(&app, &fra, &order(&fra, "rep-3", "fraud")).await;
    assert_eq!(act(&app, &fra.officer, &withdrawn, "withdraw", json!({})).await.0, 200);

    let mut incomplete = order(&fra, "rep-4", "fraud");
    incomplete.as_object_mut().unwrap().remove("legal_citation");
    common::requests::sign(&fra, &mut incomplete);
    let (status, _) = submit(&app, &fra.officer, &incomplete).await;
    assert_eq!(status, 422);

    let mut urgent = order(&fra, "rep-5", "kidnapping");
    urgent["emergency"] = json!({ "justification": "a child is missing", "imminent_harm": true });
    let emergency = submitted(&app, &fra, &urgent).await;
    assert_eq!(
        act(
            &app,
            &reviewer,
            &emergency,
            "decision",
            json!({ "decision": "approve" })
        )
        .await
        .0,
        200
    );
    let disclosure = json!({ "outcome": "partially_produced", "accounts_affected": 1, "values": { "ip_address": 1 } });
    assert_eq!(act(&app, &reviewer, &emergency, "disclosure", disclosure).await.0, 200);
    let validated = json!({ "validated": true });
    assert_eq!(
        act(&app, &reviewer, &emergency, "emergency-validation", validated)
            .await
            .0,
        200
    );

    submitted(&app, &deu, &order(&deu, "rep-6", "fraud")).await;

    let auditor = app.token(Role::Auditor);
    let r = report(&app, "", Some(&auditor)).await;
    assert_eq!(r["view"], "auditor");
    let quarter = disclosure_ledger::reports::tally::quarter_of(chrono::Utc::now());
    let row = |country: &str, emergency: bool| -> Value {
        r["live"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["country"] == country && row["emergency"] == emergency)
            .unwrap_or_else(|| panic!("no row for {country} {emergency}: {r}"))
            .clone()
    };
    let routine = row("FRA", false);
    assert_eq!(routine["quarter"], quarter.as_str());
    assert_eq!(routine["instrument"], "court_order");
    assert_eq!(routine["received"], 4);
    assert_eq!(routine["identifiers"], 12, "three targets per order");
    assert_eq!(
        routine["categories_requested"],
        json!({ "ip_address": 4, "phone_number": 4 })
    );
    assert_eq!(routine["fulfilled"], 1);
    assert_eq!(routine["rejected"], 2);
    assert_eq!(
        routine["rejected_by_reason"],
        json!({ "missing_fields": 1, "not_proportionate": 1 })
    );
    assert_eq!(routine["rejected_by_rule"], json!({ "V1": 1 }));
    assert_eq!(routine["withdrawn"], 1);
    assert_eq!(routine["accounts_affected"], 2);
    assert_eq!(routine["values"], json!({ "ip_address": 3, "phone_number": 1 }));
    assert_eq!(
        routine["notifications"],
        json!({ "sent": 1, "delayed": 0, "waived": 0 })
    );
    assert_eq!(routine["decisions"], 2, "one approval, one reviewer's rejection");
    assert!(routine["median_ms_to_decision"].is_u64());
    let urgent = row("FRA", true);
    assert_eq!(
        (urgent["received"].as_u64(), urgent["fulfilled"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(urgent["values"], json!({ "ip_address": 1 }));
    let validation = (
        urgent["emergency_validated"].as_u64(),
        urgent["emergency_validation_failed"].as_u64(),
    );
    assert_eq!(validation, (Some(1), Some(0)));
    assert_eq!(routine["emergency_validated"], 0);
    assert_eq!(row("DEU", false)["received"], 1);
    assert_eq!(r["live"].as_array().unwrap().len(), 3);

    // It names the newest checkpoint: entries 0..size, the root of that tree.
    let cp = app
        .verifier()
        .await
        .verify(&app.text("/v1/log/checkpoint").await)
        .unwrap();
    assert_eq!(r["checkpoint"]["size"], cp.size);
    assert_eq!(r["checkpoint"]["root"], disclosure_ledger::ledger::hex_hash(&cp.root));

    // Anyone holding those entries recomputes the same document.
    let entries = all_entries(&app).await;
    assert_eq!(entries.len() as u64, cp.size);
    let mut tally = Tally::default();
    for e in &entries {
        tally.feed(e.as_bytes()).unwrap();
    }
    let served: Report = serde_json::from_value(r.clone()).unwrap();
    let mine = Report::build(&tally, served.checkpoint.clone(), Audience::Auditor, Scope::default());
    assert_eq!(mine.live, served.live);
    assert_eq!(mine.imported, served.imported);

    // Narrowed to one country, and as CSV.
    let deu_only = report(&app, "?country=DEU", Some(&auditor)).await;
    assert_eq!(deu_only["live"].as_array().unwrap().len(), 1);
    let csv = app
        .client
        .get(app.url("/v1/reports/transparency?format=csv&country=DEU"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("section,quarter,country,instrument,emergency,metric,key,value\n"));
    assert!(
        csv.contains(&format!("live,{quarter},DEU,court_order,routine,received,,1\n")),
        "{csv}"
    );
}

#[tokio::test]
async fn the_public_sees_no_quarter_before_its_embargo_ends() {
    let app = spawn().await;
    let fra = court(&app).await;
    submitted(&app, &fra, &order(&fra, "pub-1", "fraud")).await;
    let public = report(&app, "", None).await;
    assert_eq!(public["view"], "public");
    assert_eq!(public["live"], json!([]), "this quarter is still embargoed");
    let auditor = report(&app, "", Some(&app.token(Role::Auditor))).await;
    assert_eq!(auditor["live"].as_array().unwrap().len(), 1);
    // The quarter range excludes it for auditors too.
    let past = report(&app, "?from=2024-Q1&to=2024-Q4", Some(&app.token(Role::Auditor))).await;
    assert_eq!(past["live"], json!([]));
}

#[tokio::test]
async fn malformed_report_parameters_are_problems() {
    let app = spawn().await;
    for query in [
        "?from=2025-3",
        "?to=2025-Q5",
        "?from=2025-Q3&to=2025-Q1",
        "?country=fr",
        "?format=xml",
    ] {
        let r = app.get(&format!("/v1/reports/transparency{query}")).await;
        let problem = assert_problem(r, 400).await;
        assert!(
            problem["errors"].is_array() || problem["detail"].is_string(),
            "{query}: {problem}"
        );
    }
}
