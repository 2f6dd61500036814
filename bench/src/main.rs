//! `brama-bench`: every benchmark of Brama in one run, each figure beside a reference measured
//! in the same run (backend direct, nginx, `openssl speed`, the agent's `/v1/info`), printed
//! as one table. `bench/run.sh` builds in release mode and runs it; `--quick` is the smoke
//! run the test suite makes so the bench cannot rot.

mod agent;
mod forward;
mod gateway;
mod login;
mod memory;
mod report;
mod tools;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "brama-bench",
    about = "Brama's benchmarks: forwarding, login verification, agent latency, memory"
)]
struct Cli {
    /// A few seconds in all: proves every scenario still runs (figures are meaningless).
    #[arg(long)]
    quick: bool,
    /// Where brama-gateway and bench-backend are (default: beside this program).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Also write the table as Markdown to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Only these scenarios (forward, login, agent, memory); default all.
    #[arg(long = "only", value_name = "SCENARIO")]
    only: Vec<String>,
    /// For profiling: start the backend and a gateway with WORKERS workers on the proxy CPU,
    /// sign in, print the gateway's URL, its pid and the session cookie, and keep them
    /// running until standard input closes.
    #[arg(long, value_name = "WORKERS")]
    serve_gateway: Option<usize>,
}

/// Durations and counts of one run.
pub struct Plan {
    pub bin_dir: PathBuf,
    pub load_seconds: u32,
    pub connections: u32,
    /// The CPU the bench, wrk and the backend run on, and the one a one-worker proxy gets.
    pub own_cpu: String,
    pub proxy_cpu: String,
    pub certificates: usize,
    pub logins: usize,
    pub openssl_seconds: u32,
    pub agent_rounds: usize,
    pub sessions: usize,
    pub memory_load_seconds: u32,
}

impl Plan {
    fn new(quick: bool, bin_dir: PathBuf) -> Plan {
        let full = !quick;
        let pick = |full_value, quick_value| if full { full_value } else { quick_value };
        Plan {
            bin_dir,
            load_seconds: pick(5, 1) as u32,
            connections: 32,
            own_cpu: "1".into(),
            proxy_cpu: "0".into(),
            certificates: pick(200, 4),
            logins: pick(4000, 40),
            openssl_seconds: pick(3, 1) as u32,
            agent_rounds: pick(500, 10),
            sessions: pick(100_000, 500),
            memory_load_seconds: pick(60, 1) as u32,
        }
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(String::new(), |kb| {
            format!(", {:.0} GiB", kb / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{mem}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cli = Cli::parse();
    let plan = Plan::new(cli.quick, gateway::bin_dir(cli.bin_dir));
    let wanted = |s: &str| cli.only.is_empty() || cli.only.iter().any(|o| o == s);
    let machine = machine();
    // The bench, its load and the backend live on one CPU; proxies are pinned explicitly.
    tools::pin_self(&plan.own_cpu);
    if let Some(workers) = cli.serve_gateway {
        forward::serve(&plan, workers).await;
        return;
    }
    let started = Instant::now();
    let mut report = report::Report::default();
    if wanted("forward") {
        eprintln!("forwarding …");
        forward::run(&plan, &mut report).await;
    }
    if wanted("login") {
        eprintln!("login verification …");
        login::run(&plan, &mut report).await;
    }
    if wanted("agent") {
        eprintln!("agent latency …");
        agent::run(&plan, &mut report).await;
    }
    if wanted("memory") {
        eprintln!("memory …");
        memory::run(&plan, &mut report).await;
    }
    report.note(format!(
        "machine: {machine}; the whole run took {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    if cli.quick {
        report.note("--quick: a smoke run; its figures mean nothing".into());
    }
    println!("{}", report.text());
    if let Some(file) = cli.markdown {
        let date = time::OffsetDateTime::now_utc().date();
        std::fs::write(&file, report.markdown(&format!("Brama benchmark, {date}")))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}
