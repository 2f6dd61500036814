#!/usr/bin/env bash
# Run the demo: installs missing Debian packages first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
cargo run --quiet -p brama-tests --bin brama-demo -- "$@"
