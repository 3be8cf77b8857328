//! Reads through a PostgreSQL hot standby (`serve --read-database-url`), with real parts: a
//! primary cluster of this test's own, a streaming standby made from it with
//! `pg_basebackup -R`, and the real server process. The standby answers reads once it has
//! replayed what they need; while its replay is paused, a read of what only the primary has is
//! answered by the primary (never a stale or wrong proof); when the standby is down the
//! primary answers everything. Runs in the PostgreSQL pass of `scripts/test` only.

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{hashes, ServerProcess};
use diesel::{Connection, PgConnection, RunQueryDsl};
use disclosure_ledger::auth::Role;
use disclosure_ledger::ledger::{entry::leaf_hash, merkle, LogVerifier, SignedCheckpoint};
use serde_json::json;

struct Client {
    http: reqwest::Client,
    base: String,
    admin: String,
    auditor: String,
}

impl Client {
    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path, &self.auditor).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn register(&self, name: &str) -> String {
        let r = self
            .http
            .post(format!("{}/v1/authorities", self.base))
            .bearer_auth(&self.admin)
            .json(&json!({ "country": "BEL", "kind": "police", "judicial": false, "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: serde_json::Value = r.json().await.unwrap();
        body["authority"]["id"].as_str().unwrap().to_string()
    }

    /// Reads by who answered them, from `/metrics`.
    async fn answered_by(&self, who: &str) -> u64 {
        let text = self.get("/metrics", &self.admin).await.text().await.unwrap();
        let wanted = format!("disclosure_ledger_replica_reads_total{{answered_by=\"{who}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&wanted))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0)
    }

    async fn checkpoint(&self, verifier: &LogVerifier) -> SignedCheckpoint {
        let r = self.get("/v1/log/checkpoint", &self.auditor).await;
        assert_eq!(r.status(), 200);
        verifier.verify(&r.text().await.unwrap()).unwrap()
    }

    /// Every entry of the tree `cp` is proven included in it, from entries and proofs served,
    /// and the tree is consistent with the one of size `from`.
    async fn check_tree(&self, cp: &SignedCheckpoint, from: u64) {
        for index in 0..cp.size {
            let r = self.get(&format!("/v1/log/entries/{index}"), &self.auditor).await;
            assert_eq!(r.status(), 200);
            let leaf = leaf_hash(&r.bytes().await.unwrap());
            let p = self
                .json(&format!("/v1/log/proof/inclusion?index={index}&size={}", cp.size))
                .await;
            merkle::check_inclusion(&hashes(&p["proof"]), cp.size, cp.root, index, leaf)
                .unwrap_or_else(|e| panic!("entry {index} in the tree of {}: {e}", cp.size));
        }
        if from > 0 && from < cp.size {
            let p = self
                .json(&format!("/v1/log/proof/consistency?from={from}&to={}", cp.size))
                .await;
            assert_eq!(p["to"], cp.size);
        }
    }
}

/// The log size a cluster's copy of `db` holds.
fn head(url: &str) -> u64 {
    #[derive(diesel::QueryableByName)]
    struct Head {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        size: i64,
    }
    let mut c = PgConnection::establish(url).unwrap();
    let rows: Vec<Head> = diesel::sql_query("SELECT size FROM log_head").load(&mut c).unwrap();
    rows[0].size as u64
}

fn sql(url: &str, statement: &str) {
    let mut c = PgConnection::establish(url).unwrap();
    diesel::sql_query(statement).execute(&mut c).unwrap();
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what} not within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A ledger process on `primary` reading through `read_url`: the process, its data directory,
/// a client holding admin and auditor tokens, and the log's verifier.
fn serve_reading_from(primary: &Cluster, read_url: &str) -> (ServerProcess, tempfile::TempDir, Client, LogVerifier) {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with(
        data.path(),
        &primary.url(),
        &[
            ("READ_DATABASE_URL", read_url),
            ("RATE_LIMIT_PER_SUBJECT", "0"),
            ("RATE_LIMIT_PER_ADDRESS", "0"),
        ],
    );
    let settings = common::settings_for(data.path(), &primary.url());
    let (signer, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
    let verifier = LogVerifier::new(&signer.verifier_key()).unwrap();
    let mint = |role| tokens.mint(role, "ops", Duration::from_secs(600), None).unwrap();
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        base: server.base.clone(),
        admin: mint(Role::Admin),
        auditor: mint(Role::Auditor),
    };
    (server, data, client, verifier)
}

#[tokio::test]
async fn reads_go_to_a_streaming_standby_and_never_answer_what_it_has_not_replayed() {
    let Some(primary) = Cluster::for_postgres_pass() else {
        return; // the PostgreSQL pass runs it
    };
    let standby = primary.standby();
    let (server, data, client, verifier) = serve_reading_from(&primary, &standby.url());

    // 1. The standby replays the writes and answers the reads: every entry proven included in
    //    the served checkpoint, from entries and proofs the standby served.
    for n in 0..5 {
        client.register(&format!("before-{n}")).await;
    }
    let cp = client.checkpoint(&verifier).await;
    until("the standby replays the writes", || head(&standby.url()) >= cp.size).await;
    client.check_tree(&cp, 1).await;
    client.json("/v1/reports/transparency").await;
    let by_replica = client.answered_by("replica").await;
    assert!(
        by_replica as u64 >= 2 * cp.size,
        "the standby answered {by_replica} reads"
    );
    assert_eq!(client.answered_by("primary_lagging").await, 0);

    // 2. Replay paused: the standby holds an older tree. A read of what only the primary has —
    //    the newest checkpoint, a proof at its size, the entry just written, the authority just
    //    registered — is answered by the primary, right, never from the stale copy.
    sql(&standby.url(), "SELECT pg_wal_replay_pause()");
    until("replay pauses", || {
        #[derive(diesel::QueryableByName)]
        struct Paused {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            paused: bool,
        }
        let mut c = PgConnection::establish(&standby.url()).unwrap();
        let rows: Vec<Paused> = diesel::sql_query("SELECT pg_get_wal_replay_pause_state() = 'paused' AS paused")
            .load(&mut c)
            .unwrap();
        rows[0].paused
    })
    .await;
    let stale = head(&standby.url());
    let fresh_id = client.register("while-paused").await;
    let newer = client.checkpoint(&verifier).await;
    assert!(newer.size > stale, "the primary moved on ({} > {stale})", newer.size);
    assert_eq!(head(&standby.url()), stale, "the standby stayed behind");
    let r = client.get(&format!("/v1/authorities/{fresh_id}"), &client.admin).await;
    assert_eq!(r.status(), 200, "the write just acknowledged is read back");
    client.check_tree(&newer, stale).await;
    assert!(client.answered_by("primary_lagging").await > 0);

    // 3. Replay resumed: the standby catches up and answers again.
    sql(&standby.url(), "SELECT pg_wal_replay_resume()");
    until("the standby catches up", || head(&standby.url()) >= newer.size).await;
    // A standby found lagging is left alone for a second by reads that need more than it had.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = client.answered_by("replica").await;
    client.check_tree(&newer, 1).await;
    assert!(client.answered_by("replica").await > before);

    // 4. The standby down: the primary answers every read.
    standby.crash();
    client.register("standby-down").await;
    let last = client.checkpoint(&verifier).await;
    client.check_tree(&last, newer.size).await;
    assert!(client.answered_by("primary_failed").await > 0);

    // 5. What the primary showed is never taken back. Another process writes (so this one's
    //    own commits do not cover it) while the standby applies nothing new (a replay delay of
    //    an hour, which survives its restarts): this process shows the newer checkpoint while
    //    the standby is down, and must not show the older one once the standby is back.
    standby.start();
    until("the standby is back", || {
        PgConnection::establish(&standby.url()).is_ok()
    })
    .await;
    until("the standby catches up", || head(&standby.url()) >= last.size).await;
    // A restart point here: restarted, the standby replays from it and so holds everything this
    // process committed, but not what the other process will write.
    sql(&standby.url(), "CHECKPOINT");
    sql(&standby.url(), "ALTER SYSTEM SET recovery_min_apply_delay = '1h'");
    sql(&standby.url(), "SELECT pg_reload_conf()");
    let behind = head(&standby.url());
    let other_dir = tempfile::tempdir().unwrap();
    for file in [
        disclosure_ledger::keys::LOG_KEY_FILE,
        disclosure_ledger::keys::TOKEN_KEY_FILE,
    ] {
        std::fs::copy(data.path().join(file), other_dir.path().join(file)).unwrap();
    }
    let other = ServerProcess::start_with(
        other_dir.path(),
        &primary.url(),
        &[("RATE_LIMIT_PER_SUBJECT", "0"), ("RATE_LIMIT_PER_ADDRESS", "0")],
    );
    let writer = Client {
        http: client.http.clone(),
        base: other.base.clone(),
        admin: client.admin.clone(),
        auditor: client.auditor.clone(),
    };
    for n in 0..3 {
        writer.register(&format!("elsewhere-{n}")).await;
    }
    let newest = writer.checkpoint(&verifier).await;
    standby.crash();
    let started = Instant::now();
    while client.checkpoint(&verifier).await.size < newest.size {
        // Until the back-off of the failed standby has passed, this process still answers from
        // what it knew; then the primary answers.
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the primary never answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    standby.start();
    until("the standby is back", || {
        PgConnection::establish(&standby.url()).is_ok()
    })
    .await;
    assert_eq!(head(&standby.url()), behind, "the standby applies nothing new");
    assert!(behind >= last.size && behind < newest.size, "{behind}");
    let lagging = client.answered_by("primary_lagging").await;
    let started = Instant::now();
    loop {
        assert_eq!(client.checkpoint(&verifier).await.size, newest.size, "taken back");
        if client.answered_by("primary_lagging").await > lagging {
            break; // the standby was tried again, found behind, and passed over
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the standby was never tried again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(other);
    drop(server);
}

/// A read database that is not a standby of this primary answers nothing, whatever its log
/// head says: another cluster (a misconfigured URL, another ledger with a longer log), or this
/// primary's standby once promoted, whose history may from then on differ.
#[tokio::test]
async fn a_read_database_that_is_not_a_standby_of_the_primary_answers_nothing() {
    let Some(primary) = Cluster::for_postgres_pass() else {
        return; // the PostgreSQL pass runs it
    };
    let standby = primary.standby();
    let Some(other) = Cluster::new() else { unreachable!() };
    // The other cluster holds a ledger of its own, longer than the primary's will be.
    {
        let dir = tempfile::tempdir().unwrap();
        let other_ledger = ServerProcess::start(dir.path(), &other.url());
        let settings = common::settings_for(dir.path(), &other.url());
        let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
        let client = Client {
            http: reqwest::Client::new(),
            base: other_ledger.base.clone(),
            admin: tokens.mint(Role::Admin, "ops", Duration::from_secs(600), None).unwrap(),
            auditor: String::new(),
        };
        for n in 0..20 {
            client.register(&format!("elsewhere-{n}")).await;
        }
    }

    for (what, read_url) in [("another cluster", other.url()), ("a promoted standby", standby.url())] {
        if what == "a promoted standby" {
            until("the standby replays the primary's ledger", || {
                PgConnection::establish(&standby.url())
                    .ok()
                    .and_then(|mut c| {
                        #[derive(diesel::QueryableByName)]
                        struct N {
                            #[diesel(sql_type = diesel::sql_types::BigInt)]
                            n: i64,
                        }
                        diesel::sql_query("SELECT count(*) AS n FROM log_head")
                            .get_result::<N>(&mut c)
                            .ok()
                    })
                    .is_some_and(|r| r.n == 1)
            })
            .await;
            standby.promote();
            // Once promoted it takes writes of its own: a head far beyond the primary's.
            sql(&standby.url(), "UPDATE log_head SET size = size + 1000");
        }
        let (server, _data, client, verifier) = serve_reading_from(&primary, &read_url);
        client.register(&format!("with {what}")).await;
        let cp = client.checkpoint(&verifier).await;
        client.check_tree(&cp, 1).await;
        assert_eq!(client.answered_by("replica").await, 0, "{what} answered");
        assert!(client.answered_by("primary_failed").await > 0, "{what}");
        drop(server);
    }
}

/// With a witness quorum the checkpoint served, and the report computed at it, come from the
/// primary: cosignatures are stored after the entries they cover, so a standby that has the
/// entries may still lack the cosignatures of a checkpoint already served. (Without a quorum,
/// the first test reads them from the standby.)
#[tokio::test]
async fn with_a_witness_quorum_the_checkpoint_served_is_read_from_the_primary() {
    let Some(primary) = Cluster::for_postgres_pass() else {
        return; // the PostgreSQL pass runs it
    };
    let standby = primary.standby();
    let keys = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
        .args(["witness", "keygen", "--name", "witness.example/w1", "--out"])
        .arg(keys.path().join("w1.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // No witness answers at that address: nothing is ever cosigned, and that does not matter.
    let data = tempfile::tempdir().unwrap();
    let witness = format!("{vkey}=http://127.0.0.1:9");
    let server = ServerProcess::run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &primary.url(),
            "--witness",
            &witness,
            "--witness-quorum",
            "1",
            "--data-dir",
        ]
        .iter()
        .map(Into::into)
        .chain([data.path().as_os_str().to_owned()])
        .collect::<Vec<std::ffi::OsString>>(),
        &[
            ("READ_DATABASE_URL", standby.url().as_str()),
            ("RATE_LIMIT_PER_SUBJECT", "0"),
            ("RATE_LIMIT_PER_ADDRESS", "0"),
        ],
    );
    let settings = common::settings_for(data.path(), &primary.url());
    let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
    let mint = |role| tokens.mint(role, "ops", Duration::from_secs(600), None).unwrap();
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        admin: mint(Role::Admin),
        auditor: mint(Role::Auditor),
    };
    client.register("one").await;
    until("the standby replays the write", || head(&standby.url()) >= 2).await;
    let before = client.answered_by("replica").await;
    for path in ["/checkpoint", "/v1/log/checkpoint"] {
        let r = client.get(path, &client.auditor).await;
        // Nothing cosigned yet: no checkpoint to serve.
        assert_eq!(r.status(), 404, "{path}");
    }
    client.json("/v1/reports/transparency").await;
    assert_eq!(client.answered_by("replica").await, before, "the standby answered");
    // Other reads still go to the standby.
    client.json("/v1/log/entries/0").await;
    assert!(client.answered_by("replica").await > before);
    drop(server);
}
