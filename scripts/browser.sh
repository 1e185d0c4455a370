#!/usr/bin/env bash
# Make sure a Chromium is available for the console's browser tests
# (console/browser_test.go). When none is found and we are root with apt-get,
# install Debian's chromium; otherwise say so and carry on: the browser tests
# skip themselves without a browser, so `make test` still passes.
#
# usage: scripts/browser.sh
# Set PROTECT_NO_INSTALL=1 to forbid installing, or PROTECT_CHROMIUM to the
# path of a Chromium or Chrome binary to use.
set -euo pipefail

say() { echo "browser: $*" >&2; }

if [ -n "${PROTECT_CHROMIUM:-}" ]; then
	if [ -x "$PROTECT_CHROMIUM" ]; then
		say "using $PROTECT_CHROMIUM (PROTECT_CHROMIUM)"
		exit 0
	fi
	say "PROTECT_CHROMIUM=$PROTECT_CHROMIUM is not an executable"
	exit 1
fi

for name in chromium chromium-browser google-chrome google-chrome-stable; do
	if path=$(command -v "$name" 2>/dev/null); then
		say "using $path"
		exit 0
	fi
done

if [ "${PROTECT_NO_INSTALL:-}" = 1 ]; then
	say "no Chromium found and PROTECT_NO_INSTALL=1: browser tests will be skipped"
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	say "no Chromium found (not root, or no apt-get): browser tests will be skipped"
	say "to run them: apt-get install chromium, or set PROTECT_CHROMIUM"
	exit 0
fi

say "installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
	say "installed $(command -v chromium)"
else
	say "could not install chromium: browser tests will be skipped"
fi
exit 0
