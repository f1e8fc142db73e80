#!/usr/bin/env bash
# Measures `alien emulate` on this machine (BENCHMARKS.md, section "`alien emulate`"):
#   1. time to ready and idle RSS, next to moto_server started in the same run (3 runs, median);
#   2. queue throughput to the real worker app (500 messages, aws and local profiles);
#   3. gateway overhead (1 000 sequential GET /health via the gateway vs the app port).
# The measuring is done by benches/emulate.rs; this script builds everything, installs
# moto into a throw-away venv (never into the repo), notes the machine and runs the bench.
#
#   scripts/bench-emulate.sh                          # everything, moto installed fresh
#   MOTO_SERVER=/path/venv/bin/moto_server scripts/bench-emulate.sh   # reuse an install
#
# Servers listen on 127.0.0.1 only; everything is stopped at the end (and `alien emulate`
# runs with --stop-after 3m as a backstop).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target"

work="$(mktemp -d "${TMPDIR:-/tmp}/bench-emulate.XXXXXX")"
cleanup() {
    # Only moto servers started from this run's venv, by process id.
    for pid in $(pgrep -f "^$work/venv/bin/python[0-9.]* $work/venv/bin/moto_server" || true); do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== machine"
echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "nproc:  $(nproc)"
echo "cpu:    $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
echo "kernel: $(uname -r)"
echo "rustc:  $(rustc --version)"
echo "python: $(python3 --version 2>&1)"

moto="${MOTO_SERVER:-}"
if [[ -z "$moto" ]]; then
    echo "== installing moto[server] into $work/venv"
    start=$(date +%s)
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
    echo "installed in $(( $(date +%s) - start )) s"
    moto="$work/venv/bin/moto_server"
fi
echo "moto:   $("$(dirname "$moto")/pip" show moto 2>/dev/null | sed -n 's/^Version: //p')"

echo "== building (release alien, the example app, the bench)"
cargo build --locked --manifest-path tests/fixtures/worker-app/Cargo.toml
cargo bench --bench emulate --no-run

echo "== load before measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 1. time to ready and idle RSS (alien emulate vs moto_server)"
BENCH_EMULATE_PARTS=startup BENCH_EMULATE_MOTO="$moto" \
    timeout --kill-after=10 150 cargo bench --bench emulate

echo "== load before measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 2 and 3. gateway overhead and queue throughput (aws, local)"
BENCH_EMULATE_PARTS=load timeout --kill-after=10 150 cargo bench --bench emulate
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
