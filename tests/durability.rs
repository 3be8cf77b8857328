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
