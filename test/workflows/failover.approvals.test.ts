// Authorised approvals of a failover, on Temporal's time-skipping test server (no lab component: the
// real workflow from the built bundle, stubbed activities; test/helpers/time-skipping.ts). The policy
// is what the worker's preflight resolves from its configuration: approvers alice and bob, bob alone
// may force. Refused: an approver not listed, the requester approving their own run (four eyes), a
// force by someone not in the force list, an auto-approval naming the requester or the game day's
// approver outside a game day. Nothing is changed by a refused run.
import { describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import type { FailoverPreflight } from '../../activities/kubernetes/workloads.js';
import {
  approveUpdate,
  isFailoverReport,
  reportQuery,
  type failover,
  type FailoverInput,
  type FailoverReport,
} from '../../workflows/failover.js';
import { carriedDetails, rootFailure } from '../../model/failure-chain.js';
import { approversAttribute, requesterAttribute } from '../../model/approvals.js';
import {
  appAttribute,
  awaitingApprovalSinceAttribute,
  clusterAttribute,
  outcomeAttribute,
  runbookAttribute,
} from '../../model/search-attributes.js';
import type { RunNotification } from '../../model/notifications.js';
import { shopFailoverStubs, shopPreflight } from '../helpers/failover-stubs.js';
import { fetchHistory } from '../helpers/histories.js';
import { useTimeSkippingEnvironment, recorded, withStubbedWorker } from '../helpers/time-skipping.js';

const env = useTimeSkippingEnvironment();

const preflight = (reachable = true): FailoverPreflight =>
  shopPreflight({ reachable }, { approval: { approvers: ['alice', 'bob'], forceApprovers: ['bob'], fourEyes: true, gameDays: true } });

const stubs = (reachable = true) => ({
  ...shopFailoverStubs(preflight(reachable)),
  sourceWatchPlan: () => Promise.resolve({ limitSeconds: 60, fenceCommand: 'kubectl scale' }),
  watchForSourceApi: () => Promise.resolve({ answered: true, at: new Date().toISOString(), checks: 1 }),
});

const input: FailoverInput = { app: 'shop', from: 'primary', to: 'standby', reason: 'approvals test', requestedBy: 'alice' };

const reportOf = (err: unknown) => carriedDetails<FailoverReport>(err, ({ detail }) => isFailoverReport(detail))!;

/** Until the run waits for its approval. */
async function awaitingApproval(handle: WorkflowHandle): Promise<void> {
  for (;;) {
    const r = await handle.query(reportQuery).catch(() => undefined);
    if (r?.status === 'awaiting-approval') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const refusalOf = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => rootFailure(e).message,
  );

describe('failover approvals (time-skipping test server, stubbed activities)', () => {
  it('an approver not listed, the requester (four eyes) and a force by a non-force approver are refused, each saying why; another approver proceeds', async () => {
    const { activities, calls } = recorded(stubs());
    const { refusals, report } = await withStubbedWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: 'failover/shop-approvals',
        args: [input],
      });
      await awaitingApproval(handle);
      const approve = (approver: string, force?: boolean) =>
        refusalOf(handle.executeUpdate(approveUpdate, { args: [{ approver, force }] }));
      const refusals = [await approve('mallory'), await approve('alice'), await approve('alice', true)];
      // Nothing was changed while it waited, refused or not.
      expect(calls.map((c) => c.activity)).toEqual(['preflightFailover']);
      const accepted = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob', comment: 'go' }] });
      expect(accepted).toMatchObject({ approver: 'bob', force: false, auto: false, comment: 'go' });
      const report = await handle.result();
      const attributes = (await handle.describe()).typedSearchAttributes;
      // Who started it and who approved it, searchable.
      expect([attributes.get(requesterAttribute), attributes.get(approversAttribute)]).toEqual(['alice', ['bob']]);
      return { refusals, report };
    });
    expect(refusals).toEqual([
      "refused: 'mallory' is not an approver (approvers: alice, bob)",
      "refused: 'alice' started this run and may not approve it too (four eyes: another approver must)",
      "refused: 'alice' started this run and may not approve it too (four eyes: another approver must)",
    ]);
    expect(report.status).toBe('completed');
    expect(report.requestedBy).toBe('alice');
    expect(report.approval).toMatchObject({ approver: 'bob', auto: false });
  });

  it('while it waits, the run says since when (LifeboatAwaitingApprovalSince) and asks its approvers, with the command that approves it', async () => {
    const notified: RunNotification[] = [];
    const { activities } = recorded({
      ...stubs(),
      deliverNotification: (n: RunNotification) => {
        notified.push(n);
        return Promise.resolve({ delivered: ['sre'], undelivered: [] });
      },
    });
    const { waitingSince, after } = await withStubbedWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: 'failover/shop-approval-wait',
        args: [input],
      });
      await awaitingApproval(handle);
      const waitingSince = (await handle.describe()).typedSearchAttributes.get(awaitingApprovalSinceAttribute);
      await handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob' }] });
      await handle.result();
      await fetchHistory(env.client, handle.workflowId, 'failover-approval-lifecycle');
      return { waitingSince, after: (await handle.describe()).typedSearchAttributes };
    });
    expect(waitingSince).toBeInstanceOf(Date);
    expect(after.get(awaitingApprovalSinceAttribute)).toBeUndefined();
    expect([after.get(runbookAttribute), after.get(clusterAttribute), after.get(appAttribute), after.get(outcomeAttribute)]).toEqual([
      'failover',
      'primary',
      'shop',
      'succeeded',
    ]);
    expect(notified.map((n) => n.event)).toEqual(['started', 'approval-needed', 'completed']);
    expect(notified[1]).toMatchObject({
      app: 'shop',
      startedBy: 'alice',
      approval: { step: 'approval', command: 'lifeboat failover approve --app shop', approvers: ['alice', 'bob'], timeoutSeconds: 600 },
    });
  });

  it('force needs a force approver: alice (an approver) is refused the force, bob (a force approver) proceeds', async () => {
    const { activities } = recorded(stubs(false));
    const { refusals, report } = await withStubbedWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: 'failover/shop-force',
        args: [{ ...input, requestedBy: 'carol' }],
      });
      await awaitingApproval(handle);
      const approve = (approver: string, force?: boolean) =>
        refusalOf(handle.executeUpdate(approveUpdate, { args: [{ approver, force }] }));
      const refusals = [await approve('alice'), await approve('alice', true)];
      await handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob', force: true }] });
      return { refusals, report: await handle.result() };
    });
    expect(refusals).toEqual([
      "'primary' is unreachable and cannot be fenced: approve with force to proceed anyway",
      "refused: 'alice' may not force (force approvers: bob)",
    ]);
    expect(report.status).toBe('completed');
    expect(report.approval).toMatchObject({ approver: 'bob', force: true });
  });

  it.each([
    [
      'the requester',
      'alice',
      { approver: 'alice' },
      "'alice' started this run and may not approve it too (four eyes: another approver must)",
    ],
    ['someone not listed', 'carol', { approver: 'mallory' }, "'mallory' is not an approver (approvers: alice, bob)"],
    [
      'an approver who may not force, with force',
      'carol',
      { approver: 'alice', force: true },
      "'alice' may not force (force approvers: bob)",
    ],
    ["the game day's approver outside a game day", 'carol', { approver: 'gameday' }, "'gameday' may approve only a game day's own runs"],
  ])('auto-approval naming %s: ApprovalRefused, nothing changed', async (_, requestedBy, autoApprove, why) => {
    const { activities, calls } = recorded(stubs());
    const err = await withStubbedWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: `failover/shop-auto-${autoApprove.approver}-${requestedBy}`,
        args: [{ ...input, requestedBy, autoApprove }],
      });
      return handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    expect(rootFailure(err)).toEqual({ type: 'ApprovalRefused', message: `auto-approval refused, nothing was changed: ${why}` });
    expect(reportOf(err)).toMatchObject({ status: 'failed', failureType: 'ApprovalRefused' });
    expect(calls.map((c) => c.activity)).toEqual(['preflightFailover']);
  });

  it('a run that does not name its requester cannot be approved (four eyes cannot be checked)', async () => {
    const { activities } = recorded(stubs());
    const refused = await withStubbedWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: 'failover/shop-anonymous',
        args: [{ ...input, requestedBy: undefined }],
      });
      await awaitingApproval(handle);
      const refused = await refusalOf(handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob' }] }));
      await handle.terminate('test done');
      return refused;
    });
    expect(refused).toBe('refused: the run does not name who started it, so four eyes cannot be checked; start it with lifeboat');
  });
});
