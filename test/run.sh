#!/usr/bin/env bash
# The README's test command: installs what it needs, brings the lab up (or reuses a running one),
# runs the whole suite against it, and prints a closing `N passed, N failed` line.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's Node.js 24 (devDependency `node`) first, also when this script is run without npm.
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/ensure-deps.sh
bash lab/install-chromium.sh   # the game day report test renders pages in headless chromium
echo "[test] linting"
npx --no-install eslint .
echo "[test] starting or reusing the lab"
node bin/lifeboat.js lab up
results=$(mktemp)
set +e
node --experimental-vm-modules node_modules/jest/bin/jest.js --json --outputFile="$results" "$@"
rc=$?
set -e
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))' "$results" || true
rm -f "$results"
exit $rc
