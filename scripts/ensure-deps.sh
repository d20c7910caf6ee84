#!/usr/bin/env bash
# npm packages and the compiled code, each redone only when its inputs changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Not `npm ci`: the registry this project builds against serves only this platform's optional
  # packages (other platforms' @swc/core-* answer 404), so the lock file cannot list them and `npm ci`
  # refuses it. `npm install --no-save` installs exactly the locked versions and writes nothing back.
  echo "[setup] installing npm packages"
  npm install --no-audit --no-fund --no-save --loglevel=error
fi
echo "[setup] compiling TypeScript and bundling workflows"
# Output of a source file that was moved or deleted would still run as a test: start from nothing.
rm -rf dist
npm run --silent build
