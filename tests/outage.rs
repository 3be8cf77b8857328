//! A PostgreSQL restart under a running ledger (issue 17, faults 1 and 2), with real parts: a
//! PostgreSQL cluster of this test's own (so stopping it disturbs no other test) and the real
//! server process. While the database is down, writes are 503 with `Retry-After` and nothing
//! is half-applied, `/healthz` answers, `/readyz` says not ready; once it is back the writer
//! reconnects by itself and the first write succeeds, and the ledger verifies.
//! Runs in the PostgreSQL pass of `scripts/test` only.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::ServerProcess;
use disclosure_ledger::auth::Role;
use serde_json::json;

/// A throw-away cluster: initdb, pg_ctl start/stop, removed on drop.
struct Cluster {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn pg(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn new() -> Option<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())?;
        let root = String::from_utf8(Command::new("id").arg("-u").output().ok()?.stdout)
            .ok()?
            .trim()
            == "0";
        let dir = tempfile::tempdir().ok()?;
        if root {
            Command::new("chown").arg("postgres").arg(dir.path()).status().ok()?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let c = Cluster {
            bin,
            dir,
            port,
            as_postgres: root,
        };
        let ok = c
            .pg("initdb")
            .arg("-D")
            .arg(c.data())
            .args(["-U", "ledger", "--auth=trust", "-E", "UTF8"])
            .output()
            .ok()?
            .status
            .success();
        assert!(ok, "initdb failed");
        c.start();
        Some(c)
    }

    fn start(&self) {
        let ok = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1",
                self.port,
                self.dir.path().display()
            ))
            .arg("start")
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "pg_ctl start failed");
    }

    /// `pg_ctl stop -m immediate`: what a crash or a failover looks like to the ledger.
    fn crash(&self) {
        let ok = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "pg_ctl stop failed");
    }

    fn url(&self) -> String {
        format!("postgres://ledger@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

async fn until(what: &str, limit: Duration, mut ok: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ok().await {
        assert!(started.elapsed() < limit, "{what} not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn the_writer_survives_a_postgresql_restart() {
    if !common::is_postgres() {
        return; // the PostgreSQL pass runs it
    }
    let Some(cluster) = Cluster::new() else {
        panic!("the PostgreSQL pass needs initdb under /usr/lib/postgresql/*/bin");
    };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &cluster.url());
    let settings = common::settings_for(data.path(), &cluster.url());
    let (_, tokens) = disclosure_ledger::app::instance_keys(&settings).unwrap();
    let admin = tokens.mint(Role::Admin, "ops", Duration::from_secs(600), None).unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let base = server.base.clone();
    let register = |name: &'static str| {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        async move {
            client
                .post(format!("{base}/v1/authorities"))
                .bearer_auth(&admin)
                .json(&json!({ "country": "BEL", "kind": "police", "judicial": false, "name": name }))
                .send()
                .await
        }
    };
    let status = |path: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(register("before").await.unwrap().status(), 201);
    assert_eq!(status("/readyz").await, 200);

    cluster.crash();
    until("/readyz 503", Duration::from_secs(10), async || {
        status("/readyz").await == 503
    })
    .await;
    for _ in 0..3 {
        let started = Instant::now();
        let r = register("during").await.unwrap();
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        assert!(started.elapsed() < Duration::from_secs(5), "refused quickly");
        assert_eq!(status("/healthz").await, 200, "liveness never touches the database");
    }
    let r = client.get(format!("{base}/v1/log/entries")).send().await.unwrap();
    assert_eq!(r.status(), 503, "reads say the database is unreachable, quickly");

    cluster.start();
    let back = until("/readyz 200", Duration::from_secs(15), async || {
        status("/readyz").await == 200
    })
    .await;
    let r = register("after").await.unwrap();
    assert_eq!(r.status(), 201, "the first write after the database is back succeeds");
    println!("outage: ready again {back:?} after PostgreSQL restarted");

    // Nothing half-applied: three authorities-to-be were refused, two were recorded, and the
    // whole ledger verifies.
    let r: serde_json::Value = client
        .get(format!("{base}/v1/audit/verify"))
        .bearer_auth(tokens.mint(Role::Auditor, "a", Duration::from_secs(600), None).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    let list: serde_json::Value = client
        .get(format!("{base}/v1/authorities"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["authorities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| **n == "during").count(), 0, "{names:?}");
    assert_eq!(names.len(), 2, "{names:?}");
    server.kill();
}
