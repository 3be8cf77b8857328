//! An acknowledged write survives `kill -9` of the server: after a restart on the same
//! database it is there, in a verifying ledger, under the checkpoint its receipt carried.

mod common;

use disclosure_ledger::auth::Role;

#[tokio::test]
async fn an_acknowledged_append_survives_a_kill_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::fresh_database_url(dir.path());
    let token = {
        let settings = common::settings_for(dir.path(), &database_url);
        let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
        tokens
            .mint(Role::Admin, "ops", std::time::Duration::from_secs(600), None)
            .unwrap()
    };
    let client = reqwest::Client::new();
    let server = common::ServerProcess::start(dir.path(), &database_url);
    let r = client
        .post(format!("{}/v1/policies", server.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "telegram-2018", "document": common::policy_document("telegram-2018") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let receipt: serde_json::Value = r.json().await.unwrap();
    server.kill();

    let restarted = common::ServerProcess::start(dir.path(), &database_url);
    let index = receipt["entries"][0]["index"].as_u64().unwrap();
    let entry: serde_json::Value = client
        .get(format!("{}/v1/log/entries/{index}", restarted.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(entry["public"]["name"], "telegram-2018");
    let checkpoint = client
        .get(format!("{}/v1/log/checkpoint", restarted.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        checkpoint,
        receipt["checkpoint"].as_str().unwrap(),
        "no later write, so the same checkpoint"
    );
    drop(restarted);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
        .args(["verify", "--database", &database_url, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// SIGTERM under load: the server stops accepting, answers every operation it accepted, and
/// exits 0; every acknowledged write is in the log at its index with its leaf hash, and the
/// ledger verifies. A caller may see a refused connection, never a lost answer.
#[tokio::test]
async fn sigterm_under_load_answers_what_it_accepted_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::fresh_database_url(dir.path());
    let settings = common::settings_for(dir.path(), &database_url);
    let no_limits = [("RATE_LIMIT_PER_ADDRESS", "0"), ("RATE_LIMIT_PER_SUBJECT", "0")];
    let mut server = common::ServerProcess::start_with(dir.path(), &database_url, &no_limits);
    let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
    let admin = tokens
        .mint(Role::Admin, "ops", std::time::Duration::from_secs(600), None)
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..150 {
        let (client, base, admin) = (client.clone(), server.base.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(i as u64 * 2)).await;
            let r = client
                .post(format!("{base}/v1/authorities"))
                .bearer_auth(&admin)
                .json(&serde_json::json!({ "country": "BEL", "kind": "police", "judicial": false, "name": format!("P{i}") }))
                .send()
                .await;
            match r {
                Ok(r) => Some((r.status().as_u16(), r.json::<serde_json::Value>().await.ok())),
                Err(e) => {
                    assert!(e.is_connect() || e.is_request(), "an accepted request lost its answer: {e}");
                    None
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut acknowledged = Vec::new();
    for t in tasks {
        if let Some((status, body)) = t.await.unwrap() {
            assert!(status == 201 || status == 503, "status {status}");
            if status == 201 {
                let e = &body.unwrap()["receipt"]["entries"][0];
                acknowledged.push((
                    e["index"].as_u64().unwrap(),
                    e["leaf_hash"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(!acknowledged.is_empty());

    let restarted = common::ServerProcess::start(dir.path(), &database_url);
    let auditor = tokens
        .mint(Role::Auditor, "a", std::time::Duration::from_secs(600), None)
        .unwrap();
    for (index, leaf) in &acknowledged {
        let proof: serde_json::Value = client
            .get(format!("{}/v1/log/proof/inclusion?index={index}", restarted.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(proof["leaf_hash"].as_str(), Some(leaf.as_str()), "entry {index}");
    }
    let v: serde_json::Value = client
        .get(format!("{}/v1/audit/verify", restarted.base))
        .bearer_auth(auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    println!("sigterm: {} of 150 acknowledged, all in the log", acknowledged.len());
}
