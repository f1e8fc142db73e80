#!/usr/bin/env bash
# moto server (PyPI moto[server]) as a local AWS conformance peer on 127.0.0.1. See README.md here.
#
#   moto.sh install               create/reuse the venv $ALIEN_PEERS_DIR/moto (pinned, idempotent)
#   moto.sh start [--port N]      install if needed, start, wait until ready; stdout: http://127.0.0.1:PORT
#   moto.sh stop [--port N]       stop one instance, or all moto instances when no port is given
#   moto.sh reset --port N        POST /moto-api/reset (drops all state of that instance)
#   moto.sh status                one line per instance: URL pid rss
#   moto.sh python                print the venv's python (has boto3), e.g. for ad-hoc checks
set -euo pipefail

PEER=moto
SERVER_PATTERN=moto_server
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOTO_VERSION=5.2.5
MOTO_CONSTRAINTS="$SCRIPT_DIR/moto-constraints.txt"
VENV="$PEERS_DIR/moto"

moto_python() {
  local py="${ALIEN_MOTO_PYTHON:-python3}" v
  command -v "$py" >/dev/null 2>&1 || die "python '$py' not found (set ALIEN_MOTO_PYTHON to a Python >= 3.9)"
  v="$(py_version "$py")"
  [ -n "$v" ] || die "python '$py' does not run"
  case "$v" in
    3.9.* | 3.1[0-9].*) ;;
    *) die "moto $MOTO_VERSION needs Python >= 3.9, '$py' is $v (set ALIEN_MOTO_PYTHON)" ;;
  esac
  printf '%s\n' "$py"
}

cmd_install() {
  local py stamp
  py="$(moto_python)"
  [ -f "$MOTO_CONSTRAINTS" ] || die "constraints file missing: $MOTO_CONSTRAINTS"
  stamp="moto[server]==$MOTO_VERSION py=$(py_version "$py") constraints=$(sha_of "$MOTO_CONSTRAINTS")"
  with_install_lock
  ensure_venv "$VENV" "$py" "$stamp" -c "$MOTO_CONSTRAINTS" "moto[server]==$MOTO_VERSION"
  release_install_lock
  [ -x "$VENV/bin/moto_server" ] || die "moto_server not found in $VENV/bin after install"
}

prepare_instance() { :; }
cleanup_instance() { :; }

cmd_start() {
  parse_port "$@"
  cmd_install
  start_common "$VENV/bin/python" "${ALIEN_PEERS_START_TIMEOUT:-30}" /moto-api/ "$PORT" -- \
    "$VENV/bin/moto_server" -H 127.0.0.1 -p @PORT@
}

cmd_reset() {
  parse_port "$@"
  [ -n "$PORT" ] || die "reset needs --port N"
  need_cmd curl "used to call the reset endpoint"
  curl -fsS -o /dev/null --max-time 10 -X POST "http://127.0.0.1:$PORT/moto-api/reset" \
    || die "POST http://127.0.0.1:$PORT/moto-api/reset failed (is moto running on that port?)"
  log "reset http://127.0.0.1:$PORT"
}

dispatch "$@"
