#!/usr/bin/env bash
# The browser tests (tests/deploy/test_browser.py) drive Debian's Chromium through Playwright.
# Installs it when it is missing and this runs as root; otherwise says how (the tests then
# fail with the same command: they are never skipped).
set -u
CHROMIUM=${INSTAGRAM_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }
fi
[ -x "$CHROMIUM" ] || echo "The browser tests need Chromium at $CHROMIUM: sudo apt-get install chromium" >&2
exit 0
