//! Two server processes appending concurrently to one database must produce one valid chain:
//! the head lock in the append transaction serialises them (DESIGN §5). Runs against the
//! backend of the suite (SQLite file or PostgreSQL database).

mod common;

use std::process::Command;

use disclosure_ledger::auth::Role;
use disclosure_ledger::ledger::{merkle, parse_hex_hash};

#[tokio::test]
async fn two_processes_appending_at_once_make_one_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::fresh_database_url(dir.path());
    let a = common::ServerProcess::start(dir.path(), &database_url);
    let b = common::ServerProcess::start(dir.path(), &database_url);
    let token = {
        let settings = common::settings_for(dir.path(), &database_url);
        let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
        tokens
            .mint(Role::Admin, "bench", std::time::Duration::from_secs(600), None)
            .unwrap()
    };
    let client = reqwest::Client::new();
    const PER_PROCESS: usize = 40;
    let mut tasks = Vec::new();
    for (p, base) in [&a.base, &b.base].into_iter().enumerate() {
        for i in 0..PER_PROCESS {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let r = client
                    .post(format!("{base}/v1/policies"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "name": format!("p{p}-{i}"), "document": common::policy_document(&format!("p{p}-{i}")) }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                r.json::<serde_json::Value>().await.unwrap()
            }));
        }
    }
    let mut indexes = Vec::new();
    let vkey = client
        .get(format!("{}/v1/log/key", a.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let verifier = disclosure_ledger::ledger::LogVerifier::new(vkey.trim()).unwrap();
    for t in tasks {
        let receipt = t.await.unwrap();
        let cp = verifier.verify(receipt["checkpoint"].as_str().unwrap()).unwrap();
        let item = &receipt["entries"][0];
        let index = item["index"].as_u64().unwrap();
        let proof: Vec<_> = item["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| parse_hex_hash(h.as_str().unwrap()).unwrap())
            .collect();
        let leaf = parse_hex_hash(item["leaf_hash"].as_str().unwrap()).unwrap();
        merkle::check_inclusion(&proof, cp.size, cp.root, index, leaf).unwrap();
        indexes.push(index);
    }
    indexes.sort();
    let expected: Vec<u64> = (1..=(2 * PER_PROCESS) as u64).collect();
    assert_eq!(
        indexes, expected,
        "indexes are gap-free and unique across both processes"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
        .args(["verify", "--database", &database_url, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("checked {} entries", 2 * PER_PROCESS + 1)),
        "{stdout}"
    );
}

/// Two processes started at the same moment on a new database both come up (the migrations
/// take turns) and both write to the one log.
#[tokio::test]
async fn two_processes_started_at_once_on_a_new_database_both_serve() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::fresh_database_url(dir.path());
    // The keys first, so that the two do not race to create them.
    let keygen = Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
        .args(["keygen", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let starts: Vec<_> = (0..2)
        .map(|_| {
            let (dir, url) = (dir.path().to_path_buf(), database_url.clone());
            std::thread::spawn(move || common::ServerProcess::start(&dir, &url))
        })
        .collect();
    let servers: Vec<_> = starts
        .into_iter()
        .map(|t| t.join().expect("a server came up"))
        .collect();
    let settings = common::settings_for(dir.path(), &database_url);
    let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
    let admin = tokens
        .mint(Role::Admin, "ops", std::time::Duration::from_secs(600), None)
        .unwrap();
    for s in &servers {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/authorities", s.base))
            .bearer_auth(&admin)
            .json(&serde_json::json!({ "country": "BEL", "kind": "police", "judicial": false, "name": "x" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
}
