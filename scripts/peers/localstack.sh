#!/usr/bin/env bash
# LocalStack (PyPI localstack-core[runtime]==2026.3.0) in host mode, without Docker, as a local AWS
# conformance peer on 127.0.0.1. Needs CPython 3.12 or 3.13 (pyenv). See README.md here.
#
#   localstack.sh install            create/reuse the venv $ALIEN_PEERS_DIR/localstack (pinned, idempotent)
#   localstack.sh start [--port N]   install if needed, start, wait until ready; stdout: http://127.0.0.1:PORT
#   localstack.sh stop [--port N]    stop one instance, or all LocalStack instances when no port is given
#   localstack.sh reset --port N     restart that instance on the same port (core has no reset endpoint)
#   localstack.sh status             one line per instance: URL pid rss
#   localstack.sh python             print the venv's python (has boto3), e.g. for ad-hoc checks
set -euo pipefail

PEER=localstack
SERVER_PATTERN=localstack.runtime.main
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# LocalStack takes longer to shut down.
STOP_GRACE=15

LOCALSTACK_VERSION=2026.3.0
LS_CONSTRAINTS="$SCRIPT_DIR/localstack-constraints.txt"
VENV="$PEERS_DIR/localstack"
# Held back because newer releases break localstack-core 2026.3.0 (also pinned in the constraints file).
LS_PINS=('cbor2<6' 'pyopenssl==25.3.0' 'cryptography>=45.0.7,<47' 'service_identity')

# Newest CPython 3.12.x/3.13.x: $ALIEN_LOCALSTACK_PYTHON if set, else pyenv versions, else PATH.
find_python() {
  local c v best="" best_v="" root
  if [ -n "${ALIEN_LOCALSTACK_PYTHON:-}" ]; then
    v="$(py_version "$ALIEN_LOCALSTACK_PYTHON")"
    [ -n "$v" ] || die "ALIEN_LOCALSTACK_PYTHON='$ALIEN_LOCALSTACK_PYTHON' does not run"
    case "$v" in
      3.1[2-9].*) printf '%s\n' "$ALIEN_LOCALSTACK_PYTHON"; return 0 ;;
      *) die "ALIEN_LOCALSTACK_PYTHON='$ALIEN_LOCALSTACK_PYTHON' is Python $v; localstack-core $LOCALSTACK_VERSION needs >= 3.12" ;;
    esac
  fi
  root="${PYENV_ROOT:-}"
  if [ -z "$root" ] && command -v pyenv >/dev/null 2>&1; then root="$(pyenv root 2>/dev/null || true)"; fi
  [ -n "$root" ] || root="$HOME/.pyenv"
  local candidates=("$root"/versions/3.12*/bin/python3 "$root"/versions/3.13*/bin/python3)
  # PATH only when pyenv has none (pyenv shims are slow to probe and point at the same binaries).
  local any=0
  for c in "${candidates[@]}"; do [ -x "$c" ] && any=1; done
  if [ "$any" = 0 ]; then
    candidates=("$(command -v python3.13 || true)" "$(command -v python3.12 || true)" "$(command -v python3 || true)")
  fi
  for c in "${candidates[@]}"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    "$c" -c 'import sys; sys.exit(sys.implementation.name != "cpython")' 2>/dev/null || continue
    v="$(py_version "$c")"
    case "$v" in 3.12.* | 3.13.*) ;; *) continue ;; esac
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best_v" "$v" | sort -V | tail -n 1)" != "$best_v" ]; then
      best="$c"
      best_v="$v"
    fi
  done
  if [ -z "$best" ]; then
    die "no CPython 3.12/3.13 found (looked in $root/versions and on PATH for python3.13/python3.12/python3).
  localstack-core $LOCALSTACK_VERSION does not run on Python 3.11 or older (PEP 695 syntax).
  Install one (e.g. 'pyenv install 3.13' - needs python.org, which is not reachable from every machine)
  or point ALIEN_LOCALSTACK_PYTHON at a python3.12+ binary."
  fi
  printf '%s\n' "$best"
}

cmd_install() {
  local py stamp
  py="$(find_python)"
  [ -f "$LS_CONSTRAINTS" ] || die "constraints file missing: $LS_CONSTRAINTS"
  stamp="localstack-core[runtime]==$LOCALSTACK_VERSION py=$(py_version "$py") constraints=$(sha_of "$LS_CONSTRAINTS")"
  with_install_lock
  ensure_venv "$VENV" "$py" "$stamp" -c "$LS_CONSTRAINTS" \
    "localstack-core[runtime]==$LOCALSTACK_VERSION" "${LS_PINS[@]}"
  release_install_lock
  "$VENV/bin/python" -c 'import localstack.runtime.main' 2>/dev/null \
    || die "the venv $VENV cannot import localstack.runtime.main (broken install? remove $VENV and retry)"
}

instance_tmp() { printf '%s/%s-%s.tmp' "$RUN_DIR" "$PEER" "$1"; }

# Each instance gets its own TMPDIR: LocalStack keeps its state under $TMPDIR/localstack and
# deletes that directory on shutdown, so instances must not share it. OVERRIDE_IN_DOCKER=0 forces
# host mode (the image has /.dockerenv, which otherwise makes LocalStack write to /var/lib/localstack,
# /etc/localstack and /usr/lib/localstack: shared between instances, and not writable without root);
# FILESYSTEM_ROOT then keeps its whole file tree inside the instance directory.
prepare_instance() {
  local port="$1" tmp
  tmp="$(instance_tmp "$port")"
  rm -rf "$tmp"
  mkdir -p "$tmp/fs"
  export TMPDIR="$tmp"
  export OVERRIDE_IN_DOCKER=0
  export FILESYSTEM_ROOT="$tmp/fs"
  export GATEWAY_LISTEN="127.0.0.1:$port"
  export LOCALSTACK_HOST="127.0.0.1:$port"
}
cleanup_instance() { rm -rf "$(instance_tmp "$1")"; }

cmd_start() {
  parse_port "$@"
  cmd_install
  export DNS_ADDRESS=0              # no DNS server on port 53
  export DISABLE_EVENTS=1           # no analytics
  export SKIP_SSL_CERT_DOWNLOAD=1   # no certificate download attempt
  export SQS_ENDPOINT_STRATEGY=path # queue URLs http://127.0.0.1:PORT/queue/<region>/<account>/<name>
  # /_localstack/health answers as soon as the gateway listens; the READY init stage completes
  # slightly later (when LocalStack prints "Ready."), so wait for that.
  READY_BODY='"completed": true' start_common "$VENV/bin/python" "${ALIEN_PEERS_START_TIMEOUT:-60}" \
    /_localstack/init/ready "$PORT" -- "$VENV/bin/python" -m localstack.runtime.main
}

# localstack-core has no state-reset endpoint (POST /_localstack/state/reset -> 404, that is a Pro
# feature), so reset = stop + start on the same port. Takes ~4-6 s; prints the URL like start.
cmd_reset() {
  parse_port "$@"
  [ -n "$PORT" ] || die "reset needs --port N"
  [ -f "$(pid_file "$PORT")" ] && is_our_server "$(cat "$(pid_file "$PORT")")" \
    || die "no running LocalStack started by this script on port $PORT"
  STOP_GRACE=15 stop_common "$PORT"
  cmd_start --port "$PORT"
}

dispatch "$@"
