#!/usr/bin/env bash
# Installs Debian's `chromium` and `chromium-driver`, which the browser tests of the web console
# (tests/ui_browser.rs, issue 12) drive over WebDriver. Idempotent: does nothing when
# /usr/bin/chromedriver already exists. Debian/Ubuntu only.
set -euo pipefail
# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if [ -x /usr/bin/chromedriver ]; then
  exit 0
fi

apt_install /usr/bin/chromedriver \
  "tests/ui_browser.rs needs them (it skips outside CI, fails with CI set)." \
  chromium chromium-driver
[ -x /usr/bin/chromedriver ] || {
  echo "error: chromium-driver was installed but /usr/bin/chromedriver is still missing" >&2
  exit 1
}
