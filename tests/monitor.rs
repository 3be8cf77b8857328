//! The remote monitor (`disclosure-ledger audit`) against real servers: a clean log passes on
//! the first run and incrementally; a database edited behind the server's back fails naming
//! the entry; a server that shows a different tree at a size already trusted fails as a fork.
//! A failed run never changes the trusted state.

mod common;

use std::path::{Path, PathBuf};

use common::requests::{approve, court, order, submit};
use common::{spawn, spawn_with, TestApp};
use diesel::RunQueryDsl;
use disclosure_ledger::auth::Role;
use disclosure_ledger::monitor::{self, MonitorError, Options, Outcome};
use serde_json::json;

async fn audit(app: &TestApp, state: &Path, token: Option<String>) -> Result<Outcome, MonitorError> {
    let opts = Options {
        url: app.base.clone(),
        log_key: app.text("/v1/log/key").await.trim().to_string(),
        state: state.to_path_buf(),
        token,
        progress: false,
        insecure_http: false,
        witnesses: Vec::new(),
        quorum: 0,
    };
    monitor::audit(&opts).await
}

fn state_file(app: &TestApp, name: &str) -> PathBuf {
    app.dir.path().join(name)
}

fn tamper(app: &TestApp, sql: &str) {
    let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
    diesel::sql_query(sql).execute(&mut conn).unwrap();
}

#[tokio::test]
async fn a_clean_log_passes_on_the_first_run_and_then_incrementally() {
    let app = spawn().await;
    let c = court(&app).await;
    let reviewer = app.token(Role::Reviewer);
    let (status, body) = submit(&app, &c.officer, &order(&c, "mon-1", "fraud")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["request"]["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&app, &reviewer, &id).await.0, 200);
    let aggregate = json!([{ "type": "aggregate", "external_id": "t1", "country": "FRA", "from": "2025-01-01",
        "to": "2025-03-31", "fulfilled_requests": 668, "affected_users": 1425, "source": "bot", "source_sha256": "c".repeat(64) }]);
    let (status, body) = app.admin_post("/v1/imports", aggregate).await;
    assert_eq!(status, 200, "{body}");

    // The public: request entries are under embargo, verified as leaves; the rest in full.
    let public = state_file(&app, "public.json");
    let first = audit(&app, &public, None).await.expect("a clean log verifies");
    let n = app.size().await;
    assert_eq!((first.from_size, first.size, first.checked), (0, n, n));
    assert!(
        first.held >= 3,
        "received, validated and approved are embargoed: {first:?}"
    );

    // More entries; the next run checks only those.
    app.adopt_policy("monitor-2").await;
    let (status, _) = submit(&app, &c.officer, &order(&c, "mon-2", "fraud")).await;
    assert_eq!(status, 201);
    let second = audit(&app, &public, None).await.expect("an extended log verifies");
    assert_eq!((second.from_size, second.size), (n, app.size().await));
    assert_eq!(second.checked, second.size - n);

    // Nothing new: nothing to check, still consistent.
    let third = audit(&app, &public, None).await.unwrap();
    assert_eq!(
        (third.from_size, third.size, third.checked),
        (second.size, second.size, 0)
    );

    // An auditor sees every entry in full and compares the auditor's report.
    let full = state_file(&app, "auditor.json");
    let audited = audit(&app, &full, Some(app.token(Role::Auditor))).await.unwrap();
    assert_eq!((audited.size, audited.held), (second.size, 0));

    // Entries seen under embargo are checked in full once they are visible (here: to an
    // auditor), against the leaf hashes verified while they were not; an entry changed since
    // is named.
    let copy = state_file(&app, "public-copy.json");
    std::fs::copy(&public, &copy).unwrap();
    let released = audit(&app, &public, Some(app.token(Role::Auditor))).await.unwrap();
    assert_eq!((released.held, released.checked), (0, third.held));
    let first_held = second.size - third.held;
    tamper(&app, &format!("UPDATE entries SET canonical = replace(canonical, '\"identifiers\":3', '\"identifiers\":9') WHERE kind = 'request.received' AND idx >= {first_held}"));
    let changed = audit(&app, &copy, Some(app.token(Role::Auditor))).await;
    match changed {
        Err(MonitorError::Entry { message, .. }) => assert!(message.contains("under embargo"), "{message}"),
        other => panic!("expected the changed entry to be named: {other:?}"),
    }
}

#[tokio::test]
async fn a_database_edited_behind_the_servers_back_fails_and_keeps_the_trusted_state() {
    let app = spawn().await;
    app.adopt_policy("edit-1").await;
    let state = state_file(&app, "state.json");
    let token = Some(app.token(Role::Auditor));
    audit(&app, &state, token.clone()).await.unwrap();
    let trusted = std::fs::read(&state).unwrap();
    let n = app.size().await;
    for i in 2..6 {
        app.adopt_policy(&format!("edit-{i}")).await;
    }
    // Entry n + 1 is the adoption of edit-3.
    tamper(
        &app,
        &format!(
            "UPDATE entries SET canonical = replace(canonical, 'edit-3', 'edit-X') WHERE idx = {}",
            n + 1
        ),
    );

    match audit(&app, &state, token.clone()).await {
        Err(MonitorError::Entry { index, message }) => assert_eq!(index, n + 1, "{message}"),
        other => panic!("expected the edited entry to be named: {other:?}"),
    }
    assert_eq!(
        std::fs::read(&state).unwrap(),
        trusted,
        "a failed run keeps the trusted state"
    );

    // A monitor starting from scratch names it too, and so does the public one.
    let fresh = state_file(&app, "fresh.json");
    match audit(&app, &fresh, None).await {
        Err(MonitorError::Entry { index, .. }) => assert_eq!(index, n + 1),
        other => panic!("expected the edited entry to be named: {other:?}"),
    }
    assert!(!fresh.exists(), "nothing is saved by a failed first run");

    // The command line says so and exits 1.
    let (url, key, path) = (app.base.clone(), app.text("/v1/log/key").await, state.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
            .args(["audit", "--url", &url, "--log-key", key.trim(), "--state"])
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("FAILED: entry {}:", n + 1)), "{stdout}");
}

#[tokio::test]
async fn an_edited_last_entry_is_named_from_the_hash_tiles() {
    let app = spawn().await;
    for i in 1..4 {
        app.adopt_policy(&format!("tail-{i}")).await;
    }
    let last = app.size().await - 1;
    // No later entry names it in its prev: the root gives it away, the level-0 tile names it.
    tamper(
        &app,
        &format!("UPDATE entries SET canonical = replace(canonical, 'tail-3', 'tail-X') WHERE idx = {last}"),
    );
    match audit(&app, &state_file(&app, "state.json"), None).await {
        Err(MonitorError::Entry { index, message }) => {
            assert_eq!(index, last, "{message}");
            assert!(message.contains("signed tree"), "{message}");
        }
        other => panic!("expected the edited entry to be named: {other:?}"),
    }
}

#[tokio::test]
async fn a_server_showing_another_tree_at_a_trusted_size_is_a_fork() {
    let honest = spawn().await;
    honest.adopt_policy("fork-1").await;
    honest.adopt_policy("fork-2").await;
    let state = state_file(&honest, "state.json");
    audit(&honest, &state, None).await.unwrap();
    let trusted = std::fs::read(&state).unwrap();
    let n = honest.size().await;

    // Another server signs with the same log key over a different history.
    let dir = tempfile::tempdir().unwrap();
    let key = disclosure_ledger::keys::LOG_KEY_FILE;
    std::fs::copy(honest.dir.path().join(key), dir.path().join(key)).unwrap();
    let url = common::fresh_database_url(dir.path());
    let forked = spawn_with(dir, url, |_| {}).await;
    forked.adopt_policy("other-1").await;
    forked.adopt_policy("other-2").await;
    assert_eq!(forked.size().await, n, "the same size, another tree");

    let opts = |app: &TestApp| Options {
        url: app.base.clone(),
        log_key: String::new(),
        state: state.clone(),
        token: None,
        progress: false,
        insecure_http: false,
        witnesses: Vec::new(),
        quorum: 0,
    };
    let key = honest.text("/v1/log/key").await.trim().to_string();
    let mut o = opts(&forked);
    o.log_key = key.clone();
    match monitor::audit(&o).await {
        Err(MonitorError::Fork(m)) => assert!(m.contains(&format!("trusted size {n}")), "{m}"),
        other => panic!("expected a fork: {other:?}"),
    }
    // Grown past the trusted size, it cannot prove consistency either.
    forked.adopt_policy("other-3").await;
    match monitor::audit(&o).await {
        Err(MonitorError::Fork(m)) => assert!(m.contains("does not extend"), "{m}"),
        other => panic!("expected a fork: {other:?}"),
    }
    assert_eq!(std::fs::read(&state).unwrap(), trusted);
    // The honest log still verifies against the kept state.
    let mut o = opts(&honest);
    o.log_key = key;
    monitor::audit(&o).await.unwrap();
}
