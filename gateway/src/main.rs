//! `brama-gateway` command line.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "brama-gateway",
    version,
    about = "Brama gateway: qualified-signature sign-in in front of a cabinet backend",
    long_about = "Brama gateway.\n\nA reverse proxy in front of a cabinet backend: issues login challenges, verifies signed \
login statements (CMS signature, chain to trusted qualified CAs, revocation, qualified status, origin, single-use \
challenge), registers accounts from the certificate's names, keeps sessions and forwards requests with identity \
headers the backend can trust.\n\n\
Status: this build has the command line only; `serve`, `check-config`, `check-cert` and `accounts` arrive with the \
gateway issue (see README.md)."
)]
struct Cli {}

fn main() {
    Cli::parse();
    eprintln!("brama-gateway: nothing to do yet; see `brama-gateway --help`.");
    std::process::exit(2);
}
