// The node replacement kill -9 harness (test/workflows/nodeReplacement.faults*.test.ts): `lifeboat node
// replace` of the busiest Node of a pool of its own, the worker killed -9 when a condition fires, a new
// worker finishing the run, and what every such run must show. Split over three suites so the lab's
// Node phase runs them at once (each case has its own pool, task queue and worker).
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { CoreV1Api, type KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { RunbookReport } from '../../model/runbook/run.js';
import { labelValue } from '../../activities/node-provider/index.js';
import { provisionLabels } from '../../activities/node-provider/provider.js';
import { adminKubeConfig, labConfig, lifeboat } from './lab.js';
import { polled as pollWorker, startWorkerProcess } from './worker-process.js';
import { createGuardedDeployment, createTestPool, poolLabel, type TestPool } from './test-nodes.js';
import { watchEvents } from './kube-watch.js';
import { activityAttempts } from './activity-attempts.js';

const config = labConfig();
export const kc: KubeConfig = adminKubeConfig('primary');
const core = kc.makeApiClient(CoreV1Api);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
/** The steps a planned replacement runs (its approval is given by --auto-approve), and the activity of each. */
export const stepActivities = [
  ['preflight', 'preflightNode'],
  ['cordon', 'cordonNode'],
  ['drain', 'drainNode'],
  ['delete-node', 'deleteNode'],
  ['provision', 'provisionNode'],
  ['ready', 'waitNodeReady'],
  ['verify', 'verifyPodsMoved'],
] as const;
export const steps = stepActivities.map(([step]) => step);
export const boundaries = steps.slice(0, -1);
/** Enough Pods that the drain, one eviction at a time under the budget, is under way for a few seconds. */
export const replicas = 6;
const pools: TestPool[] = [];
let client: LifeboatClient;

/** Registers the suite's connection to Temporal and the removal of its pools. */
export function useKillHarness(): void {
  beforeAll(async () => {
    client = await temporalClient(config);
  });
  afterAll(async () => {
    await client?.connection.close();
    await Promise.all(pools.map((p) => p.remove()));
  });
}

/** A worker process of the lab's CLI on the case's own task queue, reading this checkout's runbooks. */
const startWorker = (taskQueue: string) => startWorkerProcess(taskQueue, runbooksDir);
const polled = (taskQueue: string) => pollWorker(client, config.temporal.namespace, taskQueue);

const isReady = (x: { status?: { conditions?: { type: string; status: string }[] } }) =>
  x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** Until the Deployment `web` of the pool has `replicas` Ready Pods; 60 s at most. */
async function readyPods(p: TestPool): Promise<V1Pod[]> {
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
    const pods = (await core.listNamespacedPod({ namespace: p.namespace, labelSelector: 'app=web' })).items.filter(
      (x) => !x.metadata?.deletionTimestamp,
    );
    if (pods.length === replicas && pods.every(isReady)) return pods;
    if (Date.now() > deadline) throw new Error(`${p.namespace}/web: not ${replicas} Ready Pods within 60 s`);
  }
}

/**
 * Runs `lifeboat node replace` of the busiest Node of a pool of its own, kills the worker -9 once
 * `killWhen` (armed before the run starts) resolves, and finishes the run with a new worker. Returns
 * the run's report and attempts, what the dead worker had in hand, and what the cluster saw throughout:
 * the UIDs of the Pods that were evicted or deleted, in that order, and each
 * deletion of a Node of the pool.
 */
export async function replaceKilled(prefix: string, killWhen: (pool: TestPool) => Promise<(handle: WorkflowHandle) => Promise<void>>) {
  const pool = await createTestPool(kc, prefix, 2);
  pools.push(pool);
  await createGuardedDeployment(kc, pool, 'web', replicas, 1);
  const before = await readyPods(pool);
  const count = new Map<string, number>();
  for (const x of before) count.set(x.spec!.nodeName!, (count.get(x.spec!.nodeName!) ?? 0) + 1);
  const victim = [...count.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const victimUid = (await core.readNode({ name: victim })).metadata!.uid!;
  const onVictim = before.filter((x) => x.spec!.nodeName === victim).map((x) => x.metadata!.uid!);

  // A Pod's eviction shows as its deletionTimestamp (kwok then deletes it at once, moving that
  // timestamp to the moment of its own deletion). An eviction of a Pod already terminating changes
  // nothing the API shows, and a successor has a UID of its own: a Pod evicted twice by the run would
  // be a successor among these, or an original one missing.
  const evicted: string[] = [];
  const podWatch = await watchEvents<V1Pod>(kc, `/api/v1/namespaces/${pool.namespace}/pods`, {}, (phase, x) => {
    const uid = x.metadata!.uid!;
    if ((x.metadata?.deletionTimestamp || phase === 'DELETED') && !evicted.includes(uid)) evicted.push(uid);
  });
  const nodesDeleted: [string, string][] = [];
  const nodeWatch = await watchEvents<V1Node>(kc, '/api/v1/nodes', { labelSelector: `${poolLabel}=${pool.id}` }, (phase, n) => {
    if (phase === 'DELETED') nodesDeleted.push([n.metadata!.name!, n.metadata!.uid!]);
  });

  const taskQueue = `test-node-kill-${randomUUID()}`;
  const env = { LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_RUNBOOKS_DIR: runbooksDir };
  let worker = startWorker(taskQueue);
  try {
    const started = Date.now();
    const fired = await killWhen(pool);
    await polled(taskQueue);
    const run = await lifeboat(
      [
        'node',
        'replace',
        '--cluster',
        'primary',
        '--node',
        victim,
        '--reason',
        `kill -9 (${prefix})`,
        '--auto-approve',
        '--approver',
        'alice',
        '--json',
      ],
      env,
    );
    expect([run.exitCode, run.stderr]).toEqual([0, '']);
    const handle = client.workflow.getHandle(`node-replacement/primary/${victim}`);
    await fired(handle);
    worker.kill('SIGKILL');
    await worker;
    // What the server handed the dead worker (started, never to be finished by it): once the server has
    // noticed its polls are gone, and before another worker can take anything.
    await new Promise((r) => setTimeout(r, 1_000));
    const { raw, runId } = await handle.describe();
    // PENDING_ACTIVITY_STATE_STARTED
    const inHand = (raw.pendingActivities ?? []).filter((a) => Number(a.state) === 2).map((a) => a.activityType!.name!);
    const evictedAtKill = evicted.length;
    worker = startWorker(taskQueue);
    const report = (await handle.result()) as RunbookReport;
    const attempts = activityAttempts(await handle.fetchHistory());
    process.stderr.write(
      `[kill ${prefix}] run took ${(Date.now() - started) / 1000} s; the dead worker had ${inHand.join(', ') || 'nothing'} in hand; ${evictedAtKill} Pods evicted at the kill; steps ${report.steps
        .filter((s) => s.startedAt && s.finishedAt)
        .map((s) => `${s.id} ${(Date.parse(s.finishedAt!) - Date.parse(s.startedAt!)) / 1000} s`)
        .join(', ')}\n`,
    );
    await Promise.all([podWatch.stop(), nodeWatch.stop()]);
    return { pool, victim, victimUid, onVictim, report, runId, attempts, inHand, evictedAtKill, evicted, nodesDeleted };
  } finally {
    worker.kill('SIGTERM');
    await worker;
    await Promise.allSettled([podWatch.stop(), nodeWatch.stop()]);
  }
}

/** Each step's activity with the attempt that finished it: 1, or 2 for one the dead worker had in hand. */
export const expectedAttempts = (inHand: string[]) => stepActivities.map(([, activity]) => [activity, inHand.includes(activity) ? 2 : 1]);

/** What every killed run must show: finished, one replacement, the old Node deleted once, each of its Pods evicted once. */
export async function expectReplacedOnce(r: Awaited<ReturnType<typeof replaceKilled>>): Promise<void> {
  expect(r.report.status).toBe('succeeded');
  expect(r.report.steps.filter((s) => s.state === 'succeeded').map((s) => s.id)).toEqual(steps);
  const replacements = (await core.listNode({ labelSelector: `${provisionLabels.replaces}=${labelValue(r.victim)}` })).items;
  expect(replacements.map((n) => n.metadata!.name)).toEqual([r.report.steps.find((s) => s.id === 'provision')!.outputs!.node]);
  expect(replacements[0]!.metadata!.labels![provisionLabels.provisionedBy]).toBe(labelValue(r.runId));
  expect(isReady(replacements[0]!)).toBe(true);
  // The pool now: the Node that stayed and the replacement; the old Node deleted once, nothing else.
  const other = r.pool.nodes.find((n) => n !== r.victim)!;
  expect((await core.listNode({ labelSelector: `${poolLabel}=${r.pool.id}` })).items.map((n) => n.metadata!.name).sort()).toEqual(
    [other, replacements[0]!.metadata!.name!].sort(),
  );
  expect(r.nodesDeleted).toEqual([[r.victim, r.victimUid]]);
  // Every Pod that was on the Node evicted once, and no other Pod (a successor) evicted at all.
  expect([...r.evicted].sort()).toEqual([...r.onVictim].sort());
  // The busiest of 2 Nodes carried at least half the Pods: the drain had several to evict.
  expect(r.onVictim.length).toBeGreaterThanOrEqual(replicas / 2);
}

/** Kills the worker once `boundary` is done, and checks the run as every boundary case does. */
export async function killAtBoundary(boundary: (typeof steps)[number], nextActivity: string): Promise<void> {
  let doneAtKill: string[] = [];
  const r = await replaceKilled(`nrk-${boundary}`, () =>
    Promise.resolve(async (handle) => {
      for (;;) {
        const report = await handle.query<RunbookReport>('report').catch(() => undefined);
        if (report?.steps.find((s) => s.id === boundary)?.state === 'succeeded') {
          doneAtKill = report.steps.filter((s) => s.state === 'succeeded').map((s) => s.id);
          return;
        }
      }
    }),
  );
  // Killed right at the boundary: the steps up to it done, none after, when the test looked. The dead
  // worker mostly had the next step's activity in hand already (its poller takes it within
  // milliseconds of its being scheduled): then that one ran twice and every other once. When the kill
  // came first (seen once in a whole run), nothing was in hand and every activity ran once. A next
  // step of a few milliseconds (deleteNode) can also finish between the look and the kill on a loaded
  // host (seen once): then the one after it was in hand. Never more than one activity runs twice.
  expect(doneAtKill).toEqual(steps.slice(0, steps.indexOf(boundary) + 1));
  const later = stepActivities.slice(steps.indexOf(boundary) + 1).map(([, activity]) => activity);
  expect(r.inHand.length <= 1 && r.inHand.every((a) => (later as readonly string[]).includes(a))).toBe(true);
  if (r.inHand.length && r.inHand[0] !== nextActivity) expect(later.slice(0, 2)).toEqual([nextActivity, r.inHand[0]]);
  expect(r.attempts).toEqual(expectedAttempts(r.inHand));
  await expectReplacedOnce(r);
}
