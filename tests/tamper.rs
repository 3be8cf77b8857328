//! Tamper tests: the ledger's database is edited behind the running server's back, and
//! `disclosure-ledger verify` must fail and name the entry where the history went wrong.

mod common;

use std::process::Command;

use diesel::prelude::*;
use disclosure_ledger::ledger::{entry::GENESIS_PREV, hex_hash, merkle::MemoryHashes, Entry};
use disclosure_ledger::store::{self, schema};

/// A ledger of 7 entries, each committed in its own batch, so there is a signed checkpoint at
/// every size from 1 to 7.
async fn ledger() -> common::TestApp {
    let app = common::spawn().await;
    for i in 1..7 {
        app.adopt_policy(&format!("policy-{i}")).await;
    }
    app
}

struct Outcome {
    code: i32,
    stdout: String,
}

fn verify(app: &common::TestApp, extra: &[&str]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
        .args(["verify", "--database", &app.database_url, "--data-dir"])
        .arg(app.dir.path())
        .args(extra)
        .output()
        .expect("run disclosure-ledger verify");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn assert_fails_at(app: &common::TestApp, index: u64, extra: &[&str]) -> String {
    let o = verify(app, extra);
    assert_eq!(o.code, 2, "verify should fail: {}", o.stdout);
    assert!(
        o.stdout.contains(&format!("FAILED at entry {index}:")),
        "expected entry {index} to be named: {}",
        o.stdout
    );
    o.stdout
}

fn db(app: &common::TestApp) -> store::DbConnection {
    store::establish(&app.database_url).unwrap()
}

fn exec(app: &common::TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut db(app)).unwrap();
}

#[tokio::test]
async fn an_untouched_ledger_verifies() {
    let app = ledger().await;
    let o = verify(&app, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o.stdout.contains("checked 7 entries and 7 checkpoints"), "{}", o.stdout);
    assert!(o.stdout.contains("entries/s"), "{}", o.stdout);
}

#[tokio::test]
async fn a_changed_payload_byte_is_named() {
    let app = ledger().await;
    exec(
        &app,
        "UPDATE entries SET canonical = replace(canonical, 'policy-2', 'policy-X') WHERE idx = 2",
    );
    assert_fails_at(&app, 2, &[]);
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let app = ledger().await;
    exec(&app, "DELETE FROM entries WHERE idx = 3");
    assert_fails_at(&app, 3, &[]);
}

#[tokio::test]
async fn two_swapped_entries_are_named() {
    let app = ledger().await;
    let mut conn = db(&app);
    let rows: Vec<(i64, String)> = schema::entries::table
        .select((schema::entries::idx, schema::entries::canonical))
        .filter(schema::entries::idx.eq_any([3i64, 4]))
        .order(schema::entries::idx.asc())
        .load(&mut conn)
        .unwrap();
    for (idx, canonical) in [(3i64, &rows[1].1), (4, &rows[0].1)] {
        diesel::update(schema::entries::table.filter(schema::entries::idx.eq(idx)))
            .set(schema::entries::canonical.eq(canonical))
            .execute(&mut conn)
            .unwrap();
    }
    assert_fails_at(&app, 3, &[]);
}

#[tokio::test]
async fn a_truncated_tail_is_named() {
    let app = ledger().await;
    exec(&app, "DELETE FROM sealed_details WHERE entry_idx >= 5");
    exec(&app, "DELETE FROM entries WHERE idx >= 5");
    let keep = disclosure_ledger::ledger::merkle::stored_hash_count(5);
    exec(&app, &format!("DELETE FROM tree_hashes WHERE id >= {keep}"));
    exec(&app, "UPDATE log_head SET size = 5");
    let out = assert_fails_at(&app, 5, &[]);
    assert!(out.contains("missing"), "{out}");
}

/// Every stored tree hash is checked against the tree recomputed from the entries, however it
/// was read (a whole page at once, or row by row when the page is not whole): changed, deleted
/// or cut short, the hash is named with the entry that wrote it.
#[tokio::test]
async fn a_changed_deleted_or_truncated_stored_tree_hash_is_named() {
    use disclosure_ledger::ledger::merkle::stored_hash_index;
    // Entry 5 stores its leaf hash and then the hash of the subtree (4, 5) it completes.
    let interior = stored_hash_index(0, 5) + 1;
    let set = |app: &common::TestApp, bytes: Vec<u8>| {
        diesel::update(schema::tree_hashes::table.filter(schema::tree_hashes::id.eq(interior as i64)))
            .set(schema::tree_hashes::hash.eq(bytes))
            .execute(&mut db(app))
            .unwrap();
    };
    let app = ledger().await;
    set(&app, vec![0; 32]);
    let out = assert_fails_at(&app, 5, &[]);
    assert!(
        out.contains(&format!(
            "stored tree hash {interior} (completed by entry 5) does not match"
        )),
        "{out}"
    );

    let app = ledger().await;
    exec(&app, &format!("DELETE FROM tree_hashes WHERE id = {interior}"));
    let out = assert_fails_at(&app, 5, &[]);
    assert!(
        out.contains(&format!(
            "stored tree hash {interior} (written with entry 5) is missing"
        )),
        "{out}"
    );

    let app = ledger().await;
    set(&app, vec![0; 31]);
    let out = assert_fails_at(&app, 5, &[]);
    assert!(
        out.contains(&format!(
            "stored tree hash {interior} (written with entry 5) is missing or not 32 bytes"
        )),
        "{out}"
    );
}

/// Rewrites entries from `from` on with different content, re-chained and re-hashed so that
/// every stored hash agrees with the new entries: only a signed checkpoint can tell.
fn rewrite_tail_as_fork(app: &common::TestApp, from: u64) {
    let mut conn = db(app);
    let rows: Vec<(i64, String)> = schema::entries::table
        .select((schema::entries::idx, schema::entries::canonical))
        .order(schema::entries::idx.asc())
        .load(&mut conn)
        .unwrap();
    let mut tree = MemoryHashes::new();
    let mut prev = GENESIS_PREV.to_string();
    for (idx, canonical) in rows {
        let mut e = Entry::from_canonical(canonical.as_bytes()).unwrap();
        if idx as u64 >= from {
            e.prev = prev.clone();
            e.public
                .insert("name".into(), serde_json::json!(format!("forged-{idx}")));
            let forged = String::from_utf8(e.canonical_bytes().unwrap()).unwrap();
            diesel::update(schema::entries::table.filter(schema::entries::idx.eq(idx)))
                .set(schema::entries::canonical.eq(forged))
                .execute(&mut conn)
                .unwrap();
        }
        let leaf = e.leaf_hash().unwrap();
        prev = hex_hash(&leaf);
        tree.push(leaf).unwrap();
    }
    for (id, h) in tree.stored().iter().enumerate() {
        diesel::update(schema::tree_hashes::table.filter(schema::tree_hashes::id.eq(id as i64)))
            .set(schema::tree_hashes::hash.eq(h.0.to_vec()))
            .execute(&mut conn)
            .unwrap();
    }
}

#[tokio::test]
async fn a_consistently_rehashed_fork_is_caught_by_a_stored_signed_checkpoint() {
    let app = ledger().await;
    rewrite_tail_as_fork(&app, 4);
    let out = assert_fails_at(&app, 4, &[]);
    assert!(out.contains("checkpoint signed for size 5"), "{out}");
}

#[tokio::test]
async fn a_fork_whose_checkpoints_were_also_deleted_is_caught_by_one_a_monitor_kept() {
    let app = ledger().await;
    let kept = app.text("/v1/log/checkpoint").await;
    let kept_path = app.dir.path().join("trusted-checkpoint");
    std::fs::write(&kept_path, kept).unwrap();
    rewrite_tail_as_fork(&app, 4);
    exec(&app, "DELETE FROM checkpoints WHERE size > 4");
    // Without the monitor's checkpoint the rewrite is invisible to the database alone …
    assert_eq!(verify(&app, &[]).code, 0);
    // … with it, the fork is named.
    let out = assert_fails_at(&app, 4, &["--checkpoint", kept_path.to_str().unwrap()]);
    assert!(out.contains("rewritten"), "{out}");
}

#[tokio::test]
async fn a_forged_checkpoint_signature_is_refused() {
    let app = ledger().await;
    exec(&app, "UPDATE checkpoints SET note = replace(note, 'disclosure-ledger.localhost/log ', 'disclosure-ledger.localhost/log AAAA') WHERE size = 3");
    let o = verify(&app, &[]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(o.stdout.contains("size 3 does not verify"), "{}", o.stdout);
}
