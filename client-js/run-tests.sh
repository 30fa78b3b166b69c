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
# `google-chrome` on PATH (scripts/lib/find-chromium). When none is found and apt-get offers
# Debian's `chromium` package, it is installed here. A missing browser fails the run; it never
# skips.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source ../scripts/lib/check-versions
source ../scripts/lib/find-chromium
collab_check_node client-js || exit 1

if ! browser="$(collab_find_chromium)"; then
  if [[ -z "${CHROMIUM:-}" ]] && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq || true
    # Debian has a `chromium` deb; Ubuntu has none (its browser is a snap: see the help line).
    if apt-cache show chromium 2>/dev/null | grep -q '^Version:'; then
      echo "client-js: no Chromium found: apt-get install chromium" >&2
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium || true
    fi
  fi
  browser="$(collab_find_chromium)" || { collab_chromium_help client-js; exit 1; }
fi
export CHROMIUM="$browser"

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
