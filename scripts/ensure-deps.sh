#!/usr/bin/env bash
# npm packages and the compiled code, each redone only when its inputs changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "[setup] compiling TypeScript and bundling workflows"
npm run --silent build
