//! `brama-gateway` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway::config::{self, Config};
use gateway::verify::chain;

#[derive(Parser)]
#[command(
    name = "brama-gateway",
    version,
    about = "Brama gateway: qualified-signature sign-in in front of a cabinet backend",
    long_about = "Brama gateway.\n\nA reverse proxy in front of a cabinet backend: issues login challenges, verifies signed \
login statements (CMS signature, chain to trusted qualified CAs, revocation, qualified status, origin, single-use \
challenge), registers accounts from the certificate's names, keeps sessions and forwards requests with identity \
headers the backend can trust.\n\nConfiguration: --config FILE (TOML) and BRAMA_GATEWAY_* variables, `__` for \
nesting (BRAMA_GATEWAY_TRUST__QUALIFIED=any)."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log lines as text or as JSON objects (one per line, for log collectors).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: the /auth routes and forwarding to the backend.
    Serve,
    /// Accounts, read and changed in the database directly.
    Accounts {
        #[command(subcommand)]
        action: AccountsAction,
    },
    /// Check the configuration (and the trust files it names) without starting.
    CheckConfig,
    /// Run the certificate checks of a login on one certificate and print the verdict, with
    /// the same codes a login gets: the answer to "why was this citizen refused?".
    CheckCert {
        /// The certificate (PEM, DER, PKCS#7; further certificates in the file help build the chain).
        cert: PathBuf,
        /// Trust anchors (default: the configuration's).
        #[arg(long = "anchors", value_name = "FILE")]
        anchors: Vec<PathBuf>,
        /// Intermediate CA certificates (added to the configuration's).
        #[arg(long = "intermediates", value_name = "FILE")]
        intermediates: Vec<PathBuf>,
        /// CRLs to check revocation against.
        #[arg(long = "crl", value_name = "FILE")]
        crls: Vec<PathBuf>,
        /// Check at this time (RFC 3339), not now.
        #[arg(long)]
        at: Option<String>,
        /// Accept any trusted certificate, not only qualified ones.
        #[arg(long)]
        any: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AccountsAction {
    /// Every account: id, key, name, state.
    List,
    /// One account with its roles.
    Show {
        id: String,
    },
    /// Block an account (ends its sessions); the reason is shown to the person.
    Block {
        id: String,
        #[arg(long)]
        reason: String,
    },
    Unblock {
        id: String,
    },
}

/// `workers` runtime threads, or one per core when 0.
fn runtime(workers: usize) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        b.worker_threads(workers);
    }
    b.enable_all().build().expect("tokio runtime")
}

fn load(config: Option<&std::path::Path>) -> Result<Config, ExitCode> {
    Config::load(config).map_err(|e| {
        eprintln!("brama-gateway: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve => {
            let config = match load(cli.config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let filter = tracing_subscriber::EnvFilter::try_from_env("BRAMA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let logs = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            match cli.log_format {
                LogFormat::Text => logs.init(),
                LogFormat::Json => logs.json().flatten_event(true).init(),
            }
            let dir = cli
                .config
                .as_deref()
                .and_then(std::path::Path::parent)
                .map(std::path::Path::to_path_buf);
            runtime(config.workers).block_on(async move {
                match gateway::server::start(config.clone(), dir.as_deref()).await {
                    Ok(running) => {
                        use std::io::Write;
                        let mut out = std::io::stdout();
                        let host = config.listen.rsplit_once(':').map_or("", |(h, _)| h);
                        let scheme = if running.tls.is_some() {
                            "https"
                        } else {
                            "http"
                        };
                        let _ = writeln!(
                            out,
                            "brama-gateway listening on {scheme}://{host}:{} for {}",
                            running.port, config.public_origin
                        );
                        if let Some(admin) = running.admin_port {
                            let host = config.admin.listen.rsplit_once(':').map_or("", |(h, _)| h);
                            let _ = writeln!(
                                out,
                                "admin (healthz, readyz, metrics) on http://{host}:{admin}"
                            );
                        }
                        let _ = out.flush();
                        // Ctrl-C or SIGTERM: stop accepting, let requests in flight finish.
                        let mut term = tokio::signal::unix::signal(
                            tokio::signal::unix::SignalKind::terminate(),
                        )
                        .expect("SIGTERM handler");
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                        running.stop().await;
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("brama-gateway: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        Command::Accounts { action } => {
            let config = match load(cli.config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match runtime(1).block_on(accounts(&config, action)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("brama-gateway: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig => match Config::load(cli.config.as_deref()) {
            Ok(c) => {
                println!(
                    "configuration OK: {} → {} (database {})",
                    c.public_origin, c.backend, c.database
                );
                let base = cli.config.as_deref().and_then(std::path::Path::parent);
                if let Ok(policy) = c.trust_policy(base) {
                    println!(
                        "trust: {} anchors, {} intermediate CAs",
                        policy.anchors.len(),
                        policy.intermediates.len()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("brama-gateway: {e}");
                ExitCode::from(2)
            }
        },
        Command::CheckCert {
            cert,
            anchors,
            intermediates,
            crls,
            at,
            any,
            json,
        } => {
            match check_cert(
                cli.config.as_deref(),
                &cert,
                &anchors,
                &intermediates,
                &crls,
                at.as_deref(),
                any,
                json,
            ) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("brama-gateway: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

async fn accounts(config: &Config, action: AccountsAction) -> Result<(), String> {
    let store = gateway::store::Store::connect(&config.database)
        .await
        .map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let state = |a: &gateway::store::Account| {
        a.blocked_reason
            .as_deref()
            .map_or("active".to_string(), |r| format!("blocked: {r}"))
    };
    let result = match action {
        AccountsAction::List => {
            store
                .list_accounts()
                .await
                .map_err(|e| e.to_string())
                .map(|list| {
                    for a in list {
                        println!(
                            "{}  {}  {}  [{}]",
                            a.id,
                            a.key,
                            a.names.full_name.as_deref().unwrap_or("—"),
                            state(&a)
                        );
                    }
                })
        }
        AccountsAction::Show { id } => match store.account(&id).await.map_err(|e| e.to_string())? {
            Some(a) => {
                println!("id       {}", a.id);
                println!("key      {}", a.key);
                println!("name     {}", a.names.full_name.as_deref().unwrap_or("—"));
                println!("version  {}", a.version);
                println!("state    {}", state(&a));
                for r in &a.roles {
                    let org = r
                        .org_name
                        .as_deref()
                        .map(|n| format!(" of {n} ({})", r.org_key))
                        .unwrap_or_default();
                    println!("role     {}{org}", r.role);
                }
                Ok(())
            }
            None => Err(format!("no account {id}")),
        },
        AccountsAction::Block { id, reason } => store
            .set_blocked(&id, Some(&reason), now)
            .await
            .map(|_| println!("blocked {id}"))
            .map_err(|e| format!("{id}: {e}")),
        AccountsAction::Unblock { id } => store
            .set_blocked(&id, None, now)
            .await
            .map(|_| println!("unblocked {id}"))
            .map_err(|e| format!("{id}: {e}")),
    };
    store.close().await;
    result
}

#[allow(clippy::too_many_arguments)]
fn check_cert(
    config_file: Option<&std::path::Path>,
    cert: &std::path::Path,
    anchors: &[PathBuf],
    intermediates: &[PathBuf],
    crls: &[PathBuf],
    at: Option<&str>,
    any: bool,
    json: bool,
) -> Result<bool, String> {
    let mut policy = match config_file {
        Some(f) => {
            let c = Config::load(Some(f)).map_err(|e| e.to_string())?;
            c.trust_policy(f.parent()).map_err(|e| e.to_string())?
        }
        None => chain::TrustPolicy::new(vec![], vec![]),
    };
    if !anchors.is_empty() {
        policy.anchors = anchors
            .iter()
            .map(|a| config::read_certificates(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?
            .concat();
    }
    if policy.anchors.is_empty() {
        return Err("no trust anchors: give --anchors FILE or --config FILE".into());
    }
    for i in intermediates {
        policy
            .intermediates
            .extend(config::read_certificates(i).map_err(|e| e.to_string())?);
    }
    for c in crls {
        policy
            .crls
            .push(config::read_crl(c).map_err(|e| e.to_string())?);
    }
    if any {
        policy.qualified = chain::Qualified::Any;
    }
    let at = match at {
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("--at '{t}': not an RFC 3339 time ({e})"))?,
        None => time::OffsetDateTime::now_utc(),
    };
    let bytes = std::fs::read(cert).map_err(|e| format!("{}: {e}", cert.display()))?;
    let ders = certs::load::certificates(&bytes, &cert.display().to_string(), None)
        .map_err(|e| e.to_string())?;
    let extra: Vec<&[u8]> = ders[1..].iter().map(Vec::as_slice).collect();
    let summary = certs::CertificateSummary::from_der(&ders[0]).map_err(|e| e.to_string())?;
    let verifier = gateway::verify::Verifier::new(policy);
    let result = verifier
        .certificate(&ders[0])
        .and_then(|leaf| verifier.check_certificate(&leaf, &extra, at));
    // An organisation's seal is refused as a login, but the operator still learns whether the
    // certificate itself (chain, usage, qualified status) is valid.
    let seal_valid = matches!(result, Err(gateway::LoginError::NotAPerson)).then(|| {
        let mut verifier = verifier;
        verifier.policy.persons_only = false;
        verifier
            .certificate(&ders[0])
            .and_then(|leaf| verifier.check_certificate(&leaf, &extra, at))
            .is_ok()
    });
    if json {
        let verdict = match &result {
            Ok(_) => serde_json::json!({"verdict": "valid"}),
            Err(e) => {
                let (indication, sub) = e.etsi();
                serde_json::json!({"verdict": "refused", "code": e.code(), "message": e.to_string(),
                    "etsi": {"indication": indication, "sub_indication": sub}})
            }
        };
        let mut out = verdict;
        if let Some(valid) = seal_valid {
            out["certificate_valid"] = valid.into();
        }
        out["certificate"] = serde_json::to_value(&summary).expect("serialises");
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("serialises")
        );
    } else {
        println!("{}  ({})", summary.identity.display_name(), summary.subject);
        println!(
            "issuer {}, serial {}, valid {} to {}",
            summary.issuer_name.as_deref().unwrap_or(&summary.issuer),
            summary.serial,
            summary.not_before,
            summary.not_after
        );
        match &result {
            Ok(_) => println!("verdict: valid"),
            Err(e) => {
                let (indication, sub) = e.etsi();
                println!(
                    "verdict: refused [{}] {e} (ETSI {indication}/{sub})",
                    e.code()
                );
                match seal_valid {
                    Some(true) => println!(
                        "the certificate itself is valid (chain, usage, qualified status): an organisation's seal"
                    ),
                    Some(false) => println!("the certificate itself is not valid either"),
                    None => {}
                }
            }
        }
    }
    Ok(result.is_ok())
}
