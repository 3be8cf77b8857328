//! The crash harness: a release server under concurrent full request lifecycles, killed with
//! SIGKILL at random moments and restarted, then the final log checked with this program's own
//! code — not the server's answers about itself.
//!
//! ```sh
//! cargo build --release --bin disclosure-ledger --example crash
//! target/release/examples/crash [--pg postgres://user@host:port/db] [--kills 10] [--seed N] [--clients 8]
//! ```
//!
//! Checks, after the last restart:
//! - every acknowledged receipt's entries are in the final log at their index with their leaf
//!   hash (recomputed here from the served bytes: SHA-256(0x00 ‖ entry)), and each inclusion
//!   proof verifies (RFC 9162 §2.1.3.2, implemented here) against its receipt's checkpoint,
//!   whose signature verifies with the key pinned at the start;
//! - every acknowledged checkpoint is consistent with the final tree: its root is the root of
//!   the final log's first `size` leaves (recomputed here);
//! - the final checkpoint's root is the root of all leaves;
//! - no request has a lifecycle transition twice, and every request whose lifecycle was
//!   acknowledged to its end is `disclosed` with its history in order;
//! - `disclosure-ledger verify` passes on the database.
//!
//! Prints one summary line; exits 1 on any failure. Clients retry a step whose answer was lost
//! with the same `Idempotency-Key`, so a step applied before a kill is replayed, not repeated.
//!
//! `--retention` runs the server under a policy that shreds a request one second after it
//! closes, sweeping every second, so that kills land among shredding passes too; the check
//! then adds: every shredded request has exactly one `retention.shredded` entry, and every
//! sealed entry of it has lost its salt (read back as an auditor) — never half-shredded.
//!
//! `--overload SECONDS` instead drives the server (with its default limits and a queue of 256)
//! above capacity with `--clients` callers that never wait, for that long and without kills;
//! it prints what the callers were answered (share of 2xx, 429, 503) and the server's peak RSS,
//! then runs the same checks on what was acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::prelude::{Engine as _, BASE64_URL_SAFE_NO_PAD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod support;
use support::*;

/// A small deterministic generator (xorshift64*), so that `--seed` replays the kill times.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

// ---- Clients -----------------------------------------------------------------------------

/// What an acknowledged write left: its receipt.
#[derive(Clone)]
struct Ack {
    entries: Vec<(u64, Hash, Vec<Hash>)>,
    checkpoint: String,
}

struct Shared {
    base: RwLock<String>,
    http: reqwest::Client,
    stop: AtomicBool,
    acks: Mutex<Vec<Ack>>,
    /// Request id → how far its lifecycle was acknowledged (1 submitted … 5 notified).
    requests: Mutex<HashMap<String, u8>>,
    refused: AtomicU64,
    /// Answers 500 and above other than 503 (a restart in progress): each is a bug.
    server_errors: AtomicU64,
    /// `--overload`: one attempt per call, every status counted (0: no answer).
    overload: bool,
    statuses: Mutex<BTreeMap<u16, u64>>,
}

fn receipt(body: &Value) -> Option<Ack> {
    let r = body.get("receipt").or_else(|| body.get("proofs"))?;
    let entries = r["entries"]
        .as_array()?
        .iter()
        .map(|e| {
            let proof = e["inclusion_proof"]
                .as_array()?
                .iter()
                .map(|h| h.as_str().map(hex32))
                .collect::<Option<Vec<_>>>()?;
            Some((e["index"].as_u64()?, hex32(e["leaf_hash"].as_str()?), proof))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Ack {
        entries,
        checkpoint: r["checkpoint"].as_str()?.to_string(),
    })
}

/// POSTs until an answer arrives (the server may be down or restarting), with the same
/// `Idempotency-Key` each time. Returns status and body.
async fn post(shared: &Shared, path: &str, token: &str, body: &Value, key: &str) -> (u16, Value) {
    loop {
        let base = shared.base.read().unwrap().clone();
        let sent = shared
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await;
        if shared.overload {
            let (status, body) = match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    (status, r.json::<Value>().await.unwrap_or(Value::Null))
                }
                Err(_) => (0, Value::Null),
            };
            *shared.statuses.lock().unwrap().entry(status).or_default() += 1;
            if status >= 500 && status != 503 {
                shared.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            return (status, body);
        }
        if let Ok(r) = sent {
            let status = r.status().as_u16();
            if status >= 500 && status != 503 {
                shared.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            if status != 503 {
                if let Ok(v) = r.json::<Value>().await {
                    return (status, v);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Authority {
    id: String,
    kid: String,
    key: ed25519_dalek::SigningKey,
    officer: String,
}

fn order(a: &Authority, document: &str) -> Value {
    let digest = hex::encode(Sha256::digest(document.as_bytes()));
    let now = chrono::Utc::now();
    let body = json!({
        "instrument": "court_order", "issuing_authority": a.id,
        "judge_or_prosecutor": "Juge d'instruction", "file_number": format!("TJ-{document}"),
        "legal_citation": "CPP art. 60-1", "offence_category": "fraud",
        "criminal_case": true, "suspect": true, "terms_breach": true,
        "targets": [
            { "kind": "phone_number", "value": "+33 6 12 34 56 78" },
            { "kind": "ip_address", "value": "192.0.2.7" }
        ],
        "data_categories": ["ip_address", "phone_number"],
        "time_range": { "from": (now - chrono::Duration::days(30)).to_rfc3339(), "to": now.to_rfc3339() },
        "issued_at": (now - chrono::Duration::days(1)).to_rfc3339(),
        "expires_at": (now + chrono::Duration::days(30)).to_rfc3339(),
        "order": { "document_sha256": digest }
    });
    // The harness's server runs under the default origin, which the order statement names.
    disclosure_ledger::authorities::tools::sign_order(
        &a.key,
        &a.kid,
        disclosure_ledger::config::DEFAULT_ORIGIN,
        body,
        None,
    )
    .expect("a complete request body")
}

/// One client: full lifecycles until told to stop, each step retried until answered.
async fn client(shared: Arc<Shared>, authority: Arc<Authority>, reviewer: String, me: usize) {
    let mut n = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        n += 1;
        let tag = format!("c{me}-{n}-{}", uuid::Uuid::new_v4().simple());
        let (status, body) = post(
            &shared,
            "/v1/requests",
            &authority.officer,
            &order(&authority, &tag),
            &tag,
        )
        .await;
        if !(status == 201 || status == 200) {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let id = body["request"]["id"].as_str().unwrap().to_string();
        keep(&shared, &body, &id, 1);
        let steps: [(&str, Value); 2] = [
            ("decision", json!({ "decision": "approve" })),
            ("identifiers", json!({ "reason": "production" })),
        ];
        let mut commitments = Vec::new();
        let mut ok = true;
        for (i, (action, body)) in steps.iter().enumerate() {
            let (status, answer) = post(
                &shared,
                &format!("/v1/requests/{id}/{action}"),
                &reviewer,
                body,
                &format!("{tag}-{action}"),
            )
            .await;
            if status != 200 {
                if !shared.overload {
                    eprintln!("{action} of {id}: {status} {answer}");
                }
                ok = false;
                break;
            }
            if *action == "identifiers" {
                commitments = answer["identifiers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["commitment"].clone())
                    .collect();
            }
            keep(&shared, &answer, &id, 2 + i as u8);
        }
        if !ok {
            continue;
        }
        let disclosure = json!({
            "outcome": "fully_produced", "accounts_affected": 1,
            "values": { "phone_number": 1, "ip_address": 2 }, "package_sha256": "ab".repeat(32),
            "identifiers": [
                { "commitment": commitments[0], "values": { "phone_number": 1 } },
                { "commitment": commitments[1], "values": { "ip_address": 2 } }
            ]
        });
        let last: [(&str, Value); 2] = [
            ("disclosure", disclosure),
            ("notification", json!({ "action": "send" })),
        ];
        for (i, (action, body)) in last.iter().enumerate() {
            let (status, answer) = post(
                &shared,
                &format!("/v1/requests/{id}/{action}"),
                &reviewer,
                body,
                &format!("{tag}-{action}"),
            )
            .await;
            if status != 200 {
                if !shared.overload {
                    eprintln!("{action} of {id}: {status} {answer}");
                }
                break;
            }
            keep(&shared, &answer, &id, 4 + i as u8);
        }
    }
}

fn keep(shared: &Shared, body: &Value, id: &str, step: u8) {
    if let Some(ack) = receipt(body) {
        shared.acks.lock().unwrap().push(ack);
    }
    shared.requests.lock().unwrap().insert(id.to_string(), step);
}

// ---- Setup and the final check --------------------------------------------------------------

async fn setup(shared: &Shared, data_dir: &Path) -> (Authority, String) {
    use disclosure_ledger::auth::Role;
    let admin = support::token(data_dir, Role::Admin, "crash-admin");
    let reviewer = support::token(data_dir, Role::Reviewer, "crash-reviewer");
    let (status, body) = post(
        shared,
        "/v1/authorities",
        &admin,
        &json!({ "country": "FRA", "kind": "court", "judicial": true, "name": "Tribunal judiciaire de Paris" }),
        "crash-authority",
    )
    .await;
    assert!(status == 201 || status == 200, "{status} {body}");
    let id = body["authority"]["id"].as_str().unwrap().to_string();
    let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let x = BASE64_URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let (status, body) = post(
        shared,
        &format!("/v1/authorities/{id}/keys"),
        &admin,
        &json!({ "alg": "EdDSA", "not_before": "2020-01-01T00:00:00Z", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": x } }),
        "crash-key",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let kid = body["authority"]["keys"].as_array().unwrap().last().unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({ "iss": id, "sub": "officer-crash", "aud": disclosure_ledger::config::DEFAULT_ORIGIN, "iat": now, "exp": now + 3600, "role": "officer" });
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let der = key.to_pkcs8_der().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.clone());
    let officer = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .unwrap();
    (Authority { id, kid, key, officer }, reviewer)
}

/// Names of the lifecycle transitions, each of which a request may carry once.
const ONCE: &[&str] = &[
    "request.received",
    "request.validated",
    "request.approved",
    "request.disclosed",
    "notification.sent",
];

fn check(shared: &Shared, vkey: &str, entries: &[(Value, Hash)], final_note: &str) -> Result<String, String> {
    let leaves: Vec<Hash> = entries.iter().map(|(_, h)| *h).collect();
    let roots = prefix_roots(&leaves);
    let (size, root) = checkpoint(final_note, vkey)?;
    if size != leaves.len() as u64 || roots.last() != Some(&root) {
        return Err(format!(
            "the final checkpoint ({size}) is not the root of the {} entries served",
            leaves.len()
        ));
    }
    let acks = shared.acks.lock().unwrap();
    let mut checkpoints = BTreeMap::new();
    let mut proven = 0u64;
    for ack in acks.iter() {
        let (cp_size, cp_root) = checkpoint(&ack.checkpoint, vkey)?;
        if cp_size == 0 || cp_size > size || roots[cp_size as usize - 1] != cp_root {
            return Err(format!(
                "acknowledged checkpoint of size {cp_size} is not a prefix of the final tree"
            ));
        }
        checkpoints.insert(cp_size, cp_root);
        for (index, leaf, proof) in &ack.entries {
            if leaves.get(*index as usize) != Some(leaf) {
                return Err(format!(
                    "acknowledged entry {index} is not in the final log with its leaf hash"
                ));
            }
            if !inclusion_ok(*index, cp_size, *leaf, proof, cp_root) {
                return Err(format!(
                    "the inclusion proof of acknowledged entry {index} does not verify"
                ));
            }
            proven += 1;
        }
    }
    let mut per_request: HashMap<&str, Vec<&str>> = HashMap::new();
    for (e, _) in entries {
        if let (Some(subject), Some(kind)) = (e["subject"].as_str(), e["kind"].as_str()) {
            per_request.entry(subject).or_default().push(kind);
        }
    }
    let requests = shared.requests.lock().unwrap();
    for (id, step) in requests.iter() {
        let kinds = per_request.get(id.as_str()).cloned().unwrap_or_default();
        for once in ONCE {
            if kinds.iter().filter(|k| *k == once).count() > 1 {
                return Err(format!("request {id} carries {once} twice: {kinds:?}"));
            }
        }
        if *step == 5 {
            let transitions: Vec<&str> = kinds.iter().copied().filter(|k| ONCE.contains(k)).collect();
            if transitions != ONCE {
                return Err(format!(
                    "request {id} was acknowledged to its end but its history is {kinds:?}"
                ));
            }
        }
    }
    let complete = requests.values().filter(|s| **s == 5).count();
    Ok(format!(
        "{} acknowledged writes ({proven} entries) in the log and proven, {} acknowledged checkpoints consistent, {} requests ({complete} complete) with no transition twice, {} entries in all",
        acks.len(),
        checkpoints.len(),
        requests.len(),
        leaves.len()
    ))
}

/// Under `--retention`: each shredded request has one `retention.shredded` entry, and every
/// sealed entry of it has no salt left (the auditor's view of its sealed details).
async fn check_shredded(shared: &Shared, auditor: &str, entries: &[(Value, Hash)]) -> Result<usize, String> {
    let mut shreds: HashMap<&str, usize> = HashMap::new();
    for (e, _) in entries {
        if e["kind"] == "retention.shredded" {
            *shreds.entry(e["subject"].as_str().unwrap_or_default()).or_default() += 1;
        }
    }
    if let Some((id, n)) = shreds.iter().find(|(_, n)| **n != 1) {
        return Err(format!("request {id} was shredded {n} times"));
    }
    let base = shared.base.read().unwrap().clone();
    for (e, _) in entries {
        let Some(subject) = e["subject"].as_str() else { continue };
        if e["sealed"].is_null() || !shreds.contains_key(subject) {
            continue;
        }
        let index = e["index"].as_u64().unwrap_or_default();
        let sealed: Value = shared
            .http
            .get(format!("{base}/v1/audit/entries/{index}/sealed"))
            .bearer_auth(auditor)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if !sealed["salt"].is_null() || sealed["shredded_by"].is_null() {
            return Err(format!(
                "entry {index} of shredded request {subject} kept its salt: {sealed}"
            ));
        }
    }
    Ok(shreds.len())
}

#[tokio::main]
async fn main() {
    let kills: u32 = arg("--kills").map_or(10, |k| k.parse().expect("--kills N"));
    let clients: usize = arg("--clients").map_or(8, |k| k.parse().expect("--clients N"));
    let seed: u64 = arg("--seed").map_or_else(
        || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        },
        |s| s.parse().expect("--seed N"),
    );
    let dir = tempfile::tempdir().unwrap();
    let (backend, url) = match arg("--pg") {
        Some(admin) => ("postgresql", fresh_pg(&admin)),
        None => ("sqlite", dir.path().join("ledger.db").to_string_lossy().into_owned()),
    };
    let keygen = Command::new(binary())
        .arg("keygen")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    let vkey = String::from_utf8(keygen.stdout).unwrap().trim().to_string();

    let overload: Option<u64> = arg("--overload").map(|s| s.parse().expect("--overload SECONDS"));
    let kills = if overload.is_some() { 0 } else { kills };

    let limits: &[&str] = if overload.is_some() {
        &["--queue-max", "256"]
    } else {
        &["--rate-limit-per-subject", "0", "--rate-limit-per-address", "0"]
    };
    let retention = std::env::args().any(|a| a == "--retention");
    let mut limits: Vec<String> = limits.iter().map(|a| a.to_string()).collect();
    if retention {
        let policy = dir.path().join("short-retention.toml");
        let document = include_str!("../policies/telegram-2024-09.toml")
            .replacen("name = \"telegram-2024-09\"", "name = \"crash-retention\"", 1)
            .replacen("after_closure = \"730d\"", "after_closure = \"1s\"", 1);
        std::fs::write(&policy, document).unwrap();
        limits.extend([
            "--sweep-secs".into(),
            "1".into(),
            "--policy".into(),
            policy.display().to_string(),
        ]);
    }
    let limits: Vec<&str> = limits.iter().map(String::as_str).collect();
    let limits = limits.as_slice();
    let started = Instant::now();
    let mut server = start(dir.path(), &url, limits);
    let shared = Arc::new(Shared {
        base: RwLock::new(server.base.clone()),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        stop: AtomicBool::new(false),
        acks: Mutex::new(Vec::new()),
        requests: Mutex::new(HashMap::new()),
        refused: AtomicU64::new(0),
        server_errors: AtomicU64::new(0),
        overload: false,
        statuses: Mutex::new(BTreeMap::new()),
    });
    let (authority, reviewer) = setup(&shared, dir.path()).await;
    let authority = Arc::new(authority);
    // Setup retries (it must succeed); the load itself, under --overload, does not.
    let shared = Arc::new(Shared {
        base: RwLock::new(server.base.clone()),
        http: shared.http.clone(),
        stop: AtomicBool::new(false),
        acks: Mutex::new(Vec::new()),
        requests: Mutex::new(HashMap::new()),
        refused: AtomicU64::new(0),
        server_errors: AtomicU64::new(0),
        overload: overload.is_some(),
        statuses: Mutex::new(BTreeMap::new()),
    });
    let tasks: Vec<_> = (0..clients)
        .map(|me| tokio::spawn(client(shared.clone(), authority.clone(), reviewer.clone(), me)))
        .collect();

    let mut rng = Rng(seed);
    if let Some(seconds) = overload {
        let mut peak_kb = 0u64;
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(200)).await;
            peak_kb = peak_kb.max(vm_hwm_kb(server.child.id()));
        }
        shared.stop.store(true, Ordering::SeqCst);
        let statuses = shared.statuses.lock().unwrap().clone();
        let total: u64 = statuses.values().sum();
        let share = |f: &dyn Fn(u16) -> bool| {
            100.0 * statuses.iter().filter(|(s, _)| f(**s)).map(|(_, n)| n).sum::<u64>() as f64 / total.max(1) as f64
        };
        println!(
            "overload {backend}: {clients} callers for {seconds} s: {total} answers, {:.1}% 2xx, {:.1}% 429, {:.1}% 503, {:.1}% other ({statuses:?}); {:.0} answers/s; server peak RSS {} MiB",
            share(&|s| (200..300).contains(&s)),
            share(&|s| s == 429),
            share(&|s| s == 503),
            share(&|s| !(200..300).contains(&s) && s != 429 && s != 503),
            total as f64 / seconds as f64,
            peak_kb / 1024
        );
    }
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.between(300, 1500))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        server = start(dir.path(), &url, limits);
        *shared.base.write().unwrap() = server.base.clone();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    shared.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }

    let auditor = support::token(dir.path(), disclosure_ledger::auth::Role::Auditor, "crash-auditor");
    let base = shared.base.read().unwrap().clone();
    let entries = all_entries(&shared.http, &base, &auditor).await;
    let base = shared.base.read().unwrap().clone();
    let final_note = shared
        .http
        .get(format!("{base}/v1/log/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let verdict = match shared.server_errors.load(Ordering::Relaxed) {
        0 => check(&shared, &vkey, &entries, &final_note),
        n => Err(format!("{n} answers were 5xx other than 503")),
    };
    let verdict = match verdict {
        Ok(summary) if retention => check_shredded(&shared, &auditor, &entries)
            .await
            .map(|shredded| format!("{summary}, {shredded} requests shredded whole")),
        other => other,
    };
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let verify = Command::new(binary())
        .args(["verify", "--database", &url, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    match (verdict, verify.status.success()) {
        (Ok(summary), true) => {
            println!(
                "crash harness {backend}: {kills} kills (seed {seed}), {summary}, verify OK; {} submissions refused; {seconds:.1} s",
                shared.refused.load(Ordering::Relaxed)
            );
        }
        (verdict, verified) => {
            println!(
                "crash harness {backend}: FAILED (seed {seed}): {}; verify: {}",
                verdict.err().unwrap_or_else(|| "checks held".into()),
                if verified {
                    "OK".into()
                } else {
                    String::from_utf8_lossy(&verify.stdout).into_owned()
                }
            );
            std::process::exit(1);
        }
    }
}
