//! `brama-agent` command line.
#![allow(unsafe_code)] // libc: getuid, and terminal echo off while a password is typed

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use agent::config::Config;
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "brama-agent",
    version,
    about = "Brama signing agent: qualified electronic signatures for web sign-in, on loopback only",
    long_about = "Brama signing agent.\n\nRuns on the citizen's computer, listens on 127.0.0.1 and ::1 only, finds key containers \
(PKCS#12 .p12/.pfx under OpenSSL or GOST algorithms, IIT Key-6.dat, Java KeyStores, encrypted PEM keys, hardware tokens \
through PKCS#11) and signs origin-bound login statements and CAdES \
documents for web origins the user approved. The key password is typed only on the agent's own page.\n\n\
Configuration: --config FILE (TOML) and BRAMA_AGENT_* environment variables (docs/agent-api.md)."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the approval pages on loopback.
    Serve {
        /// Port on 127.0.0.1 and ::1 (default 47560; 0 = any free port).
        #[arg(long)]
        port: Option<u16>,
        /// Extra folder to search for containers (repeatable).
        #[arg(long = "containers", value_name = "DIR")]
        containers: Vec<PathBuf>,
        /// Accept http://localhost and http://127.0.0.1 page origins (development only).
        #[arg(long)]
        dev: bool,
        /// Log as JSON lines.
        #[arg(long)]
        log_json: bool,
    },
    /// List the containers the agent finds.
    Containers {
        #[arg(long = "containers", value_name = "DIR")]
        containers: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Approved web origins.
    Origins {
        #[command(subcommand)]
        action: OriginsAction,
    },
    /// Copy a container into the agent's folder after checking its password (read from the
    /// terminal without echo, or from one line of standard input).
    Import { file: PathBuf },
    /// Add certificates (`.cer`, `.crt`, `.pem`, `.p7b`) to the agent's certificate folder,
    /// where it finds the certificates of keys stored without them.
    ImportCert { file: PathBuf },
    /// Make browsers trust the agent's HTTPS certificate: installs the per-install,
    /// loopback-only CA where this user may, and prints the commands for the rest.
    Trust {
        /// Only print the commands.
        #[arg(long)]
        print: bool,
    },
    /// Internal: the helper process the agent runs for one PKCS#11 module, speaking JSON
    /// lines on its standard input and output.
    #[command(hide = true)]
    Pkcs11Helper { module: PathBuf },
}

#[derive(Subcommand)]
enum OriginsAction {
    List,
    Allow { origin: String },
    Revoke { origin: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Pkcs11Helper { module } = &cli.command {
        return agent::tokens::helper::run(module);
    }
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("brama-agent: {e}");
            return ExitCode::from(2);
        }
    };
    match run(cli.command, &mut config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("brama-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, config: &mut Config) -> Result<(), String> {
    match command {
        Command::Serve {
            port,
            containers,
            dev,
            log_json,
        } => {
            let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
                .map_err(|e| format!("log filter '{}': {e}", config.log))?;
            let fmt = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            if log_json {
                fmt.json().init()
            } else {
                fmt.init()
            }
            if let Some(p) = port {
                config.port = p;
            }
            config.containers.extend(containers);
            config.dev_mode |= dev;
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let running = agent::server::start(config.clone())
                    .await
                    .map_err(|e| format!("cannot listen: {e}"))?;
                // Tests and scripts read these lines to learn the ports. Written without
                // println!: a closed stdout must not take the agent down.
                let mut out = std::io::stdout();
                let _ = writeln!(
                    out,
                    "brama-agent listening on http://127.0.0.1:{}",
                    running.port
                );
                if let Some(p) = running.https_port {
                    let _ = writeln!(out, "brama-agent listening on https://127.0.0.1:{p}");
                }
                let _ = out.flush();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate() => {}
                }
                running.stop().await;
                Ok(())
            })
        }
        Command::Containers { containers, json } => {
            config.containers.extend(containers);
            let app = agent::app::App::new(config.clone());
            let list = app.containers();
            for m in app.tokens.status() {
                if let Some(e) = &m.error {
                    eprintln!("token module {}: {e}", m.module);
                }
            }
            if json {
                let value: Vec<_> = list.iter().map(|c| {
                    let mut v = serde_json::json!({
                        "id": c.id, "label": c.label, "medium": c.medium, "kind": c.kind, "path": c.path,
                        "certificates": c.views(),
                    });
                    if let serde_json::Value::Object(p) = serde_json::to_value(&c.pairing).expect("serialises") {
                        v.as_object_mut().expect("object").extend(p);
                    }
                    v
                }).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).expect("serialises")
                );
            } else if list.is_empty() {
                println!(
                    "No containers found in: {}",
                    app.places()
                        .roots
                        .iter()
                        .map(|(p, _)| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            } else {
                for c in list {
                    println!("{}  {}  [{:?}]  ({})", c.id, c.label, c.kind, c.medium);
                    match &c.pairing {
                        agent::containers::Pairing::Hidden if c.certificates.is_empty() => println!(
                            "    (the holder is shown after the first unlock: this store keeps everything encrypted)"
                        ),
                        agent::containers::Pairing::NoCertificate { looked_in } => println!(
                            "    no certificate for this key; looked in {}. Put it beside the key or run `brama-agent import-cert FILE`",
                            looked_in.join(", ")
                        ),
                        _ => {}
                    }
                    for v in c.views() {
                        let use_ = if v.can_sign {
                            "signing"
                        } else {
                            "not for signing"
                        };
                        println!(
                            "    {}  [{}; {}]  until {}",
                            v.name, use_, v.summary.key_algorithm, v.summary.not_after
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Origins { action } => {
            let origins = agent::origins::Origins::load(
                &config.data_dir,
                std::time::Duration::from_secs(config.deny_cooldown),
            );
            match action {
                OriginsAction::List => {
                    for (o, a) in origins.list() {
                        println!("{o}  approved {}", a.approved_at);
                    }
                }
                OriginsAction::Allow { origin } => {
                    if !agent::origins::is_well_formed(&origin) {
                        return Err(format!(
                            "'{origin}' is not an origin (scheme://host[:port], lower case)"
                        ));
                    }
                    origins.approve(&origin).map_err(|e| e.to_string())?;
                    println!("approved {origin}");
                }
                OriginsAction::Revoke { origin } => {
                    if !origins.revoke(&origin).map_err(|e| e.to_string())? {
                        return Err(format!("{origin} was not approved"));
                    }
                    println!("revoked {origin}");
                }
            }
            Ok(())
        }
        Command::Import { file } => import(config, &file),
        Command::ImportCert { file } => import_cert(config, &file),
        Command::Trust { print } => trust(config, print),
        Command::Pkcs11Helper { .. } => unreachable!("run before the configuration is read"),
    }
}

async fn terminate() {
    #[cfg(unix)]
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
        return;
    }
    std::future::pending::<()>().await
}

fn trust(config: &Config, print_only: bool) -> Result<(), String> {
    let files = agent::tls::TlsFiles::new(&config.data_dir);
    agent::tls::load_or_create(&files)?;
    println!(
        "The agent's local CA: {} (valid only for localhost, 127.0.0.1 and ::1)",
        files.ca().display()
    );
    let root = unsafe { libc::getuid() } == 0;
    let mut left = Vec::new();
    for step in agent::tls::trust_steps(&files) {
        let tool = &step.command[0];
        let runnable = !print_only
            && (step.command[0] != "cp" && tool != "update-ca-certificates" || root)
            && which(tool);
        let done = runnable
            && std::process::Command::new(tool)
                .args(&step.command[1..])
                .status()
                .is_ok_and(|s| s.success());
        if done {
            println!("  installed: {}", step.what);
        } else {
            left.push(step);
        }
    }
    if !left.is_empty() {
        println!(
            "Run these to finish (certutil is in Debian's libnss3-tools; the first two need root):"
        );
        for step in left {
            let sudo = if step.command[0] == "cp" || step.command[0] == "update-ca-certificates" {
                "sudo "
            } else {
                ""
            };
            println!(
                "  {sudo}{}    # {}",
                agent::tls::shell(&step.command),
                step.what
            );
        }
    }
    Ok(())
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

fn import(config: &Config, file: &std::path::Path) -> Result<(), String> {
    let name = file
        .file_name()
        .ok_or("not a file")?
        .to_string_lossy()
        .into_owned();
    let bytes =
        Zeroizing::new(std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?);
    let format = certs::keystore::detect(&bytes).ok_or(
        "import takes a key store: PKCS#12 (.p12/.pfx), Key-6.dat, an encrypted PKCS#8 key or a Java KeyStore (.jks)",
    )?;
    let password = read_password(&format!("Password for {name}: "))?;
    let opened =
        certs::keystore::open(format, &bytes, &password).map_err(|e| format!("{name}: {e}"))?;
    println!("{name}: {}, {} key(s)", format.name(), opened.keys.len());
    let dir = config.data_dir.join("containers");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let target = dir.join(&name);
    if target.exists() {
        return Err(format!("{} already exists", target.display()));
    }
    std::fs::write(&target, &*bytes).map_err(|e| format!("{}: {e}", target.display()))?;
    println!("imported {} into {}", name, dir.display());
    Ok(())
}

fn import_cert(config: &Config, file: &std::path::Path) -> Result<(), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let found = certs::load::certificates(&bytes, &file.display().to_string(), None)
        .map_err(|e| e.to_string())?;
    let places = agent::containers::Places::new(Vec::new(), &config.data_dir);
    let new = agent::containers::memory::import(&places, &found).map_err(|e| e.to_string())?;
    for der in &found {
        if let Some(v) = agent::containers::CertificateView::of(der) {
            println!(
                "  {}  ({}, until {})",
                v.name, v.summary.key_algorithm, v.summary.not_after
            );
        }
    }
    println!(
        "{} certificate(s), {new} new, in {}",
        found.len(),
        places.certificates.display()
    );
    Ok(())
}

/// One line from the terminal with echo off, or from standard input.
fn read_password(prompt: &str) -> Result<Zeroizing<String>, String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    #[cfg(unix)]
    let saved = tty.then(|| unsafe {
        use std::os::fd::AsRawFd;
        let fd = stdin.as_raw_fd();
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(fd, &mut t);
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        libc::tcsetattr(fd, libc::TCSANOW, &t);
        (fd, saved)
    });
    if tty {
        eprint!("{prompt}");
    }
    let mut line = Zeroizing::new(String::new());
    let read = stdin.lock().read_line(&mut line);
    #[cfg(unix)]
    if let Some((fd, saved)) = saved {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
        eprintln!();
    }
    read.map_err(|e| e.to_string())?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
    Ok(trimmed)
}
