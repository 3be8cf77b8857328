//! C2SP tlog-tiles over HTTP: hash tiles reproduce the tree a client recomputes from the
//! entries, entry bundles hold the entries, full tiles are immutable, and the public bundle
//! follows the embargo.

mod common;

use common::requests::{court, order, submit};
use common::spawn;
use disclosure_ledger::auth::Role;
use disclosure_ledger::ledger::{merkle::MemoryHashes, Entry, Hash};
use serde_json::Value;

fn bundle(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        out.push(String::from_utf8(rest[2..2 + len].to_vec()).unwrap());
        rest = &rest[2 + len..];
    }
    out
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks(32).map(|c| Hash(c.try_into().unwrap())).collect()
}

#[tokio::test]
async fn tiles_and_bundles_reproduce_the_tree_and_full_tiles_are_immutable() {
    let app = spawn().await;
    let mut tasks = Vec::new();
    for i in 0..299 {
        let (client, url, token) = (app.client.clone(), app.url("/v1/policies"), app.token(Role::Admin));
        let document = common::policy_document(&format!("tile-{i}"));
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({ "name": format!("tile-{i}"), "document": document }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cp = app.verifier().await.verify(&app.text("/checkpoint").await).unwrap();
    assert_eq!(cp.size, 300);

    let full = app.get("/tile/entries/000").await;
    assert_eq!(full.status(), 200);
    assert!(full.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let mut texts = bundle(&full.bytes().await.unwrap());
    let partial = app.get("/tile/entries/001.p/44").await;
    assert!(partial.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-cache"));
    texts.extend(bundle(&partial.bytes().await.unwrap()));
    assert_eq!(texts.len(), 300);
    let mut tree = MemoryHashes::new();
    for (i, text) in texts.iter().enumerate() {
        let e = Entry::from_canonical(text.as_bytes()).unwrap();
        assert_eq!(e.index, i as u64);
        tree.push(e.leaf_hash().unwrap()).unwrap();
    }
    assert_eq!(tree.root().unwrap(), cp.root);

    let level0 = hashes(&app.get("/tile/0/000").await.bytes().await.unwrap());
    let level0_tail = hashes(&app.get("/tile/0/001.p/44").await.bytes().await.unwrap());
    assert_eq!(level0.len() + level0_tail.len(), 300);
    for (i, h) in level0.iter().chain(level0_tail.iter()).enumerate() {
        assert_eq!(
            *h,
            disclosure_ledger::ledger::entry::leaf_hash(texts[i].as_bytes()),
            "leaf {i}"
        );
    }
    let level1 = hashes(&app.get("/tile/1/000.p/1").await.bytes().await.unwrap());
    assert_eq!(
        level1,
        vec![disclosure_ledger::ledger::merkle::root(256, &tree).unwrap()]
    );

    for (path, status) in [
        ("/tile/0/001", 404),
        ("/tile/0/001.p/45", 404),
        ("/tile/1/000", 404),
        ("/tile/0/1", 400),
        ("/tile/9/000", 400),
    ] {
        assert_eq!(app.get(path).await.status(), status, "{path}");
    }
}

#[tokio::test]
async fn a_public_bundle_carries_only_what_the_public_may_see() {
    let app = spawn().await;
    let c = court(&app).await;
    assert_eq!(submit(&app, &c.officer, &order(&c, "tiles-1", "fraud")).await.0, 201);
    let public = bundle(&app.get("/tile/entries/000.p/5").await.bytes().await.unwrap());
    let stub: Value = serde_json::from_str(&public[3]).unwrap();
    assert!(
        stub.get("kind").is_none() && stub["embargoed_until"].is_string(),
        "{stub}"
    );
    // The public checks the embargoed leaf against the hash tile instead.
    let level0 = hashes(&app.get("/tile/0/000.p/5").await.bytes().await.unwrap());
    assert_eq!(
        stub["leaf_hash"].as_str().unwrap(),
        disclosure_ledger::ledger::hex_hash(&level0[3])
    );
    let r = app
        .client
        .get(app.url("/tile/entries/000.p/5"))
        .bearer_auth(app.token(Role::Auditor))
        .send()
        .await
        .unwrap();
    let full = bundle(&r.bytes().await.unwrap());
    let e = Entry::from_canonical(full[3].as_bytes()).unwrap();
    assert_eq!(
        (e.kind.as_str(), e.leaf_hash().unwrap()),
        ("request.received", level0[3])
    );
}
