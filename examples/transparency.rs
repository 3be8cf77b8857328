//! Release-mode benchmark of the audit-and-transparency figures. Not a test: it reports numbers.
//!
//! ```sh
//! cargo run --release --example transparency -- [--entries 1000000] [--backfill 100000] \
//!     [--pg postgres://user@host:port/db]
//! ```
//! With `--pg` the ledger lives in a new database on that server (the role needs CREATEDB);
//! otherwise in SQLite in a temporary directory.
//! 1. backfill: `POST /v1/imports` of `--backfill` per-request records as NDJSON (calls of
//!    50,000 records) against the running server → entries/s;
//! 2. a ledger of `--entries` live-lifecycle entries (received, validated, approved, disclosed,
//!    notification sent for requests from the 83 countries of the Telegram dataset), written
//!    through the sequencer with the server's own log key, then served;
//! 3. transparency report latency over that ledger: the first call (folds every entry), then
//!    warm calls, and calls after 1,000 new entries;
//! 4. `audit` throughput over loopback: from scratch (auditor token, and public), then
//!    incrementally after more entries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use disclosure_ledger::app::{instance_keys, Application};
use disclosure_ledger::auth::Role;
use disclosure_ledger::config::Settings;
use disclosure_ledger::metrics::Metrics;
use disclosure_ledger::monitor::{self, Options};
use disclosure_ledger::store::{self, NewEntry, Sequencer};
use serde_json::json;

const COUNTRIES: &[&str] = &[
    "FRA", "USA", "NLD", "DEU", "ROU", "POL", "ITA", "ESP", "GBR", "SVK", "CZE", "BEL", "CAN", "UKR", "COL", "URY",
    "GEO", "EGY", "SWE", "CHE", "ARG", "AUT", "ISR", "IRL", "SVN", "IND", "CHL", "NOR", "NZL", "GTM", "RUS", "PRT",
    "BGR", "DNK", "PHL", "IDN", "MYS", "MEX", "CRI", "BRA", "ARE", "UZB", "EST", "NGA", "SRB", "KAZ", "THA", "LAO",
    "ARM", "TUR", "MLT", "BLR", "LTU", "BIH", "LVA", "HRV", "KGZ", "AUS", "FIN", "HUN", "CYP", "MNE", "JPN", "GRC",
    "LBY", "KOR", "NER", "GRL", "COK", "MRT", "BGD", "SLV", "CHN", "MDA", "ISL", "SGP", "ETH", "VNM", "MMR", "HKG",
    "ZAF", "PSE", "MDG",
];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

/// The five public entries of one fulfilled request.
fn lifecycle(i: u64, quarter: &str) -> Vec<NewEntry> {
    let id = uuid::Uuid::new_v4().to_string();
    let e = |kind: &str, public: serde_json::Value| NewEntry {
        kind: kind.into(),
        subject: Some(id.clone()),
        public: object(public),
        restricted: None,
    };
    let policy = "9f".repeat(32);
    vec![
        e(
            "request.received",
            json!({ "country": COUNTRIES[(i % COUNTRIES.len() as u64) as usize], "authority_kind": "court",
                "instrument": "court_order", "emergency": i.is_multiple_of(20), "data_categories": ["ip_address", "phone_number"],
                "identifiers": 2, "quarter": quarter }),
        ),
        e(
            "request.validated",
            json!({ "result": "pass", "failed_rules": [], "policy_sha256": policy }),
        ),
        e(
            "request.approved",
            json!({ "scope": "full", "data_categories": ["ip_address", "phone_number"], "identifiers": 2, "policy_sha256": policy }),
        ),
        e(
            "request.disclosed",
            json!({ "outcome": "fully_produced", "accounts_affected": 1 + i % 3, "values": { "ip_address": 1 + i % 5, "phone_number": 1 } }),
        ),
        e("notification.sent", json!({})),
    ]
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n: u64 = arg("--entries").map(|s| s.parse().unwrap()).unwrap_or(1_000_000);
    let backfill: u64 = arg("--backfill").map(|s| s.parse().unwrap()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(dir.path());
    settings.listen = "127.0.0.1:0".into();
    // A benchmark drives the server as fast as it goes: the rate limits are off.
    settings.rate_limit_per_subject = 0;
    settings.rate_limit_per_address = 0;
    if let Some(admin) = arg("--pg") {
        use diesel::{Connection, RunQueryDsl};
        let name = format!("dl_bench_{}", uuid::Uuid::new_v4().simple());
        let mut c = diesel::PgConnection::establish(&admin).expect("connect --pg");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .unwrap();
        settings.database_url = Some(format!("{}/{name}", admin.rsplit_once('/').unwrap().0));
    }
    let url = settings.database_url();

    // 2 first: the live ledger, written with the server's own log key before it starts.
    let (signer, tokens) = instance_keys(&settings).unwrap();
    let mut conn = store::establish(&url).unwrap();
    store::migrate(&mut conn).unwrap();
    let seq = Sequencer::start(conn, signer, Arc::new(Metrics::new()), 1024, Duration::ZERO);
    let quarter = disclosure_ledger::reports::tally::quarter_of(chrono::Utc::now());
    let fill = Instant::now();
    let requests = n / 5;
    let mut tasks = Vec::new();
    for t in 0..256u64 {
        let (seq, quarter) = (seq.clone(), quarter.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while i < requests {
                let entries = lifecycle(i, &quarter);
                seq.append(move |_| -> Result<_, store::StoreError> { Ok(((), entries)) })
                    .await
                    .unwrap();
                i += 256;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(seq);
    println!(
        "filled {} live entries in {:.1} s",
        requests * 5,
        fill.elapsed().as_secs_f64()
    );

    let app = Application::build(settings.clone()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let admin = tokens
        .mint(Role::Admin, "bench", Duration::from_secs(3600), None)
        .unwrap();
    let auditor = tokens
        .mint(Role::Auditor, "bench", Duration::from_secs(3600), None)
        .unwrap();
    let vkey = client
        .get(format!("{base}/v1/log/key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    // 3. Report latency.
    let report = |token: Option<String>| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let mut r = client.get(format!("{base}/v1/reports/transparency"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let started = Instant::now();
            let body = r.send().await.unwrap().bytes().await.unwrap();
            (started.elapsed().as_secs_f64() * 1000.0, body.len())
        }
    };
    let (cold, bytes) = report(Some(auditor.clone())).await;
    println!("report, first call (folds every entry): {cold:.0} ms, {bytes} bytes");
    let mut warm = Vec::new();
    for _ in 0..50 {
        warm.push(report(Some(auditor.clone())).await.0);
    }
    warm.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "report, warm (50 calls): p50 {:.1} ms, p99 {:.1} ms",
        pct(&warm, 0.5),
        pct(&warm, 0.99)
    );

    // 1. Backfill through the API.
    let mut imported = 0u64;
    let started = Instant::now();
    while imported < backfill {
        let count = 50_000.min(backfill - imported);
        let body: String = (imported..imported + count)
            .map(|i| {
                format!(
                    "{}\n",
                    json!({ "type": "request", "external_id": format!("bench-{i}"), "country": COUNTRIES[(i % 83) as usize],
                        "instrument": "court_order", "received": format!("2023-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
                        "data_categories": ["ip_address"], "identifiers": 1, "outcome": "fulfilled", "accounts_affected": 1,
                        "values": { "ip_address": 2 }, "source": "bench", "source_sha256": "ab".repeat(32) })
                )
            })
            .collect();
        let r = client
            .post(format!("{base}/v1/imports"))
            .bearer_auth(&admin)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        imported += count;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "backfill: {imported} records in {secs:.2} s = {:.0} entries/s",
        imported as f64 / secs
    );

    let mut after = Vec::new();
    for _ in 0..10 {
        after.push(report(Some(auditor.clone())).await.0);
    }
    after.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "report after the backfill (first call folds it): {:.0} ms, then p50 {:.1} ms",
        after[after.len() - 1],
        pct(&after, 0.5)
    );

    // 4. The monitor over loopback.
    let state = dir.path().join("monitor.json");
    let run = |token: Option<String>, state: std::path::PathBuf| {
        let opts = Options {
            url: base.clone(),
            log_key: vkey.trim().to_string(),
            state,
            token,
            progress: false,
            insecure_http: false,
            witnesses: Vec::new(),
            quorum: 0,
        };
        async move { monitor::audit(&opts).await.unwrap() }
    };
    let o = run(Some(auditor.clone()), state.clone()).await;
    println!(
        "audit from scratch (auditor): {} entries in {:.2} s = {:.0} entries/s",
        o.checked,
        o.seconds,
        o.entries_per_second()
    );
    let public_state = dir.path().join("public.json");
    let o = run(None, public_state).await;
    println!(
        "audit from scratch (public, {} embargoed): {} entries in {:.2} s = {:.0} entries/s",
        o.held,
        o.checked,
        o.seconds,
        o.entries_per_second()
    );
    let more: String = (0..20_000u64)
        .map(|i| {
            format!(
                "{}\n",
                json!({ "type": "aggregate", "external_id": format!("agg-{i}"), "country": "FRA", "from": "2024-01-01",
                    "to": "2024-03-31", "fulfilled_requests": i, "affected_users": i, "source": "bench", "source_sha256": "cd".repeat(32) })
            )
        })
        .collect();
    let r = client
        .post(format!("{base}/v1/imports"))
        .bearer_auth(&admin)
        .header("content-type", "application/x-ndjson")
        .body(more)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let kept = std::fs::metadata(&state).unwrap().len();
    let o = run(Some(auditor.clone()), state).await;
    println!(
        "audit incremental (auditor, state file {:.1} MB loaded and saved): {} -> {}: {} entries in {:.2} s = {:.0} entries/s",
        kept as f64 / 1e6,
        o.from_size,
        o.size,
        o.checked,
        o.seconds,
        o.entries_per_second()
    );
}
