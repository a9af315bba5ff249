#!/bin/sh
# Browser test of the web playground (tests/browser/playground.test.mjs):
# installs what is missing — Debian's chromium, node/npm, the locked
# playwright-core — then drives build/reluserve in headless Chromium.
# Screenshots land in build/browser/. Exits non-zero on any failure; the last
# line is "N passed, N failed".
#
#   tests/browser/run.sh [BUILD_DIR]           (after make; default build/)
#   RELUSERVE_BIN=build/asan/reluserve tests/browser/run.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -gt 0 ]; then
    RELUSERVE_BIN="$1/reluserve"
    export RELUSERVE_BIN
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=""
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "browser tests: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm ci only when the installed playwright-core is not the locked one.
want=$(node -p "require('$here/package-lock.json').packages['node_modules/playwright-core'].version")
have=$(node -p "try { require('$here/node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [ "$want" != "$have" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$root"
exec node "$here/playground.test.mjs"
