//! Release-mode benchmark of the ledger core issue's figures. Not a test: it reports numbers.
//!
//! ```sh
//! cargo run --release --example bench -- [--pg postgres://user@host:port/db] [--entries 1000000]
//! ```
//! 1. durable appends/s through the sequencer, one commit per entry vs group commit, on SQLite
//!    (and PostgreSQL with `--pg`, which needs a role that may CREATE DATABASE);
//! 2. `verify` entries/s over a SQLite ledger of `--entries` entries;
//! 3. inclusion-proof latency p50/p99 over HTTP at that size;
//! 4. bytes on disk per entry.
//!
//! `--skip-appends` runs only 2–4; `--keep DIR` keeps the large ledger in DIR for profiling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use disclosure_ledger::app::Application;
use disclosure_ledger::config::Settings;
use disclosure_ledger::ledger::{LogSigner, LogVerifier};
use disclosure_ledger::metrics::Metrics;
use disclosure_ledger::store::{self, NewEntry, Sequencer, StoreError};
use serde_json::json;

fn signer() -> LogSigner {
    LogSigner::new("bench.localhost/log", ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])).unwrap()
}

/// A realistic small log-level entry (~300 bytes canonical).
fn entry(i: u64) -> NewEntry {
    let public = json!({
        "authority": format!("5b1f8a2e-3c4d-4e5f-8a9b-{i:012x}"),
        "country": "FRA",
        "authority_kind": "court",
        "judicial": true,
    });
    NewEntry::log_level("authority.registered", public.as_object().unwrap().clone())
}

fn fresh_pg(admin: &str) -> String {
    use diesel::{Connection, RunQueryDsl};
    let name = format!("dl_bench_{}", uuid::Uuid::new_v4().simple());
    let mut c = diesel::PgConnection::establish(admin).expect("connect --pg");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// Appends `total` entries from `concurrency` concurrent callers; returns entries/s.
async fn appends(url: &str, batch_max: usize, total: u64, concurrency: u64) -> f64 {
    let mut conn = store::establish(url).unwrap();
    store::migrate(&mut conn).unwrap();
    let seq = Sequencer::start(conn, signer(), Arc::new(Metrics::new()), batch_max, Duration::ZERO);
    let started = Instant::now();
    let per = total / concurrency;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let seq = seq.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..per {
                let i = t * per + k;
                seq.append(move |_| Ok::<_, StoreError>(((), vec![entry(i)])))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (per * concurrency) as f64 / started.elapsed().as_secs_f64()
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u64 = arg("--entries").map(|s| s.parse().unwrap()).unwrap_or(1_000_000);
    let pg = arg("--pg");
    let skip_appends = std::env::args().any(|a| a == "--skip-appends");
    let dir = tempfile::tempdir().unwrap();

    println!("| backend | mode | durable appends/s |");
    println!("|---|---|---|");
    let mut backends = vec![("SQLite", None)];
    if let Some(pg) = &pg {
        backends.push(("PostgreSQL", Some(pg.clone())));
    }
    for (name, admin) in backends.iter().filter(|_| !skip_appends) {
        let url = |tag: &str| match admin {
            Some(a) => fresh_pg(a),
            None => dir
                .path()
                .join(format!("append-{tag}.db"))
                .to_string_lossy()
                .into_owned(),
        };
        let single = appends(&url("single"), 1, 3_000, 64).await;
        println!("| {name} | one commit per entry (64 callers) | {single:.0} |");
        let group = appends(&url("group"), 256, 60_000, 512).await;
        println!("| {name} | group commit, ≤256 per batch (512 callers) | {group:.0} |");
        println!("| {name} | ratio | {:.1}× |", group / single);
    }

    // A large SQLite ledger for verify, proofs and size.
    // `--keep DIR` leaves it there (with the bench log key's origin `bench.localhost/log`).
    let data = arg("--keep")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("big"));
    let url = data.join("ledger.db").to_string_lossy().into_owned();
    std::fs::create_dir_all(&data).unwrap();
    let fill = Instant::now();
    let rate = appends(&url, 1024, n, 1024).await;
    println!(
        "\nfilled {n} entries in {:.1} s ({rate:.0} entries/s, group commit ≤1024)",
        fill.elapsed().as_secs_f64()
    );

    let mut conn = store::establish(&url).unwrap();
    let verifier = LogVerifier::new(&signer().verifier_key()).unwrap();
    let report = store::verify::verify_ledger(&mut conn, &verifier, &[], |_| {}).unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    println!(
        "verify: {} entries, {} checkpoints in {:.2} s = {:.0} entries/s",
        report.entries,
        report.checkpoints,
        report.seconds,
        report.entries_per_second()
    );

    diesel::RunQueryDsl::execute(diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)"), &mut conn).unwrap();
    let bytes: u64 = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("ledger.db"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    println!(
        "disk: {bytes} bytes for {} entries = {:.0} bytes/entry (entries, tree hashes, checkpoints)",
        report.entries,
        bytes as f64 / report.entries as f64
    );

    // Inclusion proofs computed in process (one pooled connection, as a handler does), to
    // separate the database and proof work from HTTP.
    {
        let mut lat = Vec::new();
        let mut x: u64 = 0x2545f4914f6cdd1d;
        let size = report.entries;
        for k in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let index = x % size;
            let t = Instant::now();
            let proof = store::with_prefetch(&mut conn, |r| {
                disclosure_ledger::ledger::merkle::inclusion_proof(index, size, r)
                    .and_then(|p| Ok((p, disclosure_ledger::ledger::merkle::root(size, r)?)))
            })
            .unwrap()
            .unwrap();
            std::hint::black_box(proof);
            if k >= 500 {
                lat.push(t.elapsed());
            }
        }
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
        println!(
            "inclusion proof in process at {size} entries: p50 {:.3} ms, p99 {:.3} ms",
            p(0.5),
            p(0.99)
        );
    }

    // Inclusion proofs over HTTP against the same database.
    let mut settings = Settings::new(&data);
    settings.listen = "127.0.0.1:0".into();
    settings.origin = "bench.localhost/log".into();
    // A benchmark drives the server as fast as it goes: the rate limits are off.
    settings.rate_limit_per_subject = 0;
    settings.rate_limit_per_address = 0;
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let size = report.entries;
    let mut lat = Vec::new();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for k in 0..3_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let index = x % size;
        let t = Instant::now();
        let r = client
            .get(format!("{base}/v1/log/proof/inclusion?index={index}&size={size}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        if k >= 200 {
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
    println!(
        "inclusion proof over HTTP at {size} entries: p50 {:.3} ms, p99 {:.3} ms ({} requests, one client)",
        p(0.5),
        p(0.99),
        lat.len()
    );
}
