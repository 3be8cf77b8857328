//! Tamper tests: the ledger's database is edited behind the running server's back, and
//! `disclosure-ledger verify` must fail and name the entry where the history went wrong.

mod common;

use std::process::Command;

use diesel::prelude::*;
use disclosure_ledger::ledger::{entry::GENESIS_PREV, hex_hash, merkle, merkle::MemoryHashes, Entry};
use disclosure_ledger::store::hashes::PER_ROW;
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
    let stored: Vec<merkle::Hash> = (0..keep).map(|i| stored_hash(&app, i)).collect();
    exec(&app, "DELETE FROM tree_hash_pages");
    write_stored_hashes(&app, &stored);
    exec(&app, "UPDATE log_head SET size = 5");
    let out = assert_fails_at(&app, 5, &[]);
    assert!(out.contains("missing"), "{out}");
}

/// Every stored tree hash is checked against the tree recomputed from the entries: changed,
/// cut off or made malformed behind the ledger's back, the hash is named with the entry that
/// wrote it.
#[tokio::test]
async fn a_changed_cut_or_malformed_stored_tree_hash_is_named() {
    use disclosure_ledger::ledger::merkle::stored_hash_index;
    // Entry 5 stores its leaf hash and then the hash of the subtree (4, 5) it completes.
    let interior = stored_hash_index(0, 5) + 1;
    let at = (interior % PER_ROW) as usize * 32;

    let app = ledger().await;
    edit_hash_row(&app, interior, |row| row[at] ^= 1);
    let out = assert_fails_at(&app, 5, &[]);
    assert!(
        out.contains(&format!(
            "stored tree hash {interior} (completed by entry 5) does not match"
        )),
        "{out}"
    );

    // The row ends just before it: that hash and every later one are missing.
    let app = ledger().await;
    edit_hash_row(&app, interior, |row| row.truncate(at));
    let out = assert_fails_at(&app, 5, &[]);
    assert!(
        out.contains(&format!(
            "stored tree hash {interior} (written with entry 5) is missing"
        )),
        "{out}"
    );

    // A row that is not whole hashes holds none: the first hash of the row is named.
    let app = ledger().await;
    edit_hash_row(&app, interior, |row| {
        row.pop();
    });
    let out = assert_fails_at(&app, 0, &[]);
    assert!(
        out.contains("stored tree hash 0 (written with entry 0) is missing or malformed"),
        "{out}"
    );
}

/// A row of tree hashes outside the tree — after the last (even empty: it would stop the writer
/// from adding that row), before the first, or far away where `page × 32` overflows — or a
/// last row longer than the entries wrote, is tampering: nothing the entries explain.
#[tokio::test]
async fn tree_hash_rows_outside_the_tree_are_named() {
    let count = disclosure_ledger::ledger::merkle::stored_hash_count(7);
    let last = ((count - 1) / PER_ROW) as i64;
    let row0 = stored_hash(&ledger().await, 0).0.to_vec();
    for (page, bytes) in [
        (last + 1, Vec::new()),
        (last + 1, row0.clone()),
        (-1, row0.clone()),
        (1 << 59, Vec::new()),
        (1 << 62, vec![0; 1024]),
    ] {
        let app = ledger().await;
        diesel::insert_into(schema::tree_hash_pages::table)
            .values((
                schema::tree_hash_pages::page.eq(page),
                schema::tree_hash_pages::hashes.eq(bytes.clone()),
            ))
            .execute(&mut db(&app))
            .unwrap();
        let out = assert_fails_at(&app, 7, &[]);
        assert!(
            out.contains("outside the tree"),
            "row {page} of {} bytes: {out}",
            bytes.len()
        );
    }
    let app = ledger().await;
    edit_hash_row(&app, count - 1, |row| row.extend_from_slice(&[7; 32]));
    let out = assert_fails_at(&app, 7, &[]);
    assert!(out.contains("go beyond what the 7 stored entries wrote"), "{out}");
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
    exec(app, "DELETE FROM tree_hash_pages");
    write_stored_hashes(app, tree.stored());
}

/// The stored tree hash with stored-hash index `i`, from its row.
fn stored_hash(app: &common::TestApp, i: u64) -> merkle::Hash {
    let row: Vec<u8> = schema::tree_hash_pages::table
        .filter(schema::tree_hash_pages::page.eq((i / PER_ROW) as i64))
        .select(schema::tree_hash_pages::hashes)
        .first(&mut db(app))
        .unwrap();
    let at = (i % PER_ROW) as usize * 32;
    merkle::Hash(row[at..at + 32].try_into().unwrap())
}

/// Writes `hashes` as the stored tree hashes from index 0, in rows as the sequencer does.
fn write_stored_hashes(app: &common::TestApp, hashes: &[merkle::Hash]) {
    let mut conn = db(app);
    for (page, run) in hashes.chunks(PER_ROW as usize).enumerate() {
        diesel::insert_into(schema::tree_hash_pages::table)
            .values((
                schema::tree_hash_pages::page.eq(page as i64),
                schema::tree_hash_pages::hashes.eq(run.iter().flat_map(|h| h.0).collect::<Vec<u8>>()),
            ))
            .execute(&mut conn)
            .unwrap();
    }
}

/// Replaces the row holding stored-hash index `i` with `f` applied to its bytes.
fn edit_hash_row(app: &common::TestApp, i: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let page = (i / PER_ROW) as i64;
    let mut conn = db(app);
    let mut row: Vec<u8> = schema::tree_hash_pages::table
        .filter(schema::tree_hash_pages::page.eq(page))
        .select(schema::tree_hash_pages::hashes)
        .first(&mut conn)
        .unwrap();
    f(&mut row);
    diesel::update(schema::tree_hash_pages::table.filter(schema::tree_hash_pages::page.eq(page)))
        .set(schema::tree_hash_pages::hashes.eq(row))
        .execute(&mut conn)
        .unwrap();
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

/// The writer never stores or serves a checkpoint over a tree it could not serve: when the
/// newest row of stored tree hashes does not end where the head says (cut short, or longer),
/// the batch fails and appends nothing; with the row restored, appends go on.
#[tokio::test]
async fn a_batch_refuses_to_append_when_the_stored_tree_hashes_do_not_end_at_the_head() {
    let app = ledger().await;
    // 7 entries store 11 hashes: row 0 is short, and the next batch extends it.
    let size = app.size().await;
    assert_eq!(size, 7);
    let authority = || serde_json::json!({ "country": "FRA", "kind": "court", "judicial": true, "name": "Tribunal", "domains": ["justice.fr"] });
    let original = stored_hash(&app, 10);
    for tamper in [
        Box::new(|r: &mut Vec<u8>| r.truncate(r.len() - 32)) as Box<dyn FnOnce(&mut Vec<u8>)>,
        Box::new(|r: &mut Vec<u8>| r.extend_from_slice(&[7; 32])),
    ] {
        edit_hash_row(&app, 0, tamper);
        let (status, body) = app.admin_post("/v1/authorities", authority()).await;
        assert!(status >= 500, "{status} {body}");
        assert_eq!(app.size().await, size, "nothing appended");
        edit_hash_row(&app, 0, |r| {
            r.truncate(10 * 32);
            r.extend_from_slice(&original.0);
        });
    }
    let (status, body) = app.admin_post("/v1/authorities", authority()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.size().await, size + 1);
    assert_eq!(verify(&app, &[]).code, 0);
}
