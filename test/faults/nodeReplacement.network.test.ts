// Network fault test of the node-replacement runbook (lab: toxiproxy, Temporal, kube-apiserver/primary
// with its controllers, kwok): a worker of the test's own reaches the primary's API only through a
// Toxiproxy proxy of this suite's own, black-holed at the drain's first eviction for longer than the
// drain's heartbeat timeout (30 s), then cleared. The drain rides it out in its first attempt and the
// run completes: one replacement Node, the old Node
// deleted once, each Pod that was on it evicted once and no other Pod evicted.
// lab: nodes (adds Nodes to the primary cluster in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { describe, expect, it } from '@jest/globals';
import { labelValue } from '../../activities/node-provider/index.js';
import { provisionLabels } from '../../activities/node-provider/provider.js';
import { activityAttempts } from '../helpers/activity-attempts.js';
import { readDirect } from '../helpers/apiserver-proxy.js';
import { core, startNodeReplacement, useProxiedNodeReplacement } from '../helpers/node-replacement-faults.js';
import { poolLabel } from '../helpers/test-nodes.js';

const blackholeMs = 40_000;
const suite = useProxiedNodeReplacement();

describe('node replacement with the primary API black-holed mid-drain', () => {
  it('cleared after 40 s: completes, one replacement, the old Node deleted once, no Pod evicted twice', async () => {
    const { api, w } = suite;
    const t0 = Date.now();
    const run = (suite.run = await startNodeReplacement(w, 'nrf-drain', {}));
    await run.firstEviction;
    await api.blackhole();
    const holed = Date.now();
    await new Promise((r) => setTimeout(r, blackholeMs));
    await api.clear();
    const cleared = Date.now();
    const report = await run.handle.result();
    process.stderr.write(
      `[node-replacement blackhole] run took ${(Date.now() - t0) / 1000} s, ${(Date.now() - cleared) / 1000} s after the fault\n`,
    );
    expect(report.status).toBe('succeeded');
    expect(Date.now() - cleared).toBeLessThan(120_000);
    expect(report.steps.filter((s) => s.state === 'succeeded').map((s) => s.id)).toEqual([
      'preflight',
      'cordon',
      'drain',
      'delete-node',
      'provision',
      'ready',
      'verify',
    ]);
    // The drain was inside the fault, longer than its heartbeat timeout, and rode it out in its first
    // attempt (each request bounded, the heartbeat going on); no step ran twice.
    const drain = report.steps.find((s) => s.id === 'drain')!;
    expect(Date.parse(drain.startedAt!)).toBeLessThan(holed);
    expect(Date.parse(drain.finishedAt!)).toBeGreaterThan(cleared);
    const attempts = activityAttempts(await run.handle.fetchHistory());
    for (const type of ['cordonNode', 'drainNode', 'deleteNode', 'provisionNode'])
      expect(attempts.filter(([t]) => t === type)).toEqual([[type, 1]]);

    const { victim, victimUid, pool } = run;
    // One replacement, of this run, Ready; the old Node deleted once.
    const replacements = (await readDirect(() => core.listNode({ labelSelector: `${provisionLabels.replaces}=${labelValue(victim)}` })))
      .items;
    expect(replacements.map((n) => n.metadata!.name)).toEqual([report.steps.find((s) => s.id === 'provision')!.outputs!.node]);
    const other = pool.nodes.find((n) => n !== victim)!;
    expect(
      (await readDirect(() => core.listNode({ labelSelector: `${poolLabel}=${pool.id}` }))).items.map((n) => n.metadata!.name).sort(),
    ).toEqual([other, replacements[0]!.metadata!.name!].sort());
    expect(run.nodesDeleted).toEqual([[victim, victimUid]]);
    // Every Pod that was on the Node evicted once; no other Pod (a successor) evicted.
    expect([...run.evicted].sort()).toEqual([...run.onVictim].sort());
    expect(run.onVictim.length).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
