#!/usr/bin/env bash
# The kill -9 reliability loop of issue 10 (tests/kill_loop.rs) with more rounds than CI runs:
# `alien emulate` (aws profile, the fixture app on alien-sdk 3.3.49) under mixed load on the
# control API, the SQS endpoint and the app's queue binding, killed with SIGKILL and restarted
# on the same state directory; after every restart nothing answered is lost, nothing acked is
# redelivered, object bytes are equal, the clock has not gone back and no earlier process lives.
#
#   scripts/kill-loop.sh                 # 100 kills, seed 1
#   scripts/kill-loop.sh 300 7           # 300 kills, seed 7
#   ALIEN_KILL_LOOP_KEEP=1 scripts/kill-loop.sh   # keep the state directory to look at
#
# Prints the figures (kills, seconds, answered operations per path, app processes seen) at the
# end; exits non-zero naming the round and what broke.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target"

bash scripts/install-protoc.sh
cargo build --locked --manifest-path tests/fixtures/worker-app/Cargo.toml
export ALIEN_KILL_LOOP_KILLS="${1:-100}"
export ALIEN_KILL_LOOP_SEED="${2:-1}"
log="$(mktemp "${TMPDIR:-/tmp}/kill-loop.XXXXXX.log")"
echo "kill -9 loop: $ALIEN_KILL_LOOP_KILLS kills, seed $ALIEN_KILL_LOOP_SEED (full output: $log)"
status=0
cargo test --test kill_loop -- --nocapture >"$log" 2>&1 || status=$?
grep -E '^(kill -9 loop|state directory|round )|panicked|^test result' "$log" || true
exit "$status"
