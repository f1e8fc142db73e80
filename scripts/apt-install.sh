#!/usr/bin/env bash
# Sourced by the install scripts: `apt_install WHAT HINT PACKAGE...` installs Debian packages
# non-interactively as root, or explains (naming WHAT is missing and HINT on why it is needed)
# and exits 1 where that is not possible.

apt_install() {
  local what="$1" hint="$2"
  shift 2
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: $what is missing and this script is not running as root." >&2
    echo "       Install it with: sudo apt-get install -y $*" >&2
    echo "       $hint" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $what is missing and apt-get is not available; install $* with this" >&2
    echo "       system's package manager. $hint" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}
