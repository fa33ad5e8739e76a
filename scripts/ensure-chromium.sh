#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium: the browser test of the docs
# (internal/docs/browser_test.go) drives it headless. Installs the package when it is missing;
# the tests themselves never download a browser.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "ensure-chromium: installing chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-chromium: the chromium package did not install /usr/bin/chromium" >&2
  exit 1
fi
