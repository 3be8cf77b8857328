//! The load driver (issue 12): replays the volume of Telegram's published figures as full
//! request lifecycles over HTTP against a release server it starts (SQLite, or PostgreSQL
//! with `--pg`), and checks the result as an auditor would.
//!
//! ```sh
//! cargo build --release --bin disclosure-ledger --example load
//! target/release/examples/load [--clients 64] [--scale 1.0] [--pg postgres://user@host:port/db]
//!                              [--dataset datasets/telegram/telegram-transparency-2024-2026.json]
//! ```
//!
//! The volume: per country, the quarter rows of the dataset (84,678 fulfilled requests and
//! 139,896 affected accounts over 83 countries; `--scale` takes a share of each country). One
//! court per country is registered with its key; its officer submits one distinct signed order
//! per request (`user_id` targets, IP address and phone number). On top of the fulfilled
//! requests, 5 % more are rejected (they ask for `content`, V5) and 3 % more withdrawn; 2 % of
//! the fulfilled ones are emergencies, validated after the fact; one notification in ten is
//! delayed, the others sent.
//!
//! Phases run one after the other, each with `--clients` concurrent callers: submit
//! (`request.received` + `request.validated`/`rejected`), decide (approve, or withdraw),
//! disclose (accounts and values per category), notify (and validate emergencies). A call
//! answered 429 or 503 is retried with the same `Idempotency-Key`. The courts sign their
//! orders before the submit phase's clock starts, as they would on their own machines.
//!
//! Prints, per phase, calls/s and durable entries/s (entries acknowledged with a receipt over
//! the phase's wall time), the CPU time the server and the driver spent per call (steadier
//! than rates on a shared machine; PostgreSQL's own processes are not counted), how busy the
//! sequencer's writer was (from the server's `/metrics`: share of the phase spent in batch
//! transactions, operations per batch, time per operation), p50/p95/p99 latency per endpoint (from sending the request to
//! reading the receipt), and the server's peak RSS. Then checks, with the harness's own code:
//! every receipt's inclusion proof against its checkpoint, whose signature verifies with the
//! key pinned at the start; every acknowledged entry in the final log with its leaf hash, and
//! every receipt's checkpoint a prefix of it; and the transparency report (auditor view,
//! current quarter) equal, per country, to the fulfilled requests and affected accounts sent.
//! Exits 1 on any failure.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::prelude::{Engine as _, BASE64_URL_SAFE_NO_PAD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::*;

/// What one planned request becomes.
#[derive(Clone, Copy, PartialEq)]
enum Fate {
    /// Approved, disclosed (`accounts` affected) and notified; `emergency` ones are validated
    /// after the fact, `delayed` notifications are delayed instead of sent.
    Fulfilled {
        accounts: u64,
        emergency: bool,
        delayed: bool,
    },
    /// Asks for `content`: recorded and rejected (V5).
    Rejected,
    /// Submitted, then withdrawn by its officer.
    Withdrawn,
}

struct Job {
    country: usize,
    fate: Fate,
    tag: String,
    id: Mutex<Option<String>>,
}

struct Court {
    id: String,
    kid: String,
    key: ed25519_dalek::SigningKey,
    officer: String,
}

/// Per country: `(fulfilled requests, affected accounts)` of its quarter rows, scaled.
fn volume(dataset: &Value, scale: f64) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for (country, rows) in dataset.as_object().expect("a JSON object of countries") {
        let (mut requests, mut users) = (0u64, 0u64);
        for r in rows.as_array().into_iter().flatten() {
            let (from, to) = (r["from"].as_str().unwrap_or(""), r["to"].as_str().unwrap_or(""));
            let quarter = from.len() == 8
                && to.len() == 8
                && from[..4] == to[..4]
                && to[4..6].parse::<u32>().ok() == from[4..6].parse::<u32>().ok().map(|m| m + 2);
            if quarter {
                requests += r["requests"].as_u64().unwrap_or(0);
                users += r["users"].as_u64().unwrap_or(0);
            }
        }
        let requests = (requests as f64 * scale).round() as u64;
        // Every fulfilled request affects at least one account; none, none.
        let users = if requests == 0 {
            0
        } else {
            ((users as f64 * scale).round() as u64).max(requests)
        };
        out.insert(country.clone(), (requests, users));
    }
    out
}

fn plan(volume: &BTreeMap<String, (u64, u64)>, seed: u64) -> Vec<Job> {
    let mut fates: Vec<(usize, Fate)> = Vec::new();
    for (c, (requests, users)) in volume.values().enumerate() {
        for i in 0..*requests {
            let accounts = users / requests + u64::from(i < users % requests);
            let (emergency, delayed) = (i % 50 == 49, i % 10 == 9);
            fates.push((
                c,
                Fate::Fulfilled {
                    accounts,
                    emergency,
                    delayed,
                },
            ));
        }
        fates.extend((0..requests / 20).map(|_| (c, Fate::Rejected)));
        fates.extend((0..requests / 33).map(|_| (c, Fate::Withdrawn)));
    }
    // Interleave countries as real traffic would (Fisher–Yates with xorshift64*).
    let mut x = seed | 1;
    for i in (1..fates.len()).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let j = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % (i as u64 + 1)) as usize;
        fates.swap(i, j);
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    fates
        .into_iter()
        .enumerate()
        .map(|(n, (country, fate))| Job {
            country,
            fate,
            tag: format!("load-{run}-{n}"),
            id: Mutex::new(None),
        })
        .collect()
}

/// One caller's HTTP/1.1 connection, kept alive across its calls (hyper's connection API:
/// no pool, no URL parsing per call, so that the driver leaves the machine's two cores to the
/// server); opened again after a failure.
#[derive(Default)]
struct Connection {
    sender: Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>>,
}

impl Connection {
    /// The status and body of one request, or `None` when the connection failed.
    async fn send(
        &mut self,
        host: &str,
        request: hyper::Request<http_body_util::Full<bytes::Bytes>>,
    ) -> Option<(u16, bytes::Bytes)> {
        use http_body_util::BodyExt;
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(host).await.ok()?;
            stream.set_nodelay(true).ok()?;
            let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .ok()?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut()?;
        sender.ready().await.ok()?;
        let response = sender.send_request(request).await.ok()?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    }
}

/// What the driver reads of an answer: the request's id and the receipt, borrowed from the
/// bytes (the rest is skipped, not built into a `Value`).
#[derive(serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    request: Option<RequestId<'a>>,
    #[serde(borrow)]
    receipt: Option<ReceiptIn<'a>>,
}

#[derive(serde::Deserialize)]
struct RequestId<'a> {
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct ReceiptIn<'a> {
    /// The note has line breaks, written escaped: owned.
    checkpoint: String,
    #[serde(borrow)]
    entries: Vec<EntryIn<'a>>,
}

#[derive(serde::Deserialize)]
struct EntryIn<'a> {
    index: u64,
    leaf_hash: &'a str,
    #[serde(borrow)]
    inclusion_proof: Vec<&'a str>,
}

/// Everything the callers share.
struct Shared {
    base: String,
    /// `host:port` of the server.
    host: String,
    http: reqwest::Client,
    vkey: String,
    reviewer: String,
    courts: Vec<Court>,
    /// Each job's signed submission body ([`sign_orders`]).
    orders: Vec<Arc<[u8]>>,
    /// Verified checkpoints: note → (size, root).
    checkpoints: Mutex<HashMap<String, (u64, Hash)>>,
    /// Acknowledged entries: (index, leaf hash).
    acked: Mutex<Vec<(u64, Hash)>>,
    /// Latencies in µs per endpoint.
    latencies: Mutex<BTreeMap<&'static str, Vec<u32>>>,
    entries_acked: AtomicU64,
    retries: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Shared {
    fn fail(&self, what: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 20 {
            eprintln!("FAILURE: {what}");
        }
        f.push(what);
    }

    /// Checks a receipt (each inclusion proof against its checkpoint, the checkpoint's
    /// signature with the pinned key) and keeps its entries.
    fn receipt(&self, answer: &Answer<'_>) -> Result<usize, String> {
        let r = answer.receipt.as_ref().ok_or("no receipt")?;
        let note: &str = &r.checkpoint;
        let known = self.checkpoints.lock().unwrap().get(note).copied();
        let (size, root) = match known {
            Some(c) => c,
            None => {
                let c = checkpoint(note, &self.vkey)?;
                self.checkpoints.lock().unwrap().insert(note.to_string(), c);
                c
            }
        };
        let mut kept = Vec::new();
        for e in &r.entries {
            let leaf = hex32(e.leaf_hash);
            let proof: Vec<Hash> = e.inclusion_proof.iter().map(|h| hex32(h)).collect();
            if !inclusion_ok(e.index, size, leaf, &proof, root) {
                return Err(format!("the inclusion proof of entry {} does not verify", e.index));
            }
            kept.push((e.index, leaf));
        }
        let n = kept.len();
        self.entries_acked.fetch_add(n as u64, Ordering::Relaxed);
        self.acked.lock().unwrap().extend(kept);
        Ok(n)
    }

    /// POSTs with an `Idempotency-Key` on the caller's own connection, retrying 429 and 503
    /// (and a lost answer, on a new connection) with the same key; the latency is the last
    /// attempt's. Also says whether an answer was lost.
    async fn post(
        &self,
        conn: &mut Connection,
        endpoint: &'static str,
        path: &str,
        token: &str,
        body: &Body,
        key: &str,
    ) -> (u16, bytes::Bytes, bool) {
        let mut lost = false;
        loop {
            let started = Instant::now();
            let bytes = match body {
                Body::Json(v) => bytes::Bytes::from(serde_json::to_vec(v).expect("JSON")),
                Body::Signed(b) => bytes::Bytes::copy_from_slice(b),
            };
            let request = hyper::Request::post(path)
                .header(hyper::header::HOST, &self.host)
                .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
                .header("Idempotency-Key", key)
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(http_body_util::Full::new(bytes))
                .expect("a request");
            let (status, value) =
                match tokio::time::timeout(Duration::from_secs(60), conn.send(&self.host, request)).await {
                    Ok(Some(answer)) => answer,
                    _ => {
                        conn.sender = None;
                        (0, bytes::Bytes::new())
                    }
                };
            lost |= status == 0;
            if matches!(status, 0 | 429 | 503) {
                self.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let micros = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
            self.latencies.lock().unwrap().entry(endpoint).or_default().push(micros);
            return (status, value, lost);
        }
    }
}

fn order(court: &Court, job: &Job) -> Value {
    let now = chrono::Utc::now();
    let categories = if job.fate == Fate::Rejected {
        json!(["ip_address", "content"])
    } else {
        json!(["ip_address", "phone_number"])
    };
    let mut body = json!({
        "instrument": "court_order", "issuing_authority": court.id,
        "judge_or_prosecutor": "Investigating judge", "file_number": job.tag,
        "legal_citation": "Code of criminal procedure", "offence_category": "fraud",
        "criminal_case": true, "suspect": true, "terms_breach": true,
        "targets": [{ "kind": "user_id", "value": format!("{}", 100_000_000 + (Sha256::digest(job.tag.as_bytes())[0] as u64) * 1_000_003) }],
        "data_categories": categories,
        "time_range": { "from": (now - chrono::Duration::days(30)).to_rfc3339(), "to": now.to_rfc3339() },
        "issued_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "expires_at": (now + chrono::Duration::days(30)).to_rfc3339(),
        "order": { "document_sha256": hex::encode(Sha256::digest(job.tag.as_bytes())) }
    });
    if let Fate::Fulfilled { emergency: true, .. } = job.fate {
        body["emergency"] = json!({ "justification": "threat to life", "imminent_harm": true });
    }
    disclosure_ledger::authorities::tools::sign_order(
        &court.key,
        &court.kid,
        disclosure_ledger::config::DEFAULT_ORIGIN,
        body,
        None,
    )
    .expect("a complete request body")
}

/// The body of a call: JSON, or the bytes of an order its court signed before the clock.
enum Body {
    Json(Value),
    Signed(Arc<[u8]>),
}

/// The calls of one phase for one job: `(endpoint, path, token, body, expected status)`.
type Call = (&'static str, String, String, Body, u16);

/// Every job's submission body, signed by its court, in job order. Done before the submit
/// phase's clock starts: a court signs its orders on its own machine, not on the ledger's, so
/// the phase measures the ledger (and the driver's HTTP), not the courts' Ed25519 signing.
fn sign_orders(courts: &[Court], jobs: &[Job]) -> Vec<Arc<[u8]>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|job| {
                            let body = order(&courts[job.country], job);
                            Arc::from(serde_json::to_vec(&body).expect("JSON"))
                        })
                        .collect::<Vec<Arc<[u8]>>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a signing thread"))
            .collect()
    })
}

fn calls(shared: &Shared, phase: usize, n: usize, job: &Job) -> Vec<Call> {
    let court = &shared.courts[job.country];
    let id = job.id.lock().unwrap().clone();
    let r = &shared.reviewer;
    match (phase, job.fate, id) {
        (0, fate, _) => vec![(
            "POST /v1/requests",
            "/v1/requests".into(),
            court.officer.clone(),
            Body::Signed(shared.orders[n].clone()),
            if fate == Fate::Rejected { 422 } else { 201 },
        )],
        (1, Fate::Fulfilled { .. }, Some(id)) => vec![(
            "POST decision",
            format!("/v1/requests/{id}/decision"),
            r.clone(),
            Body::Json(json!({ "decision": "approve" })),
            200,
        )],
        (1, Fate::Withdrawn, Some(id)) => vec![(
            "POST withdraw",
            format!("/v1/requests/{id}/withdraw"),
            court.officer.clone(),
            Body::Json(json!({})),
            200,
        )],
        (2, Fate::Fulfilled { accounts, .. }, Some(id)) => vec![(
            "POST disclosure",
            format!("/v1/requests/{id}/disclosure"),
            r.clone(),
            Body::Json(json!({ "outcome": "fully_produced", "accounts_affected": accounts,
                    "values": { "ip_address": accounts, "phone_number": accounts } })),
            200,
        )],
        (3, Fate::Fulfilled { emergency, delayed, .. }, Some(id)) => {
            let until = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
            let mut out = vec![(
                "POST notification",
                format!("/v1/requests/{id}/notification"),
                r.clone(),
                Body::Json(if delayed {
                    json!({ "action": "delay", "until": until, "basis": "ongoing investigation" })
                } else {
                    json!({ "action": "send" })
                }),
                200,
            )];
            if emergency {
                out.push((
                    "POST emergency-validation",
                    format!("/v1/requests/{id}/emergency-validation"),
                    r.clone(),
                    Body::Json(json!({ "validated": true })),
                    200,
                ));
            }
            out
        }
        _ => Vec::new(),
    }
}

const PHASES: [&str; 4] = ["submit", "decide", "disclose", "notify"];

async fn caller(shared: Arc<Shared>, jobs: Arc<Vec<Job>>, next: Arc<AtomicUsize>, phase: usize) -> u64 {
    let mut calls_made = 0;
    let mut conn = Connection::default();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(n) else { return calls_made };
        for (i, (endpoint, path, token, body, expected)) in calls(&shared, phase, n, job).into_iter().enumerate() {
            let key = format!("{}-{phase}-{i}", job.tag);
            let (status, answer, lost) = shared.post(&mut conn, endpoint, &path, &token, &body, &key).await;
            // An answer lost on the way may have been recorded: the retry is then a replay.
            let expected = if lost && expected == 201 && status == 200 {
                200
            } else {
                expected
            };
            calls_made += 1;
            let parsed = serde_json::from_slice::<Answer<'_>>(&answer);
            let (true, Ok(answer)) = (status == expected, parsed) else {
                shared.fail(format!(
                    "{endpoint} of {}: {status} (expected {expected}) {}",
                    job.tag,
                    String::from_utf8_lossy(&answer)
                ));
                continue;
            };
            if phase == 0 {
                *job.id.lock().unwrap() = answer
                    .request
                    .as_ref()
                    .and_then(|r| r.id.as_deref())
                    .map(str::to_string);
            }
            if let Err(e) = shared.receipt(&answer) {
                shared.fail(format!("{endpoint} of {}: receipt: {e}", job.tag));
            }
        }
    }
}

/// The writer's counters from `/metrics`: (batches, operations, seconds in batch transactions).
async fn writer_counters(shared: &Shared) -> (f64, f64, f64) {
    let text = match shared.http.get(format!("{}/metrics", shared.base)).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok()))
            .unwrap_or(0.0)
    };
    (
        value("disclosure_ledger_batch_size_count "),
        value("disclosure_ledger_batch_size_sum "),
        value("disclosure_ledger_commit_seconds_sum "),
    )
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

async fn setup(http: &reqwest::Client, base: &str, admin: &str, countries: &[String]) -> Vec<Court> {
    let mut out = Vec::new();
    for country in countries {
        let post = |path: String, body: Value| async move {
            let r = http
                .post(format!("{base}{path}"))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .expect("the server answers");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 201, "{path}: {v}");
            v
        };
        let v = post(
            "/v1/authorities".into(),
            json!({ "country": country, "kind": "court", "judicial": true, "name": format!("Court of {country}") }),
        )
        .await;
        let id = v["authority"]["id"].as_str().unwrap().to_string();
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let x = BASE64_URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let v = post(
            format!("/v1/authorities/{id}/keys"),
            json!({ "alg": "EdDSA", "not_before": "2020-01-01T00:00:00Z", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": x } }),
        )
        .await;
        let kid = v["authority"]["keys"][0]["kid"].as_str().unwrap().to_string();
        let officer = disclosure_ledger::authorities::tools::officer_token(
            &key,
            &kid,
            &id,
            &format!("officer-{country}"),
            disclosure_ledger::config::DEFAULT_ORIGIN,
            Duration::from_secs(3600),
        )
        .unwrap();
        out.push(Court { id, kid, key, officer });
    }
    out
}

/// Per country: (fulfilled, accounts affected) in the auditor's report of the current quarter.
async fn reported(shared: &Shared, auditor: &str) -> Result<BTreeMap<String, (u64, u64)>, String> {
    let quarter = disclosure_ledger::reports::tally::quarter_of(chrono::Utc::now());
    let r: Value = shared
        .http
        .get(format!(
            "{}/v1/reports/transparency?from={quarter}&to={quarter}",
            shared.base
        ))
        .bearer_auth(auditor)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in r["live"].as_array().ok_or_else(|| format!("no live rows: {r}"))? {
        let e = out
            .entry(row["country"].as_str().unwrap_or_default().to_string())
            .or_default();
        e.0 += row["fulfilled"].as_u64().unwrap_or(0);
        e.1 += row["accounts_affected"].as_u64().unwrap_or(0);
    }
    Ok(out)
}

#[tokio::main]
async fn main() {
    let clients: usize = arg("--clients").map_or(64, |c| c.parse().expect("--clients N"));
    let scale: f64 = arg("--scale").map_or(1.0, |s| s.parse().expect("--scale F"));
    let dataset_path = PathBuf::from(
        arg("--dataset").unwrap_or_else(|| "datasets/telegram/telegram-transparency-2024-2026.json".into()),
    );
    let dataset: Value =
        serde_json::from_slice(&std::fs::read(&dataset_path).expect("read --dataset")).expect("the dataset is JSON");
    let volume = volume(&dataset, scale);
    let jobs = Arc::new(plan(&volume, 0x5eed));
    let (fulfilled, accounts): (u64, u64) = volume.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));

    let dir = tempfile::tempdir().expect("a scratch directory");
    let database_url = match arg("--pg") {
        Some(admin) => fresh_pg(&admin),
        None => dir.path().join("ledger.db").to_string_lossy().into_owned(),
    };
    let backend = if arg("--pg").is_some() { "PostgreSQL" } else { "SQLite" };
    let data_dir = dir.path().join("data");
    let mut server = start(
        &data_dir,
        &database_url,
        &["--rate-limit-per-subject", "0", "--rate-limit-per-address", "0"],
    );
    let pid = server.child.id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let vkey = http
        .get(format!("{}/v1/log/key", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    use disclosure_ledger::auth::Role;
    let admin = support::token(&data_dir, Role::Admin, "load-admin");
    let reviewer = support::token(&data_dir, Role::Reviewer, "load-reviewer");
    let auditor = support::token(&data_dir, Role::Auditor, "load-auditor");

    let countries: Vec<String> = volume.keys().cloned().collect();
    let started = Instant::now();
    let courts = setup(&http, &server.base, &admin, &countries).await;
    println!(
        "load: {backend}, {clients} clients, scale {scale}: {} countries registered in {:.1} s; {} requests planned ({fulfilled} to be fulfilled, {accounts} accounts affected)",
        courts.len(),
        started.elapsed().as_secs_f64(),
        jobs.len()
    );
    let signing = Instant::now();
    let orders = sign_orders(&courts, &jobs);
    println!(
        "  {} orders signed by their courts in {:.1} s, before the clock",
        orders.len(),
        signing.elapsed().as_secs_f64()
    );
    let shared = Arc::new(Shared {
        base: server.base.clone(),
        host: server.base.trim_start_matches("http://").to_string(),
        http,
        vkey,
        reviewer,
        courts,
        orders,
        checkpoints: Mutex::new(HashMap::new()),
        acked: Mutex::new(Vec::new()),
        latencies: Mutex::new(BTreeMap::new()),
        entries_acked: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
    });

    // The server's anonymous memory, sampled: VmHWM also counts the file pages it maps (its
    // executable, SQLite's shared-memory WAL index), which are the kernel's page cache, not
    // the server's heap.
    let peak_anon = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak_anon = peak_anon.clone();
        tokio::spawn(async move {
            loop {
                peak_anon.fetch_max(rss_parts_kb(pid).0, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let replay = Instant::now();
    for (phase, name) in PHASES.iter().enumerate() {
        let before = shared.entries_acked.load(Ordering::Relaxed);
        let next = Arc::new(AtomicUsize::new(0));
        let cpu = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
        let writer = writer_counters(&shared).await;
        let t = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(caller(shared.clone(), jobs.clone(), next.clone(), phase)))
            .collect();
        let mut calls = 0;
        for h in handles {
            calls += h.await.expect("a caller panicked");
        }
        let secs = t.elapsed().as_secs_f64();
        let entries = shared.entries_acked.load(Ordering::Relaxed) - before;
        let server_cpu = cpu_seconds(&pid.to_string()) - cpu.0;
        let driver_cpu = cpu_seconds("self") - cpu.1;
        println!(
            "  {name:<8} {calls:>7} calls in {secs:>6.1} s: {:>7.0} calls/s, {:>7.0} durable entries/s; CPU µs per call: server {:>4.0}, driver {:>4.0}",
            calls as f64 / secs,
            entries as f64 / secs,
            server_cpu * 1e6 / calls.max(1) as f64,
            driver_cpu * 1e6 / calls.max(1) as f64,
        );
        let w = writer_counters(&shared).await;
        let (batches, operations, busy) = (w.0 - writer.0, w.1 - writer.1, w.2 - writer.2);
        println!(
            "           writer: {:.0} % of the phase in batch transactions, {:.1} operations per batch, {:.0} µs per operation",
            busy * 100.0 / secs,
            operations / batches.max(1.0),
            busy * 1e6 / operations.max(1.0)
        );
    }
    let replay_secs = replay.elapsed().as_secs_f64();
    let total_entries = shared.entries_acked.load(Ordering::Relaxed);
    println!(
        "  replay   {total_entries} durable entries in {replay_secs:.1} s: {:.0} entries/s; {} retries (429/503)",
        total_entries as f64 / replay_secs,
        shared.retries.load(Ordering::Relaxed)
    );
    for (endpoint, lat) in shared.latencies.lock().unwrap().iter_mut() {
        lat.sort_unstable();
        println!(
            "  {endpoint:<26} n={:<7} p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms",
            lat.len(),
            percentile(lat, 0.50),
            percentile(lat, 0.95),
            percentile(lat, 0.99)
        );
    }
    sampler.abort();
    let (_, file) = rss_parts_kb(pid);
    println!(
        "  server peak RSS {} MiB; peak anonymous memory {} MiB (sampled every 100 ms); {} MiB of files mapped at the end",
        vm_hwm_kb(pid) / 1024,
        peak_anon.load(Ordering::Relaxed) / 1024,
        file / 1024
    );

    // The checks, with the harness's own code.
    let mut problems: Vec<String> = shared.failures.lock().unwrap().clone();
    let note = shared
        .http
        .get(format!("{}/checkpoint", shared.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let entries = all_entries(&shared.http, &shared.base, &auditor).await;
    let leaves: Vec<Hash> = entries.iter().map(|(_, h)| *h).collect();
    let roots = prefix_roots(&leaves);
    match checkpoint(&note, &shared.vkey) {
        Ok((size, root)) if size as usize <= leaves.len() && size > 0 && roots[size as usize - 1] == root => {}
        Ok((size, _)) => problems.push(format!(
            "the final checkpoint ({size}) is not the root of the entries served"
        )),
        Err(e) => problems.push(e),
    }
    for (index, leaf) in shared.acked.lock().unwrap().iter() {
        if leaves.get(*index as usize) != Some(leaf) {
            problems.push(format!(
                "acknowledged entry {index} is not in the log with its leaf hash"
            ));
            break;
        }
    }
    for (size, root) in shared.checkpoints.lock().unwrap().values() {
        if *size as usize > leaves.len() || roots[*size as usize - 1] != *root {
            problems.push(format!("receipt checkpoint {size} is not a prefix of the final tree"));
            break;
        }
    }
    let distinct: HashSet<u64> = shared.acked.lock().unwrap().iter().map(|(i, _)| *i).collect();
    match reported(&shared, &auditor).await {
        Ok(report) => {
            for (country, (requests, users)) in &volume {
                let got = report.get(country).copied().unwrap_or_default();
                if got != (*requests, *users) {
                    problems.push(format!(
                        "{country}: the report says {got:?} fulfilled/accounts, the replay sent ({requests}, {users})"
                    ));
                }
            }
        }
        Err(e) => problems.push(e),
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    // A failed run's database stays for a look; a passed run's goes.
    if let (Some(admin), true) = (arg("--pg"), problems.is_empty()) {
        support::drop_pg(&admin, &database_url);
    }
    if problems.is_empty() {
        println!(
            "load: OK: {} acknowledged entries ({} distinct) proven in the signed tree of {} entries; the report equals the volume sent ({fulfilled} fulfilled, {accounts} accounts) for {} countries",
            total_entries,
            distinct.len(),
            leaves.len(),
            volume.len()
        );
    } else {
        for p in problems.iter().take(20) {
            eprintln!("load: FAILED: {p}");
        }
        std::process::exit(1);
    }
}
