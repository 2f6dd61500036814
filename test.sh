#!/usr/bin/env bash
# Run every test: installs missing Debian packages first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
cargo test --workspace "$@"
# The browser client of the agent, with node's own test runner.
node --test agent/web/
