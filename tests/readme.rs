//! The README's shell blocks run as written, in order, twice, against a real server process —
//! with `curl` and `jq` — and print what the README shows (`#>` lines, `…` standing for what
//! varies), so that the README cannot drift. Only the address and the binary's path are
//! substituted; the first block (building and serving) is what this test does itself.

mod common;

use std::process::Command;

/// Every ```sh block of the README after the first, in order.
fn blocks(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + "```sh\n".len()..];
        let end = body.find("```").expect("a shell block ends");
        out.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    out.remove(0); // the two commands: `cargo run -- serve` and `scripts/test`
    out
}

/// Each `#> …` line must match the output, in order; `…` matches anything.
fn check_shown(script: &str, stdout: &str) {
    let mut at = 0;
    for shown in script.lines().filter_map(|l| l.trim_start().strip_prefix("#> ")) {
        for piece in shown.split('…').map(str::trim).filter(|p| !p.is_empty()) {
            match stdout[at..].find(piece) {
                Some(i) => at += i + piece.len(),
                None => panic!(
                    "the README shows {shown:?}, but {piece:?} is not in what followed:\n{}",
                    &stdout[at..]
                ),
            }
        }
    }
}

#[test]
fn every_readme_block_runs_in_order_twice_and_prints_what_it_shows() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{repo}/README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let server = common::ServerProcess::start_with(
        dir.path(),
        &db,
        &[("RATE_LIMIT_PER_SUBJECT", "0"), ("RATE_LIMIT_PER_ADDRESS", "0")],
    );
    let hostport = server.base.trim_start_matches("http://").to_string();
    // A working directory like the repository root, but scratch: the blocks read `policies/`
    // and `datasets/` and may write state files.
    let work = tempfile::tempdir().unwrap();
    for d in ["policies", "datasets"] {
        std::os::unix::fs::symlink(format!("{repo}/{d}"), work.path().join(d)).unwrap();
    }
    let script: String = blocks(&readme)
        .iter()
        .map(|b| {
            b.replace(
                "L=target/release/disclosure-ledger",
                &format!("L='{}'", env!("CARGO_BIN_EXE_disclosure-ledger")),
            )
            .replace("localhost:8080", &hostport)
            .replace("127.0.0.1:8080", &hostport)
        })
        .collect::<Vec<_>>()
        .join("\n");
    for run in 1..=2 {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail\n{script}"))
            .current_dir(work.path())
            .env("DATA_DIR", dir.path())
            .output()
            .expect("bash");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail = &stdout[stdout.len().saturating_sub(3000)..];
        assert!(
            out.status.success(),
            "run {run}: the README's blocks failed; the end of what they printed:\n{tail}\n{stderr}"
        );
        check_shown(&script, &stdout);
    }
}
