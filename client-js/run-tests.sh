#!/usr/bin/env bash
# Tests of the Monaco client: type check, unit tests of the binding and a check that src/ has
# no import circle (vitest: test/unit/import-circles.test.ts), and end-to-end
# tests of the demo page in headless Chromium against two gateways and a redis-server that
# the tests start (node:test + playwright-core).
#
#   client-js/run-tests.sh            (from anywhere; CI calls it from scripts/test)
#
# Needs node >= 20.19, redis-server, the gateway binary ($COLLAB_GATEWAY_BIN, else
# target/debug/collab-gateway, built here with `cargo build -p collab-server` when missing)
# and a working Chromium: $CHROMIUM, else `chromium`, `chromium-browser` (Ubuntu's snap) or
# `google-chrome` on PATH (scripts/lib/find-chromium). When none is found, Debian's `chromium`
# package is installed where the script may use apt-get (scripts/lib/install), else it prints
# what to do. A missing browser fails the run; it never skips.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source ../scripts/lib/install
collab_ensure_node client-js || exit 1
collab_ensure_chromium client-js || exit 1

# npm ci when node_modules is missing or was installed from another package-lock.json.
stamp=node_modules/.collab-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ ! -d node_modules || "$want" != "$have" ]]; then
  echo "== client-js: npm ci"
  npm ci --no-audit --no-fund
  printf '%s\n' "$want" > "$stamp"
fi

if [[ -z "${COLLAB_GATEWAY_BIN:-}" && ! -x ../target/debug/collab-gateway ]]; then
  echo "== client-js: cargo build -p collab-server (gateway for the browser tests)"
  (cd .. && cargo build -p collab-server)
fi

echo "== client-js: type check and build (package in lib/, demo page in dist/)"
npm run --silent typecheck
npm run --silent build

echo "== client-js: unit tests and the import-circle check of src/ (vitest)"
npx vitest run

echo "== client-js: browser tests (node:test, playwright-core, $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"
start=$(date +%s)
node --test test/browser/
echo "client-js: browser suite took $(( $(date +%s) - start )) s"
