//! Builds a running instance from [`Settings`]: keys, database, migrations, the sequencer, the
//! genesis policy, and the HTTP server. Tests call [`Application::build`] with port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{dev::Server, web, App, HttpServer};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::error::AppError;
use crate::ledger::LogSigner;
use crate::metrics::Metrics;
pub use crate::state::AppState;
use crate::store::{self, DbPool, Sequencer, StoreError};
use crate::{keys, policy};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// One line for the operator: data directory, database (no credentials), log origin and the
/// verifier key to pin, tree size and the policy in force.
fn startup_summary(settings: &Settings, url: &str, signer: &LogSigner, pool: &DbPool) -> Result<String, StartError> {
    let mut conn = pool.get().map_err(StoreError::from)?;
    let size = store::queries::head_size(&mut conn)?;
    let (name, sha, _) = store::queries::current_policy(&mut conn)?.unwrap_or_default();
    let database = if store::is_postgres(url) {
        // postgres://user:secret@host:port/db → postgres://host:port/db
        match url
            .split_once("://")
            .and_then(|(_, rest)| rest.rsplit_once('@').map(|(_, h)| h))
        {
            Some(host) => format!("postgres://{host}"),
            None => url.to_string(),
        }
    } else {
        format!("sqlite {}", store::sqlite_path(url))
    };
    Ok(format!(
        "data directory {}; database {database}; log origin {}; verifier key to pin {}; tree size {size}; policy in force {name} (sha256 {sha})",
        settings.data_dir.display(),
        settings.origin,
        signer.verifier_key(),
    ))
}

/// The data directory is private, and so are the key and database files in use (`files`).
fn check_files(settings: &Settings) -> Result<(), StartError> {
    crate::files::private_dir(&settings.data_dir).map_err(StartError::Config)?;
    let mut files = vec![
        settings.data_dir.join(keys::LOG_KEY_FILE),
        settings.data_dir.join(keys::TOKEN_KEY_FILE),
    ];
    let url = settings.database_url();
    if !store::is_postgres(&url) {
        let db = std::path::PathBuf::from(store::sqlite_path(&url));
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            files.push(name.into());
        }
    }
    files
        .iter()
        .try_for_each(|f| crate::files::check_private(f))
        .map_err(StartError::Config)
}

/// The log and token keys of a data directory that must already hold them: for commands that
/// sign with the server's keys and must not make new ones (a typo in `--data-dir`).
pub fn existing_instance_keys(settings: &Settings) -> Result<(LogSigner, TokenKeys), StartError> {
    for file in [keys::LOG_KEY_FILE, keys::TOKEN_KEY_FILE] {
        let path = settings.data_dir.join(file);
        if !path.exists() {
            return Err(StartError::Config(format!(
                "{} does not exist: is --data-dir (or DATA_DIR) the server's data directory? `keygen` or `serve` creates the keys",
                path.display()
            )));
        }
    }
    instance_keys(settings)
}

/// The log and token keys of a data directory, created on first use.
pub fn instance_keys(settings: &Settings) -> Result<(LogSigner, TokenKeys), StartError> {
    let log_key = keys::load_or_create(&settings.data_dir.join(keys::LOG_KEY_FILE))?;
    let token_key = keys::load_or_create(&settings.data_dir.join(keys::TOKEN_KEY_FILE))?;
    let signer = LogSigner::new(&settings.origin, log_key).map_err(|e| StartError::Config(e.to_string()))?;
    let tokens = TokenKeys::new(&token_key, &settings.origin, &settings.origin, settings.max_token_ttl)
        .map_err(|e| StartError::Config(e.to_string()))?;
    Ok((signer, tokens))
}

pub struct Application {
    port: u16,
    server: Server,
    summary: String,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        check_files(&settings)?;
        if settings.witness_quorum > settings.witnesses.len() {
            return Err(StartError::Config(format!(
                "--witness-quorum {} is more than the {} witness(es) configured",
                settings.witness_quorum,
                settings.witnesses.len()
            )));
        }
        for (i, w) in settings.witnesses.iter().enumerate() {
            let twin = settings.witnesses[..i]
                .iter()
                .find(|o| o.key.name() == w.key.name() || o.key.public_key() == w.key.public_key());
            if let Some(o) = twin {
                return Err(StartError::Config(format!(
                    "--witness {} and {} are one witness (same name or same key): a quorum must count distinct witnesses",
                    o.key.name(),
                    w.key.name()
                )));
            }
        }
        let (signer, tokens) = instance_keys(&settings)?;
        let url = settings.database_url();
        let mut writer = store::establish(&url)?;
        store::migrate(&mut writer)?;
        let pool = store::pool(&url, 8)?;
        // `Replica::new` refuses a SQLite primary or read URL, and a standby of another cluster.
        let replica = match &settings.read_database_url {
            Some(read_url) => Some(crate::replica::Replica::new(read_url, 16, &mut writer)?),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let sequencer = Sequencer::start_reconnecting(
            writer,
            &url,
            settings.queue_max,
            signer.clone(),
            metrics.clone(),
            settings.batch_max,
            settings.batch_wait,
        );
        let cosigning = crate::cosigning::Cosigning::start(
            settings.witnesses.clone(),
            settings.witness_quorum,
            pool.clone(),
            sequencer.committed(),
            metrics.clone(),
        );
        adopt_startup_policy(&sequencer, settings.policy.clone()).await?;
        let summary = startup_summary(&settings, &url, &signer, &pool)?;

        spawn_sweeper(
            sequencer.clone(),
            pool.clone(),
            metrics.clone(),
            settings.sweep_interval,
        );
        let listener = TcpListener::bind(&settings.listen).map_err(|source| StartError::Listen {
            addr: settings.listen.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                addr: settings.listen.clone(),
                source,
            })?
            .port();
        let subject_limit = crate::limits::Limiter::per_minute(settings.subject_proofs_per_minute);
        let subject_rate = crate::limits::Limiter::per_second(settings.rate_limit_per_subject);
        let address_rate = web::Data::new(crate::limits::Limiter::per_second(settings.rate_limit_per_address));
        let state = web::Data::new(AppState {
            cosigning,
            subject_limit,
            subject_rate,
            settings,
            pool,
            sequencer,
            signer,
            tokens,
            metrics,
            reports: Default::default(),
            verified_tokens: Default::default(),
            order_keys: Default::default(),
            replica,
        });
        let route_table = web::Data::new(crate::methods::Routes::from_openapi(&crate::openapi::api()));
        let server = HttpServer::new(move || {
            let address_rate = address_rate.clone();
            App::new()
                .wrap_fn(move |mut req, srv| {
                    use futures_util::future::{ready, Either, FutureExt};
                    crate::methods::head_as_get(&mut req);
                    if let Some(refusal) =
                        crate::methods::oversized_head(&req).or_else(|| crate::methods::nul_in_uri(&req))
                    {
                        let response = actix_web::ResponseError::error_response(&refusal);
                        return Either::Left(ready(Ok(req.into_response(response))));
                    }
                    if crate::limits::is_costly(req.method(), req.path()) {
                        let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
                        if let Err(wait) = address_rate.check(&client) {
                            let refusal =
                                AppError::too_many_requests_for("too many requests from this client address", wait);
                            let response = actix_web::ResponseError::error_response(&refusal);
                            return Either::Left(ready(Ok(req.into_response(response))));
                        }
                    }
                    let authorised = req.headers().contains_key(actix_web::http::header::AUTHORIZATION);
                    let started = std::time::Instant::now();
                    Either::Right(actix_web::dev::Service::call(srv, req).map(move |r| {
                        r.map(|mut r| {
                            crate::cache::apply(authorised, r.headers_mut());
                            access_log(&r, started);
                            r.map_into_boxed_body()
                        })
                    }))
                })
                .app_data(state.clone())
                .app_data(route_table.clone())
                .app_data(
                    web::QueryConfig::default().error_handler(|e, _| crate::body::query_error(&e.to_string()).into()),
                )
                // A path segment that does not parse names nothing: 404, without the segment.
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| AppError::not_found("no resource at this path").into()),
                )
                .configure(routes)
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .url("/openapi.json", crate::openapi::api())
                        // Swagger's default validator badge loads an image from
                        // validator.swagger.io naming this server's address: a third-party
                        // request the operator never asked for.
                        .config(utoipa_swagger_ui::Config::default().validator_url("none")),
                )
                .default_service(web::to(crate::methods::unrouted))
        })
        .workers(2)
        .shutdown_timeout(5)
        .listen(listener)
        .map_err(|source| StartError::Listen {
            addr: "listener".into(),
            source,
        })?
        .run();
        Ok(Self { port, server, summary })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What a deployer needs at start: where the data is, the log to pin, the policy in force.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// One access-log line per request: method, the route's template (never the path itself,
/// which can hold ids), status and duration. No query, header, token or body. Target
/// `access`, level info (`RUST_LOG=access=info`).
fn access_log<B>(r: &actix_web::dev::ServiceResponse<B>, started: std::time::Instant) {
    let req = r.request();
    log::info!(
        target: "access",
        "{} {} {} {:.1}ms",
        req.method(),
        req.match_pattern().unwrap_or_else(|| "-".into()),
        r.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::pages::index)
        .service(crate::pages::receipt)
        .service(crate::pages::about)
        .service(crate::pages::asset)
        .service(crate::ops::healthz)
        .service(crate::ops::readyz)
        .service(crate::ops::metrics)
        .service(crate::log::key::key)
        .service(crate::log::witnesses::witnesses)
        .service(crate::log::checkpoint::checkpoint)
        .service(crate::log::entries::list_entries)
        .service(crate::log::entries::get_entry)
        .service(crate::log::proof::inclusion)
        .service(crate::log::proof::consistency)
        .service(crate::policy::adopt::adopt)
        .service(crate::policy::current::current)
        .service(crate::authorities::register::register)
        .service(crate::authorities::list::list)
        .service(crate::authorities::get::get)
        .service(crate::authorities::add_key::add_key)
        .service(crate::authorities::revoke_key::revoke_key)
        .service(crate::authorities::status::suspend)
        .service(crate::authorities::status::reinstate)
        .service(crate::auth::whoami::whoami)
        .service(crate::reports::transparency::transparency)
        .service(crate::imports::create::create)
        .service(crate::subjects::prove::prove)
        .service(crate::requests::submit::submit)
        .service(crate::requests::list::list)
        .service(crate::requests::get::get)
        .service(crate::requests::identifiers::open)
        .service(crate::requests::history::history)
        .service(crate::requests::amend::amend)
        .service(crate::audit::sealed::sealed)
        .service(crate::audit::verify::verify)
        .service(crate::log::tiles::checkpoint)
        .service(crate::log::tiles::tile)
        .service(crate::requests::decision::decide)
        .service(crate::requests::disclosure::disclose)
        .service(crate::requests::withdraw::withdraw)
        .service(crate::requests::notification::notify)
        .service(crate::requests::emergency_validation::validate_emergency)
        .service(crate::retention::view::view)
        .service(crate::retention::hold::place)
        .service(crate::retention::hold::lift);
}

/// Entry 0 of a new ledger adopts the configured policy, or the built-in default. On an
/// existing ledger a configured policy that is not the current one is adopted, so that
/// `serve --policy FILE` changes the policy visibly. The check runs inside the append
/// transaction, under the head lock, so two instances starting together adopt it once.
async fn adopt_startup_policy(sequencer: &Sequencer, configured: Option<(String, String)>) -> Result<(), StoreError> {
    sequencer
        .append(move |ctx| {
            let (name, document) = match configured {
                Some(p) => p,
                None if ctx.next_index == 0 => (policy::DEFAULT_NAME.to_string(), policy::DEFAULT_DOCUMENT.to_string()),
                None => return Ok(((), Vec::new())),
            };
            let current = crate::store::queries::current_policy(ctx.conn)?;
            if current.is_some_and(|(_, sha, _)| sha == policy::document_sha256(&document)) {
                return Ok(((), Vec::new()));
            }
            Ok(((), vec![policy::adoption(ctx, &name, &document)?]))
        })
        .await
        .map(|_| ())
}

/// Runs the time-driven transitions and retention every `every`, for as long as the runtime
/// lives. After a shredding pass on SQLite the WAL is checkpointed and truncated (retried on
/// later passes while a reader holds it), so that the destroyed values survive neither in the
/// database file (`secure_delete`) nor in the WAL.
fn spawn_sweeper(sequencer: Sequencer, pool: DbPool, metrics: Arc<Metrics>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut wal_to_truncate = false;
        loop {
            tick.tick().await;
            match crate::requests::sweep::sweep(&sequencer, &pool).await {
                Ok(s) if s.entries == 0 => {}
                Ok(s) => {
                    wal_to_truncate |= s.shredded > 0;
                    log::info!(
                        "time-driven transitions and retention: {} entries appended, {} requests shredded",
                        s.entries,
                        s.shredded
                    );
                }
                Err(e) => log::warn!("time-driven transitions failed: {e}"),
            }
            let pool = pool.clone();
            let truncate = wal_to_truncate;
            let after = web::block(move || -> Result<(bool, u64), StoreError> {
                let mut conn = pool.get()?;
                let truncated = truncate && crate::retention::shred::truncate_wal(&mut conn)?;
                let due = crate::retention::shred::all_due(&mut conn, chrono::Utc::now())?.len() as u64;
                Ok((truncated, due))
            })
            .await
            .map_err(|e| StoreError::Io(e.to_string()))
            .and_then(|r| r);
            match after {
                Ok((truncated, due)) => {
                    wal_to_truncate &= !truncated;
                    metrics.retention_due.set(due as i64);
                }
                Err(e) => log::warn!("retention after the sweep: {e}"),
            }
        }
    });
}

/// Used by the CLI's `migrate`: connect and apply pending migrations.
pub fn migrate_only(url: &str) -> Result<usize, StoreError> {
    let mut conn = store::establish(url)?;
    store::migrate(&mut conn)
}

pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
