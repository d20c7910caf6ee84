// Integration (lab: Temporal, kube-apiserver/primary with its controllers, kwok; a worker of its own):
// `lifeboat node replace` runs the node-replacement runbook on real Nodes of a test pool (kwok Nodes
// with a label and taint of their own, so no other suite's Pods land there or are evicted).
// - Planned: the Node carrying Pods of a Deployment under a PodDisruptionBudget (maxUnavailable 1) is
//   replaced by a new Node of its pool; the budget is never violated (watched throughout); every Pod
//   runs elsewhere; the old Node is gone.
// - A budget that allows no disruption: the drain waits, runs out of its time, and the run asks, naming
//   the budget and the Pod; a second replacement of the same Node is refused naming the run; an abort
//   then uncordons the Node and deletes nothing.
// - Bad input: a control-plane Node is refused before anything starts.
// lab: nodes (adds Nodes to the primary cluster, and kills some, in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowNotFoundError } from '@temporalio/client';
import { AppsV1Api, CoreV1Api, PolicyV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { RunbookReport } from '../../model/runbook/run.js';
import { adminKubeConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createGuardedDeployment, createTestPool, poolLabel, poolTaint, testNode, type TestPool } from '../helpers/test-nodes.js';

const kc: KubeConfig = adminKubeConfig('primary');
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const policy = kc.makeApiClient(PolicyV1Api);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
let w: TestWorker;
let env: Record<string, string>;
const pools: TestPool[] = [];

beforeAll(async () => {
  w = await startTestWorker();
  env = { LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue, LIFEBOAT_RUNBOOKS_DIR: runbooksDir };
}, 60_000);
afterAll(async () => {
  await w?.stop();
  await Promise.all(pools.map((p) => p.remove()));
});

async function pool(prefix: string, count: number): Promise<TestPool> {
  const p = await createTestPool(kc, prefix, count);
  pools.push(p);
  return p;
}
const podsOf = async (p: TestPool, app: string): Promise<V1Pod[]> =>
  (await core.listNamespacedPod({ namespace: p.namespace, labelSelector: `app=${app}` })).items.filter(
    (x) => !x.metadata?.deletionTimestamp,
  );
const isReady = (x: V1Pod) => x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
/** Until `app` has `n` Ready Pods; 60 s at most. */
async function readyPods(p: TestPool, app: string, n: number): Promise<V1Pod[]> {
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
    const pods = await podsOf(p, app);
    if (pods.length === n && pods.every(isReady)) return pods;
    if (Date.now() > deadline) throw new Error(`${p.namespace}/${app}: not ${n} Ready Pods within 60 s`);
  }
}
/** The Node carrying most of `pods`: the one whose replacement moves the most. */
const busiest = (pods: V1Pod[]) => {
  const count = new Map<string, number>();
  for (const x of pods) count.set(x.spec!.nodeName!, (count.get(x.spec!.nodeName!) ?? 0) + 1);
  return [...count.entries()].sort((a, b) => b[1] - a[1])[0]![0];
};
const notStarted = (workflowId: string) =>
  w.client.workflow
    .getHandle(workflowId)
    .describe()
    .then(
      () => 'started',
      (e: unknown) => (e instanceof WorkflowNotFoundError ? 'not started' : String(e)),
    );

describe('lifeboat node replace (lab)', () => {
  it('planned: the Node is replaced by a new one of its pool, every Pod runs elsewhere, the budget is never violated', async () => {
    const p = await pool('nr-plan', 2);
    await createGuardedDeployment(kc, p, 'web', 4, 1);
    const victim = busiest(await readyPods(p, 'web', 4));
    // Watch the budget and the Deployment throughout: the least healthy they ever were.
    let lowest = { healthyOverDesired: Infinity, available: Infinity };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const [pdb, d] = await Promise.all([
          policy.readNamespacedPodDisruptionBudget({ namespace: p.namespace, name: 'web' }),
          apps.readNamespacedDeployment({ namespace: p.namespace, name: 'web' }),
        ]);
        lowest = {
          healthyOverDesired: Math.min(lowest.healthyOverDesired, (pdb.status?.currentHealthy ?? 0) - (pdb.status?.desiredHealthy ?? 0)),
          available: Math.min(lowest.available, d.status?.availableReplicas ?? 0),
        };
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const run = await lifeboat(
      [
        'node',
        'replace',
        '--cluster',
        'primary',
        '--node',
        victim,
        '--reason',
        'disk failing',
        '--auto-approve',
        '--approver',
        'alice',
        '--wait',
        '--json',
      ],
      env,
    );
    watching = false;
    await watcher;
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const report = JSON.parse(run.stdout) as RunbookReport & { replacementNode: string };
    expect(report.status).toBe('succeeded');
    expect(report.steps.filter((s) => s.state === 'succeeded').map((s) => s.id)).toEqual([
      'preflight',
      'cordon',
      'drain',
      'delete-node',
      'provision',
      'ready',
      'verify',
    ]);
    // The old Node is gone; the new one is Ready, in the pool (its label and taint), named by the run.
    expect(
      await core.readNode({ name: victim }).then(
        () => 'exists',
        () => 'gone',
      ),
    ).toBe('gone');
    const replacement = await core.readNode({ name: report.replacementNode });
    expect(replacement.metadata!.labels![poolLabel]).toBe(p.id);
    expect(replacement.spec!.taints!.filter((t) => t.key === poolTaint).map((t) => [t.value, t.effect])).toEqual([[p.id, 'NoSchedule']]);
    expect(replacement.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
    // Every Pod runs Ready elsewhere; the budget held: never fewer healthy than it desires, never 2 down at once.
    const after = await readyPods(p, 'web', 4);
    expect(after.filter((x) => x.spec!.nodeName === victim)).toEqual([]);
    expect(lowest.healthyOverDesired).toBeGreaterThanOrEqual(0);
    expect(lowest.available).toBeGreaterThanOrEqual(3);
  }, 300_000);

  it('a budget that allows no disruption: the run asks, naming it; a second run is refused; the abort uncordons and deletes nothing', async () => {
    const p = await pool('nr-block', 2);
    await createGuardedDeployment(kc, p, 'db', 2, 0);
    const pods = await readyPods(p, 'db', 2);
    const victim = busiest(pods);
    const workflowId = `node-replacement/primary/${victim}`;
    const started = await lifeboat(
      [
        'node',
        'replace',
        '--cluster',
        'primary',
        '--node',
        victim,
        '--reason',
        'r',
        '--drain-timeout',
        '3',
        '--auto-approve',
        '--approver',
        'alice',
        '--json',
      ],
      env,
    );
    expect(started.exitCode).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ workflowId, runbook: 'node-replacement', cluster: 'primary', node: victim });
    const handle = w.client.workflow.getHandle(workflowId);
    let report: RunbookReport;
    for (const deadline = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 250))) {
      report = await handle.query<RunbookReport>('report');
      if (report.status === 'waiting-approval') break;
      if (Date.now() > deadline) throw new Error(`not waiting for an approval within 120 s: ${report.status}`);
    }
    const ask = report.steps.find((s) => s.id === 'approve-delete')!.detail!;
    const held = pods.filter((x) => x.spec!.nodeName === victim).map((x) => `${p.namespace}/${x.metadata!.name} (${p.namespace}/db since`);
    for (const h of held) expect(ask).toContain(h);
    expect(ask.startsWith(`The drain of ${victim} ran out of time: disruption budgets still refuse `)).toBe(true);

    const second = await lifeboat(['node', 'replace', '--cluster', 'primary', '--node', victim, '--reason', 'again'], env);
    expect([second.exitCode, second.stderr]).toEqual([
      2,
      `lifeboat: Node ${victim} on primary is already being handled by ${workflowId}: \`lifeboat runbook status ${workflowId}\``,
    ]);

    const abort = await lifeboat(['runbook', 'abort', workflowId, '--json'], env);
    expect(abort.exitCode).toBe(0);
    expect((JSON.parse(abort.stdout) as RunbookReport).status).toBe('aborted');
    expect((await core.readNode({ name: victim })).spec!.unschedulable ?? false).toBe(false);
    expect((await podsOf(p, 'db')).map((x) => x.metadata!.uid).sort()).toEqual(pods.map((x) => x.metadata!.uid).sort());
    expect((await core.listNode({ labelSelector: `lifeboat.io/replaces=${victim}` })).items).toEqual([]);
  }, 300_000);

  it('node plan of a Node that blocks shows every Pod and what happens to it beside the blocker, and changes nothing', async () => {
    const p = await pool('nr-blocked', 1);
    const [node] = p.nodes as [string];
    await createGuardedDeployment(kc, p, 'web', 2, 1);
    await core.createNamespacedPod({
      namespace: p.namespace,
      body: {
        metadata: { name: 'bare', labels: { app: 'bare' } },
        spec: { ...p.placement, containers: [{ name: 'bare', image: 'registry.example/bare:1' }] },
      },
    });
    const web = await readyPods(p, 'web', 2);
    await readyPods(p, 'bare', 1);
    const result = await lifeboat(['node', 'plan', '--cluster', 'primary', '--node', node], env);
    expect(result.exitCode).toBe(1);
    const podTable = result.stdout.split('\n\n').find((block) => block.startsWith('POD'))!;
    const rows = podTable.split('\n').slice(1).filter(Boolean);
    expect(rows.map((l) => l.split(/\s{2,}/))).toEqual(
      [
        [`${p.namespace}/bare`, '(none)', '-', 'blocked (unmanaged)'],
        ...web.map((x) => [
          `${p.namespace}/${x.metadata!.name!}`,
          `ReplicaSet/${x.metadata!.ownerReferences![0]!.name}`,
          `${p.namespace}/web`,
          'evict',
        ]),
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
    expect(result.stdout).toMatch(new RegExp(`^BLOCKED: .*${p.namespace}/bare`, 'm'));
    expect((await core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
    expect((await podsOf(p, 'web')).map((x) => x.metadata!.uid).sort()).toEqual(web.map((x) => x.metadata!.uid).sort());
  }, 120_000);

  it('a control-plane Node is refused before anything starts, exit 2', async () => {
    const p = await pool('nr-cp', 0);
    const name = `${p.id}-cp`;
    await core.createNode({ body: testNode(name, p.id, { 'node-role.kubernetes.io/control-plane': '' }) });
    const result = await lifeboat(['node', 'replace', '--cluster', 'primary', '--node', name, '--reason', 'r'], env);
    expect([result.exitCode, result.stderr]).toEqual([
      2,
      `lifeboat: --node '${name}' is a control-plane Node of 'primary' (node-role.kubernetes.io/control-plane): Lifeboat never drains one; replace its etcd member instead`,
    ]);
    expect(await notStarted(`node-replacement/primary/${name}`)).toBe('not started');
  }, 60_000);
});
