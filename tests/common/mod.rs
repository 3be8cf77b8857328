//! Test harness: every test starts the real server on port 0 over a fresh database — a SQLite
//! file in a temporary directory, or, when `TEST_DATABASE_URL` names a PostgreSQL server, a new
//! database created on it for this test alone. Those databases outlive the test (a test may
//! restart its server on the same one); `scripts/test` drops the ones its run created, on exit.
#![allow(dead_code)]

pub mod browser;
pub mod cluster;
pub mod requests;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use disclosure_ledger::app::{self, Application};
use disclosure_ledger::auth::Role;
use disclosure_ledger::config::Settings;
use disclosure_ledger::ledger::LogVerifier;

pub struct TestApp {
    pub base: String,
    pub settings: Settings,
    pub database_url: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// A database URL no other test uses.
pub fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            use diesel::{Connection, RunQueryDsl};
            let name = match std::env::var("DL_TEST_RUN") {
                // scripts/test names its run so that it can drop what the run created.
                Ok(run) if !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                    format!("dl_test_{}_{}", run.to_ascii_lowercase(), uuid::Uuid::new_v4().simple())
                }
                _ => format!("dl_test_{}", uuid::Uuid::new_v4().simple()),
            };
            let mut conn = diesel::PgConnection::establish(&admin).expect("connect to TEST_DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create test database");
            let (prefix, _) = admin.rsplit_once('/').expect("TEST_DATABASE_URL ends in /<database>");
            format!("{prefix}/{name}")
        }
        _ => dir.join("ledger.db").to_string_lossy().into_owned(),
    }
}

pub fn is_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL")
        .map(|v| !v.is_empty())
        .unwrap_or(false)
}

pub fn settings_for(dir: &std::path::Path, database_url: &str) -> Settings {
    let mut s = Settings::new(dir);
    s.listen = "127.0.0.1:0".into();
    s.database_url = Some(database_url.to_string());
    // Tests drive the API faster than any client would; the tests of the limits set them.
    s.rate_limit_per_subject = 0;
    s.rate_limit_per_address = 0;
    s
}

pub async fn spawn() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database_url(dir.path());
    spawn_with(dir, database_url, |_| {}).await
}

pub async fn spawn_with(dir: tempfile::TempDir, database_url: String, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    // The server's log, when RUST_LOG asks for it (e.g. RUST_LOG=error to see a 500's cause).
    let _ = env_logger::builder().is_test(true).try_init();
    let mut settings = settings_for(dir.path(), &database_url);
    tweak(&mut settings);
    let application = Application::build(settings.clone()).await.expect("application starts");
    let base = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        base,
        settings,
        database_url,
        client,
        dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn token(&self, role: Role) -> String {
        self.token_for(role, "test-user")
    }

    pub fn token_for(&self, role: Role, sub: &str) -> String {
        let (_, tokens) = app::instance_keys(&self.settings).unwrap();
        tokens.mint(role, sub, Duration::from_secs(600), None).unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn text(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.text().await.unwrap()
    }

    pub async fn verifier(&self) -> LogVerifier {
        LogVerifier::new(self.text("/v1/log/key").await.trim()).unwrap()
    }

    /// The size of the newest checkpoint, its signature checked.
    pub async fn size(&self) -> u64 {
        self.verifier()
            .await
            .verify(&self.text("/v1/log/checkpoint").await)
            .unwrap()
            .size
    }

    /// GET with a bearer token; the body as JSON, whatever the status.
    pub async fn get_json_as(&self, path: &str, token: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .unwrap()
    }

    /// Opens a request's vault (`POST /v1/requests/{id}/identifiers`) with `token`; the body,
    /// whatever the status.
    pub async fn open_vault(&self, id: &str, token: &str, reason: &str) -> serde_json::Value {
        self.client
            .post(self.url(&format!("/v1/requests/{id}/identifiers")))
            .bearer_auth(token)
            .json(&serde_json::json!({ "reason": reason }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .unwrap()
    }

    /// Appends a policy adoption as an admin; returns the response body.
    pub async fn adopt_policy(&self, name: &str) -> serde_json::Value {
        let document = policy_document(name);
        let r = self
            .client
            .post(self.url("/v1/policies"))
            .bearer_auth(self.token(Role::Admin))
            .json(&serde_json::json!({ "name": name, "document": document }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }
}

/// A valid policy document: a shipped one when `name` names one, else the default renamed.
pub fn policy_document(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    match std::fs::read_to_string(dir.join(format!("{name}.toml"))) {
        Ok(doc) => doc,
        Err(_) => std::fs::read_to_string(dir.join("telegram-2024-09.toml"))
            .unwrap()
            .replacen("name = \"telegram-2024-09\"", &format!("name = \"{name}\""), 1),
    }
}

/// Asserts an RFC 9457 problem with the given status.
/// A JSON array of hex hashes (a proof) as hashes.
pub fn hashes(v: &serde_json::Value) -> Vec<disclosure_ledger::ledger::Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| disclosure_ledger::ledger::parse_hex_hash(h.as_str().unwrap()).unwrap())
        .collect()
}

pub async fn assert_problem(r: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().unwrap().starts_with("https://"));
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

/// A real `disclosure-ledger serve` process on a free port; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    /// Everything the server wrote to stderr (its log), line by line.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    pub fn start(dir: &std::path::Path, database_url: &str) -> ServerProcess {
        Self::start_with(dir, database_url, &[])
    }

    pub fn start_with(dir: &std::path::Path, database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let mut args: Vec<std::ffi::OsString> = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
            "--data-dir",
        ]
        .iter()
        .map(Into::into)
        .collect();
        args.push(dir.into());
        Self::run(&args, env)
    }

    /// Any `disclosure-ledger` command that serves HTTP and logs "listening on port N".
    pub fn run(args: &[std::ffi::OsString], env: &[(&str, &str)]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_disclosure-ledger"))
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start server process");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let port = loop {
            let Some(line) = lines.next() else {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!(
                    "server exited ({status}) before listening; it printed:\n{}",
                    log.lock().unwrap().join("\n")
                );
            };
            let line = line.unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(p) = line.split("listening on port ").nth(1) {
                break p.trim().parse::<u16>().unwrap();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// SIGKILL: no shutdown handler runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl TestApp {
    /// POST as an admin; returns status and body.
    pub async fn admin_post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(self.token(Role::Admin))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Registers a verified French court; returns its id.
    pub async fn register_authority(&self) -> String {
        let (status, body) = self
            .admin_post(
                "/v1/authorities",
                serde_json::json!({
                    "country": "FRA", "kind": "court", "judicial": true,
                    "name": "Tribunal judiciaire de Paris", "domains": ["justice.fr"]
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["authority"]["id"].as_str().unwrap().to_string()
    }

    /// Registers a fresh Ed25519 key for `authority`; returns its kid and the signing key.
    pub async fn add_ed25519_key(&self, authority: &str) -> (String, ed25519_dalek::SigningKey) {
        use base64::prelude::*;
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let x = BASE64_URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let (status, body) = self
            .admin_post(
                &format!("/v1/authorities/{authority}/keys"),
                // Valid since 2020, so that it may have signed orders issued before today.
                serde_json::json!({
                    "alg": "EdDSA", "not_before": "2020-01-01T00:00:00Z",
                    "jwk": { "kty": "OKP", "crv": "Ed25519", "x": x }
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let kid = body["authority"]["keys"].as_array().unwrap().last().unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_string();
        (kid, key)
    }
}

/// Claims of an officer token an authority mints, valid for ten minutes.
pub fn officer_claims(app: &TestApp, authority: &str) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    serde_json::json!({
        "iss": authority, "sub": "officer-17", "aud": app.settings.origin,
        "iat": now, "exp": now + 600, "role": "officer"
    })
}

/// Signs `claims` with an authority's Ed25519 key under `kid`.
pub fn sign_ed25519(key: &ed25519_dalek::SigningKey, kid: &str, claims: &serde_json::Value) -> String {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let der = key.to_pkcs8_der().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes())).unwrap()
}
