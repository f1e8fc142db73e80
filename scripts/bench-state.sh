#!/usr/bin/env bash
# Measures `alien emulate`'s state layer on this machine (BENCHMARKS.md, section "`alien
# emulate` state layer"), in one run:
#   1. durable sends (the app's queue binding, the control API, the SQS endpoint; 1 and 8
#      clients) at several queue depths, next to moto's SendMessage at the same depths;
#   2. with BEFORE=/path/to/an/older/alien, the same for that build (smaller depths and runs:
#      it slows down with the state);
#   3. the emulator's RSS after 1 000 000 trace events.
# The measuring is done by benches/state.rs; this script builds everything, starts and stops
# moto through scripts/peers, notes the machine and runs the bench.
#
#   scripts/bench-state.sh
#   BEFORE=/tmp/alien-before scripts/bench-state.sh     # also the older build
#
# Knobs (environment): DEPTHS (default 0,10000,100000), MESSAGES (per run, default 5000),
# MOTO_DEPTHS (default 0,2000: moto's sends slow down with its depth, a deeper fill takes
# hours), MOTO_MESSAGES (default 500), BEFORE_DEPTHS (default 0,2000,10000), BEFORE_MESSAGES (default 500), TRACE_EVENTS
# (default 1000000). Servers listen on 127.0.0.1 only; everything is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target"

moto_port=""
cleanup() {
    [[ -n "$moto_port" ]] && scripts/peers/moto.sh stop --port "$moto_port"
    return 0
}
trap cleanup EXIT
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== machine"
echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' (with local changes)')"
echo "nproc:  $(nproc)"
echo "cpu:    $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
echo "kernel: $(uname -r)"
echo "rustc:  $(rustc --version)"

echo "== building (the fixture app, release alien and the bench)"
cargo build --locked --manifest-path tests/fixtures/worker-app/Cargo.toml
cargo bench --locked --bench state --no-run
scripts/peers/moto.sh install
moto_py="$(scripts/peers/moto.sh python)"
echo "moto:   $("$moto_py" -m pip show moto 2>/dev/null | sed -n 's/^Version: //p'), $("$moto_py" --version 2>&1)"

moto_url="$(scripts/peers/moto.sh start)"
moto_port="${moto_url##*:}"
echo "== 1. durable sends by depth, this build and moto ($moto_url); load before: $(loadavg)"
BENCH_STATE_PARTS=depth BENCH_STATE_MOTO_URL="$moto_url" \
    BENCH_STATE_MOTO_DEPTHS="${MOTO_DEPTHS:-0,2000}" BENCH_STATE_MOTO_MESSAGES="${MOTO_MESSAGES:-500}" \
    BENCH_STATE_DEPTHS="${DEPTHS:-0,10000,100000}" BENCH_STATE_MESSAGES="${MESSAGES:-5000}" \
    timeout --kill-after=10 3000 cargo bench --locked --bench state

if [[ -n "${BEFORE:-}" ]]; then
    echo "== 2. durable sends by depth, $BEFORE; load before: $(loadavg)"
    BENCH_STATE_PARTS=depth BENCH_STATE_ALIEN="$BEFORE" BENCH_STATE_LABEL="before ($BEFORE)" \
        BENCH_STATE_DEPTHS="${BEFORE_DEPTHS:-0,2000,10000}" \
        BENCH_STATE_MESSAGES="${BEFORE_MESSAGES:-500}" \
        timeout --kill-after=10 3000 cargo bench --locked --bench state
fi

echo "== 3. RSS after ${TRACE_EVENTS:-1000000} trace events; load before: $(loadavg)"
BENCH_STATE_PARTS=memory BENCH_STATE_TRACE_EVENTS="${TRACE_EVENTS:-1000000}" \
    timeout --kill-after=10 3000 cargo bench --locked --bench state
echo "== load after: $(loadavg)"
