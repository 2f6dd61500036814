#!/usr/bin/env bash
# Install the Debian packages Brama's build and tests need, if any are missing.
# Idempotent and quiet: does nothing when everything is present.
set -euo pipefail

packages=(
  pkg-config libssl-dev openssl   # the openssl crate, and the openssl command as a test peer
  curl                            # a second HTTP client in the agent's tests
  chromium                        # the browser of tests/browser (driven by playwright-core)
  softhsm2 opensc                 # the hardware token of the agent's PKCS#11 tests, pkcs11-tool
  wrk nginx-light                 # the benchmark's load generator and its reference proxy (bench/)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the browser client's tests; any install (Debian's or another) will do.
command -v node >/dev/null || missing+=(nodejs)
# npm installs playwright-core and jkurwa (the DSTU peer) from their lock files.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
