#!/usr/bin/env bash
# The scale benchmark: many queued runs driven by one `3ox up`. Builds the release binary,
# then runs benches/scale.py (sizes from SCALE_RUNS, SCALE_TASKS, SCALE_AGENTS). See
# docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 benches/scale.py "$@"
