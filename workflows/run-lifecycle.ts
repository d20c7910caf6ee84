// Every run's life as others see it: the search attributes that make it findable and countable
// (`lifeboat history`, the worker's metrics, the Temporal UI) and the notifications people get when it
// starts, waits for them, fails or completes. One workflow interceptor, so every workflow gets it the
// same way, however it was started (CLI, Schedule, a game day's child, `temporal workflow start`).
//
// A notification never fails a run: the activity retries on its own, and what still cannot be sent is
// logged (and counted by the worker's metrics), then the run goes on.
import {
  CancellationScope,
  isCancellation,
  log,
  patched,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { requesterAttribute } from '../model/approvals.js';
import { describeRootFailure } from '../model/failure-chain.js';
import type { NotificationActivities, RunNotification } from '../model/notifications.js';
import { completedRun, describeRun, runIdentity, type RunIdentity } from '../model/run-identity.js';
import {
  appAttribute,
  awaitingApprovalSinceAttribute,
  clusterAttribute,
  outcomeAttribute,
  rtoSecondsAttribute,
  runbookAttribute,
  type RunOutcome,
} from '../model/search-attributes.js';

/** The patch that brought the run lifecycle in: runs from before it replay without it. */
export const runLifecyclePatch = 'run-lifecycle';

const notifications = proxyActivities<NotificationActivities>({
  // A receiver that does not answer is given up on within ~2 minutes: a run's result is not held longer.
  startToCloseTimeout: '45 seconds',
  scheduleToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/** The run being executed, once the interceptor has taken it on (undefined in runs from before the patch). */
type RunFields = 'runbook' | 'workflowId' | 'runId' | 'namespace' | 'cluster' | 'app' | 'startedBy';
interface CurrentRun {
  identity: RunIdentity;
  base: Pick<RunNotification, RunFields>;
  /** Notifications sent while the run goes on: awaited before it ends, so none is dropped. */
  pending: Promise<void>[];
}
// Module state is per workflow execution: the SDK isolates each run's globals.
let current: CurrentRun | undefined;

function send(run: CurrentRun, notification: Omit<RunNotification, RunFields | 'at'>): Promise<void> {
  const full: RunNotification = { ...run.base, ...notification, at: new Date().toISOString() };
  return notifications.deliverNotification(full).then(
    (d) => {
      if (d.undelivered.length) log.warn('notification not delivered', { event: full.event, undelivered: d.undelivered });
    },
    (err: unknown) => log.warn('notification not delivered', { event: full.event, error: describeRootFailure(err) }),
  );
}

function ending(outcome: RunOutcome, rtoSeconds: number | undefined): SearchAttributeUpdatePair[] {
  return [
    { key: outcomeAttribute, value: outcome },
    { key: awaitingApprovalSinceAttribute, value: null },
    ...(rtoSeconds === undefined ? [] : [{ key: rtoSecondsAttribute, value: rtoSeconds }]),
  ];
}

class RunLifecycle implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    if (!patched(runLifecyclePatch)) return next(input);
    const info = workflowInfo();
    const identity = runIdentity(info.workflowType, input.args[0]);
    upsertSearchAttributes([
      { key: runbookAttribute, value: identity.runbook },
      ...(identity.cluster ? [{ key: clusterAttribute, value: identity.cluster }] : []),
      ...(identity.app ? [{ key: appAttribute, value: identity.app }] : []),
      ...(identity.startedBy ? [{ key: requesterAttribute, value: identity.startedBy }] : []),
    ]);
    const run: CurrentRun = {
      identity,
      base: {
        runbook: identity.runbook,
        workflowId: info.workflowId,
        runId: info.runId,
        namespace: info.namespace,
        ...(identity.cluster ? { cluster: identity.cluster } : {}),
        ...(identity.app ? { app: identity.app } : {}),
        ...(identity.startedBy ? { startedBy: identity.startedBy } : {}),
      },
      pending: [],
    };
    current = run;
    const what = describeRun(identity);
    run.pending.push(send(run, { event: 'started', summary: `${what} started${identity.startedBy ? ` by ${identity.startedBy}` : ''}` }));
    let result: unknown;
    try {
      result = await next(input);
    } catch (err) {
      // A run continued as new is not over: its next run takes its life on.
      if ((err as Error | undefined)?.name === 'ContinueAsNew') throw err;
      const outcome: RunOutcome = isCancellation(err) ? 'cancelled' : 'failed';
      upsertSearchAttributes(ending(outcome, undefined));
      const rootCause = describeRootFailure(err);
      await CancellationScope.nonCancellable(async () => {
        await send(run, {
          event: 'failed',
          outcome,
          rootCause,
          summary: `${what} ${outcome === 'cancelled' ? 'was cancelled' : 'failed'}: ${rootCause}`,
        });
        await Promise.all(run.pending);
      });
      throw err;
    }
    const { outcome, rtoSeconds } = completedRun(result);
    upsertSearchAttributes(ending(outcome, rtoSeconds));
    const rto = rtoSeconds === undefined ? '' : `, RTO ${rtoSeconds} s`;
    await send(run, {
      event: 'completed',
      outcome,
      summary: `${what} completed${outcome === 'objectives-missed' ? ' but missed its objectives' : ''}${rto}`,
    });
    await Promise.all(run.pending);
    return result;
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new RunLifecycle()] });

export interface ApprovalWait {
  /** The step that waits. */
  step: string;
  /** The command that approves it. */
  command: string;
  /** Who may approve. */
  approvers: string[];
  timeoutSeconds?: number;
}

/**
 * Marks the run as waiting for a person (LifeboatAwaitingApprovalSince, which the worker's metrics and
 * alerts read) and tells the receivers routed `approval-needed`. Returns what ends the wait. Does
 * nothing in a run from before the run lifecycle.
 */
export function awaitApproval(wait: ApprovalWait): () => void {
  const run = current;
  if (!run) return () => undefined;
  upsertSearchAttributes([{ key: awaitingApprovalSinceAttribute, value: new Date() }]);
  run.pending.push(
    send(run, {
      event: 'approval-needed',
      summary: `${describeRun(run.identity)} waits for approval of step ${wait.step}: ${wait.command}`,
      approval: wait,
    }),
  );
  return () => upsertSearchAttributes([{ key: awaitingApprovalSinceAttribute, value: null }]);
}
