//! What the release-mode harnesses (`crash`, `load`) share: the server process, the
//! harness's own RFC 9162 and signed-note checks (independent of the server's code), and
//! small helpers. Not an example itself (Cargo only builds `examples/*.rs` and
//! `examples/*/main.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::prelude::{Engine as _, BASE64_STANDARD};
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

// ---- The server process ------------------------------------------------------------------

pub fn binary() -> PathBuf {
    // target/release/examples/crash → target/release/disclosure-ledger
    let exe = std::env::current_exe().expect("own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("disclosure-ledger")
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

pub fn start(data_dir: &Path, database_url: &str, limits: &[&str]) -> Server {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url])
        .args(limits)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn,disclosure_ledger=info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server (build it first: cargo build --release --bin disclosure-ledger)");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("the server exited before listening").unwrap();
        if let Some(p) = line.split("listening on port ").nth(1) {
            break p.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

// ---- The test's own RFC 9162 code --------------------------------------------------------

pub fn leaf_hash(entry: &[u8]) -> Hash {
    Sha256::new().chain_update([0u8]).chain_update(entry).finalize().into()
}

pub fn node(l: &Hash, r: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(l)
        .chain_update(r)
        .finalize()
        .into()
}

/// Roots of every prefix `1..=n` of `leaves`, in one pass over a stack of complete subtrees.
pub fn prefix_roots(leaves: &[Hash]) -> Vec<Hash> {
    let mut stack: Vec<(u64, Hash)> = Vec::new();
    let mut roots = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        stack.push((1, *leaf));
        while stack.len() >= 2 && stack[stack.len() - 1].0 == stack[stack.len() - 2].0 {
            let (w, r) = stack.pop().unwrap();
            let (_, l) = stack.pop().unwrap();
            stack.push((2 * w, node(&l, &r)));
        }
        let mut root = stack.last().unwrap().1;
        for (_, h) in stack.iter().rev().skip(1) {
            root = node(h, &root);
        }
        roots.push(root);
    }
    roots
}

/// RFC 9162 §2.1.3.2: verifies an inclusion proof of leaf `index` in a tree of `size`.
pub fn inclusion_ok(index: u64, size: u64, leaf: Hash, proof: &[Hash], root: Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == root
}

pub fn hex32(s: &str) -> Hash {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).expect("64 hex digits");
    h
}

/// Size and root of a checkpoint note whose signature by the pinned key verifies.
pub fn checkpoint(note: &str, vkey: &str) -> Result<(u64, Hash), String> {
    let v = signed_note::StandardVerifier::new(vkey).map_err(|e| e.to_string())?;
    let n = signed_note::Note::from_bytes(note.as_bytes()).map_err(|e| e.to_string())?;
    n.verify(&signed_note::VerifierList::new(vec![Box::new(v)]))
        .map_err(|e| format!("checkpoint signature: {e}"))?;
    let mut lines = note.lines().skip(1);
    let size = lines.next().and_then(|l| l.parse().ok()).ok_or("checkpoint size")?;
    let root = BASE64_STANDARD
        .decode(lines.next().ok_or("checkpoint root")?)
        .map_err(|e| e.to_string())?;
    Ok((size, root.try_into().map_err(|_| "root of 32 bytes")?))
}

/// The peak resident set (`VmHWM`, KiB) of a process.
pub fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// A fresh database on the PostgreSQL server at `admin` (a URL naming any database).
pub fn fresh_pg(admin: &str) -> String {
    use diesel::{Connection, RunQueryDsl};
    // Named after scripts/test's run (DL_TEST_RUN) when it has one, so that it drops it.
    let name = match std::env::var("DL_TEST_RUN") {
        Ok(run) if !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            format!(
                "dl_harness_{}_{}",
                run.to_ascii_lowercase(),
                uuid::Uuid::new_v4().simple()
            )
        }
        _ => format!("dl_harness_{}", uuid::Uuid::new_v4().simple()),
    };
    let mut c = diesel::PgConnection::establish(admin).expect("connect --pg");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// Drops a database [`fresh_pg`] made (its URL), once the server using it has stopped.
pub fn drop_pg(admin: &str, url: &str) {
    use diesel::{Connection, RunQueryDsl};
    let name = url.rsplit_once('/').map_or(url, |(_, n)| n);
    if let Ok(mut c) = diesel::PgConnection::establish(admin) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}")).execute(&mut c);
    }
}

/// All entries of the log as an auditor sees them (bytes as stored), with their leaf hashes.
pub async fn all_entries(http: &reqwest::Client, base: &str, token: &str) -> Vec<(serde_json::Value, Hash)> {
    let mut out = Vec::new();
    let mut start = 0u64;
    loop {
        let text = http
            .get(format!("{base}/v1/log/entries?start={start}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        #[derive(serde::Deserialize)]
        struct Page<'a> {
            #[serde(borrow)]
            entries: Vec<&'a serde_json::value::RawValue>,
            next: Option<u64>,
        }
        let page: Page = serde_json::from_str(&text).unwrap();
        for raw in &page.entries {
            out.push((
                serde_json::from_str(raw.get()).unwrap(),
                leaf_hash(raw.get().as_bytes()),
            ));
        }
        match page.next {
            Some(n) => start = n,
            None => return out,
        }
    }
}

/// The resident set of a process now (KiB): `(RssAnon, RssFile)`: memory the process owns, and
/// file pages it has mapped (its executable, SQLite's shared-memory WAL index; shared with the
/// page cache).
pub fn rss_parts_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

/// CPU time a process has used so far (user + system), in seconds; `"self"` for this one.
/// With PostgreSQL, the database's own processes are not counted.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    // utime and stime are fields 14 and 15 of proc(5)'s stat; `rest` starts at field 3. They
    // are in USER_HZ, which Linux fixes at 100 for /proc.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// A ledger-signed token for `role`, valid for an hour, minted with the token key the server
/// keeps in `data_dir` (the harnesses run the server under the default log origin).
pub fn token(data_dir: &Path, role: disclosure_ledger::auth::Role, sub: &str) -> String {
    let mut settings = disclosure_ledger::config::Settings::new(data_dir);
    settings.origin = disclosure_ledger::config::DEFAULT_ORIGIN.into();
    let (_, tokens) = disclosure_ledger::app::existing_instance_keys(&settings).expect("the server's keys");
    tokens
        .mint(role, sub, std::time::Duration::from_secs(3600), None)
        .expect("mint a token")
}
