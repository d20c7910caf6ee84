// failover to a standby whose every Node is cordoned (lab: Temporal, both clusters' API servers, the
// DNSEndpoint CRD on standby): preflight finds the standby unhealthy and without capacity, and the run
// stops before it touches the primary. The app is the test's own (test/helpers/failover-app.ts).
// lab: disruptive (cordons every Node of the standby, which no other suite's failover would pass): runs alone, after the other suites (test/run.sh).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { CoreV1Api } from '@kubernetes/client-node';
import type { failover, FailoverReport } from '../../workflows/failover.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createTestApp, lifeboatMarks, targets, testRequester, type TestApp } from '../helpers/failover-app.js';

let app: TestApp;
let w: TestWorker;
beforeAll(async () => {
  app = await createTestApp(labConfig());
  w = await startTestWorker((c) => app.addTo(c));
});
afterAll(async () => {
  await w?.stop();
  await app?.remove();
});

describe('failover with the standby unhealthy', () => {
  it('the standby unhealthy at preflight (every Node cordoned): stops before touching the primary', async () => {
    const core = app.kube.standby.makeApiClient(CoreV1Api);
    const nodes = (await core.listNode()).items.map((n) => n.metadata!.name!);
    const cordon = (unschedulable: boolean) =>
      Promise.all(
        nodes.map((name) => core.patchNode({ name, body: [{ op: 'replace', path: '/spec/unschedulable', value: unschedulable }] })),
      );
    await cordon(true);
    try {
      const err = await w.client.workflow
        .execute<typeof failover>('failover', {
          taskQueue: w.config.temporal.taskQueue,
          workflowId: `failover/${app.name}`,
          args: [
            {
              app: app.name,
              from: 'primary',
              to: 'standby',
              reason: 'test',
              autoApprove: { approver: 'jest' },
              requestedBy: testRequester,
            },
          ],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const r = ((err as WorkflowFailedError).cause as { details?: unknown[] }).details![0] as FailoverReport;
      expect(r.status).toBe('failed');
      // 2 Deployments of 2 replicas, each asking 10m CPU and 16Mi.
      expect(r.failure).toBe(
        `preflight: target cluster 'standby' is unhealthy: 0/${nodes.length} Nodes Ready and schedulable; target 'standby' lacks capacity: needs 40m CPU and 0.06 GiB; standby has 0m and 0.00 GiB free`,
      );
      expect(r.steps.find((s) => s.name === 'fence')!.state).toBe('skipped');
    } finally {
      await cordon(false);
    }
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(lifeboatMarks(await app.deployment('primary', 'svc-0'))).toEqual({});
    expect((await app.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
  }, 120_000);
});
