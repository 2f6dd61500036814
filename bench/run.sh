#!/usr/bin/env bash
# Brama's benchmarks in one command: builds in release mode, starts everything on loopback,
# runs each scenario for a bounded time, stops what it started, prints one table.
#   bench/run.sh [--quick] [--only forward|login|agent|memory]... [--markdown FILE]
# Needs wrk, nginx (nginx-light), openssl, taskset and stdbuf: scripts/setup.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet -p gateway -p brama-bench
exec target/release/brama-bench "$@"
