#!/usr/bin/env bash
# Run every test: installs missing Debian packages first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
# jkurwa (npm), the independent DSTU 4145 peer that certs/tests/jkurwa.rs drives.
(
  cd tests/dstu-peer
  [ -d node_modules/jkurwa ] || npm ci --no-audit --no-fund --silent
)
cargo test --workspace "$@"
# The browser client of the agent, with node's own test runner.
node --test gateway/pages/
# The whole flow in Debian's Chromium, driven by playwright-core (npm); screenshots go to
# target/browser-screenshots/.
cargo build -q -p brama-tests -p agent --bins
(
  cd tests/browser
  [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent
  node --test --test-concurrency=1 .
)
