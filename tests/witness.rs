//! Witnessing (C2SP tlog-witness, tlog-cosignature) with real witness processes: our witnesses
//! cosign our log, refuse a fork and keep it, survive `kill -9`; our log keeps appending with a
//! witness down and catches it up; clients demand a quorum. Interoperability is checked against
//! the test's own, independent implementation of both sides of the spec.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::prelude::{Engine as _, BASE64_STANDARD};
use common::{ServerProcess, TestApp};
use disclosure_ledger::cosigning::WitnessConfig;
use disclosure_ledger::ledger::cosignature::{cosignatures, require_quorum, WitnessKey};
use disclosure_ledger::ledger::LogSigner;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_disclosure-ledger");

/// `witness keygen`: the key file and the printed verifier key.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{}.pem", name.replace('/', "_")));
    let out = std::process::Command::new(BIN)
        .args(["witness", "keygen", "--name", name, "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
    (key, vkey)
}

/// A witness process of ours.
struct Witness {
    name: String,
    key: PathBuf,
    vkey: String,
    state: PathBuf,
    logs: Vec<String>,
    listen: String,
    process: Option<ServerProcess>,
}

impl Witness {
    fn start(dir: &Path, name: &str, logs: &[String]) -> Witness {
        let (key, vkey) = keygen(dir, name);
        let mut w = Witness {
            name: name.to_string(),
            key,
            vkey,
            state: dir.join(format!("state-{}", name.replace('/', "_"))),
            logs: logs.to_vec(),
            listen: "127.0.0.1:0".into(),
            process: None,
        };
        w.restart();
        // Come back on the same port, as the log was told.
        w.listen = w.base().trim_start_matches("http://").to_string();
        w
    }

    fn restart(&mut self) {
        let mut args: Vec<OsString> = vec![
            "witness".into(),
            "serve".into(),
            "--listen".into(),
            (&self.listen).into(),
        ];
        args.extend(["--key".into(), self.key.clone().into_os_string()]);
        args.extend(["--name".into(), (&self.name).into()]);
        args.extend(["--state".into(), self.state.clone().into_os_string()]);
        for l in &self.logs {
            args.extend(["--log".into(), l.into()]);
        }
        self.process = Some(ServerProcess::run(&args, &[]));
    }

    fn kill(&mut self) {
        self.process.take().expect("running").kill();
    }

    fn base(&self) -> String {
        self.process.as_ref().expect("running").base.clone()
    }

    fn config(&self) -> WitnessConfig {
        format!("{}={}", self.vkey, self.base()).parse().unwrap()
    }

    fn public(&self) -> WitnessKey {
        WitnessKey::parse(&self.vkey).unwrap()
    }

    async fn add_checkpoint(&self, body: Vec<u8>) -> (u16, String, String) {
        let r = reqwest::Client::new()
            .post(format!("{}/add-checkpoint", self.base()))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, r.text().await.unwrap())
    }

    /// The monitoring API: the latest checkpoint of `origin` this witness cosigned.
    async fn latest(&self, origin: &str) -> Option<String> {
        let hash = hex::encode(Sha256::digest(origin.as_bytes()));
        let r = reqwest::get(format!("{}/{hash}/checkpoint", self.base()))
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => Some(r.text().await.unwrap()),
            404 => None,
            s => panic!("monitoring API answered {s}"),
        }
    }

    fn evidence(&self, origin: &str) -> Vec<PathBuf> {
        let dir = self
            .state
            .join(hex::encode(Sha256::digest(origin.as_bytes())))
            .join("evidence");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }
}

/// The log key of a data directory not yet served, created now, so that witnesses can be told
/// to trust it before the log starts.
fn log_signer(dir: &Path, database_url: &str) -> LogSigner {
    let settings = common::settings_for(dir, database_url);
    disclosure_ledger::app::instance_keys(&settings).unwrap().0
}

/// A log (the real server over HTTP) with `witnesses` and `quorum`.
async fn log_with(dir: tempfile::TempDir, db: String, witnesses: Vec<WitnessConfig>, quorum: usize) -> TestApp {
    common::spawn_with(dir, db, move |s| {
        s.witnesses = witnesses;
        s.witness_quorum = quorum;
    })
    .await
}

/// A write: registering an authority appends one entry.
async fn append(app: &TestApp, n: usize) {
    for i in 0..n {
        let (status, body) = app
            .admin_post(
                "/v1/authorities",
                serde_json::json!({"country": "FRA", "kind": "police", "judicial": false, "name": format!("Brigade {i}")}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// The newest checkpoint size the log signed (not necessarily served), read from its database.
async fn newest_size(app: &TestApp) -> u64 {
    let mut conn = disclosure_ledger::store::establish(&app.database_url).unwrap();
    disclosure_ledger::store::queries::latest_checkpoint(&mut conn)
        .unwrap()
        .map_or(0, |(size, _)| size as u64)
}

/// Polls the served checkpoint until `accept` holds (10 s at most).
async fn served_until(app: &TestApp, what: &str, accept: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get("/checkpoint").await;
        if r.status() == 200 {
            let note = r.text().await.unwrap();
            if accept(&note) {
                return note;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; served:\n{note}");
            }
        } else if Instant::now() > deadline {
            panic!("timed out waiting for {what}; /checkpoint answered {}", r.status());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn three_witnesses_cosign_the_log_and_the_checkpoint_served_carries_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let log = log_signer(dir.path(), &db);
    let wdir = tempfile::tempdir().unwrap();
    let witnesses: Vec<Witness> = (1..=3)
        .map(|i| Witness::start(wdir.path(), &format!("w{i}.example/witness"), &[log.verifier_key()]))
        .collect();
    let app = log_with(dir, db, witnesses.iter().map(Witness::config).collect(), 2).await;
    append(&app, 5).await;
    let newest = newest_size(&app).await;
    let keys: Vec<WitnessKey> = witnesses.iter().map(Witness::public).collect();
    let note = served_until(&app, "three cosignatures of the newest checkpoint", |n| {
        size_of(n) == newest && cosignatures(n.as_bytes(), &keys).unwrap().len() == 3
    })
    .await;
    // The public page shows and verifies the three cosignatures, in a real browser.
    let profile = tempfile::tempdir().unwrap();
    let dom = common::browser::browse(profile.path(), &app.url("/")).await;
    assert_eq!(
        common::browser::hook(&dom, "witness-quorum", "data-state").as_deref(),
        Some("met"),
        "{dom}"
    );
    assert_eq!(
        dom.matches("data-testid=\"witness\" data-state=\"verified\"").count(),
        3,
        "{dom}"
    );
    // The same note at both addresses; the log's signature still verifies.
    assert_eq!(app.text("/v1/log/checkpoint").await, note);
    app.verifier().await.verify(&note).unwrap();
    // Each witness serves what it cosigned to monitors: the log's signature and its own.
    for w in &witnesses {
        let theirs = w.latest(log.origin()).await.expect("cosigned");
        assert_eq!(size_of(&theirs), newest);
        assert_eq!(cosignatures(theirs.as_bytes(), &[w.public()]).unwrap().len(), 1);
    }
    // Metrics per witness.
    let metrics = app.text("/metrics").await;
    for w in &witnesses {
        let line = format!(
            "disclosure_ledger_witness_cosigned_size{{witness=\"{}\"}} {newest}",
            w.name
        );
        assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
    }

    // A lifecycle write that asks to wait gets a receipt against a cosigned checkpoint.
    let court = common::requests::court(&app).await;
    let r = app
        .client
        .post(app.url("/v1/requests?wait=cosigned&timeout=10"))
        .bearer_auth(&court.officer)
        .json(&common::requests::order(&court, "witnessed", "drug_trafficking"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    let receipt = &body["receipt"];
    assert!(receipt["cosignatures"].as_array().unwrap().len() >= 2, "{receipt}");
    require_quorum(receipt["checkpoint"].as_str().unwrap().as_bytes(), &keys, 2).unwrap();
    common::requests::check_receipt(&app, receipt).await;

    // Any write answered with a receipt may wait: an administrative one too.
    let r = app
        .client
        .post(app.url("/v1/authorities?wait=cosigned"))
        .bearer_auth(app.token(disclosure_ledger::auth::Role::Admin))
        .json(&serde_json::json!({"country": "FRA", "kind": "police", "judicial": false, "name": "Brigade W"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    require_quorum(body["receipt"]["checkpoint"].as_str().unwrap().as_bytes(), &keys, 2).unwrap();

    // A bad `wait` is refused before anything is appended.
    let before = newest_size(&app).await;
    let r = app
        .client
        .post(app.url("/v1/requests?wait=forever"))
        .bearer_auth(&court.officer)
        .json(&common::requests::order(&court, "not-waiting", "drug_trafficking"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(newest_size(&app).await, before);
}

/// The body of an add-checkpoint request.
fn add_body(old: u64, proof: &[[u8; 32]], note: &str) -> Vec<u8> {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&BASE64_STANDARD.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body.into_bytes()
}

#[tokio::test]
async fn a_witness_refuses_a_fork_keeps_it_as_evidence_and_answers_each_fault_as_the_spec_says() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let log = log_signer(dir.path(), &db);
    let wdir = tempfile::tempdir().unwrap();
    let w = Witness::start(wdir.path(), "court.example/witness", &[log.verifier_key()]);
    let app = log_with(dir, db, vec![w.config()], 1).await;
    append(&app, 3).await;
    let newest = newest_size(&app).await;
    let honest = served_until(&app, "the newest checkpoint cosigned", |n| size_of(n) == newest).await;
    let origin = log.origin().to_string();

    // A second tree at the size it cosigned, validly signed by the log's key: 422, kept.
    let fork = log.sign(newest, disclosure_ledger::ledger::Hash([7; 32])).unwrap().note;
    let (status, _, why) = w.add_checkpoint(add_body(newest, &[], &fork)).await;
    assert_eq!(status, 422, "{why}");
    assert_eq!(w.evidence(&origin).len(), 1);
    // A larger tree whose proof does not lead from the cosigned one: 422, kept.
    let bigger = log
        .sign(newest + 4, disclosure_ledger::ledger::Hash([8; 32]))
        .unwrap()
        .note;
    let (status, _, _) = w.add_checkpoint(add_body(newest, &[[1; 32], [2; 32]], &bigger)).await;
    assert_eq!(status, 422);
    assert_eq!(w.evidence(&origin).len(), 2);
    let kept: Vec<String> = w
        .evidence(&origin)
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(kept.iter().any(|k| k.contains(&fork)), "{kept:?}");
    // A replay adds nothing; junk signature lines of unknown keys are not kept.
    let junk = format!(
        "{fork}\u{2014} junk.example/k {}\n",
        BASE64_STANDARD.encode([7u8; 3000])
    );
    let (status, _, _) = w.add_checkpoint(add_body(newest, &[], &fork)).await;
    assert_eq!(status, 422);
    let (status, _, _) = w.add_checkpoint(add_body(newest, &[], &junk)).await;
    assert_eq!(status, 422);
    assert_eq!(w.evidence(&origin).len(), 2, "the same refusal is kept once");
    // What it serves is still the honest tree.
    let theirs = w.latest(&origin).await.unwrap();
    assert_eq!(
        theirs.lines().take(3).collect::<Vec<_>>(),
        honest.lines().take(3).collect::<Vec<_>>()
    );

    // The other answers of tlog-witness.
    let (status, ct, body) = w.add_checkpoint(add_body(0, &[], &bigger)).await;
    assert_eq!(
        (status, ct.as_str(), body),
        (409, "text/x.tlog.size", format!("{newest}\n"))
    );
    let (status, _, _) = w.add_checkpoint(add_body(newest + 5, &[], &bigger)).await;
    assert_eq!(status, 400, "old size beyond the checkpoint's");
    let stranger = LogSigner::new("elsewhere.example/log", SigningKey::from_bytes(&[3; 32])).unwrap();
    let (status, _, _) = w
        .add_checkpoint(add_body(
            0,
            &[],
            &stranger.sign(1, disclosure_ledger::ledger::Hash([0; 32])).unwrap().note,
        ))
        .await;
    assert_eq!(status, 404, "unknown origin");
    let impostor = LogSigner::new(&origin, SigningKey::from_bytes(&[4; 32])).unwrap();
    let forged = impostor
        .sign(newest + 1, disclosure_ledger::ledger::Hash([0; 32]))
        .unwrap()
        .note;
    let (status, _, _) = w.add_checkpoint(add_body(newest, &[], &forged)).await;
    assert_eq!(status, 403, "signed by another key of the same name");
    let (status, _, _) = w.add_checkpoint(b"old 1\nnot base64\n\n".to_vec()).await;
    assert_eq!(status, 400);
    // None of the refusals moved it.
    assert_eq!(size_of(&w.latest(&origin).await.unwrap()), newest);
    assert_eq!(
        w.evidence(&origin).len(),
        2,
        "only validly signed, inconsistent checkpoints are evidence"
    );
}

#[tokio::test]
async fn a_second_witness_process_on_the_same_state_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let w = Witness::start(
        dir.path(),
        "one.example/witness",
        &[plain_vkey("example.com/log", &SigningKey::from_bytes(&[2; 32]))],
    );
    let out = std::process::Command::new(BIN)
        .args([
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--name",
            "one.example/witness",
            "--key",
        ])
        .arg(&w.key)
        .arg("--state")
        .arg(&w.state)
        .args(["--log", &w.logs[0]])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another witness process"));
}

#[tokio::test]
async fn a_witness_killed_and_restarted_keeps_its_state_and_the_log_catches_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let log = log_signer(dir.path(), &db);
    let wdir = tempfile::tempdir().unwrap();
    let mut witnesses: Vec<Witness> = (1..=3)
        .map(|i| Witness::start(wdir.path(), &format!("w{i}.example/witness"), &[log.verifier_key()]))
        .collect();
    let keys: Vec<WitnessKey> = witnesses.iter().map(Witness::public).collect();
    let app = log_with(dir, db, witnesses.iter().map(Witness::config).collect(), 2).await;
    append(&app, 2).await;
    let first = newest_size(&app).await;
    served_until(&app, "three cosignatures", |n| {
        size_of(n) == first && cosignatures(n.as_bytes(), &keys).unwrap().len() == 3
    })
    .await;

    // kill -9 one witness; the log goes on with the other two.
    witnesses[2].kill();
    let started = Instant::now();
    append(&app, 5).await;
    let appended_in = started.elapsed();
    let second = newest_size(&app).await;
    assert!(second > first);
    served_until(&app, "the quorum of two without the dead witness", |n| {
        size_of(n) == second && cosignatures(n.as_bytes(), &keys).unwrap().len() == 2
    })
    .await;
    eprintln!("5 appends with a witness down took {appended_in:?}");

    // Restarted on its state, it remembers: a submission from 0 is told the size it cosigned.
    witnesses[2].restart();
    let origin = log.origin().to_string();
    let remembered = witnesses[2].latest(&origin).await.expect("state survived kill -9");
    assert_eq!(size_of(&remembered), first);
    // The log catches it up with one proof from that size.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let theirs = witnesses[2].latest(&origin).await.map(|n| size_of(&n));
        if theirs == Some(newest_size(&app).await) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the witness was not caught up: at {theirs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    append(&app, 1).await;
    let third = newest_size(&app).await;
    served_until(&app, "all three again", |n| {
        size_of(n) == third && cosignatures(n.as_bytes(), &keys).unwrap().len() == 3
    })
    .await;
}

#[tokio::test]
async fn a_client_demanding_two_cosignatures_refuses_a_checkpoint_one_witness_cosigned() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let log = log_signer(dir.path(), &db);
    let wdir = tempfile::tempdir().unwrap();
    let w1 = Witness::start(wdir.path(), "w1.example/witness", &[log.verifier_key()]);
    // A second witness that knows the log but is not among the log's witnesses.
    let w2 = Witness::start(wdir.path(), "w2.example/witness", &[log.verifier_key()]);
    let app = log_with(dir, db, vec![w1.config()], 1).await;
    append(&app, 2).await;
    let newest = newest_size(&app).await;
    served_until(&app, "w1's cosignature", |n| size_of(n) == newest).await;

    let audit = |quorum: &str, state: &Path| {
        std::process::Command::new(BIN)
            .args(["audit", "--url", &app.base, "--log-key", &log.verifier_key(), "--state"])
            .arg(state)
            .args(["--witness", &w1.vkey, "--witness", &w2.vkey, "--quorum", quorum])
            .output()
            .unwrap()
    };
    let out = audit("2", &wdir.path().join("monitor-2.json"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("missing: w2.example/witness"), "{stdout}");
    assert!(
        !wdir.path().join("monitor-2.json").exists(),
        "a refused run keeps no state"
    );

    let state = wdir.path().join("monitor-1.json");
    let out = audit("1", &state);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let cosigned = kept["cosigned"].as_array().unwrap();
    assert_eq!(cosigned.len(), 1, "the monitor keeps the cosigned checkpoint it saw");
    assert_eq!(
        cosignatures(cosigned[0].as_str().unwrap().as_bytes(), &[w1.public()])
            .unwrap()
            .len(),
        1
    );

    // A quorum larger than the keys given is a usage error, not a verdict.
    let out = std::process::Command::new(BIN)
        .args(["audit", "--url", &app.base, "--log-key", &log.verifier_key(), "--state"])
        .arg(wdir.path().join("monitor-3.json"))
        .args(["--witness", &w1.vkey, "--quorum", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---- The test's own implementation of the spec, independent of the crate's ----------------

fn leaf(data: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update([0u8]).chain_update(data).finalize().into()
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(l)
        .chain_update(r)
        .finalize()
        .into()
}

/// RFC 6962 §2.1 MTH.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n);
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1.2 PROOF(m, D[n]).
fn consistency(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    fn subproof(m: usize, d: &[[u8; 32]], complete: bool) -> Vec<[u8; 32]> {
        let n = d.len();
        if m == n {
            return if complete { vec![] } else { vec![mth(d)] };
        }
        let k = largest_power_of_two_below(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], complete);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }
    subproof(m, leaves, true)
}

/// A checkpoint note signed by hand: signed-note Ed25519 (type 0x01).
fn plain_checkpoint(origin: &str, key: &SigningKey, size: usize, root: &[u8; 32]) -> String {
    let body = format!("{origin}\n{size}\n{}\n", BASE64_STANDARD.encode(root));
    let id = &Sha256::new()
        .chain_update(origin.as_bytes())
        .chain_update(b"\n\x01")
        .chain_update(key.verifying_key().as_bytes())
        .finalize()[..4];
    let sig = key.sign(body.as_bytes()).to_bytes();
    let line = BASE64_STANDARD.encode([id, &sig[..]].concat());
    format!("{body}\n\u{2014} {origin} {line}\n")
}

fn plain_vkey(origin: &str, key: &SigningKey) -> String {
    let mut raw = vec![0x01];
    raw.extend_from_slice(key.verifying_key().as_bytes());
    let id = &Sha256::new()
        .chain_update(origin.as_bytes())
        .chain_update(b"\n")
        .chain_update(&raw)
        .finalize()[..4];
    format!("{origin}+{}+{}", hex::encode(id), BASE64_STANDARD.encode(&raw))
}

/// Checks a cosignature/v1 line by hand against the witness's raw public key.
fn check_cosignature_by_hand(line: &str, name: &str, public: &ed25519_dalek::VerifyingKey, body: &str) -> u64 {
    let rest = line.strip_prefix("\u{2014} ").unwrap();
    let (n, b64) = rest.split_once(' ').unwrap();
    assert_eq!(n, name);
    let raw = BASE64_STANDARD.decode(b64.trim_end()).unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    let id = &Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n\x04")
        .chain_update(public.as_bytes())
        .finalize()[..4];
    assert_eq!(&raw[..4], id, "key id = SHA-256(name ‖ \\n ‖ 0x04 ‖ key)[:4]");
    let time = u64::from_be_bytes(raw[4..12].try_into().unwrap());
    assert!(time > 0);
    let msg = format!("cosignature/v1\ntime {time}\n{body}");
    let sig = ed25519_dalek::Signature::from_bytes(raw[12..].try_into().unwrap());
    public.verify(msg.as_bytes(), &sig).expect("cosignature verifies");
    time
}

#[tokio::test]
async fn our_witness_cosigns_a_plain_c2sp_log_the_test_writes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let origin = "example.com/plain-log";
    let log_key = SigningKey::from_bytes(&[9; 32]);
    let w = Witness::start(dir.path(), "dpa.example/witness", &[plain_vkey(origin, &log_key)]);
    let witness_public = {
        let pem = std::fs::read_to_string(&w.key).unwrap();
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        SigningKey::from_pkcs8_pem(&pem).unwrap().verifying_key()
    };
    let leaves: Vec<[u8; 32]> = (0..13u8).map(|i| leaf(&[i; 10])).collect();

    let cp5 = plain_checkpoint(origin, &log_key, 5, &mth(&leaves[..5]));
    let (status, _, line) = w.add_checkpoint(add_body(0, &[], &cp5)).await;
    assert_eq!(status, 200, "{line}");
    let body5 = format!("{}\n", cp5.split("\n\n").next().unwrap());
    check_cosignature_by_hand(&line, "dpa.example/witness", &witness_public, &body5);

    let cp13 = plain_checkpoint(origin, &log_key, 13, &mth(&leaves));
    let proof = consistency(5, &leaves);
    let (status, _, line) = w.add_checkpoint(add_body(5, &proof, &cp13)).await;
    assert_eq!(status, 200, "{line}");
    let body13 = format!("{}\n", cp13.split("\n\n").next().unwrap());
    check_cosignature_by_hand(&line, "dpa.example/witness", &witness_public, &body13);
    // A same-size resubmission is cosigned again; a fork at 13 is not.
    let (status, _, _) = w.add_checkpoint(add_body(13, &[], &cp13)).await;
    assert_eq!(status, 200);
    let fork = plain_checkpoint(origin, &log_key, 13, &mth(&leaves[1..]));
    let (status, _, _) = w.add_checkpoint(add_body(13, &[], &fork)).await;
    assert_eq!(status, 422);
}

/// The test's own witness: a minimal HTTP server that cosigns any checkpoint of the log whose
/// `old` matches what it last cosigned (409 with its size otherwise). Returns its URL.
fn hand_written_witness(name: &'static str, key: SigningKey) -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut cosigned = 0u64;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h == "\r\n" || h.is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let body = String::from_utf8(body).unwrap();
                let old: u64 = body.lines().next().unwrap()["old ".len()..].parse().unwrap();
                let note = &body[body.find("\n\n").unwrap() + 2..];
                let text = format!("{}\n", note.split("\n\n").next().unwrap());
                let size: u64 = text.lines().nth(1).unwrap().parse().unwrap();
                let (status, ct, answer) = if old != cosigned {
                    ("409 Conflict", "text/x.tlog.size", format!("{cosigned}\n"))
                } else {
                    cosigned = size;
                    let time = 1_700_000_000u64;
                    let sig = key.sign(format!("cosignature/v1\ntime {time}\n{text}").as_bytes());
                    let mut raw = vec![0x04];
                    raw.extend_from_slice(key.verifying_key().as_bytes());
                    let id = &Sha256::new()
                        .chain_update(name.as_bytes())
                        .chain_update(b"\n")
                        .chain_update(&raw)
                        .finalize()[..4];
                    let line = BASE64_STANDARD.encode([id, &time.to_be_bytes()[..], &sig.to_bytes()[..]].concat());
                    ("200 OK", "text/plain", format!("\u{2014} {name} {line}\n"))
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{answer}",
                    answer.len()
                );
                if stream.write_all(response.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    url
}

#[tokio::test]
async fn our_log_accepts_cosignatures_from_a_witness_the_test_wrote_itself() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let name = "ngo.example/hand-witness";
    let vkey = disclosure_ledger::ledger::cosignature::verifier_key(name, &key.verifying_key());
    let url = hand_written_witness(name, key.clone());
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let config: WitnessConfig = format!("{vkey}={url}").parse().unwrap();
    let app = log_with(dir, db, vec![config], 1).await;
    append(&app, 3).await;
    let newest = newest_size(&app).await;
    let note = served_until(&app, "the hand-written witness's cosignature", |n| size_of(n) == newest).await;
    let body = format!("{}\n", note.split("\n\n").next().unwrap());
    let line = note
        .lines()
        .find(|l| l.starts_with(&format!("\u{2014} {name} ")))
        .expect("its line");
    check_cosignature_by_hand(line, name, &key.verifying_key(), &body);
    append(&app, 2).await;
    let newer = newest_size(&app).await;
    served_until(
        &app,
        "a newer cosigned checkpoint (a consistency proof it accepted)",
        |n| size_of(n) == newer,
    )
    .await;
}
