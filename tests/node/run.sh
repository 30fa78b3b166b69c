#!/usr/bin/env bash
# Runs the Node interop tests (stock Yjs clients against collab-gateway, and
# the static checks of the deployment files).
#
#   tests/node/run.sh [extra node --test arguments]
#
# Installs the locked dependencies with `npm ci` when node_modules is missing
# or was installed from another package-lock.json. The stock-client test needs
# a built gateway: $COLLAB_GATEWAY_BIN, else target/debug/collab-gateway
# (cargo build -p collab-server), and redis-server on the PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stamp=node_modules/.collab-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ ! -d node_modules || "$want" != "$have" ]]; then
  echo "tests/node: npm ci (node_modules missing or stale)" >&2
  npm ci --no-audit --no-fund
  printf '%s\n' "$want" > "$stamp"
fi

# Without file arguments node finds *.test.js here (node_modules is skipped).
exec node --test "$@"
