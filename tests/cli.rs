//! The command line and the server's own output, as a deployer meets them.

mod common;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
}

#[test]
fn token_refuses_a_data_directory_without_keys_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-the-data-dir");
    let out = bin()
        .args(["token", "--role", "admin", "--sub", "a", "--data-dir"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-the-data-dir") && err.contains("log-key.pem"), "{err}");
    assert!(!missing.exists(), "no keys were created");
}

#[test]
fn every_option_of_every_command_has_a_help_line() {
    let top = String::from_utf8(bin().arg("--help").output().unwrap().stdout).unwrap();
    let mut commands: Vec<Vec<String>> = Vec::new();
    for line in top.lines().skip_while(|l| !l.starts_with("Commands:")).skip(1) {
        let Some(name) = line.split_whitespace().next() else {
            break;
        };
        if name == "help" || !line.starts_with("  ") {
            break;
        }
        commands.push(vec![name.to_string()]);
    }
    for sub in ["keygen", "token", "sign-order"] {
        commands.push(vec!["authority".into(), sub.into()]);
    }
    for sub in ["records", "check"] {
        commands.push(vec!["dataset".into(), sub.into()]);
    }
    assert!(commands.len() > 8, "{top}");
    for c in commands {
        let help = String::from_utf8(bin().args(&c).arg("--help").output().unwrap().stdout).unwrap();
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let l = line.trim();
            let is_option = l.starts_with("--") || l.starts_with('<') || l.starts_with('-');
            if !is_option || l.starts_with("-h") || l.starts_with("--help") {
                continue;
            }
            // `--option <VALUE>  Help text` on one line, or (clap's long layout) the help text
            // on the next, more indented line.
            let inline = l
                .split_once("  ")
                .is_some_and(|(_, text)| !text.trim().is_empty() && !text.trim().starts_with('['));
            let indent = |s: &str| s.len() - s.trim_start().len();
            let below = lines.get(i + 1).is_some_and(|next| {
                let t = next.trim();
                indent(next) > indent(line) && !t.is_empty() && !t.starts_with('-') && !t.starts_with('[')
            });
            assert!(inline || below, "`{}` has no help text for: {l}", c.join(" "));
        }
    }
}

#[tokio::test]
async fn the_server_says_what_to_pin_and_logs_each_request_without_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(dir.path());
    let server = common::ServerProcess::start(dir.path(), &url);
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/v1/log/entries/0", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let key = client
        .get(format!("{}/v1/log/key", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains(&format!("verifier key to pin {}", key.trim())), "{log}");
    assert!(log.contains("policy in force telegram-2024-09 (sha256 "), "{log}");
    assert!(log.contains("tree size 1"), "{log}");
    assert!(log.contains("GET /v1/log/entries/{index} 200"), "{log}");
    assert!(
        !log.contains("/v1/log/entries/0 "),
        "the path itself is not logged: {log}"
    );
}

/// `authority keygen` writes PKCS#8 v1 (RFC 8410 §7: version 0, the seed only), the form
/// OpenSSL 3.0 and Python's `cryptography` read, so an authority can sign its orders with its
/// own tools; and the order it signs with that key is the one the CLI would make.
#[test]
fn the_authority_key_file_is_pkcs8_v1_that_standard_tools_read() {
    use base64::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("court.pem");
    let out = bin()
        .args(["authority", "keygen", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pem = std::fs::read_to_string(&path).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = BASE64_STANDARD.decode(b64).unwrap();
    // SEQUENCE { INTEGER 0, AlgorithmIdentifier { 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
    assert_eq!(der.len(), 48, "{der:02x?}");
    assert_eq!(
        &der[..16],
        &[0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    );
    if let Ok(o) = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&path)
        .output()
    {
        assert!(
            o.status.success(),
            "openssl refuses the key: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
