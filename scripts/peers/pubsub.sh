#!/usr/bin/env bash
# Google's Pub/Sub emulator (gcloud component, Java) as a local GCP peer on 127.0.0.1. See README.md here.
#
#   pubsub.sh install             check that the emulator and Java are present (nothing is downloaded)
#   pubsub.sh start [--port N]    start, wait until ready; stdout: http://127.0.0.1:PORT (gRPC and REST)
#   pubsub.sh stop [--port N]     stop one instance, or all Pub/Sub emulator instances when no port is given
#   pubsub.sh status              one line per instance: URL pid rss
#
# The emulator keeps everything in memory; a restart (stop, start) is the only reset.
# ALIEN_PUBSUB_EMULATOR_DIR overrides the emulator's directory (default: the gcloud SDK's
# platform/pubsub-emulator, found from `gcloud` on PATH or /usr/lib/google-cloud-sdk).
set -euo pipefail

PEER=pubsub
SERVER_PATTERN=cloud-pubsub-emulator
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emulator_dir() {
  local dir="${ALIEN_PUBSUB_EMULATOR_DIR:-}" sdk
  if [ -z "$dir" ]; then
    sdk=/usr/lib/google-cloud-sdk
    if command -v gcloud >/dev/null 2>&1; then
      sdk="$(dirname "$(dirname "$(readlink -f "$(command -v gcloud)")")")"
    fi
    dir="$sdk/platform/pubsub-emulator"
  fi
  [ -x "$dir/bin/cloud-pubsub-emulator" ] \
    || die "Pub/Sub emulator not found in $dir (install the gcloud component 'pubsub-emulator', e.g. apt-get install google-cloud-cli-pubsub-emulator, or set ALIEN_PUBSUB_EMULATOR_DIR)"
  printf '%s\n' "$dir"
}

cmd_install() {
  local dir
  dir="$(emulator_dir)"
  need_cmd java "the Pub/Sub emulator needs Java 11 or newer (apt-get install openjdk-17-jre-headless)"
  log "emulator $(basename "$(ls "$dir"/lib/cloud-pubsub-emulator-*.jar 2>/dev/null | head -n 1)" .jar) in $dir, $(java -version 2>&1 | head -n 1)"
}

prepare_instance() { :; }
cleanup_instance() { :; }

cmd_start() {
  local dir
  parse_port "$@"
  dir="$(emulator_dir)"
  need_cmd java "the Pub/Sub emulator needs Java 11 or newer"
  need_cmd python3 "used to pick a free port"
  # Readiness: the REST surface answers GET / with "Ok" once the server is up.
  READY_BODY=Ok start_common python3 "${ALIEN_PEERS_START_TIMEOUT:-60}" / "$PORT" -- \
    "$dir/bin/cloud-pubsub-emulator" --host=127.0.0.1 --port=@PORT@
}

dispatch "$@"
