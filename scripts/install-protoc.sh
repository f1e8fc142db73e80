#!/usr/bin/env bash
# Installs `protoc`, which alien-worker-protocol's build.rs (tonic-build) needs to compile the
# worker protocol (real-clients.md §3 "Build prerequisite"). Idempotent: does nothing when
# `protoc` is already on PATH. Debian/Ubuntu only (package `protobuf-compiler`).
set -euo pipefail

if command -v protoc >/dev/null 2>&1 || { [ -n "${PROTOC:-}" ] && [ -x "${PROTOC}" ]; }; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "error: protoc is missing and this script is not running as root." >&2
  echo "       Install it with: sudo apt-get install -y protobuf-compiler" >&2
  echo "       (or set PROTOC=/path/to/protoc). alien-worker-protocol needs it to build." >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: protoc is missing and apt-get is not available; install protobuf-compiler" >&2
  echo "       with this system's package manager (or set PROTOC=/path/to/protoc)." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq protobuf-compiler >/dev/null
command -v protoc >/dev/null 2>&1 || {
  echo "error: protobuf-compiler was installed but protoc is still not on PATH" >&2
  exit 1
}
