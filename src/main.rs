//! The `disclosure-ledger` command line. Only argument handling lives here; every command calls
//! into the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use disclosure_ledger::ledger::cosignature::WitnessKey;
use disclosure_ledger::{app, auth::Role, config::Settings, keys, ledger::LogVerifier, store};

// mimalloc instead of glibc's malloc: a submission allocates thousands of small, short-lived
// buffers (JSON, entries, proofs) across threads; glibc's malloc and free were a tenth of the
// sequencer writer's samples, and the load driver's replay ran 15 % faster with mimalloc (the
// README's Performance section has the figures, and the memory it costs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "disclosure-ledger",
    version,
    about = "A verifiable ledger of law-enforcement data disclosures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Directory for the SQLite database and the key files.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Log origin: first line of every checkpoint and the log key's name.
    #[arg(long, env = "LOG_ORIGIN", default_value = disclosure_ledger::config::DEFAULT_ORIGIN)]
    origin: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on.
        #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// postgres://… or a SQLite path (default: <data-dir>/ledger.db).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// A PostgreSQL hot standby of the primary (postgres://…) that answers reads of the
        /// log, reports and request views; a read it has not yet replayed goes to the primary.
        #[arg(long, env = "READ_DATABASE_URL")]
        read_database_url: Option<String>,
        /// Most operations per group commit (1 = one commit per operation).
        #[arg(long, env = "BATCH_MAX", default_value_t = 256)]
        batch_max: usize,
        /// Microseconds the sequencer waits for more operations after the first.
        #[arg(long, env = "BATCH_WAIT_US", default_value_t = 0)]
        batch_wait_us: u64,
        /// Policy file (TOML, see policies/) to be in force; adopted at start unless current.
        #[arg(long, env = "POLICY")]
        policy: Option<PathBuf>,
        /// Seconds between runs of the time-driven transitions (order expiry, emergency
        /// validation window) and of retention's shredding.
        #[arg(long, env = "SWEEP_SECS", default_value_t = 60)]
        sweep_secs: u64,
        /// Writes and expensive reads per second per token subject (0: no limit).
        #[arg(long, env = "RATE_LIMIT_PER_SUBJECT", default_value_t = 100)]
        rate_limit_per_subject: u32,
        /// Writes and expensive reads per second per client address (0: no limit).
        #[arg(long, env = "RATE_LIMIT_PER_ADDRESS", default_value_t = 200)]
        rate_limit_per_address: u32,
        /// Operations that may wait for the sequencer; beyond, writes are answered 503.
        #[arg(long, env = "QUEUE_MAX", default_value_t = 10_000)]
        queue_max: usize,
        /// A witness (C2SP tlog-witness) as `VKEY=URL` (repeatable): its verifier key from
        /// `witness keygen` and its submission prefix; every new checkpoint is sent to it.
        #[arg(long = "witness")]
        witnesses: Vec<disclosure_ledger::cosigning::WitnessConfig>,
        /// Cosignatures a checkpoint needs before /checkpoint and /v1/log/checkpoint serve it.
        #[arg(long, env = "WITNESS_QUORUM", default_value_t = 0)]
        witness_quorum: usize,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
        /// postgres://… or a SQLite path (default: <data-dir>/ledger.db).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Create the log key and the token key in the data directory (refuses to overwrite).
    Keygen {
        #[command(flatten)]
        common: Common,
    },
    /// Print a ledger-signed token (EdDSA JWT) on stdout.
    Token {
        #[command(flatten)]
        common: Common,
        /// officer, reviewer, auditor or admin (an officer token also needs --authority).
        #[arg(long, env = "TOKEN_ROLE")]
        role: Role,
        /// Who the token is for (its `sub`), e.g. a reviewer's login.
        #[arg(long, env = "TOKEN_SUB")]
        sub: String,
        /// Lifetime, e.g. 30m, 1h, 3600s (at most the configured maximum, 1h).
        #[arg(long, env = "TOKEN_TTL", default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
        /// The authority an officer token acts for.
        #[arg(long, env = "TOKEN_AUTHORITY")]
        authority: Option<String>,
    },
    /// Tools for a requesting authority: its key, officer tokens, order signatures.
    Authority {
        #[command(subcommand)]
        action: AuthorityCommand,
    },
    /// Monitor a remote log: pin its key, prove consistency with the last trusted state,
    /// verify every new entry and the root, recompute the transparency report and compare.
    /// Exit 0 when everything holds, 1 when the log failed, 2 when the monitor could not run.
    Audit {
        /// Base URL of the ledger, e.g. http://127.0.0.1:8080
        #[arg(long, env = "LEDGER_URL")]
        url: String,
        /// The log's verifier key (`GET /v1/log/key` once, out of band), pinned.
        #[arg(long, env = "LOG_KEY")]
        log_key: String,
        /// File holding the last trusted state; written only after a run that verified.
        #[arg(long)]
        state: PathBuf,
        /// An auditor token: verify embargoed entries in full too.
        #[arg(long, env = "AUDIT_TOKEN")]
        token: Option<String>,
        /// Allow plain http:// to a host that is not loopback (the token travels in clear).
        #[arg(long)]
        insecure_http: bool,
        /// A witness's verifier key (repeatable; from `witness keygen`) whose cosignatures count.
        #[arg(long = "witness", value_parser = parse_witness_key)]
        witnesses: Vec<WitnessKey>,
        /// Valid cosignatures of distinct --witness keys a checkpoint needs to be believed
        /// (exit 1 naming the missing ones); 0 believes the log's signature alone.
        #[arg(long, default_value_t = 0)]
        quorum: usize,
    },
    /// For a notified user: have the ledger prove that entries of the request commit to your
    /// identifier, and check every proof against the pinned log key.
    ProveSubject {
        /// Base URL of the ledger, e.g. https://ledger.example.org
        #[arg(long, env = "LEDGER_URL")]
        url: String,
        /// The log's verifier key, pinned.
        #[arg(long, env = "LOG_KEY")]
        log_key: String,
        /// The request id from the notification.
        #[arg(long)]
        request: String,
        /// phone_number, ip_address, username or user_id.
        #[arg(long)]
        kind: String,
        /// Your identifier (read from the SUBJECT_VALUE environment variable if not given, so
        /// that it stays out of the shell history).
        #[arg(long, env = "SUBJECT_VALUE", hide_env_values = true)]
        value: String,
        /// The nonce from the notification (64 hex digits).
        #[arg(long)]
        nonce: String,
        /// Allow plain http:// to a host that is not loopback (your identifier travels in clear).
        #[arg(long)]
        insecure_http: bool,
        /// A witness's verifier key (repeatable) whose cosignatures count.
        #[arg(long = "witness", value_parser = parse_witness_key)]
        witnesses: Vec<WitnessKey>,
        /// Valid cosignatures of distinct --witness keys the proof's checkpoint needs (exit 1
        /// naming the missing ones); 0 believes the log's signature alone.
        #[arg(long, default_value_t = 0)]
        quorum: usize,
    },
    /// Run a witness (C2SP tlog-witness) for oversight bodies: it cosigns a log's checkpoints
    /// after checking each is consistent with every one it cosigned before.
    Witness {
        #[command(subcommand)]
        action: WitnessCommand,
    },
    /// Telegram's published figures (datasets/telegram): import records, and a check of the data.
    Dataset {
        #[command(subcommand)]
        action: DatasetCommand,
    },
    /// Re-verify a whole ledger database: entries, chain, tree hashes, checkpoints.
    Verify {
        /// postgres://… or a SQLite path.
        #[arg(long, env = "DATABASE_URL")]
        database: String,
        /// The log's verifier key; default: derived from the log key in --data-dir.
        #[arg(long, env = "LOG_KEY")]
        log_key: Option<String>,
        /// A signed checkpoint obtained earlier from the log (repeatable); a history rewritten
        /// since is caught against it.
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Print one NDJSON import record per quarter row, for `POST /v1/imports`.
    Records {
        /// The dataset file (country → rows of from, to, requests, users).
        file: PathBuf,
        /// Who published the figures, as the entries will say.
        #[arg(
            long,
            default_value = "Telegram @transparency bot, via Te-k/telegram-transparency (CC-BY 4.0)"
        )]
        source: String,
    },
    /// List the cumulative rows that disagree with the sum of their quarter rows; exit 1 when
    /// there are any.
    Check {
        /// The dataset file, e.g. datasets/telegram/telegram-transparency-2024-2026.json.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Create the witness's Ed25519 key (PKCS#8 PEM, mode 0600; refuses to overwrite) and print
    /// its verifier key `NAME+<hex key id>+<base64(0x04 ‖ public key)>` for logs and clients.
    Keygen {
        /// The witness's name, e.g. dpa.example/witness (a schema-less URL; no spaces or '+').
        #[arg(long)]
        name: String,
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve POST /add-checkpoint and GET /<sha256(origin) hex>/checkpoint.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "WITNESS_LISTEN", default_value = "127.0.0.1:8090")]
        listen: String,
        /// The witness's private key file (from `witness keygen`).
        #[arg(long, env = "WITNESS_KEY")]
        key: PathBuf,
        /// The witness's name, as given to `witness keygen`.
        #[arg(long, env = "WITNESS_NAME")]
        name: String,
        /// A log's verifier key `<origin>+<hex id>+<base64>` (repeatable): the logs witnessed.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        /// Directory for the latest cosigned checkpoint of each log and the evidence of
        /// refused ones (created 0700).
        #[arg(long, env = "WITNESS_STATE")]
        state: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuthorityCommand {
    /// Create an Ed25519 key file (PKCS#8 PEM, mode 0600); prints the public JWK to register.
    Keygen {
        /// Where to write the private key (refuses to overwrite an existing file).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print an officer token signed with the authority's key.
    Token {
        /// The authority's private key file (from `authority keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The key id the ledger registered for this key.
        #[arg(long)]
        kid: String,
        /// The authority id the ledger assigned.
        #[arg(long)]
        authority: String,
        /// The officer.
        #[arg(long)]
        sub: String,
        /// Lifetime, e.g. 30m, 1h (at most the ledger's maximum, 1h).
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
        /// The ledger's log origin (the first line of its checkpoints): the token's `aud`.
        #[arg(long, alias = "audience", env = "LOG_ORIGIN", default_value = disclosure_ledger::config::DEFAULT_ORIGIN)]
        origin: String,
    },
    /// Sign an order for rule V3: reads a request body (JSON, `-` for stdin) and prints it with
    /// `order` completed (`kid`, `document_sha256`, and the signature over the order statement
    /// `disclosure-ledger:order:v2`, which binds the ledger's origin, the issuing authority,
    /// the key, `issued_at`, `expires_at`, the digest and every member of the body the court
    /// asserts: targets, categories, time range, instrument, offence and its conditions, …).
    SignOrder {
        /// The authority's private key file (from `authority keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The key's id as registered with the ledger.
        #[arg(long)]
        kid: String,
        /// The request body; its `order` holds at least `document_sha256` unless `--document`
        /// is given.
        #[arg(long)]
        request: PathBuf,
        /// The order document (any bytes, e.g. the PDF): its SHA-256 becomes
        /// `order.document_sha256`.
        #[arg(long)]
        document: Option<PathBuf>,
        /// The ledger's log origin (the first line of its checkpoints).
        #[arg(long, env = "LOG_ORIGIN", default_value = disclosure_ledger::config::DEFAULT_ORIGIN)]
        origin: String,
    },
}

fn parse_witness_key(s: &str) -> Result<WitnessKey, String> {
    WitnessKey::parse(s).map_err(|e| e.to_string())
}

/// A quorum larger than the witnesses given could never be met: a mistake, not a verdict.
fn check_quorum(quorum: usize, witnesses: &[WitnessKey]) -> Result<(), String> {
    if quorum > witnesses.len() {
        return Err(format!(
            "--quorum {quorum} needs at least {quorum} --witness keys ({} given)",
            witnesses.len()
        ));
    }
    Ok(())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?}: unit must be s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}

fn settings(common: &Common) -> Settings {
    let mut s = Settings::new(&common.data_dir);
    s.origin = common.origin.clone();
    s
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve {
            common,
            listen,
            database_url,
            read_database_url,
            batch_max,
            batch_wait_us,
            policy,
            sweep_secs,
            rate_limit_per_subject,
            rate_limit_per_address,
            queue_max,
            witnesses,
            witness_quorum,
        } => {
            let mut s = settings(&common);
            s.sweep_interval = Duration::from_secs(sweep_secs.max(1));
            s.rate_limit_per_subject = rate_limit_per_subject;
            s.rate_limit_per_address = rate_limit_per_address;
            s.queue_max = queue_max;
            s.witnesses = witnesses;
            s.witness_quorum = witness_quorum;
            if let Some(path) = policy {
                let document = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let parsed = disclosure_ledger::policy::Policy::parse(&document)
                    .map_err(|e| format!("{} is not a valid policy: {e}", path.display()))?;
                s.policy = Some((parsed.name, document));
            }
            s.listen = listen;
            s.database_url = database_url;
            s.read_database_url = read_database_url;
            s.batch_max = batch_max;
            s.batch_wait = Duration::from_micros(batch_wait_us);
            actix_web::rt::System::new().block_on(async move {
                let application = app::Application::build(s).await?;
                log::info!("{}", application.summary());
                log::info!("listening on port {}", application.port());
                application.run_until_stopped().await?;
                Ok::<_, Box<dyn std::error::Error>>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { common, database_url } => {
            let mut s = settings(&common);
            s.database_url = database_url;
            let ran = app::migrate_only(&s.database_url())?;
            println!("applied {ran} migration(s)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { common } => {
            for file in [keys::LOG_KEY_FILE, keys::TOKEN_KEY_FILE] {
                keys::create(&common.data_dir.join(file))?;
            }
            let (signer, _) = app::instance_keys(&settings(&common))?;
            println!("{}", signer.verifier_key());
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            common,
            role,
            sub,
            ttl,
            authority,
        } => {
            // Never create keys here: a token signed by a key the server does not have would be
            // refused with nothing to say why.
            let (_, tokens) = app::existing_instance_keys(&settings(&common))?;
            println!("{}", tokens.mint(role, &sub, ttl, authority)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Authority { action } => {
            use disclosure_ledger::authorities::tools;
            match action {
                AuthorityCommand::Keygen { out } => println!("{}", tools::keygen(&out)?),
                AuthorityCommand::Token {
                    key,
                    kid,
                    authority,
                    sub,
                    ttl,
                    origin,
                } => {
                    let key = keys::read(&key)?;
                    println!("{}", tools::officer_token(&key, &kid, &authority, &sub, &origin, ttl)?);
                }
                AuthorityCommand::SignOrder {
                    key,
                    kid,
                    request,
                    document,
                    origin,
                } => {
                    let key = keys::read(&key)?;
                    let read = |path: &PathBuf| -> Result<Vec<u8>, String> {
                        if path.as_os_str() == "-" {
                            let mut bytes = Vec::new();
                            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                                .map_err(|e| format!("stdin: {e}"))?;
                            Ok(bytes)
                        } else {
                            std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
                        }
                    };
                    let body: serde_json::Value = serde_json::from_slice(&read(&request)?)
                        .map_err(|e| format!("{}: not JSON: {e}", request.display()))?;
                    let document = document.as_ref().map(read).transpose()?;
                    println!("{}", tools::sign_order(&key, &kid, &origin, body, document.as_deref())?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            url,
            log_key,
            state,
            token,
            insecure_http,
            witnesses,
            quorum,
        } => {
            use disclosure_ledger::monitor;
            if let Err(e) = check_quorum(quorum, &witnesses) {
                eprintln!("ERROR: cannot run: {e}");
                return Ok(ExitCode::from(2));
            }
            let opts = monitor::Options {
                url,
                log_key,
                state,
                token,
                progress: true,
                insecure_http,
                witnesses,
                quorum,
            };
            let rt = tokio::runtime::Runtime::new()?;
            match rt.block_on(monitor::audit(&opts)) {
                Ok(o) => {
                    println!(
                        "OK: size {} -> {}, root {}; checked {} entries in {:.3} s ({:.0} entries/s); {} under embargo, verified as leaves",
                        o.from_size,
                        o.size,
                        o.root,
                        o.checked,
                        o.seconds,
                        o.entries_per_second(),
                        o.held
                    );
                    Ok(ExitCode::SUCCESS)
                }
                // FAILED only when the log failed a check; a monitor that could not check (no
                // network, a 401, a bad state file) says so and exits 2.
                Err(e) if e.exit_code() == 1 => {
                    println!("FAILED: {e}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    eprintln!("ERROR: cannot run: {e}");
                    Ok(ExitCode::from(e.exit_code()))
                }
            }
        }
        Command::ProveSubject {
            url,
            log_key,
            request,
            kind,
            value,
            nonce,
            insecure_http,
            witnesses,
            quorum,
        } => {
            use disclosure_ledger::subjects::{check_proof, SubjectClaim, SubjectProof};
            check_quorum(quorum, &witnesses)?;
            let verifier = LogVerifier::new(&log_key)?;
            let mut nonce_bytes = [0u8; 32];
            hex::decode_to_slice(&nonce, &mut nonce_bytes).map_err(|_| "the nonce is 64 hex digits")?;
            let claim = SubjectClaim {
                request_id: request.clone(),
                kind: kind.clone(),
                value: value.clone(),
                nonce,
            };
            let client = disclosure_ledger::monitor::client::Client::new(&url, None, insecure_http)?;
            let rt = tokio::runtime::Runtime::new()?;
            let (status, body) = rt.block_on(client.post_json("/v1/subjects/proof", &serde_json::to_value(&claim)?))?;
            if status == 404 {
                println!("NOT FOUND: no entry of request {request} commits to that identifier with that nonce");
                return Ok(ExitCode::from(1));
            }
            if status != 200 {
                return Err(format!("the ledger answered {status}: {}", String::from_utf8_lossy(&body)).into());
            }
            let proof: SubjectProof = serde_json::from_slice(&body)?;
            if quorum > 0 {
                use disclosure_ledger::ledger::cosignature::require_quorum;
                if let Err(e) = require_quorum(proof.proofs.checkpoint.as_bytes(), &witnesses, quorum) {
                    println!("FAILED: the proof's checkpoint is not cosigned as required: {e}");
                    return Ok(ExitCode::from(1));
                }
            }
            match check_proof(&proof, &verifier, &request, &kind, &value, &nonce_bytes) {
                Ok((size, entries)) => {
                    println!(
                        "PROVEN: {} entries of request {request} commit to your {kind}, in the log of size {size} signed by the pinned key:",
                        entries.len()
                    );
                    for e in entries {
                        println!(
                            "  entry {} {} at {} {}",
                            e.index,
                            e.kind,
                            e.time,
                            serde_json::Value::Object(e.public)
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("FAILED: the ledger's answer does not prove it: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Witness { action } => {
            use disclosure_ledger::witness;
            match action {
                WitnessCommand::Keygen { name, out } => println!("{}", witness::keygen(&name, &out)?),
                WitnessCommand::Serve {
                    listen,
                    key,
                    name,
                    logs,
                    state,
                } => {
                    let settings = witness::WitnessSettings {
                        listen,
                        key,
                        name,
                        logs,
                        state,
                    };
                    actix_web::rt::System::new().block_on(async move {
                        let server = witness::WitnessServer::build(&settings)?;
                        log::info!("{}", server.summary());
                        log::info!("listening on port {}", server.port());
                        server.run_until_stopped().await?;
                        Ok::<_, Box<dyn std::error::Error>>(())
                    })?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Dataset { action } => {
            use disclosure_ledger::imports::telegram;
            let file = match &action {
                DatasetCommand::Records { file, .. } | DatasetCommand::Check { file } => file,
            };
            let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let data = telegram::load(&bytes)?;
            match action {
                DatasetCommand::Records { source, .. } => {
                    use sha2::Digest;
                    let digest = hex::encode(sha2::Sha256::digest(&bytes));
                    for r in telegram::quarter_records(&data, &source, &digest) {
                        println!("{r}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                DatasetCommand::Check { .. } => {
                    let found = telegram::check(&data);
                    println!("country  period             declared (req/users)  sum of quarters  missing quarters");
                    for d in &found {
                        println!(
                            "{}      {}-{}  {:>8} / {:<8}    {:>6} / {:<8}  {}",
                            d.country,
                            d.from,
                            d.to,
                            d.requests,
                            d.users,
                            d.quarters_requests,
                            d.quarters_users,
                            d.missing_quarters.join(" ")
                        );
                    }
                    println!("{} cumulative rows disagree with their quarters", found.len());
                    Ok(if found.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    })
                }
            }
        }
        Command::Verify {
            database,
            log_key,
            checkpoints,
            common,
        } => {
            let vkey = match log_key {
                Some(k) => k,
                None => {
                    let key = keys::read(&common.data_dir.join(keys::LOG_KEY_FILE))?;
                    disclosure_ledger::ledger::LogSigner::new(&common.origin, key)?.verifier_key()
                }
            };
            let verifier = LogVerifier::new(&vkey)?;
            let trusted = checkpoints
                .iter()
                .map(std::fs::read_to_string)
                .collect::<Result<Vec<_>, _>>()?;
            let mut conn = store::establish(&database)?;
            let report = store::verify::verify_ledger(&mut conn, &verifier, &trusted, |_| {})?;
            println!(
                "checked {} entries and {} checkpoints in {:.3} s ({:.0} entries/s); {} entries' sealed details shredded by retention",
                report.entries,
                report.checkpoints,
                report.seconds,
                report.entries_per_second(),
                report.shredded
            );
            match report.failure {
                None => {
                    println!("OK: the ledger verifies");
                    Ok(ExitCode::SUCCESS)
                }
                Some(f) => {
                    match f.index {
                        Some(i) => println!("FAILED at entry {i}: {}", f.message),
                        None => println!("FAILED: {}", f.message),
                    }
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}
