//! One connection type over both backends (diesel `MultiConnection`), chosen by the URL's
//! scheme rather than by trying each backend in turn, plus per-backend embedded migrations.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::StoreError;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which backend a URL names: `postgres://` or `postgresql://` is PostgreSQL, anything else a
/// SQLite path (an optional `sqlite://` prefix is dropped).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The file path a SQLite URL names.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

/// SQLite settings every connection needs (DESIGN §5): a busy timeout so a second process
/// waits for the write lock instead of failing, WAL so readers never block the writer,
/// `synchronous=FULL` so an acknowledged commit survives power loss, and `secure_delete` so
/// that what retention destroys is overwritten with zeros in the file, not merely unlinked.
///
/// Each connection maps the first 32 MiB of the file (`mmap_size`), not all of it: mapped
/// pages count in the process's resident memory, each connection maps its own view, and the
/// server's peak RSS in the load replay was 686 MiB with 1 GiB mapped, 185–194 MiB with
/// 64 MiB (at the 200 MB target) and 140 MiB with 32 MiB, at the same throughput.
/// Not 0: unmapped, a reader scanning the whole table holds its snapshot longer, the writer's
/// checkpoint rarely finds the moment to start the WAL over, and the WAL grew to 20–34 MB in
/// `tests/sequencer.rs`'s bounded-WAL test (under 16 MiB mapped; it passed 6 runs of 6 at
/// 32 MiB). `verify` over a million entries ran at 0.89–1.15 million entries/s with 64 MiB
/// mapped and 1.11–1.21 million with none, within this VM's run-to-run spread (README,
/// Performance).
const SQLITE_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 10000;";
const SQLITE_WAL: &str = "PRAGMA journal_mode = WAL;";
const SQLITE_PRAGMAS: &str =
    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA mmap_size = 33554432;";

/// How long a new connection keeps trying to switch a new database to WAL while another
/// process does the same: as long as the busy timeout.
const WAL_SWITCH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Switches the database to WAL (a no-op once it is). On a new database two processes may do
/// this at once; the switch writes the file header while holding a read lock, and SQLite
/// answers such an upgrade with an immediate "database is locked" rather than calling the busy
/// handler (it could deadlock), so the switch is retried here until the other has finished.
fn switch_to_wal(c: &mut SqliteConnection) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    loop {
        match c.batch_execute(SQLITE_WAL) {
            Ok(()) => return Ok(()),
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("locked") && started.elapsed() < WAL_SWITCH_PATIENCE =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

pub fn establish(url: &str) -> Result<DbConnection, StoreError> {
    if is_postgres(url) {
        Ok(DbConnection::Postgresql(PgConnection::establish(url)?))
    } else {
        let path = sqlite_path(url);
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(format!("create {}: {e}", dir.display())))?;
            }
        }
        if path != ":memory:" {
            crate::files::private_file(std::path::Path::new(path)).map_err(StoreError::Io)?;
        }
        let mut c = SqliteConnection::establish(path)?;
        c.batch_execute(SQLITE_BUSY_TIMEOUT)?;
        switch_to_wal(&mut c)?;
        c.batch_execute(SQLITE_PRAGMAS)?;
        Ok(DbConnection::Sqlite(c))
    }
}

/// Runs the same diesel expression on the backend's own connection, `$c`. What the hot paths
/// use instead of [`DbConnection`] itself: through diesel's `MultiConnection` every execution
/// renders the statement's SQL text again (its serialised query builds it in `walk_ast`, even
/// for a statement already prepared and cached), and some statements (multi-row
/// `INSERT … VALUES`) are not available through it at all.
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Postgresql($c) => $body,
            $crate::store::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// The PostgreSQL advisory lock (`pg_advisory_lock`) held while migrating: any 64-bit number
/// no other application on the database uses; this one is "dl-migr" in ASCII.
const MIGRATION_LOCK: i64 = 0x0064_6c2d_6d69_6772;

/// How long a starting SQLite process waits for another process's migrations.
const MIGRATION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

/// Applies the embedded migrations of the connection's backend; returns how many ran.
///
/// Several processes may start at once on a new database (two ledger processes behind one load
/// balancer): they take turns, under an advisory lock on PostgreSQL and under the database's
/// write lock on SQLite (waiting at most `MIGRATION_PATIENCE`), so the second finds nothing
/// pending. Stop old processes before an upgrade: a run holds its tables' locks until it
/// commits.
pub fn migrate(conn: &mut DbConnection) -> Result<usize, StoreError> {
    match conn {
        // Both backends run all pending migrations in one transaction (DDL is transactional
        // in both), each migration in a savepoint inside it: a run that fails leaves the
        // schema as it found it, and its error is returned as it is, never retried.
        DbConnection::Postgresql(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let ran = c.transaction(|c| {
                c.run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(|e| StoreError::Migration(e.to_string()))
            });
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            ran
        }
        DbConnection::Sqlite(c) => {
            // Nothing pending, the usual start: a read, no lock, so a process starting beside
            // a busy writer does not queue for the write lock.
            let pending = c
                .has_pending_migration(SQLITE_MIGRATIONS)
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            if !pending {
                return Ok(0);
            }
            // `BEGIN IMMEDIATE` takes the write lock before anything is read. A process that
            // finds it taken (another is migrating: copying tree hashes into pages takes
            // minutes on a large ledger, longer than `busy_timeout`) tries again until
            // `MIGRATION_PATIENCE` has passed, then finds nothing pending. Only that "locked"
            // is retried; a failing migration is not.
            let started = std::time::Instant::now();
            loop {
                let ran = c.immediate_transaction(|c| {
                    c.run_pending_migrations(SQLITE_MIGRATIONS)
                        .map(|v| v.len())
                        .map_err(|e| StoreError::Migration(e.to_string()))
                });
                match ran {
                    Err(StoreError::Database(diesel::result::Error::DatabaseError(_, info)))
                        if info.message().contains("locked") && started.elapsed() < MIGRATION_PATIENCE =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    ran => return ran,
                }
            }
        }
    }
}

pub type DbPool = Pool<Manager>;

/// A connection is pinged when it is checked out of the pool only if its last successful
/// ping is older than this (or its last read failed, [`Pooled::ping_at_next_checkout`]). A
/// ping on every checkout (r2d2's default) was a third of all statements PostgreSQL ran under
/// load, one loopback round trip per read. After a database restart, a connection pinged in
/// the second before it is handed out once more and its read fails as unavailable (503 with
/// `Retry-After`, as any read during the outage); older ones are found and replaced at checkout.
const PING_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A pooled connection and when it last answered a ping; it dereferences to the connection.
pub struct Pooled {
    conn: DbConnection,
    /// `None`: ping at the next checkout whatever the time.
    pinged: Option<std::time::Instant>,
}

impl Pooled {
    /// After a read failed with a server error (the connection may be what failed, in a
    /// restart faster than [`PING_AFTER`]), the next checkout pings it first, and replaces it
    /// if it is gone, instead of failing the next read too.
    pub fn ping_at_next_checkout(&mut self) {
        self.pinged = None;
    }
}

impl std::ops::Deref for Pooled {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// An r2d2 manager that opens connections with [`establish`], so the backend is chosen by the
/// URL and every SQLite connection gets its pragmas.
#[derive(Debug)]
pub struct Manager {
    url: String,
    /// After a failed attempt: no attempt before this instant, and the next pause. `None`: no
    /// pause (a standby's pool, whose reader keeps its own back-off, `replica.rs`).
    backoff: Option<std::sync::Mutex<(Option<std::time::Instant>, std::time::Duration)>>,
}

/// The pause after a failed connection attempt of the read pool: from 100 ms, doubling, at
/// most 2 s (the time a reader waits for a connection). Without it, during an outage every
/// reader that found no idle connection made the pool try again: 5,673 attempts in 40 s in
/// one load run, each a process forked by the PostgreSQL server it was meant to spare.
const CONNECT_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(100);
const CONNECT_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(2);

impl Manager {
    fn new(url: &str, backoff: bool) -> Self {
        Manager {
            url: url.to_string(),
            backoff: backoff.then(|| std::sync::Mutex::new((None, CONNECT_BACKOFF_MIN))),
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = StoreError;

    fn connect(&self) -> Result<Pooled, StoreError> {
        let Some(backoff) = &self.backoff else {
            return Ok(Pooled {
                conn: establish(&self.url)?,
                pinged: Some(std::time::Instant::now()),
            });
        };
        let now = std::time::Instant::now();
        if let Some(until) = backoff.lock().unwrap_or_else(|e| e.into_inner()).0 {
            if now < until {
                let ms = (until - now).as_millis() as u64;
                return Err(StoreError::Unavailable(
                    format!("the last connection attempt failed; the next one in {ms} ms"),
                    1,
                ));
            }
        }
        let result = establish(&self.url);
        let mut b = backoff.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(conn) => {
                *b = (None, CONNECT_BACKOFF_MIN);
                Ok(Pooled {
                    conn,
                    pinged: Some(std::time::Instant::now()),
                })
            }
            Err(e) => {
                let pause = b.1;
                *b = (
                    Some(std::time::Instant::now() + pause),
                    (pause * 2).min(CONNECT_BACKOFF_MAX),
                );
                Err(e)
            }
        }
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), StoreError> {
        if conn.pinged.is_some_and(|at| at.elapsed() < PING_AFTER) {
            return Ok(());
        }
        conn.conn.ping().map_err(StoreError::from)?;
        conn.pinged = Some(std::time::Instant::now());
        Ok(())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.conn.is_broken()
    }
}

/// A pool for readers. Writers do not use it: all writes go through the sequencer's own
/// connection.
pub fn pool(url: &str, size: u32) -> Result<DbPool, StoreError> {
    // A reader waits at most two seconds for a connection: during a database outage it is told
    // 503 quickly instead of holding a blocking thread for r2d2's default 30 s.
    Pool::builder()
        .max_size(size)
        .connection_timeout(std::time::Duration::from_secs(2))
        .build(Manager::new(url, true))
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// A pool like [`pool`] that does not wait for its first connections: a database that is down
/// when the server starts (a hot standby being rebuilt) is only tried when a read needs it.
/// `check` runs on every new connection before it is used, and may refuse it.
pub fn pool_lazy(
    url: &str,
    size: u32,
    check: Box<dyn diesel::r2d2::CustomizeConnection<Pooled, StoreError>>,
) -> Result<DbPool, StoreError> {
    Ok(Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(std::time::Duration::from_millis(500))
        .connection_customizer(check)
        .build_unchecked(Manager::new(url, false)))
}

#[cfg(test)]
mod tests {
    use diesel::r2d2::ManageConnection;
    use diesel::RunQueryDsl;

    /// A database that refuses connections is tried again only after a pause that grows, not
    /// by every reader that asks, and a success ends the pause.
    #[test]
    fn a_failed_connection_attempt_pauses_the_next_ones() {
        // A port nothing listens on: refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let m = super::Manager::new(&format!("postgres://nobody@127.0.0.1:{port}/none"), true);
        let first = m.connect().err().unwrap().to_string();
        assert!(!first.contains("next one in"), "{first}");
        for _ in 0..50 {
            let again = m.connect().err().unwrap().to_string();
            assert!(again.contains("next one in"), "not tried again at once: {again}");
        }
        std::thread::sleep(super::CONNECT_BACKOFF_MIN + std::time::Duration::from_millis(20));
        let tried = m.connect().err().unwrap().to_string();
        assert!(!tried.contains("next one in"), "tried after the pause: {tried}");
        // The pause doubled.
        std::thread::sleep(super::CONNECT_BACKOFF_MIN + std::time::Duration::from_millis(20));
        assert!(m.connect().err().unwrap().to_string().contains("next one in"));
        // Without a back-off (a standby's pool) every call tries.
        let plain = super::Manager::new(&format!("postgres://nobody@127.0.0.1:{port}/none"), false);
        for _ in 0..3 {
            assert!(!plain.connect().err().unwrap().to_string().contains("next one in"));
        }
        // A database that answers ends the pause.
        let dir = tempfile::tempdir().unwrap();
        let ok = super::Manager::new(dir.path().join("ok.db").to_str().unwrap(), true);
        assert!(ok.connect().is_ok());
    }

    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }

    /// `.cargo/config.toml` builds the bundled SQLite with the query planner stability
    /// guarantee: otherwise every statement with `LIMIT ?` is re-prepared at each execution.
    #[test]
    fn the_bundled_sqlite_keeps_its_query_plans_whatever_is_bound() {
        let mut conn = super::establish(":memory:").unwrap();
        let super::DbConnection::Sqlite(c) = &mut conn else {
            unreachable!()
        };
        let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options").load(c).unwrap();
        assert!(
            options.iter().any(|o| o.compile_options == "ENABLE_QPSG"),
            "SQLite was built without SQLITE_ENABLE_QPSG (LIBSQLITE3_FLAGS in .cargo/config.toml)"
        );
    }
}
