//! The README's shell blocks run as written — against a real server process, with `curl` and
//! `jq` — so that a newcomer who pastes them gets what the README promises. Only the address
//! and the binary's path are substituted.

mod common;

use std::process::Command;

/// The shell block that follows `heading` in the README.
fn block_after(readme: &str, heading: &str) -> String {
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let rest = &readme[at..];
    let start = rest.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let end = rest[start..].find("```").expect("the block ends");
    rest[start..start + end].to_string()
}

#[test]
fn the_readme_worked_example_monitoring_and_api_blocks_run_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database_url(dir.path());
    let server = common::ServerProcess::start_with(
        dir.path(),
        &db,
        &[("RATE_LIMIT_PER_SUBJECT", "0"), ("RATE_LIMIT_PER_ADDRESS", "0")],
    );
    let hostport = server.base.trim_start_matches("http://").to_string();
    let work = tempfile::tempdir().unwrap();

    let worked = block_after(&readme, "### Worked example").replace("http://127.0.0.1:8080", &server.base);
    let monitoring = block_after(&readme, "## Monitoring").replace("localhost:8080", &hostport);
    let api = block_after(&readme, "## API")
        .replace("localhost:8080", &hostport)
        .replace("cargo run -q --release --", "$L");
    let script = format!(
        "set -euo pipefail\nL='{bin}'\nexport DATA_DIR='{data}'\nAUDITOR=$($L token --role auditor --sub carol)\n\
         {worked}\necho '== monitoring'\n{monitoring}\necho '== api'\n{api}",
        bin = env!("CARGO_BIN_EXE_disclosure-ledger"),
        data = dir.path().display(),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the README's blocks failed:\n{stdout}\n{stderr}");
    // What the worked example promises: an approval, a disclosure, the history's kinds.
    for promised in ["approved", "disclosed", "request.received", "request.disclosed"] {
        assert!(stdout.contains(promised), "no {promised:?} in\n{stdout}");
    }
    // The monitor ran three times and found the log sound each time.
    assert_eq!(stdout.matches("OK: size").count(), 3, "{stdout}\n{stderr}");
}
