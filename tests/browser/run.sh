#!/bin/sh
# Browser test of the web playground (tests/browser/playground.test.mjs):
# installs what is missing — Debian's chromium, nodejs and npm, the locked
# playwright-core — then drives build/reluserve in headless Chromium.
# Screenshots land in build/browser/. Exits non-zero on any failure; the last
# line is "N passed, N failed".
#
#   tests/browser/run.sh [BUILD_DIR]           (after make; default build/)
#   RELUSERVE_BIN=build/asan/reluserve tests/browser/run.sh
#
# It runs on Debian's own Node.js, /usr/bin/node from the `nodejs` package
# (18 in Debian 12), never on whatever node comes first on PATH: a newer
# Node installed from elsewhere once hid that the pinned playwright-core
# needed Node 20. NODE=/path/to/node overrides it (npm then runs on that
# node too).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -gt 0 ]; then
    RELUSERVE_BIN="$1/reluserve"
    export RELUSERVE_BIN
fi
NODE=${NODE:-/usr/bin/node}

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=""
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
[ -x "$NODE" ] || missing="$missing nodejs"
[ -x /usr/bin/npm ] || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "browser tests: installing$missing (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    # shellcheck disable=SC2086
    $SUDO apt-get install -y --no-install-recommends $missing
fi
# npm's `#!/usr/bin/env node` and the test's child processes find $NODE first.
PATH="$(dirname "$NODE"):$PATH"
export PATH
echo "browser tests: node $("$NODE" --version) ($NODE), npm $(npm --version 2>/dev/null || echo "not runnable")"

# The lock must not need a newer Node than the one the package declares
# (package.json engines: Debian 12's 18), whatever node runs here: a newer
# local Node would otherwise hide it again.
"$NODE" -e '
const min = (r) => { const m = /^>=\s*(\d+)/.exec(r || ""); return m ? Number(m[1]) : 0; };
const pkg = require(process.argv[1] + "/package.json");
const lock = require(process.argv[1] + "/package-lock.json");
const ours = min(pkg.engines && pkg.engines.node);
let bad = 0;
for (const [name, p] of Object.entries(lock.packages)) {
  const need = min(p.engines && p.engines.node);
  if (name && need > ours) {
    console.error(`browser tests: ${name} ${p.version} needs Node >= ${need}, but package.json promises Node >= ${ours} (Debian 12 has 18): pin a release that supports it`);
    bad = 1;
  }
}
if (process.versions.node.split(".")[0] < ours) {
  console.error(`browser tests: ${process.execPath} is Node ${process.versions.node}, package.json needs >= ${ours}`);
  bad = 1;
}
process.exit(bad);
' "$here"

# npm ci only when the installed playwright-core is not the locked one.
want=$("$NODE" -p "require('$here/package-lock.json').packages['node_modules/playwright-core'].version")
have=$("$NODE" -p "try { require('$here/node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [ "$want" != "$have" ]; then
    echo "browser tests: npm ci (playwright-core $want)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$root"
exec "$NODE" "$here/playground.test.mjs"
