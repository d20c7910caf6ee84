#!/usr/bin/env bash
# The README's main command: the lab, a worker, and a whole game day run on it: a fresh etcd snapshot
# of each cluster and a Velero backup of the shop app, each restored and checked, with a report.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's Node.js 24 (devDependency `node`) first, also when this script is run without npm.
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/ensure-deps.sh
node bin/lifeboat.js lab up --with-worker
eval "$(node bin/lifeboat.js lab env)"
echo
echo "== lifeboat cluster health"
node bin/lifeboat.js cluster health
echo
echo "== lifeboat gameday run --fresh --wait"
status=0
node bin/lifeboat.js gameday run --fresh --wait || status=$?
echo
echo "Temporal UI: $LIFEBOAT_TEMPORAL_UI    worker logs: $LIFEBOAT_LAB_DIR/logs/worker.log"
echo "Stop the lab with: npx lifeboat lab down"
exit "$status"
