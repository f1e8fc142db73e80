#!/usr/bin/env bash
# Install npm @alienplatform/core 1.4.0 (the only published version, reference
# real-clients.md §1) into DIR, so stack files (alien.ts / alien.js) can import it.
#
# Usage: scripts/install-alien-core.sh DIR
# Afterwards: export ALIEN_CORE_MODULES=DIR/node_modules
# Idempotent: does nothing when DIR/node_modules/@alienplatform/core is already 1.4.0.
set -euo pipefail

VERSION="1.4.0"

if [ "$#" -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 64
fi
DIR="$1"

if ! command -v npm >/dev/null 2>&1; then
  echo "install-alien-core: npm not found on PATH (needed to install @alienplatform/core@${VERSION})" >&2
  exit 127
fi

PKG_JSON="${DIR}/node_modules/@alienplatform/core/package.json"
if [ -f "$PKG_JSON" ] && grep -q "\"version\": *\"${VERSION}\"" "$PKG_JSON"; then
  echo "install-alien-core: @alienplatform/core@${VERSION} already in ${DIR}/node_modules" >&2
  exit 0
fi

mkdir -p "$DIR"
cd "$DIR"
if [ ! -f package.json ]; then
  # Equivalent of `npm init -y`, which rejects directory names such as `.tmpXYZ`.
  printf '{\n  "name": "alien-core-modules",\n  "private": true\n}\n' > package.json
fi
npm install --no-audit --no-fund --save-exact --loglevel=error "@alienplatform/core@${VERSION}" >&2
echo "install-alien-core: installed @alienplatform/core@${VERSION} into ${DIR}/node_modules" >&2
