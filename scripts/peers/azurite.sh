#!/usr/bin/env bash
# Azurite (npm `azurite`, Blob service only) as a local Azure Blob Storage peer on 127.0.0.1. See README.md here.
#
#   azurite.sh install               npm-install the pinned Azurite into $ALIEN_PEERS_DIR/azurite (idempotent)
#   azurite.sh start [--port N]      install if needed, start, wait until ready; stdout: http://127.0.0.1:PORT
#   azurite.sh stop [--port N]       stop one instance, or all Azurite instances when no port is given
#   azurite.sh status                one line per instance: URL pid rss
#
# The blob endpoint of the well-known dev account is http://127.0.0.1:PORT/devstoreaccount1 (path style);
# tests read it from ALIEN_AZURITE_URL. Data lives in a per-instance temp dir removed by stop.
set -euo pipefail

PEER=azurite
SERVER_PATTERN=azurite-blob
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AZURITE_VERSION=3.37.0
PREFIX="$PEERS_DIR/azurite"

# Azurite answers an unauthenticated GET / with an error status, so readiness is "the port
# answers HTTP at all" (any status code), not lib.sh's 2xx check.
is_ready() {
  local code
  code="$(curl -sS -o /dev/null --max-time 2 -w '%{http_code}' "$1" 2>/dev/null)" || return 1
  [ -n "$code" ] && [ "$code" != 000 ]
}

cmd_install() {
  local stamp t0
  need_cmd node "Node.js runs Azurite"
  need_cmd npm "installs Azurite from the npm registry"
  stamp="azurite@$AZURITE_VERSION node=$(node --version)"
  with_install_lock
  if [ -f "$PREFIX/.alien-stamp" ] && [ "$(cat "$PREFIX/.alien-stamp")" = "$stamp" ] \
    && [ -x "$PREFIX/node_modules/.bin/azurite-blob" ]; then
    log "already installed in $PREFIX ($stamp)"
  else
    t0="$(now)"
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX"
    log "npm install azurite@$AZURITE_VERSION into $PREFIX (about a minute the first time)"
    if ! npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
      "azurite@$AZURITE_VERSION" >&2; then
      rm -rf "$PREFIX"
      die "npm install azurite@$AZURITE_VERSION failed (see npm output above; the npm registry must be reachable)"
    fi
    printf '%s\n' "$stamp" >"$PREFIX/.alien-stamp"
    log "installed in $PREFIX in $(elapsed "$t0") s"
  fi
  release_install_lock
  [ -x "$PREFIX/node_modules/.bin/azurite-blob" ] || die "azurite-blob not found in $PREFIX/node_modules/.bin"
}

data_dir() { printf '%s/%s-%s.data' "$RUN_DIR" "$PEER" "$1"; }
prepare_instance() { rm -rf "$(data_dir "$1")"; mkdir -p "$(data_dir "$1")"; }
cleanup_instance() { rm -rf "$(data_dir "$1")"; }

cmd_start() {
  parse_port "$@"
  cmd_install
  need_cmd python3 "picks a free port"
  # --loose: accept headers Azurite does not implement instead of failing the request;
  # --skipApiVersionCheck: the Rust SDK may send an x-ms-version newer than this Azurite knows.
  start_common python3 "${ALIEN_PEERS_START_TIMEOUT:-30}" / "$PORT" -- \
    "$PREFIX/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort @PORT@ \
    --location "$RUN_DIR/$PEER-@PORT@.data" --disableTelemetry --skipApiVersionCheck --loose
}

dispatch "$@"
