#!/usr/bin/env bash
# Installs `protoc`, which alien-worker-protocol's build.rs (tonic-build) needs to compile the
# worker protocol (real-clients.md §3 "Build prerequisite"). Idempotent: does nothing when
# `protoc` is already on PATH. Debian/Ubuntu only (package `protobuf-compiler`).
set -euo pipefail
# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if command -v protoc >/dev/null 2>&1 || { [ -n "${PROTOC:-}" ] && [ -x "${PROTOC}" ]; }; then
  exit 0
fi

apt_install protoc \
  "(or set PROTOC=/path/to/protoc). alien-worker-protocol needs it to build." \
  protobuf-compiler
command -v protoc >/dev/null 2>&1 || {
  echo "error: protobuf-compiler was installed but protoc is still not on PATH" >&2
  exit 1
}
