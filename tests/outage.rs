//! A PostgreSQL restart under a running ledger (issue 17, faults 1 and 2), with real parts: a
//! PostgreSQL cluster of this test's own (so stopping it disturbs no other test) and the real
//! server process. While the database is down, writes are 503 with `Retry-After` and nothing
//! is half-applied, `/healthz` answers, `/readyz` says not ready; once it is back the writer
//! reconnects by itself and the first write succeeds, and the ledger verifies.
//! Runs in the PostgreSQL pass of `scripts/test` only.

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::ServerProcess;
use disclosure_ledger::auth::Role;
use serde_json::json;

async fn until(what: &str, limit: Duration, mut ok: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ok().await {
        assert!(started.elapsed() < limit, "{what} not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn the_writer_survives_a_postgresql_restart() {
    let Some(cluster) = Cluster::for_postgres_pass() else {
        return; // the PostgreSQL pass runs it
    };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with(
        data.path(),
        &cluster.url(),
        &[("RATE_LIMIT_PER_SUBJECT", "0"), ("RATE_LIMIT_PER_ADDRESS", "0")],
    );
    let settings = common::settings_for(data.path(), &cluster.url());
    let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
    let admin = tokens.mint(Role::Admin, "ops", Duration::from_secs(600), None).unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let base = server.base.clone();
    let register = |name: &'static str| {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        async move {
            client
                .post(format!("{base}/v1/authorities"))
                .bearer_auth(&admin)
                .json(&json!({ "country": "BEL", "kind": "police", "judicial": false, "name": name }))
                .send()
                .await
        }
    };
    let status = |path: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(register("before").await.unwrap().status(), 201);
    assert_eq!(status("/readyz").await, 200);

    // Load throughout: eight callers registering authorities without pause, before, during
    // and after the outage. Each answer is kept: (name, status; 0 for no answer).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|t| {
            let (client, base, admin, stop) = (client.clone(), base.clone(), admin.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    n += 1;
                    let name = format!("load-{t}-{n}");
                    let answer = client
                        .post(format!("{base}/v1/authorities"))
                        .bearer_auth(&admin)
                        .json(&json!({ "country": "BEL", "kind": "police", "judicial": false, "name": name }))
                        .send()
                        .await;
                    let status = match answer {
                        // A 503 saying the commit's outcome is unknown, or that the write was
                        // recorded but its receipt could not be built, is told apart (1503).
                        Ok(r) if r.status() == 503 => {
                            let detail = r.text().await.unwrap_or_default();
                            if detail.contains("may or may not") || detail.contains("the write was recorded") {
                                1503
                            } else {
                                503
                            }
                        }
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 0,
                    };
                    seen.push((name, status));
                    if status != 201 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster.crash();
    until("/readyz 503", Duration::from_secs(10), async || {
        status("/readyz").await == 503
    })
    .await;
    for _ in 0..3 {
        let started = Instant::now();
        let r = register("during").await.unwrap();
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        assert!(started.elapsed() < Duration::from_secs(5), "refused quickly");
        assert_eq!(status("/healthz").await, 200, "liveness never touches the database");
    }
    let r = client.get(format!("{base}/v1/log/entries")).send().await.unwrap();
    assert_eq!(r.status(), 503, "reads say the database is unreachable, quickly");

    cluster.start();
    let back = until("/readyz 200", Duration::from_secs(15), async || {
        status("/readyz").await == 200
    })
    .await;
    let r = register("after").await.unwrap();
    assert_eq!(r.status(), 201, "the first write after the database is back succeeds");
    println!("outage: ready again {back:?} after PostgreSQL restarted");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answers = Vec::new();
    for task in load {
        answers.extend(task.await.unwrap());
    }
    let count = |s: u16| answers.iter().filter(|(_, st)| *st == s).count();
    println!(
        "outage under load: {} calls, {} acknowledged (201), {} refused (503), {} of unknown outcome or without a receipt (503), {} unanswered",
        answers.len(),
        count(201),
        count(503),
        count(1503),
        count(0)
    );
    let errors: Vec<String> = server
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("ERROR"))
        .cloned()
        .collect();
    let odd: Vec<_> = answers
        .iter()
        .filter(|(_, s)| ![201, 503, 1503, 0].contains(s))
        .take(5)
        .collect();
    assert!(
        odd.is_empty(),
        "only 201 or 503 (or a refused connection): {odd:?}\n{}",
        errors.join("\n")
    );
    assert!(count(503) + count(1503) > 0, "the load met the outage");
    let acknowledged: Vec<&str> = answers
        .iter()
        .filter(|(_, s)| *s == 201)
        .map(|(n, _)| n.as_str())
        .collect();

    // Nothing half-applied: three authorities-to-be were refused, two were recorded, and the
    // whole ledger verifies.
    let r: serde_json::Value = client
        .get(format!("{base}/v1/audit/verify"))
        .bearer_auth(tokens.mint(Role::Auditor, "a", Duration::from_secs(600), None).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    let mut names: Vec<String> = Vec::new();
    let mut after = String::new();
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/v1/authorities?limit=1000{after}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        names.extend(
            page["authorities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(names.iter().filter(|n| **n == "during").count(), 0, "{names:?}");
    assert_eq!(names.iter().filter(|n| !n.starts_with("load-")).count(), 2, "{names:?}");
    for name in &acknowledged {
        assert!(names.contains(name), "acknowledged {name} is missing");
    }
    let recorded = names.iter().filter(|n| n.starts_with("load-")).count();
    assert!(
        recorded >= acknowledged.len() && recorded <= acknowledged.len() + count(0) + count(1503),
        "recorded {recorded}: every acknowledged one, none refused as not recorded"
    );
    server.kill();
}
