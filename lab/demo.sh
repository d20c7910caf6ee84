#!/usr/bin/env bash
# The README's main command: the lab, a worker, and the main job run on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
node bin/lifeboat.js lab up --with-worker
eval "$(node bin/lifeboat.js lab env)"
echo
echo "== lifeboat cluster health"
node bin/lifeboat.js cluster health
echo
echo "Temporal UI: $LIFEBOAT_TEMPORAL_UI    worker logs: $LIFEBOAT_LAB_DIR/logs/worker.log"
echo "Stop the lab with: npx lifeboat lab down"
