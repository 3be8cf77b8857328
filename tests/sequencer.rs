//! The append path on its own: an operation whose entry cannot be written fails with its
//! state changes rolled back, and a failing operation does not take its batch down.

mod common;

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use disclosure_ledger::ledger::LogSigner;
use disclosure_ledger::metrics::Metrics;
use disclosure_ledger::store::{self, schema::policies, NewEntry, Sequencer, StoreError};
use serde_json::json;

fn sequencer(url: &str, batch_wait: Duration) -> Sequencer {
    sequencer_with_metrics(url, batch_wait).0
}

fn sequencer_with_metrics(url: &str, batch_wait: Duration) -> (Sequencer, Arc<Metrics>) {
    let mut conn = store::establish(url).unwrap();
    store::migrate(&mut conn).unwrap();
    let signer = signer();
    let metrics = Arc::new(Metrics::new());
    (Sequencer::start(conn, signer, metrics.clone(), 64, batch_wait), metrics)
}

/// An operation that records a policy row named `name` and appends its entry.
fn adopting(
    name: &'static str,
) -> impl FnOnce(&mut store::AppendCtx<'_>) -> Result<((), Vec<NewEntry>), StoreError> + Clone {
    move |ctx| {
        insert_policy(ctx.conn, ctx.next_index, name)?;
        let public = json!({ "name": name }).as_object().cloned().unwrap();
        Ok(((), vec![NewEntry::log_level("policy.adopted", public)]))
    }
}

/// An operation that writes a policy row and then fails.
fn failing(
    name: &'static str,
) -> impl FnOnce(&mut store::AppendCtx<'_>) -> Result<((), Vec<NewEntry>), StoreError> + Clone {
    move |ctx| {
        insert_policy(ctx.conn, ctx.next_index, name)?;
        Err(StoreError::Corrupt("refused by the operation".into()))
    }
}

fn insert_policy(conn: &mut store::DbConnection, at: u64, name: &str) -> Result<(), StoreError> {
    diesel::insert_into(policies::table)
        .values((
            policies::adopted_entry.eq(at as i64),
            policies::name.eq(name),
            policies::sha256.eq("00"),
            policies::document.eq("x"),
        ))
        .execute(conn)?;
    Ok(())
}

/// The log's signer in these tests.
fn signer() -> LogSigner {
    LogSigner::new("test.localhost/log", ed25519_dalek::SigningKey::from_bytes(&[3; 32])).unwrap()
}

/// `verify` over the whole ledger, which must pass; how many entries it checked.
fn verified(url: &str) -> u64 {
    let mut conn = store::establish(url).unwrap();
    let verifier = disclosure_ledger::ledger::LogVerifier::new(&signer().verifier_key()).unwrap();
    let report = store::verify::verify_ledger(&mut conn, &verifier, &[], |_| {}).unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    report.entries
}

fn count(url: &str) -> (i64, i64) {
    let mut conn = store::establish(url).unwrap();
    let p: i64 = policies::table.count().get_result(&mut conn).unwrap();
    let e: i64 = store::schema::entries::table.count().get_result(&mut conn).unwrap();
    (p, e)
}

#[tokio::test]
async fn an_operation_whose_entry_cannot_be_written_fails_and_leaves_no_state() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let seq = sequencer(&url, Duration::ZERO);
    let result = seq
        .append(|ctx| {
            insert_policy(ctx.conn, ctx.next_index, "float")?;
            let public = json!({ "ratio": 0.5 }).as_object().cloned().unwrap();
            Ok::<_, StoreError>(((), vec![NewEntry::log_level("policy.adopted", public)]))
        })
        .await;
    assert!(matches!(result, Err(StoreError::Ledger(_))), "{result:?}");
    assert_eq!(count(&url), (0, 0));
}

#[tokio::test]
async fn a_failing_operation_rolls_back_only_its_own_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    // Wait a little for more operations so that both land in one batch.
    let seq = sequencer(&url, Duration::from_millis(50));
    let good = seq.append(|ctx| {
        insert_policy(ctx.conn, ctx.next_index, "good")?;
        let public = json!({ "name": "good" }).as_object().cloned().unwrap();
        Ok::<_, StoreError>(((), vec![NewEntry::log_level("policy.adopted", public)]))
    });
    let bad = seq.append(|ctx| {
        insert_policy(ctx.conn, ctx.next_index, "bad")?;
        Err::<((), Vec<NewEntry>), _>(StoreError::Corrupt("refused by the operation".into()))
    });
    let (good, bad) = tokio::join!(good, bad);
    let ((), appended) = good.unwrap();
    assert!(bad.is_err());
    assert_eq!(appended.entries.len(), 1);
    assert_eq!(appended.checkpoint.as_ref().unwrap().size, 1);
    assert_eq!(count(&url), (1, 1));
}

/// A batch runs first without savepoints. When an operation in it fails, the whole batch is
/// rolled back and run again with a savepoint per operation: the operations before and after
/// the failing one commit once each (their first run left nothing), the failing one leaves
/// nothing, and the next batches go straight to savepoints, so a second failure costs no
/// second run. A batch without failures, or of one failing operation, is never run twice.
#[tokio::test]
async fn a_batch_with_a_failing_operation_is_run_again_with_savepoints_and_the_others_commit_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let (seq, metrics) = sequencer_with_metrics(&url, Duration::from_millis(50));

    let alone = seq.append(failing("alone")).await;
    assert!(matches!(alone, Err(StoreError::Corrupt(_))), "{alone:?}");
    assert_eq!(metrics.failed_operations.get(), 1);
    assert_eq!(
        metrics.isolated_reruns.get(),
        0,
        "a failing operation alone is not run twice"
    );
    assert_eq!(count(&url), (0, 0));

    let (a, b) = tokio::join!(seq.append(adopting("a")), seq.append(adopting("b")));
    assert_eq!(a.unwrap().1.checkpoint.unwrap().size, 2);
    assert!(b.is_ok());
    assert_eq!(metrics.isolated_reruns.get(), 0, "a batch without failures runs once");

    let (before, bad, after) = tokio::join!(
        seq.append(adopting("before")),
        seq.append(failing("bad")),
        seq.append(adopting("after")),
    );
    let ((), before) = before.unwrap();
    let ((), after) = after.unwrap();
    assert!(matches!(bad, Err(StoreError::Corrupt(_))), "{bad:?}");
    assert_eq!(before.entries[0].entry.index, 2);
    assert_eq!(after.entries[0].entry.index, 3);
    assert_eq!(before.checkpoint.unwrap().size, 4);
    assert_eq!(metrics.isolated_reruns.get(), 1);
    assert_eq!(metrics.failed_operations.get(), 2);
    assert_eq!(count(&url), (4, 4), "the first run of the batch left nothing behind");

    let (bad, good) = tokio::join!(seq.append(failing("bad again")), seq.append(adopting("good")));
    assert!(bad.is_err());
    assert_eq!(good.unwrap().1.entries[0].entry.index, 4);
    assert_eq!(
        metrics.isolated_reruns.get(),
        1,
        "right after a fall-back, savepoints from the start"
    );
    assert_eq!(metrics.failed_operations.get(), 3);
    assert_eq!(count(&url), (5, 5));

    verified(&url);
}

/// Each writer keeps the log's tip from its own last batch; another writer appending in
/// between must make it read the tip afresh, or it would chain from a stale entry and fork.
#[tokio::test]
async fn writers_taking_turns_on_one_database_each_append_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let (one, two) = (sequencer(&url, Duration::ZERO), sequencer(&url, Duration::ZERO));
    for round in 0..5u64 {
        for (n, seq) in [&one, &two, &one, &one, &two].into_iter().enumerate() {
            let ((), appended) = seq.append(adopting("turn")).await.unwrap();
            assert_eq!(appended.entries[0].entry.index, round * 5 + n as u64);
        }
    }
    assert_eq!(verified(&url), 25);
}

/// The policy in force is read once per batch; an adoption in the batch is seen by the
/// operations after it, and one rolled back is not.
#[tokio::test]
async fn operations_after_an_adoption_in_the_same_batch_see_the_new_policy() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let seq = sequencer(&url, Duration::from_millis(50));
    let read = || {
        |ctx: &mut store::AppendCtx<'_>| {
            let sha = disclosure_ledger::policy::in_force_for(ctx)?.map(|p| p.1);
            Ok::<_, StoreError>((sha, Vec::new()))
        }
    };
    let document = format!("{}\n# amended\n", disclosure_ledger::policy::DEFAULT_DOCUMENT);
    let adopt = |document: String, fail: bool| {
        move |ctx: &mut store::AppendCtx<'_>| {
            let entry = disclosure_ledger::policy::adoption(ctx, "amended", &document)?;
            if fail {
                // Reads the policy it adopted, then fails: its savepoint is rolled back.
                disclosure_ledger::policy::in_force_for(ctx)?;
                return Err(StoreError::Corrupt("refused by the operation".into()));
            }
            Ok(((), vec![entry]))
        }
    };
    let default = format!("{}\n# default\n", disclosure_ledger::policy::DEFAULT_DOCUMENT);
    seq.append(adopt(default.clone(), false)).await.unwrap();
    let (before, adopted, after) = tokio::join!(
        seq.append(read()),
        seq.append(adopt(document.clone(), false)),
        seq.append(read())
    );
    adopted.unwrap();
    let (default_sha, amended_sha) = (
        disclosure_ledger::policy::document_sha256(&default),
        disclosure_ledger::policy::document_sha256(&document),
    );
    assert_eq!(before.unwrap().0, Some(default_sha.clone()));
    assert_eq!(after.unwrap().0, Some(amended_sha.clone()), "the adoption before it");

    let third = format!("{}\n# third\n", disclosure_ledger::policy::DEFAULT_DOCUMENT);
    let (before, refused, after) = tokio::join!(seq.append(read()), seq.append(adopt(third, true)), seq.append(read()));
    assert!(refused.is_err());
    assert_eq!(before.unwrap().0, Some(amended_sha.clone()));
    assert_eq!(
        after.unwrap().0,
        Some(amended_sha),
        "a rolled-back adoption is not in force"
    );
    verified(&url);
}

/// Defence in depth behind the door checks: an operation that hands the sequencer an entry its
/// verifier would refuse (here integers beyond ±(2^53 − 1), which canonicalisation would round
/// through a float, in the public part and in the restricted details) fails with its state
/// rolled back, and the ledger around it still verifies.
#[tokio::test]
async fn an_entry_that_verify_would_refuse_is_never_signed() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let seq = sequencer(&url, Duration::ZERO);
    let good = |name: &'static str| {
        move |ctx: &mut store::AppendCtx<'_>| {
            insert_policy(ctx.conn, ctx.next_index, name)?;
            let public = json!({ "name": name }).as_object().cloned().unwrap();
            Ok::<_, StoreError>(((), vec![NewEntry::log_level("policy.adopted", public)]))
        }
    };
    seq.append(good("before")).await.unwrap();
    let unsafe_entries = [
        NewEntry::log_level(
            "aggregate.imported",
            json!({ "fulfilled_requests": 9_007_199_254_740_993u64 })
                .as_object()
                .cloned()
                .unwrap(),
        ),
        NewEntry::log_level(
            "aggregate.imported",
            json!({ "n": -9_007_199_254_740_992i64 }).as_object().cloned().unwrap(),
        ),
        NewEntry {
            restricted: Some(json!({ "values": { "ip_address": u64::MAX } })),
            ..NewEntry::log_level("request.disclosed", json!({ "ok": 1 }).as_object().cloned().unwrap())
        },
    ];
    for ne in unsafe_entries {
        let result = seq
            .append(move |ctx| {
                insert_policy(ctx.conn, ctx.next_index, "unsafe")?;
                Ok::<_, StoreError>(((), vec![ne]))
            })
            .await;
        assert!(matches!(result, Err(StoreError::Ledger(_))), "{result:?}");
    }
    seq.append(good("after")).await.unwrap();
    assert_eq!(
        count(&url),
        (2, 2),
        "only the two good operations left state and entries"
    );

    assert_eq!(verified(&url), 2);
}

/// A panic inside one operation fails that operation only: the writer survives, says so in
/// the log, and the next operation commits.
#[tokio::test]
async fn a_panicking_operation_fails_alone_and_the_writer_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let seq = sequencer(&url, Duration::ZERO);
    let result = seq
        .append(|ctx| -> Result<((), Vec<NewEntry>), StoreError> {
            insert_policy(ctx.conn, ctx.next_index, "doomed")?;
            let hours: i64 = std::hint::black_box(i64::MAX);
            let _ = chrono::Utc::now() + chrono::Duration::hours(hours);
            unreachable!("time arithmetic overflowed above")
        })
        .await;
    assert!(result.is_err());
    assert!(seq.is_alive());
    seq.append(|ctx| {
        insert_policy(ctx.conn, ctx.next_index, "after")?;
        let public = json!({ "name": "after" }).as_object().cloned().unwrap();
        Ok::<_, StoreError>(((), vec![NewEntry::log_level("policy.adopted", public)]))
    })
    .await
    .unwrap();
    assert_eq!(count(&url), (1, 1));
}

/// The queue in front of the writer is bounded: when it is full an operation is refused at
/// once as unavailable (503 with `Retry-After` over HTTP), and memory stays flat.
#[tokio::test]
async fn a_full_queue_refuses_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let mut conn = store::establish(&url).unwrap();
    store::migrate(&mut conn).unwrap();
    let signer = signer();
    let seq = Sequencer::start_reconnecting(conn, &url, 1, signer, Arc::new(Metrics::new()), 1, Duration::ZERO);
    // The first operation holds the writer for a while; the second waits in the queue.
    let s = seq.clone();
    let slow = tokio::spawn(async move {
        s.append(|_ctx| {
            std::thread::sleep(Duration::from_millis(400));
            Ok::<_, StoreError>(((), Vec::new()))
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let s = seq.clone();
    let queued = tokio::spawn(async move { s.append(|_ctx| Ok::<_, StoreError>(((), Vec::new()))).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = seq.append(|_ctx| Ok::<_, StoreError>(((), Vec::new()))).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_, _))), "{refused:?}");
    slow.await.unwrap().unwrap();
    queued.await.unwrap().unwrap();
}

/// Under writes that never pause, with a reader reading all along, the SQLite WAL is still
/// checkpointed into the database file and started over, so it stays a few MiB however much is
/// written. (A checkpoint that runs only beside the writer never finishes between two of its
/// transactions, and the WAL then grows by everything written: 55 MiB here.)
#[tokio::test]
async fn under_writes_that_never_pause_the_sqlite_wal_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    if store::is_postgres(&url) {
        return;
    }
    let mut conn = store::establish(&url).unwrap();
    store::migrate(&mut conn).unwrap();
    let signer = signer();
    let seq = Sequencer::start_reconnecting(conn, &url, 10_000, signer, Arc::new(Metrics::new()), 64, Duration::ZERO);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (url, done) = (url.clone(), done.clone());
        std::thread::spawn(move || {
            let mut conn = store::establish(&url).unwrap();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let _: i64 = store::schema::entries::table.count().get_result(&mut conn).unwrap();
            }
        })
    };
    let filler = "x".repeat(4096);
    let writers: Vec<_> = (0..32)
        .map(|_| {
            let (seq, filler) = (seq.clone(), filler.clone());
            tokio::spawn(async move {
                for _ in 0..320 {
                    let filler = filler.clone();
                    seq.append(move |_ctx| {
                        let public = json!({ "filler": filler }).as_object().cloned().unwrap();
                        Ok::<_, StoreError>(((), vec![NewEntry::log_level("policy.adopted", public)]))
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    let wal = std::path::PathBuf::from(format!("{url}-wal"));
    let mut largest = 0;
    for w in writers {
        w.await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    let db = std::fs::metadata(&url).unwrap().len();
    assert!(db > 30 << 20, "the entries are in the database file: {db} bytes");
    assert!(largest < 16 << 20, "the WAL grew to {largest} bytes");
}

/// A migration run that fails part-way leaves the schema as it found it, and says why at once
/// instead of trying again: the migrations run in one transaction on both backends. Here a
/// table the third migration creates is already there, with other columns.
#[tokio::test]
async fn a_migration_run_that_fails_part_way_leaves_no_part_of_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let mut conn = store::establish(&url).unwrap();
    diesel::sql_query("CREATE TABLE requests (unrelated INTEGER)")
        .execute(&mut conn)
        .unwrap();

    let started = std::time::Instant::now();
    let err = store::migrate(&mut conn).expect_err("the third migration cannot create requests");
    assert!(matches!(err, StoreError::Migration(_)), "{err:?}");
    // The retries it replaced slept 100 ms twenty times; a run on an empty database takes
    // milliseconds, and 1.5 s leaves room for a busy machine.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "failed at once, not after retries"
    );

    // The first migration's tables, created before the failure, are gone with it.
    let probe = if common::is_postgres() {
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('entries', 'log_head')"
    } else {
        "SELECT count(*) AS n FROM sqlite_master WHERE name IN ('entries', 'log_head')"
    };
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: Count = diesel::sql_query(probe).get_result(&mut conn).unwrap();
    assert_eq!(left.n, 0, "tables of a failed migration run were left behind");
}

/// The reads under the head lock and the sweeper's that grow with the ledger stay on their
/// indexes while `requests` has no statistics (a table grown since its last `ANALYZE`, or
/// never analysed: autovacuum looks at a database about once a minute). Without them
/// PostgreSQL expects one row in 200 to match each equality and a third to match a range, and
/// rule V12's batch read (`order_sha256 = ANY(…)` for 28 digests) and the retention sweep (every
/// closed request) scanned the whole table: half the submit phase's speed in a load replay.
/// Counted by the backend's own `pg_stat_xact_user_tables` inside one transaction: rows read,
/// so that walking a whole index in its order (to avoid a sort) counts as much as a scan. SQLite has
/// no such planner statistics to lack: PostgreSQL only.
#[tokio::test]
async fn reads_that_grow_with_the_ledger_use_their_indexes_before_any_analyze() {
    if !common::is_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let mut conn = store::establish(&url).unwrap();
    store::migrate(&mut conn).unwrap();
    // 60,000 requests of a realistic width, closed, received in 2026, with distinct orders;
    // autovacuum kept away so that no statistics appear while the test runs.
    diesel::sql_query("ALTER TABLE requests SET (autovacuum_enabled = false)")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "INSERT INTO requests (id, authority_id, officer, instrument, country, emergency, status, \
         order_sha256, policy_sha256, received_at, due_at, data_categories, identifiers, failed_rules, \
         request_sha256) \
         SELECT md5(i::text) || '-' || i, 'court-' || (i % 83), md5('o' || i) || md5('p' || i), 'court_order', 'DE', \
                false, 'disclosed', encode(sha256(i::text::bytea), 'hex'), md5('policy') || md5('policy'), \
                '2026-06-01T00:00:00.000Z', '2026-06-08T00:00:00.000Z', '[\"ip_address\",\"phone_number\"]', 2, '[]', \
                md5('r' || i) || md5('s' || i) \
         FROM generate_series(1, 60000) AS i",
    )
    .execute(&mut conn)
    .unwrap();
    #[derive(QueryableByName)]
    struct Read {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
    }
    // Rows of `requests` read so far in this transaction, by sequential and by index scans.
    let rows_read = |conn: &mut store::DbConnection| -> i64 {
        let r: Read = diesel::sql_query(
            "SELECT seq_tup_read + COALESCE(idx_tup_fetch, 0) AS rows FROM pg_stat_xact_user_tables \
             WHERE relname = 'requests'",
        )
        .get_result(conn)
        .unwrap();
        r.rows
    };
    let digests: Vec<String> = (0..28).map(|i| format!("{:064x}", 7 * i + 3)).collect();
    let wanted: Vec<(&str, &str, &str, Option<&str>)> = digests
        .iter()
        .map(|d| ("court-1", "k1", d.as_str(), Some("court-1")))
        .collect();
    conn.transaction::<_, StoreError, _>(|conn| {
        // Rows read by parallel workers are not counted in this backend's transaction.
        diesel::sql_query("SET LOCAL max_parallel_workers_per_gather = 0").execute(conn)?;
        let before = rows_read(conn);
        disclosure_ledger::authorities::load_many_with_key_and_order_uses(conn, &wanted)?;
        let after_v12 = rows_read(conn);
        assert!(
            after_v12 - before < 100,
            "rule V12's batch read read {} rows",
            after_v12 - before
        );

        use disclosure_ledger::retention::shred::{candidates, Page, PAGE};
        // Both of the sweep's ranges: closed requests received by the cutoff, and delayed
        // notifications received between two instants.
        for (lower, delayed_only) in [("", false), ("2024-01-01T00:00:00.000Z", true)] {
            let before = rows_read(conn);
            let page = Page {
                cutoff: "2025-01-01T00:00:00.000Z".into(),
                lower: lower.into(),
                delayed_only,
                after: (String::new(), String::new()),
                size: PAGE,
            };
            assert!(candidates(conn, None, Some(&page))?.is_empty());
            let read = rows_read(conn) - before;
            assert!(read < 100, "the retention sweep read {read} rows for none due");
        }
        Ok(())
    })
    .unwrap();
}
