//! A PostgreSQL cluster of a test's own (initdb, pg_ctl), for tests that stop, crash or
//! replicate their database without disturbing any other test; removed on drop. Its standby
//! is a real streaming replica made with `pg_basebackup -R`.

use std::process::Command;

/// A throw-away cluster: initdb, pg_ctl start/stop, removed on drop.
pub struct Cluster {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    pub fn pg(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// A cluster for a test that runs in the PostgreSQL pass only: `None` in the SQLite pass
    /// (the test returns); the PostgreSQL pass without `initdb` is a failure, not a skip.
    pub fn for_postgres_pass() -> Option<Cluster> {
        if !super::is_postgres() {
            return None;
        }
        Some(Cluster::new().expect("the PostgreSQL pass needs initdb under /usr/lib/postgresql/*/bin"))
    }

    pub fn new() -> Option<Cluster> {
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

    pub fn start(&self) {
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
    pub fn crash(&self) {
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

    pub fn url(&self) -> String {
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

impl Cluster {
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// A hot standby of this cluster: `pg_basebackup -R` (which writes `standby.signal` and
    /// `primary_conninfo`) into a directory of its own, started on another port. It streams the
    /// primary's write-ahead log and answers read-only queries while it replays.
    pub fn standby(&self) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        if self.as_postgres {
            Command::new("chown").arg("postgres").arg(dir.path()).status().unwrap();
        }
        let c = Cluster {
            bin: self.bin.clone(),
            dir,
            port: Self::free_port(),
            as_postgres: self.as_postgres,
        };
        let out = c
            .pg("pg_basebackup")
            .arg("-D")
            .arg(c.data())
            .args(["-R", "-X", "stream", "-h", "127.0.0.1", "-U", "ledger", "-p"])
            .arg(self.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.start();
        c
    }

    /// `pg_ctl promote`: a standby becomes a primary of its own, its history free to diverge.
    pub fn promote(&self) {
        let ok = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "promote"])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "pg_ctl promote failed");
    }
}
