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
npx --no-install prettier --check . >/dev/null || { echo "[test] code not formatted: run npm run format" >&2; exit 1; }
echo "[test] tools only some suites use (cached after the first run)"
# The cluster profile's Temporal server and PostgreSQL (test/lab/temporal-cluster.test.ts), Alertmanager
# (notifications) and Prometheus (alert rules): built here, before the suites, not inside one of them.
bash lab/install-tools.sh temporal_server postgresql alertmanager prometheus
echo "[test] starting or reusing the lab"
node bin/lifeboat.js lab up
# Suites that stop or kill a process of the lab's own (an API server, MinIO) say so with a
# `// lab: disruptive` line and run alone, one after the other; every other suite works in namespaces,
# clusters, task queues and processes of its own, so they run in parallel first. A suite that stops a
# lab process by name (stopDaemon('minio'), killLabProcess(...)) or cordons Nodes without saying so is refused here,
# before anything runs.
# Suites that add Nodes to a lab cluster (and kill some of them), each in a pool of its own, say so
# with `// lab: nodes` and run together after the others: every other suite may count the clusters'
# Nodes and their health. A suite that creates Nodes without saying so is refused too.
# Suites that break etcd on purpose (kill, freeze or replace members, restore it) do it to the lab's drill
# cluster, a control plane no other suite uses (lab/topology.ts drillCluster), and say so with
# `// lab: drill`: they run one at a time in a lane of their own, beside the others from the start.
# A warm run of the whole suite stays under 30 minutes this way.
suites=$(find test -name '*.test.ts' | sort)
marked=$(grep -l '^// lab: disruptive' $suites || true)
noding=$(grep -l '^// lab: nodes' $suites || true)
drilling=$(grep -l '^// lab: drill' $suites || true)
unmarked=$(grep -lE "(stopDaemon|runningPid)\('|killLabProcess\(|/spec/unschedulable" $suites | grep -vxF -e "${marked:-none}" -e "${drilling:-none}" || true)
if [ -n "$unmarked" ]; then
  echo "[test] these suites stop lab processes by name or cordon Nodes but have no '// lab: disruptive' (or '// lab: drill') line, so they would run beside others: $unmarked" >&2
  exit 1
fi
# A drill suite works on the drill cluster only: naming a site's etcd or API server process is refused.
astray=$(grep -lE "(etcd|kube-apiserver)/(primary|standby)" ${drilling:-/dev/null} || true)
if [ -n "$astray" ]; then
  echo "[test] these '// lab: drill' suites name a process of primary or standby, which the suites beside them use: $astray" >&2
  exit 1
fi
unmarked=$(grep -lE "createNode\(|createTestPool\(" $suites | grep -vxF -e "${noding:-none}" -e "${marked:-none}" || true)
if [ -n "$unmarked" ]; then
  echo "[test] these suites add Nodes but have no '// lab: nodes' line, so they would run beside suites that count them: $unmarked" >&2
  exit 1
fi
pattern() { printf '%s\n' "$@" | sed -e 's#^test/#dist/test/#' -e 's#\.ts$#.js#' -e 's#\.#\\.#g' | paste -sd '|'; }
# An empty pattern would match every suite: a group with no suites gets one that matches none.
disruptive=$(pattern $marked); disruptive=${disruptive:-^$}
nodes=$(pattern $noding); nodes=${nodes:-^$}
drill=$(pattern $drilling); drill=${drill:-^$}
apart=$(pattern $marked $noding $drilling); apart=${apart:-^$}
parallel=$(mktemp); together=$(mktemp); serial=$(mktemp); drilled=$(mktemp); drill_log=$(mktemp)
set +e
echo "[test] the drill lane runs beside the others; its output follows theirs"
node --experimental-vm-modules node_modules/jest/bin/jest.js --json --outputFile="$drilled" --passWithNoTests --runInBand --testPathPatterns="$drill" "$@" >"$drill_log" 2>&1 &
drill_pid=$!
node --experimental-vm-modules node_modules/jest/bin/jest.js --json --outputFile="$parallel" --passWithNoTests --maxWorkers="${LIFEBOAT_TEST_WORKERS:-4}" --testPathIgnorePatterns="$apart" "$@"
rc_parallel=$?
node --experimental-vm-modules node_modules/jest/bin/jest.js --json --outputFile="$together" --passWithNoTests --maxWorkers="${LIFEBOAT_TEST_WORKERS:-4}" --testPathPatterns="$nodes" "$@"
rc_together=$?
wait "$drill_pid"
rc_drill=$?
echo "[test] the drill lane's output:"
cat "$drill_log"
node --experimental-vm-modules node_modules/jest/bin/jest.js --json --outputFile="$serial" --passWithNoTests --runInBand --testPathPatterns="$disruptive" "$@"
rc_serial=$?
set -e
node -e '
const fs = require("fs");
const phases = ["parallel", "nodes", "drill (beside parallel and nodes)", "disruptive"];
const rs = process.argv.slice(1).map((f, i) => [phases[i], fs.statSync(f).size ? JSON.parse(fs.readFileSync(f, "utf8")) : undefined]).filter(([, r]) => r);
// Where the time went: each phase wall clock and its slowest suites, to keep a warm run under 30 minutes.
for (const [phase, r] of rs) {
  const suites = r.testResults.map((t) => ({ name: t.name.replace(/.*\/dist\//, ""), s: (t.endTime - t.startTime) / 1000 }));
  const wall = suites.length ? (Math.max(...r.testResults.map((t) => t.endTime)) - r.startTime) / 1000 : 0;
  const slowest = suites.sort((a, b) => b.s - a.s).slice(0, 5).map((t) => `${t.name} ${t.s.toFixed(0)}s`).join(", ");
  console.log(`[test] ${phase}: ${suites.length} suites in ${(wall / 60).toFixed(1)} min; slowest: ${slowest || "none"}`);
}
const n = (k) => rs.reduce((a, [, r]) => a + r[k], 0);
console.log(`tests: ${n("numPassedTests")} passed, ${n("numFailedTests")} failed` + (n("numPendingTests") ? `, ${n("numPendingTests")} skipped` : ""))
' "$parallel" "$together" "$drilled" "$serial" || true
rm -f "$parallel" "$together" "$drilled" "$drill_log" "$serial"
[ "$rc_parallel" -eq 0 ] && [ "$rc_together" -eq 0 ] && [ "$rc_drill" -eq 0 ] && [ "$rc_serial" -eq 0 ]
