// The node health watch's logic on Temporal's time-skipping test server: the real workflows from the
// built bundle (the watch, and the node-replacement runbook it starts), stubbed activities that record
// every call (test/helpers/time-skipping.ts). The judging rules themselves are unit-tested in
// test/model/node-health.test.ts; here: a dead Node gets a replacement run under its lock, in mode
// failed, approved by the watch; a second watch while that run goes starts nothing twice; a storm
// starts nothing and is notified.
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { ObservedNode } from '../../model/node-health.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import type { nodeHealthWatch, NodeHealthWatchInput, NodeHealthWatchResult } from '../../workflows/nodeHealthWatch.js';
import { useTimeSkippingEnvironment, recorded, withStubbedWorker } from '../helpers/time-skipping.js';
import { fetchHistory } from '../helpers/histories.js';

const env = useTimeSkippingEnvironment();

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
/** As `schedule apply` resolves it: every parameter but the ones each start sets. */
const replacement = () =>
  findRunbookIn(
    runbooksDir,
    'node-replacement',
    { cluster: 'primary', node: 'placeholder', reason: 'placeholder' },
    { startedBy: 'schedule', approverGroups: { sre: ['bob'] } },
  );

const now = Date.now();
const ago = (s: number) => new Date(now - s * 1000).toISOString();
const node = (name: string, deadFor?: number): ObservedNode => ({
  name,
  labels: { 'topology.kubernetes.io/zone': `zone-${name.slice(-1)}` },
  ready: deadFor === undefined ? 'True' : 'Unknown',
  readySince: deadFor === undefined ? ago(86_400) : ago(deadFor),
  leaseRenewedAt: deadFor === undefined ? ago(2) : ago(deadFor),
  controlPlane: false,
});
const input = (over: Partial<NodeHealthWatchInput> = {}): NodeHealthWatchInput => ({
  cluster: 'primary',
  policy: { unhealthyAfterSeconds: 300, maxUnhealthy: 2, stormThreshold: '55%', pause: false },
  replacement: replacement(),
  notifyWebhookEnv: 'LIFEBOAT_TEST_WEBHOOK',
  ...over,
});
/** Runs one watch to its result; with `record`, its history is kept for the replay test (LIFEBOAT_RECORD_HISTORIES=1). */
async function watch(taskQueue: string, i: NodeHealthWatchInput, record?: string): Promise<NodeHealthWatchResult> {
  const workflowId = `node-health/primary/${randomUUID()}`;
  const result = await env.client.workflow.execute<typeof nodeHealthWatch>('nodeHealthWatch', { taskQueue, workflowId, args: [i] });
  await fetchHistory(env.client, workflowId, record);
  return result;
}

/** The replacement's own activities: it holds at its cordon until `release` resolves, so a second watch finds it running. */
function replacementStubs(release: Promise<void>) {
  return {
    preflightNode: (i: { node: string }) =>
      Promise.resolve({
        cluster: 'primary',
        node: i.node,
        uid: `uid-${i.node}`,
        pods: [],
        pool: { labels: {}, taints: [] },
        blockers: [],
        warnings: [],
      }),
    cordonNode: async (i: { node: string }) => {
      await release;
      return { node: i.node, changed: true };
    },
    uncordonNode: (i: { node: string }) => Promise.resolve({ node: i.node, changed: true }),
    fenceNode: () => Promise.resolve({ fenced: true, how: 'stub' }),
    taintOutOfService: (i: { node: string }) => Promise.resolve({ node: i.node, changed: true }),
    releaseFencedNodePods: () => Promise.resolve({ deleted: [], seconds: 0 }),
    waitVolumesDetached: () => Promise.resolve({ detached: [], seconds: 0 }),
    deleteNode: (i: { node: string }) => Promise.resolve({ node: i.node, deleted: true }),
    provisionNode: () => Promise.resolve({ node: 'n-new', created: true }),
    waitNodeReady: () => Promise.resolve({ readyAt: ago(0) }),
    verifyPodsMoved: () => Promise.resolve({ workloads: [], outOfServiceTaintedNodes: [] }),
  };
}

describe('nodeHealthWatch (time-skipping test server, stubbed activities)', () => {
  it('a Node dead past unhealthyAfter gets a failed-mode replacement under its lock; a second watch meanwhile starts nothing twice', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const nodes = [node('n-a'), node('n-b'), node('n-c'), node('n-d', 600), node('n-e')];
    const { activities, calls } = recorded({
      ...replacementStubs(held),
      observeNodes: () => Promise.resolve({ nodes, cordoned: [] }),
      notify: () => Promise.resolve({ to: 'hooks.example', status: 200 }),
    });
    const [first, second, report] = await withStubbedWorker(env, activities, async (taskQueue) => {
      const a = await watch(taskQueue, input(), 'nodeHealthWatch');
      const b = await watch(taskQueue, input());
      release();
      const r = (await env.client.workflow.getHandle(a.started[0]!).result()) as RunbookReport;
      return [a, b, r] as [NodeHealthWatchResult, NodeHealthWatchResult, RunbookReport];
    });
    expect(first).toMatchObject({
      cluster: 'primary',
      unhealthy: [{ node: 'n-d', since: ago(600), why: 'Ready is Unknown' }],
      remediate: ['n-d'],
      held: [],
      started: ['node-replacement/primary/n-d'],
    });
    expect(second).toMatchObject({ remediate: [], held: [{ node: 'n-d', why: 'already being replaced' }], started: [] });
    expect(report.status).toBe('succeeded');
    expect(report.parameters).toMatchObject({
      cluster: 'primary',
      node: 'n-d',
      mode: 'failed',
      reason: `unhealthy since ${ago(600)}: Ready is Unknown`,
      approver: 'node health watch (maxUnhealthy 2)',
    });
    expect(report.startedBy).toBe('node health watch of primary');
    expect(calls.filter((c) => c.activity === 'fenceNode').map((c) => c.input.node)).toEqual(['n-d']);
    expect(calls.filter((c) => c.activity === 'notify').map((c) => c.input.text)).toEqual([
      'Lifeboat node health watch, primary: replacing n-d',
    ]);
  }, 60_000);

  it('a storm (3 of 5 Nodes dead) starts nothing, says so, and is notified', async () => {
    const nodes = [node('n-a'), node('n-b', 600), node('n-c', 600), node('n-d', 600), node('n-e')];
    const { activities, calls } = recorded({
      ...replacementStubs(Promise.resolve()),
      observeNodes: () => Promise.resolve({ nodes, cordoned: [] }),
      notify: () => Promise.resolve({ to: 'hooks.example', status: 200 }),
    });
    const result = await withStubbedWorker(env, activities, (taskQueue) => watch(taskQueue, input()));
    const storm =
      'storm: 3 of 5 Nodes look unhealthy at once (more than 55%): a network partition or a control-plane problem, not the Nodes; nothing is remediated';
    expect(result).toMatchObject({ remediate: [], started: [], stopped: storm });
    expect(calls.map((c) => c.activity)).toEqual(['observeNodes', 'notify']);
    expect(calls[1]!.input).toEqual({ webhookEnv: 'LIFEBOAT_TEST_WEBHOOK', text: `Lifeboat node health watch, primary: ${storm}` });
  }, 60_000);
});
