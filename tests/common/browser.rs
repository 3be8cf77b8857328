//! Headless Chromium for the tests of the public pages: Debian's `chromium` (installed by
//! `scripts/test`; `CHROMIUM` names another binary) loads a page from a real server, runs its
//! ES modules (WebCrypto included) and prints the DOM it settles on, which tests read through
//! the pages' `data-testid` hooks.

use std::path::{Path, PathBuf};

pub fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Runs headless Chromium on `url` with the profile `profile` (its localStorage persists
/// between calls) and returns the DOM once the page's scripts and fetches have settled.
pub async fn browse(profile: &Path, url: &str) -> String {
    let mut command = headless(profile);
    command.args(["--no-first-run", "--dump-dom", url]);
    let out = run(command).await;
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Headless Chromium with the profile `profile`, letting the page's scripts and fetches settle
/// for up to 15 s of virtual time.
fn headless(profile: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Runs the browser off the test's runtime thread, which also serves the in-process ledger.
pub async fn run(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("run {} (scripts/test installs Debian's chromium): {e}", chromium()))
}

/// A screenshot at `width` pixels, kept under the target directory as a test artefact.
pub async fn screenshot(url: &str, width: u32, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let profile = tempfile::tempdir().unwrap();
    let mut command = headless(profile.path());
    command
        .arg("--hide-scrollbars")
        .arg(format!("--window-size={width},2400"))
        .arg(format!("--screenshot={}", path.display()))
        .arg(url);
    let out = run(command).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&path).unwrap().len() > 10_000, "an empty screenshot");
    path
}

/// The value of `name` in the first element carrying `data-testid="testid"`.
pub fn hook(dom: &str, testid: &str, name: &str) -> Option<String> {
    let at = dom.find(&format!("data-testid=\"{testid}\""))?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    attribute(&dom[start..end], name)
}

pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}
