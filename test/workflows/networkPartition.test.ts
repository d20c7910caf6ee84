// The network-partition runbook's control flow on Temporal's time-skipping test server (no lab
// component: the shipped document, the real interpreter and decision activity, stubbed witnesses that
// record every call; test/helpers/time-skipping.ts). What the lab cannot play on demand: the world
// changing between the approval and the failover, and an approval nobody gives within 30 minutes.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createPartitionActivities } from '../../activities/partition.js';
import { carriedDetails, rootFailure } from '../../model/failure-chain.js';
import type { ReachabilityWitness, SiteWitnessView } from '../../model/partition.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import type { FailoverPreflight } from '../../activities/kubernetes/workloads.js';
import { runbookApproveUpdate, runbookReportQuery, type runbook } from '../../workflows/runbook.js';
import { shopPreflight } from '../helpers/failover-stubs.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import { useTimeSkippingEnvironment, recorded, withStubbedWorker } from '../helpers/time-skipping.js';

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const env = useTimeSkippingEnvironment();

const answer = (component: string, up: boolean): ReachabilityWitness => ({
  component,
  address: 'x',
  state: up ? 'reachable' : 'unreachable',
  healthy: up,
  detail: up ? 'ok' : 'no answer within 5 s',
  tookMs: 1,
});

/** Witnesses whose answers a test changes as it goes: `primary` dead to everyone at first. */
function world() {
  const view = { standby: 'unreachable' as SiteWitnessView['state'] };
  const stubs = recorded({
    probeClusterApi: ({ cluster }: { cluster: string }) => Promise.resolve(answer(`api/${cluster}`, cluster === 'standby')),
    probeClusterEtcd: ({ cluster }: { cluster: string }) => Promise.resolve(answer(`etcd/${cluster}`, cluster === 'standby')),
    probeObjectStore: () => Promise.resolve(answer('object-store', true)),
    readSiteWitness: ({ cluster, peer }: { cluster: string; peer: string }): Promise<SiteWitnessView> =>
      Promise.resolve({ cluster, peer, state: cluster === 'standby' ? view.standby : 'unreadable', detail: 'stub' }),
    // The failover's dry run (a plan): the source unreachable, nothing to move.
    preflightFailover: (): Promise<FailoverPreflight> =>
      Promise.resolve(shopPreflight({ workloads: [], reachable: false }, { objectives: { rtoSeconds: 600, rpoSeconds: 3600 } })),
    decidePartition: (input: Parameters<ReturnType<typeof createPartitionActivities>['decidePartition']>[0]) =>
      createPartitionActivities().decidePartition(input),
  });
  return { view, ...stubs };
}

const start = (taskQueue: string, approver = '', plan = false) =>
  env.client.workflow.start<typeof runbook>('runbook', {
    taskQueue,
    workflowId: `runbook/network-partition/${randomUUID()}`,
    args: [
      {
        ...findRunbookIn(
          runbooksDir,
          'network-partition',
          { app: 'shop', from: 'primary', to: 'standby', approver },
          { startedBy: 'requester', approverGroups: { sre: ['alice', 'bob'] } },
        ),
        ...(plan ? { plan } : {}),
      },
    ],
  });

const states = (r: RunbookReport) => Object.fromEntries(r.steps.map((s) => [s.path, s.state]));
const failedReport = (err: unknown) =>
  carriedDetails<RunbookReport>(err, ({ detail }) => typeof detail === 'object' && detail !== null && 'steps' in detail);

describe('network-partition control flow', () => {
  it('a source that answers again between the approval and the failover: the run stops, nothing is failed over', async () => {
    const w = world();
    await withStubbedWorker(env, w.activities, async (taskQueue) => {
      const handle = await start(taskQueue);
      for (let i = 0; i < 200 && (await handle.query(runbookReportQuery)).status !== 'waiting-approval'; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect((await handle.query(runbookReportQuery)).steps.find((s) => s.path === 'decide')!.outputs).toMatchObject({
        row: 'source-dead',
      });
      // While the approver reads, the standby's witness sees the primary again.
      w.view.standby = 'reachable';
      await handle.executeUpdate(runbookApproveUpdate, { args: [{ approver: 'alice' }] });
      const err = await handle.result().catch((e: unknown) => e);
      const report = failedReport(err)!;
      expect(rootFailure(err).type).toBe('RunbookStepFailed');
      expect(states(report)).toMatchObject({ approve: 'succeeded', again: 'succeeded', confirm: 'failed', failover: 'skipped' });
      expect(report.steps.find((s) => s.path === 'confirm')!.detail).toMatch(
        /^the witnesses changed since the decision was approved: it was source-dead, it is now worker-cut-from-source/,
      );
    });
    expect(w.calls.filter((c) => c.activity === 'decidePartition')).toHaveLength(2);
  });

  it('a dead source nobody approves to fail over within 30 minutes: the run fails, nothing changes', async () => {
    const w = world();
    await withStubbedWorker(env, w.activities, async (taskQueue) => {
      const err = await (await start(taskQueue)).result().catch((e: unknown) => e);
      expect(rootFailure(err).type).toBe('RunbookApprovalTimedOut');
      expect(states(failedReport(err)!)).toMatchObject({ decide: 'succeeded', approve: 'failed', confirm: 'skipped', failover: 'skipped' });
    });
    // The witnesses once, the decision once: nothing asked again, nothing changed.
    expect(w.calls.map((c) => c.activity).filter((a) => a === 'decidePartition')).toEqual(['decidePartition']);
    expect(w.calls).toHaveLength(7 + 1);
  });

  it('a partition between sites ends after the decision: no approval is asked, nothing else runs', async () => {
    const w = world();
    w.activities.probeClusterApi = ({ cluster }: { cluster: string }) => Promise.resolve(answer(`api/${cluster}`, true));
    await withStubbedWorker(env, w.activities, async (taskQueue) => {
      const report = await (await start(taskQueue)).result();
      expect(report.status).toBe('succeeded');
      expect(report.steps.find((s) => s.path === 'decide')!.outputs).toMatchObject({ row: 'partition-between-sites', failover: false });
      expect(states(report)).toMatchObject({ approve: 'skipped', again: 'skipped', confirm: 'skipped', failover: 'skipped' });
    });
  });

  it('plan: the witnesses and the decision run (read-only), the approval and the failover are shown, not made', async () => {
    const w = world();
    await withStubbedWorker(env, w.activities, async (taskQueue) => {
      const report = await (await start(taskQueue, '', true)).result();
      expect(report).toMatchObject({ mode: 'plan', status: 'planned' });
      expect(states(report)).toMatchObject({
        'witnesses.sourceapi': 'succeeded',
        'witnesses.standbyview': 'succeeded',
        decide: 'succeeded',
        approve: 'planned',
        again: 'succeeded',
        confirm: 'succeeded',
        failover: 'planned',
      });
      const decision = report.steps.find((s) => s.path === 'decide')!.outputs!;
      expect(decision).toMatchObject({ row: 'source-dead', failover: true });
      expect(decision.witnesses).toContain('api/primary from the worker: unreachable (no answer within 5 s)');
      expect(report.steps.find((s) => s.path === 'approve')!.plan).toMatchObject({ show: expect.stringMatching(/^primary looks DEAD: /) });
      // The failover's own dry run: its plan says the source cannot be fenced and the run needs force.
      expect(report.steps.find((s) => s.path === 'failover')!.plan).toMatchObject({
        status: 'planned',
        plan: expect.arrayContaining([
          expect.objectContaining({ step: 'fence', change: expect.stringMatching(/^cannot fence: the API of 'primary' is unreachable/) }),
        ]),
      });
    });
    expect(w.calls.map((c) => c.activity)).toContain('preflightFailover');
  });
});
