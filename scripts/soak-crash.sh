#!/usr/bin/env bash
# Soak the crash test: many rounds, each with many SIGKILLs at random moments and its own seed.
#
#   scripts/soak-crash.sh [ROUNDS] [KILLS_PER_ROUND]     (defaults: 20 rounds, 200 kills)
#
# A failing round prints its THREEOX_CRASH_SEED; rerun that round alone with
#   THREEOX_CRASH_SEED=<seed> THREEOX_CRASH_KILLS=<kills> cargo test --test integration a_run_survives_sigkill -- --nocapture
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
kills=${2:-200}
cargo test --test integration --no-run --quiet
for round in $(seq 1 "$rounds"); do
  seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
  echo "round $round/$rounds: seed $seed, $kills kills"
  if ! THREEOX_CRASH_SEED=$seed THREEOX_CRASH_KILLS=$kills \
      cargo test --quiet --test integration a_run_survives_sigkill -- --nocapture 2>&1 | tail -n 5; then
    echo "FAILED: THREEOX_CRASH_SEED=$seed THREEOX_CRASH_KILLS=$kills" >&2
    exit 1
  fi
done
echo "soak passed: $rounds rounds of $kills kills"
