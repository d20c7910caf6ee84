// failover outcomes the lab cannot produce on demand, on Temporal's time-skipping test server (no lab
// component: the real workflows from the built bundle, stubbed activities; test/helpers/time-skipping.ts).
// - An approval that never comes: the configured 10 minutes pass in no time, so the timeout is tested
//   as configured, and nothing is changed.
// - A compensation that itself fails: a standby whose API stays unreachable through every retry of the
//   undo (minutes of back-off, skipped here); the rest of the saga still runs and the report says which
//   undo failed.
// - A warm-standby hand-over whose fence or bring-up fails while the other half runs beside it: the
//   other is cancelled and waited for, and only then does the undo start, target first.
// Outcomes the lab can produce for real (a traffic switch that did not take, a failback whose backup
// fails, a restore that fails) are tested against it in failover.outcomes.lab.test.ts.
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Workload } from '../../activities/kubernetes/deployments.js';
import type { SwitchTrafficInput } from '../../activities/traffic/switch.js';
import { isFailoverReport, type failover, type FailoverInput, type FailoverReport } from '../../workflows/failover.js';
import { carriedDetails, rootFailure } from '../../model/failure-chain.js';
import { shopFailoverStubs, shopPreflight } from '../helpers/failover-stubs.js';
import { useTimeSkippingEnvironment, recorded, withStubbedWorker, type StubCall } from '../helpers/time-skipping.js';

const env = useTimeSkippingEnvironment();

const workloads = [
  { namespace: 'shop', name: 'cart' },
  { namespace: 'shop', name: 'frontend' },
];

/** Every activity failover calls, each answering as a healthy lab would; a test overrides the ones that fail. */
const healthy = () => shopFailoverStubs(shopPreflight({ workloads, replicas: 2 }));

const input: FailoverInput = { app: 'shop', from: 'primary', to: 'standby', reason: 'outcome test' };

/**
 * Each call as `activity cluster #attempt` (or `from→to` for those that take both): what was asked of
 * which site, in order; a warm-standby hand-over's fence and bring-up start at once, in either order,
 * so they are listed fence first.
 */
const trace = (calls: StubCall[]) => {
  const t = calls.map((c) => {
    const { cluster, from, to } = c.input as { cluster?: string; from?: string; to?: string };
    return `${c.activity} ${cluster ?? `${from}→${to}`} #${c.attempt}`;
  });
  const i = t.findIndex((x) => x.startsWith('activateAsSourceStops '));
  if (i > 0 && t[i + 1]?.startsWith('fenceWorkloads ')) [t[i], t[i + 1]] = [t[i + 1]!, t[i]!];
  return t;
};

/** Runs an auto-approved failover of shop with `activities` and returns how it failed (undefined if it did not). */
const failedAutoApproved = (activities: Parameters<typeof withStubbedWorker>[1]) =>
  withStubbedWorker(env, activities, async (taskQueue) => {
    const handle = await env.client.workflow.start<typeof failover>('failover', {
      taskQueue,
      workflowId: 'failover/shop',
      args: [{ ...input, autoApprove: { approver: 'jest' } }],
    });
    return handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
  });

const reportOf = (err: unknown) => carriedDetails<FailoverReport>(err, ({ detail }) => isFailoverReport(detail))!;

describe('failover outcomes (time-skipping test server, stubbed activities)', () => {
  it('no approval within the configured 10 minutes: ApprovalTimedOut after a 600 s timer, nothing changed', async () => {
    const { activities, calls } = recorded(healthy());
    const { err, history } = await withStubbedWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: 'failover/shop',
        args: [input],
      });
      const failed = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      return { err: failed, history: await handle.fetchHistory() };
    });
    expect(rootFailure(err)).toEqual({ type: 'ApprovalTimedOut', message: 'no approval within 600 s; nothing was changed' });
    const report = reportOf(err);
    expect(report.status).toBe('failed');
    expect(report.failure).toBe('no approval within 600 s');
    expect(report.failureType).toBe('ApprovalTimedOut');
    expect(report.approval).toBeUndefined();
    expect(report.rolledBack).toEqual([]);
    // Only preflight ran: no fence, no scale-up, no traffic switch.
    expect(trace(calls)).toEqual(['preflightFailover primary→standby #1']);
    // The wait was the configured one, a single 600 s timer that fired.
    const events = history.events ?? [];
    expect(
      events.filter((e) => e.timerStartedEventAttributes).map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds)),
    ).toEqual([600]);
    expect(events.filter((e) => e.timerFiredEventAttributes)).toHaveLength(1);
  });

  it('an undo that fails through all its retries: reported FAILED to undo, the undo after it still runs, status failed', async () => {
    const refused = 'POST https://lb.example/switch answered 409: change window closed';
    const unreachable = "cluster 'standby' API: connect ECONNREFUSED 127.0.0.1:26443";
    const { activities, calls } = recorded({
      ...healthy(),
      // The switch is refused outright; the rollback's switch back succeeds.
      switchTraffic: (i: SwitchTrafficInput) =>
        i.to === 'standby'
          ? Promise.reject(ApplicationFailure.nonRetryable(refused, 'TrafficSwitchRejected'))
          : Promise.resolve({ changed: true, activeCluster: i.to, detail: `record points at '${i.to}'` }),
      // The standby's API goes away before its scale-up can be undone, and stays away.
      deactivateWorkloads: () => Promise.reject(new Error(unreachable)),
    });
    const err = await failedAutoApproved(activities);
    const rolledBack = [
      "traffic switched back to 'primary'",
      `FAILED to undo (scaled 2 Deployments on 'standby' back down): ${unreachable}`,
      "unfenced 2 Deployments on 'primary'",
    ];
    expect(rootFailure(err)).toEqual({
      type: 'FailoverFailed',
      message: `failover of shop from primary to standby failed: ${refused}; rolled back: ${rolledBack.join('; ')}`,
    });
    const report = reportOf(err);
    expect(report.status).toBe('failed');
    expect(report.failure).toBe(refused);
    expect(report.failureType).toBe('TrafficSwitchRejected');
    expect(report.rolledBack).toEqual(rolledBack);
    // The undo was retried to its limit (the change activities' 20 attempts), then the saga went on.
    expect(trace(calls)).toEqual([
      'preflightFailover primary→standby #1',
      'fenceWorkloads primary #1',
      'activateAsSourceStops standby #1',
      'waitWorkloadsAvailable standby #1',
      'switchTraffic primary→standby #1',
      'switchTraffic standby→primary #1',
      ...Array.from({ length: 20 }, (_, i) => `deactivateWorkloads standby #${i + 1}`),
      'unfenceWorkloads primary #1',
    ]);
    expect(calls.filter((c) => c.activity === 'unfenceWorkloads').map((c) => c.input.workloads)).toEqual([workloads]);
  });

  it.each([
    ['fence', 'fenceWorkloads', 'activateAsSourceStops', 'SourceStillServing', "fenced, but the app still serves on 'primary'"],
    ['bring-up', 'activateAsSourceStops', 'fenceWorkloads', 'WorkloadMissing', "Deployment shop/cart not found on 'standby'"],
  ] as const)(
    'a hand-over whose %s fails: the other half is cancelled and has stopped before the undo starts; the standby is scaled down before the primary is unfenced',
    async (failedStep, failing, other, type, message) => {
      // What happened, in order: when the half still running noticed its cancellation and when it had
      // stopped (it finishes the patch it has in flight first), and each undo.
      const log: string[] = [];
      const stopping = async () => {
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat();
          try {
            await ctx.sleep(50);
          } catch (err) {
            log.push(`${other} cancelled`);
            await new Promise((r) => setTimeout(r, 500));
            log.push(`${other} stopped`);
            throw err;
          }
        }
      };
      const { activities } = recorded({
        ...healthy(),
        [failing]: async () => {
          await new Promise((r) => setTimeout(r, 200));
          throw ApplicationFailure.nonRetryable(message, type);
        },
        [other]: stopping,
        deactivateWorkloads: ({ workloads: ws }: { workloads: Workload[] }) => {
          log.push('deactivateWorkloads');
          return Promise.resolve({ deactivated: ws });
        },
        unfenceWorkloads: ({ workloads: ws }: { workloads: Workload[] }) => {
          log.push('unfenceWorkloads');
          return Promise.resolve({ unfenced: ws });
        },
      });
      const err = await failedAutoApproved(activities);
      expect(rootFailure(err)).toEqual({
        type: 'FailoverFailed',
        message: `failover of shop from primary to standby failed: ${message}; rolled back: scaled 2 Deployments on 'standby' back down; unfenced 2 Deployments on 'primary'`,
      });
      expect(log).toEqual([`${other} cancelled`, `${other} stopped`, 'deactivateWorkloads', 'unfenceWorkloads']);
      const report = reportOf(err);
      expect(report.status).toBe('rolled-back');
      expect([report.failure, report.failureType]).toEqual([message, type]);
      const stopped = `stopped: the ${failedStep} failed (${message})`;
      expect(report.steps.filter((x) => ['fence', 'bring-up'].includes(x.name)).map((x) => [x.name, x.state, x.detail])).toEqual([
        ['fence', 'failed', failedStep === 'fence' ? message : stopped],
        ['bring-up', 'failed', failedStep === 'bring-up' ? message : stopped],
      ]);
    },
    60_000,
  );
});
