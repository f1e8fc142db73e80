#!/usr/bin/env bash
# Measures `alien emulate` and the emulator's AWS profile next to the AWS conformance peers
# (moto, LocalStack host mode) on this machine, in one run (BENCHMARKS.md, section
# "AWS conformance peers"):
#   1. time to ready and idle RSS of `alien emulate`, moto_server and LocalStack (3 runs each,
#      interleaved, median), and the peers' RSS after one SQS call;
#   2. queue send → receive → ack throughput through the same code (the conformance `Target`)
#      against the in-process emulator target and the AWS adapter against moto and LocalStack.
# The measuring is done by benches/peers.rs; this script notes the machine, builds with
# `--features aws`, installs/starts/stops the peers through scripts/peers and runs the bench.
#
#   scripts/bench-peers.sh                 # both parts
#   BENCH_PEERS_PARTS=queue scripts/bench-peers.sh
#
# Servers listen on 127.0.0.1 only. Everything is stopped at the end: the peers of part 2 through
# scripts/peers (by port), anything the bench spawned itself by the marker in its environment.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target"

parts="${BENCH_PEERS_PARTS:-startup,queue}"
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-peers.XXXXXX")"
moto_port=""
localstack_port=""
cleanup() {
    set +e
    [[ -n "$moto_port" ]] && scripts/peers/moto.sh stop --port "$moto_port"
    [[ -n "$localstack_port" ]] && scripts/peers/localstack.sh stop --port "$localstack_port"
    # Whatever the bench spawned and left behind (it was killed mid-run): every process whose
    # environment carries this run's marker, by process id.
    for environ in /proc/[0-9]*/environ; do
        pid="${environ#/proc/}"
        pid="${pid%/environ}"
        if { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qxF "ALIEN_BENCH_PEERS_RUN=$work"; then
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== machine"
echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "nproc:  $(nproc)"
echo "cpu:    $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
echo "kernel: $(uname -r)"
echo "rustc:  $(rustc --version)"
echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree differs)')"
echo "load:   $(loadavg)"

echo "== peers (scripts/peers)"
scripts/peers/moto.sh install
scripts/peers/localstack.sh install
moto_py="$(scripts/peers/moto.sh python)"
localstack_py="$(scripts/peers/localstack.sh python)"
echo "moto:       $("$moto_py" -m pip show moto 2>/dev/null | sed -n 's/^Version: //p'), $("$moto_py" --version 2>&1)"
echo "localstack: $("$localstack_py" -m pip show localstack-core 2>/dev/null | sed -n 's/^Version: //p'), $("$localstack_py" --version 2>&1)"

echo "== building (release alien and the bench, --features aws; the example app)"
start=$(date +%s)
cargo build --locked --manifest-path tests/fixtures/worker-app/Cargo.toml
cargo bench --features aws --bench peers --no-run
echo "built in $(( $(date +%s) - start )) s; load after the build: $(loadavg)"

run_bench() {
    ALIEN_BENCH_PEERS_RUN="$work" timeout --kill-after=10 900 \
        cargo bench --features aws --bench peers
}

if [[ ",$parts," == *",startup,"* ]]; then
    echo "== 1. time to ready and RSS (load before: $(loadavg))"
    BENCH_PEERS_PARTS=startup \
        BENCH_PEERS_MOTO_SERVER="$(dirname "$moto_py")/moto_server" \
        BENCH_PEERS_LOCALSTACK_PYTHON="$localstack_py" \
        run_bench
fi

if [[ ",$parts," == *",queue,"* ]]; then
    echo "== 2. queue throughput (starting the peers through scripts/peers)"
    moto_url="$(scripts/peers/moto.sh start)"
    moto_port="${moto_url##*:}"
    localstack_url="$(scripts/peers/localstack.sh start)"
    localstack_port="${localstack_url##*:}"
    echo "moto at $moto_url, LocalStack at $localstack_url; load before: $(loadavg)"
    BENCH_PEERS_PARTS=queue \
        BENCH_PEERS_MOTO_URL="$moto_url" \
        BENCH_PEERS_LOCALSTACK_URL="$localstack_url" \
        run_bench
fi
echo "== load after: $(loadavg)"
