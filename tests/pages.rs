//! The public pages (issue 13), over HTTP and in a real browser: Debian's Chromium, headless,
//! loading the pages from a real server and running their ES modules (WebCrypto included);
//! the DOM it settles on is read back through the pages' `data-testid` hooks. `scripts/test`
//! installs `chromium`; `CHROMIUM` names another binary.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::browser::{attribute, browse, hook, screenshot};

use base64::prelude::*;
use disclosure_ledger::auth::Role;
use serde_json::{json, Value};

/// Every `country-row` of `source`: (country, quarter) → (fulfilled, affected).
fn country_rows(dom: &str, source: &str) -> BTreeMap<(String, String), (u64, u64)> {
    let mut out = BTreeMap::new();
    for piece in dom.split("<tr ").skip(1) {
        let tag = format!(" {}", &piece[..piece.find('>').unwrap_or(0)]);
        if attribute(&tag, "data-testid").as_deref() != Some("country-row")
            || attribute(&tag, "data-source").as_deref() != Some(source)
        {
            continue;
        }
        let n = |k: &str| attribute(&tag, k).and_then(|v| v.parse().ok()).unwrap();
        out.insert(
            (
                attribute(&tag, "data-country").unwrap(),
                attribute(&tag, "data-quarter").unwrap(),
            ),
            (n("data-fulfilled"), n("data-affected")),
        );
    }
    out
}

#[tokio::test]
async fn the_pages_are_served_with_a_strict_policy_and_nothing_from_elsewhere() {
    let app = common::spawn().await;
    for path in ["/", "/receipt", "/about"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "style-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = r.text().await.unwrap();
        // No inline script, style or handler, and nothing loaded from another origin.
        for piece in html.split("<script").skip(1) {
            assert!(
                piece[..piece.find('>').unwrap()].contains("src=\"/assets/"),
                "{path}: inline script"
            );
        }
        for forbidden in [
            " style=",
            " onclick=",
            " onload=",
            "javascript:",
            "http://",
            "https://",
            "//cdn",
        ] {
            assert!(!html.contains(forbidden), "{path} holds {forbidden}");
        }
        for asset in html.split("\"/assets/").skip(1) {
            let name = &asset[..asset.find('"').unwrap()];
            assert_eq!(app.get(&format!("/assets/{name}")).await.status(), 200, "{name}");
        }
    }
    for asset in ["app.js", "verify.js", "receipt.js", "style.css"] {
        let text = app.text(&format!("/assets/{asset}")).await;
        let outside = text
            .match_indices("http")
            .any(|(i, _)| !text[i..].starts_with("http://www.w3.org/2000/svg"));
        assert!(!outside, "{asset} names another origin");
    }
    assert_eq!(app.get("/assets/nothing.js").await.status(), 404);
}

/// With the Telegram dataset backfilled, every country × quarter figure the page shows equals
/// the dataset, and the live figures equal the public report's.
#[tokio::test]
async fn the_page_verifies_the_log_and_shows_the_datasets_figures() {
    let app = common::spawn().await;
    let dataset_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/telegram/telegram-transparency-2024-2026.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
        .args(["dataset", "records"])
        .arg(&dataset_path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = app
        .client
        .post(app.url("/v1/imports"))
        .bearer_auth(app.token(Role::Admin))
        .header("Content-Type", "application/x-ndjson")
        .body(out.stdout)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let profile = tempfile::tempdir().unwrap();
    let dom = browse(profile.path(), &app.url("/")).await;
    assert_eq!(
        hook(&dom, "checkpoint-status", "data-state").as_deref(),
        Some("verified"),
        "{dom}"
    );
    let size = app.size().await;
    let shown = &dom[dom.find("data-testid=\"tree-size\"").unwrap()..];
    let shown: String = shown[shown.find('>').unwrap() + 1..shown.find("</dd>").unwrap()]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(shown, size.to_string());

    let dataset: Value = serde_json::from_slice(&std::fs::read(&dataset_path).unwrap()).unwrap();
    let mut expected = BTreeMap::new();
    for (country, rows) in dataset.as_object().unwrap() {
        for row in rows.as_array().unwrap() {
            let (from, to) = (row["from"].as_str().unwrap(), row["to"].as_str().unwrap());
            let months: u32 = to[4..6].parse::<u32>().unwrap() - from[4..6].parse::<u32>().unwrap();
            if from[..4] == to[..4] && months == 2 {
                let q = (from[4..6].parse::<u32>().unwrap() - 1) / 3 + 1;
                expected.insert(
                    (country.clone(), format!("{}-Q{q}", &from[..4])),
                    (row["requests"].as_u64().unwrap(), row["users"].as_u64().unwrap()),
                );
            }
        }
    }
    let imported: BTreeMap<_, _> = country_rows(&dom, "imported")
        .into_iter()
        .filter(|((_, q), _)| q.contains("-Q"))
        .collect();
    assert_eq!(imported, expected, "the page's imported figures are the dataset's");

    let report = app.get_json("/v1/reports/transparency").await;
    let mut live: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for row in report["live"].as_array().unwrap() {
        let e = live
            .entry((
                row["country"].as_str().unwrap().into(),
                row["quarter"].as_str().unwrap().into(),
            ))
            .or_default();
        e.0 += row["fulfilled"].as_u64().unwrap();
        e.1 += row["accounts_affected"].as_u64().unwrap();
    }
    assert_eq!(
        country_rows(&dom, "live"),
        live,
        "the page's live figures are the public report's"
    );

    let desktop = screenshot(&app.url("/"), 1280, "dashboard-desktop.png").await;
    let phone = screenshot(&app.url("/"), 360, "dashboard-phone.png").await;
    println!("screenshots: {} {}", desktop.display(), phone.display());
}

fn fragment(receipt: &Value) -> String {
    BASE64_URL_SAFE_NO_PAD.encode(receipt.to_string())
}

#[tokio::test]
async fn a_receipt_verifies_in_the_browser_and_one_changed_byte_fails() {
    let app = common::spawn().await;
    let (status, answer) = app
        .admin_post(
            "/v1/authorities",
            json!({ "country": "FRA", "kind": "court", "judicial": true, "name": "Tribunal judiciaire de Paris" }),
        )
        .await;
    assert_eq!(status, 201);
    let receipt = answer["receipt"].clone();
    let profile = tempfile::tempdir().unwrap();
    let dom = browse(profile.path(), &app.url(&format!("/receipt#{}", fragment(&receipt)))).await;
    assert_eq!(
        hook(&dom, "receipt-status", "data-state").as_deref(),
        Some("verified"),
        "{dom}"
    );

    let mut changed_leaf = receipt.clone();
    let leaf = changed_leaf["entries"][0]["leaf_hash"].as_str().unwrap().to_string();
    let first = if leaf.starts_with('0') { "1" } else { "0" };
    let flipped = format!("{first}{}", &leaf[1..]);
    changed_leaf["entries"][0]["leaf_hash"] = json!(flipped);
    let mut changed_note = receipt.clone();
    let note = changed_note["checkpoint"].as_str().unwrap().to_string();
    let second_line = note.find('\n').unwrap() + 1;
    let mut bytes = note.into_bytes();
    bytes[second_line] = if bytes[second_line] == b'9' { b'8' } else { b'9' };
    changed_note["checkpoint"] = json!(String::from_utf8(bytes).unwrap());
    let mut no_entries = receipt.clone();
    no_entries["entries"] = json!([]);
    let mut a_null = receipt.clone();
    a_null["entries"].as_array_mut().unwrap().push(Value::Null);
    for (what, bad) in [
        ("a leaf hash", fragment(&changed_leaf)),
        ("the checkpoint's size", fragment(&changed_note)),
        ("no entries", fragment(&no_entries)),
        ("a null entry", fragment(&a_null)),
        ("not base64url", "!!!".to_string()),
    ] {
        let dom = browse(profile.path(), &app.url(&format!("/receipt#{bad}"))).await;
        assert_eq!(
            hook(&dom, "receipt-status", "data-state").as_deref(),
            Some("failed"),
            "{what}: {dom}"
        );
    }
}

/// The browser keeps the checkpoint it verified; a second server with the same key and another
/// history at the same address is flagged as a fork, and one with a shorter log as a rollback.
#[tokio::test]
async fn a_log_that_forks_or_rolls_back_after_the_browser_verified_it_is_flagged() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let profile = tempfile::tempdir().unwrap();
    // A server on the one address, over a new database in `dir`, with `extra` arguments.
    let start_with = |dir: &Path, extra: &[&str]| {
        let url = common::fresh_database_url(dir);
        let mut args: Vec<std::ffi::OsString> = vec![
            "serve".into(),
            "--listen".into(),
            listen.clone().into(),
            "--database-url".into(),
            url.into(),
            "--data-dir".into(),
            dir.into(),
        ];
        args.extend(extra.iter().map(Into::into));
        common::ServerProcess::run(&args, &[])
    };
    let start = |dir: &Path| start_with(dir, &[]);
    // What the page, in the one browser profile, says of the log at `base`.
    let seen = |base: String| {
        let profile = profile.path().to_path_buf();
        async move {
            let dom = browse(&profile, &format!("{base}/")).await;
            (hook(&dom, "checkpoint-status", "data-state"), dom)
        }
    };
    let register = |base: String, dir: PathBuf, n: usize| async move {
        let settings = disclosure_ledger::config::Settings::new(&dir);
        let (_, tokens) = disclosure_ledger::app::existing_instance_keys(&settings).unwrap();
        let admin = tokens
            .mint(Role::Admin, "a", std::time::Duration::from_secs(600), None)
            .unwrap();
        for i in 0..n {
            let r = reqwest::Client::new()
                .post(format!("{base}/v1/authorities"))
                .bearer_auth(&admin)
                .json(&json!({ "country": "FRA", "kind": "court", "judicial": true, "name": format!("Court {i} of {n}") }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    };

    let first = tempfile::tempdir().unwrap();
    let a = start(first.path());
    register(a.base.clone(), first.path().to_path_buf(), 4).await;
    let (state, dom) = seen(a.base.clone()).await;
    assert_eq!(state.as_deref(), Some("verified"), "{dom}");
    register(a.base.clone(), first.path().to_path_buf(), 2).await;
    let (state, dom) = seen(a.base.clone()).await;
    assert_eq!(state.as_deref(), Some("verified"), "grown: {dom}");
    a.kill();

    // Same log key, another history: shorter (a rollback), then longer (a fork).
    let second = tempfile::tempdir().unwrap();
    std::fs::copy(
        first.path().join(disclosure_ledger::keys::LOG_KEY_FILE),
        second.path().join(disclosure_ledger::keys::LOG_KEY_FILE),
    )
    .unwrap();
    let b = start(second.path());
    let (state, dom) = seen(b.base.clone()).await;
    assert_eq!(state.as_deref(), Some("rollback"), "{dom}");
    register(b.base.clone(), second.path().to_path_buf(), 9).await;
    let (state, dom) = seen(b.base.clone()).await;
    assert_eq!(state.as_deref(), Some("fork"), "{dom}");
    b.kill();

    // Another key under another name at the same address is another log, not a first visit.
    let third = tempfile::tempdir().unwrap();
    let c = start_with(third.path(), &["--origin", "disclosure-ledger.localhost/log2"]);
    let (state, dom) = seen(c.base.clone()).await;
    assert_eq!(state.as_deref(), Some("fork"), "another log at the same address: {dom}");
}
