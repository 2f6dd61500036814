//! The demo: the dev PKI (made once), the signing agent, the gateway with SQLite and a demo
//! cabinet, all on this machine. `--check` signs in once through all of them and exits.
//! `--browser-env DIR` starts gateway and cabinet (not the agent) for the browser tests on free
//! ports, prints them as one JSON line and runs until its standard input closes.

use std::path::PathBuf;
use std::process::ExitCode;

use brama_tests::demo::{self, Ports};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "brama-demo",
    version,
    about = "Brama's demo: a development PKI, the signing agent, the gateway and a demo cabinet on this machine",
    long_about = "Brama's demo: a development PKI (made once under target/demo/), the signing agent on 127.0.0.1:47560, \
the gateway on http://localhost:8080 with SQLite, and a demo cabinet behind it. Ctrl-C stops everything."
)]
struct Cli {
    /// Sign in once through agent and gateway, then exit (status 0 when the cabinet greets the citizen).
    #[arg(long)]
    check: bool,
    /// For tests/browser: start gateway and cabinet (not the agent) on free ports in DIR, print
    /// them as one JSON line, run until standard input closes.
    #[arg(long, value_name = "DIR", conflicts_with = "check")]
    browser_env: Option<PathBuf>,
    #[command(subcommand)]
    internal: Option<Internal>,
}

#[derive(Subcommand)]
enum Internal {
    /// The agent embedded in the demo runs this program as its PKCS#11 helper, one process per
    /// module, as `brama-agent pkcs11-helper MODULE`.
    #[command(hide = true)]
    Pkcs11Helper { module: PathBuf },
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

async fn browser_env(dir: PathBuf) -> ExitCode {
    let ports = Ports {
        gateway_host: "127.0.0.1",
        gateway: free_port(),
        backend: 0,
        agent: free_port(),
        start_agent: false,
        admin: 0,
    };
    let d = match demo::start(&dir, &ports).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("brama-demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "gateway": d.gateway_url, "gateway_port": d.gateway.port, "agent": d.agent_url,
            "agent_port": ports.agent, "pki": d.pki, "password": d.password,
            "dstu_keys": dir.join("dstu-keys"),
        })
    );
    // Until the test closes our standard input.
    let _ =
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await;
    d.gateway.stop().await;
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    // `--help`, `--version` and unknown arguments end here, before anything is started.
    let cli = Cli::parse();
    if let Some(Internal::Pkcs11Helper { module }) = &cli.internal {
        return agent::tokens::helper::run(module);
    }
    if let Some(dir) = cli.browser_env {
        return browser_env(dir).await;
    }
    let check = cli.check;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("target/demo");
    let ports = Ports {
        gateway: 8080,
        backend: 8081,
        agent: agent::config::DEFAULT_PORT,
        start_agent: true,
        gateway_host: "localhost",
        admin: 9090,
    };
    let d = match demo::start(&root, &ports).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("brama-demo: {e}\n(ports 8080, 8081, 9090, 47560 and 47561 must be free)");
            return ExitCode::FAILURE;
        }
    };
    if check {
        return match demo::sign_in(&d, "citizen-p256", &d.password).await {
            Ok(page) if page.contains("Вітаємо, Тарас Шевченко!") => {
                println!("demo check: signed in through agent and gateway; the cabinet greets Тарас Шевченко");
                ExitCode::SUCCESS
            }
            Ok(page) => {
                eprintln!("demo check: unexpected cabinet page:\n{page}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("demo check: {e}");
                ExitCode::FAILURE
            }
        };
    }
    println!("Brama demo is running.\n");
    println!(
        "  Open            {}/cabinet   (in Chromium or Firefox on this machine)",
        d.gateway_url
    );
    println!(
        "  Signing agent   {} (development mode: accepts http://localhost pages)",
        d.agent_url
    );
    println!(
        "  Keys            {} — every key's password: {}",
        d.pki.display(),
        d.password
    );
    println!("  Metrics         http://127.0.0.1:9090/metrics (also /healthz, /readyz)");
    println!("  Try             citizen-p256 (citizen), dstu-citizen (DSTU 4145 key, Diia-style .p12), representative-p256 (organisation), expired, untrusted, not-qualified");
    println!("\nCtrl-C stops everything.");
    let _ = tokio::signal::ctrl_c().await;
    d.gateway.stop().await;
    if let Some(agent) = d.agent {
        agent.stop().await;
    }
    ExitCode::SUCCESS
}
