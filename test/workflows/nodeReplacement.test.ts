// The node-replacement and node-drain runbooks' logic (runbooks/node-replacement.yaml, node-drain.yaml)
// on Temporal's time-skipping test server: the real interpreter from the built bundle, the shipped
// documents as the CLI validates them, stubbed activities that record every call
// (test/helpers/time-skipping.ts). The activities themselves are tested against the lab
// (test/activities/kubernetes/drain.test.ts, test/activities/node-provider/).
// Covered: which steps each mode runs and in which order; an approval asked unless an approver is given;
// a drain that ran out of time asks before deleting the Pods its budgets protect, and without that
// approval (30 minutes, skipped) the Node is uncordoned and nothing is deleted; a failed fence stops the
// run before the Node is tainted or deleted (a dead Node is not uncordoned); a preflight that found
// blockers stops the run before anything changes.
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';
import type { BlockedPod, DrainPod, DrainResult, NodePreflight } from '../../model/node-replacement.js';
import type { ParameterValue, RunbookInput } from '../../model/runbook/run.js';
import {
  activitiesOf,
  approveStep,
  findRunbookIn,
  runWithStubs,
  shippedRunbooksDir,
  stepsOf,
  untilReport,
  type RunbookRunOptions,
} from '../helpers/runbooks.js';
import { useTimeSkippingEnvironment } from '../helpers/time-skipping.js';

const env = useTimeSkippingEnvironment();

const approverGroups = { sre: ['bob', 'carol'] };
/** A shipped document as `lifeboat node replace` starts it. */
const inputFor = (name: 'node-replacement' | 'node-drain', given: Record<string, ParameterValue>): RunbookInput =>
  findRunbookIn(shippedRunbooksDir, name, given, { approverGroups });

const pod = (name: string, action: DrainPod['action'] = 'evict'): DrainPod => ({
  namespace: 'shop',
  name,
  uid: `uid-${name}`,
  owner: `ReplicaSet/${name.split('-')[0]}-5d8f`,
  workload: { kind: 'Deployment', namespace: 'shop', name: name.split('-')[0]! },
  action,
  pdbs: ['shop/web'],
  cpuMilli: 10,
  memoryBytes: 16 * 1024 ** 2,
});
const plan = (over: Partial<NodePreflight> = {}): NodePreflight => ({
  cluster: 'primary',
  node: 'primary-node-2',
  uid: 'node-uid-2',
  ready: true,
  unschedulable: false,
  controlPlane: false,
  pods: [pod('web-a'), pod('web-b')],
  budgets: [{ namespace: 'shop', name: 'web', disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 }],
  capacity: {
    neededCpuMilli: 20,
    neededMemoryBytes: 32 * 1024 ** 2,
    freeCpuMilli: 60000,
    freeMemoryBytes: 2 ** 37,
    ok: true,
    detail: 'fits',
  },
  nodes: { total: 3, ready: 3, cordonedOrUnhealthy: 0 },
  pool: { labels: { type: 'kwok', 'topology.kubernetes.io/zone': 'zone-c' }, taints: [] },
  blockers: [],
  warnings: [],
  ...over,
});
const blocked: BlockedPod = {
  namespace: 'shop',
  name: 'web-b',
  uid: 'uid-web-b',
  pdb: 'shop/web',
  since: '2026-12-02T10:00:00.000Z',
  message: 'Cannot evict pod',
};
const drained = (over: Partial<DrainResult> = {}): DrainResult => ({
  evicted: [pod('web-a'), pod('web-b')].map(({ namespace, name, uid }) => ({ namespace, name, uid })),
  skipped: [],
  terminating: [],
  blocked: [],
  budgetWaits: [],
  ...over,
});

/** Every activity the documents call, each answering as a healthy cluster would; a test overrides what it makes fail or block. */
const healthy = () => ({
  preflightNode: () => Promise.resolve(plan()),
  cordonNode: (i: { node: string }) => Promise.resolve({ node: i.node, changed: true }),
  uncordonNode: (i: { node: string }) => Promise.resolve({ node: i.node, changed: true }),
  drainNode: () => Promise.resolve(drained()),
  deletePods: (i: { pods: unknown[] }) => Promise.resolve({ deleted: i.pods }),
  fenceNode: () => Promise.resolve({ fenced: true, how: 'kwok: no longer managed' }),
  taintOutOfService: (i: { node: string }) => Promise.resolve({ node: i.node, changed: true }),
  releaseFencedNodePods: () => Promise.resolve({ deleted: [], seconds: 0 }),
  waitVolumesDetached: () => Promise.resolve({ detached: [], seconds: 0 }),
  deleteNode: (i: { node: string }) => Promise.resolve({ node: i.node, deleted: true }),
  provisionNode: (i: { runId: string }) => Promise.resolve({ node: `primary-node-r${i.runId.slice(0, 8)}`, created: true }),
  waitNodeReady: () => Promise.resolve({ readyAt: '2026-12-02T10:05:00.000Z' }),
  verifyPodsMoved: () =>
    Promise.resolve({
      workloads: [{ kind: 'Deployment', namespace: 'shop', name: 'web', ready: 2, replicas: 2 }],
      outOfServiceTaintedNodes: [],
    }),
});

/** A run of a node runbook on a stub worker (healthy() but for `overrides`), its workflow ID naming the Node. */
const runNodeRunbook = (input: RunbookInput, overrides: Parameters<typeof runWithStubs>[1] = {}, options: RunbookRunOptions = {}) =>
  runWithStubs(env, { ...healthy(), ...overrides }, input, { idPrefix: 'node-replacement/primary/primary-node-2', ...options });
const params = { cluster: 'primary', node: 'primary-node-2', reason: 'disk failing' };

describe('node-replacement runbook (time-skipping test server, stubbed activities)', () => {
  it('planned, approved by a person: cordon, drain, delete, provision in the pool, Ready, proof; the new Node is named from the run', async () => {
    const { report, runId, workflowId, calls } = await runNodeRunbook(
      inputFor('node-replacement', params),
      {},
      {
        during: async (h) => {
          const waiting = await untilReport(h, (r) => r.status === 'waiting-approval');
          expect(waiting.steps.find((s) => s.id === 'approve')!.detail).toBe(
            'Replace Node primary-node-2 of primary (planned: disk failing)? 2 Pods move; 0 warnings: ',
          );
          await approveStep(h, { approver: 'bob' });
        },
      },
    );
    expect(report.status).toBe('succeeded');
    expect(activitiesOf(calls)).toEqual([
      'preflightNode',
      'cordonNode',
      'drainNode',
      'deleteNode',
      'provisionNode',
      'waitNodeReady',
      'verifyPodsMoved',
    ]);
    expect(stepsOf(report)).toEqual([
      'preflight succeeded',
      'approve succeeded',
      'cordon succeeded',
      'fence skipped',
      'taint skipped',
      'release skipped',
      'volumes skipped',
      'drain succeeded',
      'approve-delete skipped',
      'delete-blocked skipped',
      'delete-node succeeded',
      'provision succeeded',
      'ready succeeded',
      'verify succeeded',
    ]);
    const input = (activity: string) => calls.find((c) => c.activity === activity)!.input;
    expect(input('drainNode')).toEqual({ cluster: 'primary', node: 'primary-node-2', allowEmptyDir: false, timeoutSeconds: 600 });
    expect(input('deleteNode')).toEqual({ cluster: 'primary', node: 'primary-node-2', uid: 'node-uid-2' });
    expect(input('provisionNode')).toEqual({ cluster: 'primary', replacing: 'primary-node-2', pool: plan().pool, workflowId, runId });
    expect(input('waitNodeReady')).toEqual({ cluster: 'primary', node: `primary-node-r${runId.slice(0, 8)}`, timeoutSeconds: 600 });
    expect(input('verifyPodsMoved')).toEqual({ cluster: 'primary', node: 'primary-node-2', pods: plan().pods, timeoutSeconds: 600 });
    expect(report.steps.find((s) => s.id === 'provision')!.outputs).toEqual({ node: `primary-node-r${runId.slice(0, 8)}` });
    expect(report.approvals.map((a) => [a.step, a.approver])).toEqual([['approve', 'bob']]);
  }, 60_000);

  it('a drain that ran out of time asks before deleting what the budgets protect; approved, only those Pods are deleted', async () => {
    const { report, calls } = await runNodeRunbook(
      inputFor('node-replacement', { ...params, approver: 'health-watch' }),
      { drainNode: () => Promise.resolve(drained({ evicted: [], blocked: [blocked] })) },
      {
        during: async (h) => {
          const waiting = await untilReport(h, (r) => r.status === 'waiting-approval');
          expect(waiting.steps.find((s) => s.id === 'approve-delete')!.detail).toBe(
            'The drain of primary-node-2 ran out of time: disruption budgets still refuse shop/web-b (shop/web since 2026-12-02T10:00:00.000Z). Delete these Pods past their budgets? Not approving uncordons the Node and ends the run.',
          );
          await approveStep(h, { approver: 'carol' });
        },
      },
    );
    expect(report.status).toBe('succeeded');
    expect(activitiesOf(calls)).toEqual([
      'preflightNode',
      'cordonNode',
      'drainNode',
      'deletePods',
      'deleteNode',
      'provisionNode',
      'waitNodeReady',
      'verifyPodsMoved',
    ]);
    expect(calls.find((c) => c.activity === 'deletePods')!.input).toEqual({ cluster: 'primary', pods: [blocked] });
    expect(stepsOf(report).slice(0, 2)).toEqual(['preflight succeeded', 'approve skipped']);
  }, 60_000);

  it('nobody approves the deletion within 30 minutes: the Node is uncordoned, nothing deleted, the run compensated', async () => {
    const { report, calls } = await runNodeRunbook(inputFor('node-replacement', { ...params, approver: 'health-watch' }), {
      drainNode: () => Promise.resolve(drained({ evicted: [], blocked: [blocked] })),
    });
    expect(report.status).toBe('compensated');
    expect(activitiesOf(calls)).toEqual(['preflightNode', 'cordonNode', 'drainNode', 'uncordonNode']);
    expect(report.failure).toBe('step approve-delete failed: no approval of step approve-delete within 30m (0 of 1)');
  }, 60_000);

  it('failed: fence, taint out of service, its Pods released, volumes detached, then replaced; nothing is drained', async () => {
    const { report, calls } = await runNodeRunbook(inputFor('node-replacement', { ...params, mode: 'failed', approver: 'health-watch' }));
    expect(report.status).toBe('succeeded');
    expect(activitiesOf(calls)).toEqual([
      'preflightNode',
      'cordonNode',
      'fenceNode',
      'taintOutOfService',
      'releaseFencedNodePods',
      'waitVolumesDetached',
      'deleteNode',
      'provisionNode',
      'waitNodeReady',
      'verifyPodsMoved',
    ]);
  }, 60_000);

  it('failed, and the provider cannot confirm the Node is off: no taint, no delete, and a dead Node is not uncordoned', async () => {
    const { report, calls } = await runNodeRunbook(inputFor('node-replacement', { ...params, mode: 'failed', approver: 'health-watch' }), {
      fenceNode: () =>
        Promise.reject(ApplicationFailure.nonRetryable('the provider could not confirm primary-node-2 is off', failureTypes.NodeNotFenced)),
    });
    expect(report.status).toBe('compensated');
    expect(activitiesOf(calls)).toEqual(['preflightNode', 'cordonNode', 'fenceNode']);
    expect(report.failure).toBe('step fence failed: the provider could not confirm primary-node-2 is off');
  }, 60_000);

  it('a preflight that found blockers stops the run before anything changes', async () => {
    const { report, calls } = await runNodeRunbook(inputFor('node-replacement', { ...params, node: 'primary-node-0' }), {
      preflightNode: () =>
        Promise.reject(
          ApplicationFailure.nonRetryable(
            'Node primary-node-0 on primary: blocked: a control-plane Node: replace it with the etcd member replacement runbook',
            failureTypes.PreflightFailed,
          ),
        ),
    });
    expect(report.status).toBe('failed');
    expect(activitiesOf(calls)).toEqual(['preflightNode']);
    expect(report.failure).toBe(
      'step preflight failed: Node primary-node-0 on primary: blocked: a control-plane Node: replace it with the etcd member replacement runbook',
    );
  }, 60_000);
});

describe('node-drain runbook (time-skipping test server, stubbed activities)', () => {
  it('cordons and drains; the Node stays; a drain that fails uncordons it', async () => {
    const done = await runNodeRunbook(inputFor('node-drain', { cluster: 'primary', node: 'primary-node-2' }));
    expect(done.report.status).toBe('succeeded');
    expect(activitiesOf(done.calls)).toEqual(['preflightNode', 'cordonNode', 'drainNode']);

    const failed = await runNodeRunbook(inputFor('node-drain', { cluster: 'primary', node: 'primary-node-2' }), {
      drainNode: () => Promise.reject(ApplicationFailure.nonRetryable('Node primary-node-2 is gone', failureTypes.NodeNotFound)),
    });
    expect(failed.report.status).toBe('compensated');
    expect(activitiesOf(failed.calls)).toEqual(['preflightNode', 'cordonNode', 'drainNode', 'uncordonNode']);
  }, 60_000);
});
