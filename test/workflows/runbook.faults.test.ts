// The runbook interpreter under kill -9 (lab: Temporal, the primary cluster with its etcd, Velero and the
// object store for the clusterHealth child; a `lifeboat worker` process of the test's own on its own task
// queue). A runbook scales a Deployment, runs a clusterHealth child, waits for an approval and scales a
// second Deployment. The worker is killed while the child's checks are in flight and again while the
// approval waits; a new worker takes over and the approval is given to it. The run completes once, the
// child ran once (each of its checks completed once), and each Deployment was changed exactly once.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { execa, type ResultPromise } from 'execa';
import { labConfigFile } from '../../lab/topology.js';
import { grantInNamespaces } from '../../lab/rbac.js';
import { warmStandbyDeployment } from '../../lab/warm-standby.js';
import { formatProblems, parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import type { RunbookApproval, RunbookApproveRequest, RunbookInput, RunbookReport } from '../../model/runbook/run.js';
import type { runbook } from '../../workflows/runbook.js';
import { activityAttempts, completedActivities } from '../helpers/activity-attempts.js';
import { adminKubeConfig, cliPath, labConfig } from '../helpers/lab.js';

const namespace = `rb-${randomBytes(4).toString('hex')}`;
let kube: KubeConfig;
let client: LifeboatClient;

beforeAll(async () => {
  const config = labConfig();
  kube = adminKubeConfig('primary');
  await kube.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  const apps = kube.makeApiClient(AppsV1Api);
  await Promise.all(
    ['first', 'second'].map((name) => apps.createNamespacedDeployment({ namespace, body: warmStandbyDeployment(name, 2, 'primary') })),
  );
  // The worker scales them as Lifeboat's ServiceAccount: the failover role, bound in this namespace only.
  await grantInNamespaces('primary', [namespace], ['lifeboat-failover-workloads']);
  client = await temporalClient(config);
}, 60_000);
afterAll(async () => {
  await client?.connection.close();
  await kube
    ?.makeApiClient(CoreV1Api)
    .deleteNamespace({ name: namespace })
    .catch(() => undefined);
});

/** A worker process of the lab's CLI on the test's own task queue. */
const startWorker = (taskQueue: string): ResultPromise =>
  execa(process.execPath, [cliPath, 'worker'], {
    env: { LIFEBOAT_CONFIG: labConfigFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_METRICS_PORT: '0' },
    reject: false,
  });

const text = `apiVersion: lifeboat.io/v1
kind: Runbook
metadata:
  name: kill-test
steps:
  - id: scale-first
    action: scaleDeployment
    with: { cluster: primary, namespace: ${namespace}, name: first, replicas: 0 }
  - id: health
    run: clusterHealth
    with: { clusters: [primary] }
  - id: approve
    approval: { approvers: [alice], timeout: 10m }
  - id: scale-second
    action: scaleDeployment
    with: { cluster: primary, namespace: ${namespace}, name: second, replicas: 0 }
`;

type Events = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>;
const count = (events: Events, has: (e: Events[number]) => unknown) => events.filter(has).length;

const waitForApprovalStep = async (handle: WorkflowHandle) => {
  for (;;) {
    const r = await handle.query<RunbookReport>('report').catch(() => undefined);
    if (r?.status === 'waiting-approval') return;
    if (r && r.status !== 'running') throw new Error(`the run ended (${r.status}) before its approval step`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

describe('runbook interpreter under faults', () => {
  it('kill -9 of the worker while the child runs and while the approval waits: completes once, each change once, one child run', async () => {
    const parsed = parseRunbook('kill-test.yaml', text, { blocks: runbookBlocks });
    if (!parsed.ok) throw new Error(formatProblems(parsed.problems).join('\n'));
    const input: RunbookInput = {
      document: parsed.document,
      contentHash: 'kill-test',
      source: 'kill-test.yaml',
      parameters: {},
      startedBy: 'jest',
      approverGroups: {},
    };
    const taskQueue = `test-runbook-kill-${randomUUID()}`;
    const workflowId = `runbook/kill-test/${randomUUID().slice(0, 8)}`;
    let worker = startWorker(taskQueue);
    const restart = async () => {
      worker.kill('SIGKILL');
      await worker;
      worker = startWorker(taskQueue);
    };
    try {
      const handle = await client.workflow.start<typeof runbook>('runbook', { taskQueue, workflowId, args: [input] });
      const child = client.workflow.getHandle(`${workflowId}/health`);
      // Killed once the child's checks that are still pending have all been started on this worker
      // (PENDING_ACTIVITY_STATE_STARTED) and not finished: the child is mid-run, and exactly those are retried.
      let killedInside: string[] = [];
      for (;;) {
        const { raw, status } = await child.describe().catch(() => ({ raw: undefined, status: undefined }));
        const pending = raw?.pendingActivities ?? [];
        if (pending.length && pending.every((a) => Number(a.state) === 2)) {
          killedInside = pending.map((a) => a.activityType!.name!);
          break;
        }
        if (status && status.name !== 'RUNNING')
          throw new Error(`the child ended (${status.name}) before the worker could be killed inside it`);
        // A run that failed before it started the child (a refused scale, say) would leave this loop waiting forever.
        const parent = await handle.describe();
        if (parent.status.name !== 'RUNNING')
          throw new Error(
            `the run ended (${parent.status.name}) before its child started: ${await handle.result().then(
              () => 'completed',
              (e: Error) => (e.cause as Error | undefined)?.message ?? e.message,
            )}`,
          );
        await new Promise((r) => setTimeout(r, 10));
      }
      process.stderr.write(`[runbook kill] worker killed inside the child's ${killedInside.join(', ')}\n`);
      await restart();

      await waitForApprovalStep(handle);
      await restart();
      // As \`lifeboat runbook approve\` does: the report first, which the new worker answers once it has replayed
      // the run to its approval step; only then the update, so its validator sees the step waiting.
      await waitForApprovalStep(handle);
      const approval = await handle.executeUpdate<RunbookApproval, [RunbookApproveRequest]>('approve', { args: [{ approver: 'alice' }] });
      expect([approval.step, approval.approver]).toEqual(['approve', 'alice']);
      const report = await handle.result();

      expect(report.status).toBe('succeeded');
      expect(report.steps.map((s) => `${s.path} ${s.state}`)).toEqual([
        'scale-first succeeded',
        'health succeeded',
        'approve succeeded',
        'scale-second succeeded',
      ]);
      expect(report.approvals.map((a) => a.approver)).toEqual(['alice']);
      const events = (await handle.fetchHistory()).events ?? [];
      expect(count(events, (e) => e.workflowExecutionCompletedEventAttributes)).toBe(1);
      expect(count(events, (e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(1);
      expect(completedActivities({ events })).toEqual(['scaleDeployment', 'scaleDeployment']);
      const childEvents = (await child.fetchHistory()).events ?? [];
      expect(count(childEvents, (e) => e.workflowExecutionStartedEventAttributes)).toBe(1);
      expect(count(childEvents, (e) => e.workflowExecutionCompletedEventAttributes)).toBe(1);
      expect(completedActivities({ events: childEvents })).toEqual(['checkEtcd', 'checkNodes', 'checkObjectStore', 'checkVeleroLocation']);
      // The checks the killed worker had running were retried once on the new one (one it finished in the
      // milliseconds between the describe and the kill ran once); the others ran once; the kill landed inside one.
      const checks = ['checkEtcd', 'checkNodes', 'checkObjectStore', 'checkVeleroLocation'];
      const attempts = Object.fromEntries(activityAttempts({ events: childEvents }).sort());
      expect(Object.keys(attempts)).toEqual(checks);
      for (const c of checks) expect([c, killedInside.includes(c) ? [1, 2] : [1]]).toEqual([c, expect.arrayContaining([attempts[c]])]);
      expect(checks.filter((c) => attempts[c] === 2).length).toBeGreaterThan(0);
      // The parent's own activities each ran once: neither kill landed inside one.
      expect(activityAttempts({ events })).toEqual([
        ['scaleDeployment', 1],
        ['scaleDeployment', 1],
      ]);
      // Created at generation 1; one scale each.
      const apps = kube.makeApiClient(AppsV1Api);
      const deployments = await Promise.all(['first', 'second'].map((name) => apps.readNamespacedDeployment({ namespace, name })));
      expect(deployments.map((d) => [d.metadata!.name, d.metadata!.generation, d.spec!.replicas])).toEqual([
        ['first', 2, 0],
        ['second', 2, 0],
      ]);
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  }, 240_000);
});
