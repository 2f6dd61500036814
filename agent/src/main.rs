//! `brama-agent` command line.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "brama-agent",
    version,
    about = "Brama signing agent: qualified electronic signatures for web sign-in, on loopback only",
    long_about = "Brama signing agent.\n\nRuns on the citizen's computer, listens on 127.0.0.1 and ::1 only, finds key containers \
(PKCS#12 .p12/.pfx, encrypted PEM keys, PKCS#11 tokens) and signs origin-bound login statements and CAdES documents \
for web origins the user approved. The key password is typed only on the agent's own page.\n\n\
Status: this build has the command line only; the `serve`, `containers`, `origins`, `import` and `trust` commands \
arrive with the agent issue (see README.md)."
)]
struct Cli {}

fn main() {
    Cli::parse();
    eprintln!("brama-agent: nothing to do yet; see `brama-agent --help`.");
    std::process::exit(2);
}
