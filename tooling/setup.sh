#!/usr/bin/env bash
# Sets up a fresh machine (Node >= 20.19 and npm are all it needs): pnpm, the locked dependencies, the etcd
# server the registry tests start, and a build of every package. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION with npm"
  npm install -g --silent "pnpm@$PNPM_VERSION"
fi

if ! command -v etcd >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing etcd-server (Debian) for the registry tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
  else
    echo "setup: etcd not found and cannot apt-get it (not root); the etcd registry tests will fail" >&2
  fi
fi

export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile --reporter=append-only
pnpm exec turbo run build --output-logs=errors-only
