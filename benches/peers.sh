#!/usr/bin/env bash
# The side-by-side benchmark: 3ox beside make, doit, Luigi and Huey in one go.
# Installs what it needs (make from Debian when missing; doit, Luigi and Huey into a venv under
# target/), builds the release binary, then runs benches/peers.py. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v make >/dev/null || { apt-get update -qq && apt-get install -y -qq make; }
venv=target/peers-venv
if [ ! -x "$venv/bin/doit" ] || [ ! -x "$venv/bin/luigi" ] || ! "$venv/bin/python" -c 'import huey' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'doit==0.37.*' 'luigi==3.*' 'huey==3.*'
fi
cargo build --release --quiet
exec python3 benches/peers.py "$@"
