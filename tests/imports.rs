//! Historical backfill over HTTP: Telegram's published quarter figures imported as aggregate
//! declarations come back exactly from the transparency report; importing is idempotent by
//! external id; bad records change nothing.

mod common;

use common::{assert_problem, spawn, TestApp};
use disclosure_ledger::auth::Role;
use disclosure_ledger::imports::telegram;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const DATASET: &str = "datasets/telegram/telegram-transparency-2024-2026.json";

fn dataset() -> (Vec<u8>, String) {
    let bytes = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DATASET)).unwrap();
    let digest = hex::encode(Sha256::digest(&bytes));
    (bytes, digest)
}

/// Whether a row covers exactly one calendar quarter, written out independently of the code.
fn quarter_row(from: &str, to: &str) -> Option<String> {
    let ends = [
        ("0101", "0331", 1),
        ("0401", "0630", 2),
        ("0701", "0930", 3),
        ("1001", "1231", 4),
    ];
    ends.iter()
        .find(|(f, t, _)| from[..4] == to[..4] && &from[4..] == *f && &to[4..] == *t)
        .map(|(_, _, q)| format!("{}-Q{q}", &from[..4]))
}

async fn import(app: &TestApp, body: String, content_type: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url("/v1/imports"))
        .bearer_auth(app.token(Role::Admin))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn every_quarter_of_telegrams_figures_comes_back_from_the_report() {
    let app = spawn().await;
    let (bytes, digest) = dataset();
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    let data = telegram::load(&bytes).unwrap();
    let records = telegram::quarter_records(
        &data,
        "Telegram @transparency bot (Te-k/telegram-transparency)",
        &digest,
    );
    let ndjson: String = records.iter().map(|r| format!("{r}\n")).collect();

    let (status, summary) = import(&app, ndjson.clone(), "application/x-ndjson").await;
    assert_eq!(status, 200, "{summary}");
    let mut expected = Vec::new();
    for (country, rows) in raw.as_object().unwrap() {
        for row in rows.as_array().unwrap() {
            let (from, to) = (row["from"].as_str().unwrap(), row["to"].as_str().unwrap());
            if let Some(q) = quarter_row(from, to) {
                expected.push((
                    country.clone(),
                    q,
                    row["requests"].as_u64().unwrap(),
                    row["users"].as_u64().unwrap(),
                ));
            }
        }
    }
    assert_eq!(summary["imported"], expected.len() as u64);
    assert_eq!(summary["replayed"], 0);

    // Aggregates are log-level entries: the public sees them at once.
    let report: Value = app.get_json("/v1/reports/transparency").await;
    let declared = report["imported"]["aggregates"].as_array().unwrap();
    assert_eq!(declared.len(), expected.len());
    for (country, quarter, requests, users) in &expected {
        let found: Vec<&Value> = declared
            .iter()
            .filter(|d| d["country"] == country.as_str() && d["quarter"] == quarter.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{country} {quarter}");
        assert_eq!(found[0]["fulfilled_requests"], *requests, "{country} {quarter}");
        assert_eq!(found[0]["affected_users"], *users, "{country} {quarter}");
        assert_eq!(found[0]["source_sha256"], digest.as_str());
    }
    assert_eq!(report["live"], json!([]), "imported figures are not live figures");
    let fra_2025 = app
        .get_json("/v1/reports/transparency?country=FRA&from=2025-Q1&to=2025-Q4")
        .await;
    assert_eq!(fra_2025["imported"]["aggregates"].as_array().unwrap().len(), 4);

    // The same import again appends nothing.
    let before = app.size().await;
    let (status, again) = import(&app, ndjson, "application/x-ndjson").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["imported"].as_u64(), again["replayed"].as_u64()),
        (Some(0), Some(expected.len() as u64))
    );
    assert_eq!(app.size().await, before);

    // Other figures under an id already used are refused, and nothing is appended.
    let mut changed = records[0].clone();
    changed["fulfilled_requests"] = json!(changed["fulfilled_requests"].as_u64().unwrap() + 1);
    let fresh = json!({ "type": "aggregate", "external_id": "new-one", "country": "FRA", "from": "2023-01-01",
        "to": "2023-12-31", "fulfilled_requests": 1, "affected_users": 1, "source": "s", "source_sha256": digest });
    let (status, problem) = import(&app, json!([fresh, changed]).to_string(), "application/json").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(app.size().await, before);
}

#[tokio::test]
async fn imported_requests_are_reported_apart_by_the_quarter_they_occurred_in() {
    let app = spawn().await;
    let source = "a".repeat(64);
    let record = |id: &str, received: &str, outcome: &str| {
        json!({ "type": "request", "external_id": id, "country": "DEU", "instrument": "court_order",
            "received": received, "data_categories": ["ip_address"], "identifiers": 2, "outcome": outcome,
            "accounts_affected": if outcome == "fulfilled" { 1 } else { 0 },
            "values": if outcome == "fulfilled" { json!({ "ip_address": 4 }) } else { json!({}) },
            "source": "court registry", "source_sha256": source })
    };
    let body = json!([
        record("r1", "2023-02-10", "fulfilled"),
        record("r2", "20230301", "rejected"),
        record("r3", "2023-05-02", "fulfilled")
    ]);
    let (status, summary) = import(&app, body.to_string(), "application/json").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["imported"], 3);

    // Recorded this quarter: embargoed for the public like any request entry.
    assert_eq!(
        app.get_json("/v1/reports/transparency").await["imported"]["requests"],
        json!([])
    );
    let r: Value = app
        .get_json_as("/v1/reports/transparency", &app.token(Role::Auditor))
        .await;
    let rows = r["imported"]["requests"].as_array().unwrap();
    let q1 = rows.iter().find(|x| x["quarter"] == "2023-Q1").unwrap();
    assert_eq!(
        (
            q1["requests"].as_u64(),
            q1["fulfilled"].as_u64(),
            q1["rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(q1["identifiers"], 4);
    assert_eq!(q1["values"], json!({ "ip_address": 4 }));
    let q2 = rows.iter().find(|x| x["quarter"] == "2023-Q2").unwrap();
    assert_eq!(q2["fulfilled"], 1);
    assert_eq!(r["live"], json!([]));

    // The entry publishes the quarter, not the day.
    let index = summary["indexes"][0].as_u64().unwrap();
    let entry: Value = app
        .get_json_as(&format!("/v1/log/entries/{index}"), &app.token(Role::Auditor))
        .await;
    assert_eq!(entry["kind"], "request.imported");
    assert_eq!(entry["public"]["quarter"], "2023-Q1");
    assert!(!entry.to_string().contains("2023-02-10"));
}

#[tokio::test]
async fn invalid_records_are_named_and_nothing_is_imported() {
    let app = spawn().await;
    let before = app.size().await;
    let good = json!({ "type": "aggregate", "external_id": "g", "country": "FRA", "from": "2024-01-01",
        "to": "2024-03-31", "fulfilled_requests": 1, "affected_users": 1, "source": "s", "source_sha256": "b".repeat(64) });
    let mut bad_country = good.clone();
    bad_country["external_id"] = json!("h");
    bad_country["country"] = json!("XXX");
    let mut backwards = good.clone();
    backwards["external_id"] = json!("i");
    backwards["to"] = json!("2023-12-31");
    let unknown = json!({ "type": "rumour", "external_id": "j" });
    let (status, problem) = import(
        &app,
        json!([good, bad_country, backwards, unknown, good]).to_string(),
        "application/json",
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "records[1].country",
            "records[2].to",
            "records[3].type",
            "records[4].external_id"
        ]
    );
    assert_eq!(app.size().await, before);

    let r = app
        .client
        .post(app.url("/v1/imports"))
        .bearer_auth(app.token(Role::Admin))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400).await;
    assert_eq!(app.size().await, before);
}

#[test]
fn the_dataset_check_lists_exactly_the_cumulative_rows_that_disagree_with_their_quarters() {
    let (bytes, _) = dataset();
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    let listed = telegram::check(&telegram::load(&bytes).unwrap());
    let mut disagreeing = 0;
    for (country, rows) in raw.as_object().unwrap() {
        let rows = rows.as_array().unwrap();
        let quarters: Vec<(String, u64, u64)> = rows
            .iter()
            .filter_map(|r| {
                let q = quarter_row(r["from"].as_str()?, r["to"].as_str()?)?;
                Some((q, r["requests"].as_u64()?, r["users"].as_u64()?))
            })
            .collect();
        for r in rows
            .iter()
            .filter(|r| quarter_row(r["from"].as_str().unwrap(), r["to"].as_str().unwrap()).is_none())
        {
            let (from, to) = (r["from"].as_str().unwrap(), r["to"].as_str().unwrap());
            // Quarters of the span, by month arithmetic.
            let (fy, fm): (i32, u32) = (from[..4].parse().unwrap(), from[4..6].parse().unwrap());
            let (ty, tm): (i32, u32) = (to[..4].parse().unwrap(), to[4..6].parse().unwrap());
            let mut span = Vec::new();
            let (mut y, mut q) = (fy, (fm - 1) / 3 + 1);
            while (y, q) <= (ty, (tm - 1) / 3 + 1) {
                span.push(format!("{y}-Q{q}"));
                (y, q) = if q == 4 { (y + 1, 1) } else { (y, q + 1) };
            }
            let within: Vec<_> = quarters.iter().filter(|(q, _, _)| span.contains(q)).collect();
            let sums = within.iter().fold((0, 0), |(a, b), (_, r, u)| (a + r, b + u));
            let agrees = sums == (r["requests"].as_u64().unwrap(), r["users"].as_u64().unwrap());
            let in_list = listed
                .iter()
                .any(|d| &d.country == country && d.from == from && d.to == to);
            assert_eq!(in_list, !agrees, "{country} {from}-{to}");
            disagreeing += usize::from(!agrees);
        }
    }
    assert_eq!(listed.len(), disagreeing);
    assert!(
        disagreeing > 0,
        "the published dataset has cumulative rows that do not add up"
    );
}
