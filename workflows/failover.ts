// Failover and failback: move an app from one cluster to the other so that two sites never serve at
// once. Preflight, a plan, an approval, fencing of the source, the app up on the target (a warm
// standby's Deployments each as soon as its copy on the source has stopped serving, while the fence of
// the others goes on), traffic switched, verified, reported; a failure after fencing compensates in
// reverse (a saga), unless the source was unreachable to begin with.
import {
  ActivityCancellationType,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineUpdate,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { abortedByAttribute, approvalRefusal, approversAttribute, requesterAttribute } from '../model/approvals.js';
import type { FailoverActivities, FailoverPreflight } from '../activities/kubernetes/workloads.js';
import type { Workload } from '../activities/kubernetes/deployments.js';
import type { FailoverWatchActivities } from '../activities/kubernetes/api-watch.js';
import type { createTrafficSwitchActivities } from '../activities/traffic/switch.js';
import type { VeleroVerificationActivities } from '../activities/velero/restore-verification.js';
import type { veleroBackup } from './veleroBackup.js';
import {
  derivedResourceNames,
  failbackBackupWorkflowIdFor,
  restoreNameFor,
  runRestoreNameFor,
  veleroAgeSeconds,
} from '../model/velero-layout.js';
import type { Step } from '../model/steps.js';
import { Steps } from './steps.js';
import { awaitApproval } from './run-lifecycle.js';
import { rootFailure } from '../model/failure-chain.js';
import { failureTypes } from '../model/failures.js';
import { secondsBetween } from '../model/durations.js';

type TrafficActivities = ReturnType<typeof createTrafficSwitchActivities>;

export interface FailoverInput {
  app: string;
  from: string;
  to: string;
  /** Why: recorded in the plan, the traffic decision and the report. */
  reason: string;
  /** Preflight and plan only; nothing is changed. */
  dryRun?: boolean;
  /** Approve at once (game days, tests): the approver named must be allowed, and not the requester. */
  autoApprove?: { approver: string; force?: boolean };
  /**
   * Who started the run: the CLI's Temporal client identity (a runbook's `run.startedBy`, a game
   * day's requester). No one may approve a run that does not say (four eyes).
   */
  requestedBy?: string;
}

export interface ApproveRequest {
  /** Who approves: the CLI's Temporal client identity. */
  approver: string;
  /** Proceed although the source cannot be fenced (its API is unreachable). */
  force?: boolean;
  comment?: string;
}

export interface Approval extends ApproveRequest {
  at: string;
  auto: boolean;
}

export interface PlannedChange {
  step: string;
  cluster: string;
  change: string;
}

export interface AbortRequest {
  /** Who aborts: the CLI's Temporal client identity. */
  by: string;
  reason?: string;
}

/** Who aborted a run, when, and why: from `failover abort`, or by "unknown" for a bare cancel of the workflow. */
export interface Abort extends AbortRequest {
  at: string;
}

/**
 * After a forced failover (the source unreachable, so never fenced): the watch for the source's API,
 * which fences it as soon as it answers.
 */
export interface SourceWatch {
  cluster: string;
  /**
   * watching: waiting for its API; fenced: it answered and this run fenced it; limit-passed: no answer
   * within `limitSeconds`; fence-failed: it answered but fencing failed; aborted: the run was aborted
   * while watching. All but fenced leave the source able to serve beside the target.
   */
  state: 'watching' | 'fenced' | 'limit-passed' | 'fence-failed' | 'aborted';
  since: string;
  until: string;
  /** `apps[].failover.returnWatch`. */
  limitSeconds: number;
  /** Deployments it fences. */
  workloads: number;
  /** Fences them by hand (kubectl with the worker's kubeconfig for the source), should the watch not. */
  fenceCommand: string;
  /** When its API first answered. */
  answeredAt?: string;
  /** When this run had fenced it (no Pod serving). */
  fencedAt?: string;
  /** Why the source is not fenced (limit-passed, fence-failed). */
  detail?: string;
}

export interface FailoverReport {
  kind: 'failover' | 'failback';
  app: string;
  from: string;
  to: string;
  reason: string;
  /**
   * watching-source: switched, and watching the unfenced source (forced runs); source-unfenced: switched,
   * but the source was never fenced, so both sites may serve; aborted: `failover abort` (or a cancel)
   * ended it, rolled back where it had changed anything.
   */
  status:
    | 'planned'
    | 'awaiting-approval'
    | 'in-progress'
    | 'watching-source'
    | 'completed'
    | 'source-unfenced'
    | 'rolled-back'
    | 'aborted'
    | 'failed';
  requestedAt: string;
  /** Who started it (the input's `requestedBy`). */
  requestedBy?: string;
  preflight?: FailoverPreflight;
  plan: PlannedChange[];
  approval?: Approval;
  /** Velero backup restored (restore mode) and its age when the failover began. */
  backup?: { name: string; startedAt: string; ageSeconds: number };
  steps: Step[];
  /** Request to verified. */
  rtoSeconds?: number;
  /** restore mode: age of the backup restored. warm-standby: 0 (state is live). */
  rpoSeconds?: number;
  /**
   * Time the target spent getting Pods Ready: from every scale-up accepted to all Available; in a
   * warm-standby hand-over, where Deployments are scaled up one by one as the source stops them, from
   * the first scale-up accepted.
   */
  podsReadySeconds?: number;
  rolledBack: string[];
  failure?: string;
  /**
   * The failure's type from the one registry (model/failures.ts): what went wrong, to match on. The run
   * itself fails as FailoverFailed (or PreflightFailed, ApprovalTimedOut, ForceRequired); this is the
   * step's own cause, e.g. SourceStillServing, TrafficSwitchRejected, RestoreFailed.
   */
  failureType?: string;
  abort?: Abort;
  sourceWatch?: SourceWatch;
  workflowId: string;
  runId: string;
}

/** A failed run carries its report as its failure's details. */
export const isFailoverReport = (d: unknown): d is FailoverReport =>
  Boolean((d as FailoverReport | undefined)?.steps && (d as FailoverReport).app);

export const approveUpdate = defineUpdate<Approval, [ApproveRequest]>('approve');
/** Ends the run: before fencing nothing has changed; after, it rolls back; while watching the source, the watch stops. */
export const abortUpdate = defineUpdate<Abort, [AbortRequest]>('abort');
export const reportQuery = defineQuery<FailoverReport>('report');

export const failoverSteps = ['preflight', 'plan', 'approval', 'fence', 'bring-up', 'available', 'traffic', 'verify', 'report'] as const;

const read = proxyActivities<FailoverActivities & VeleroVerificationActivities & TrafficActivities & FailoverWatchActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [
      failureTypes.UnknownApp,
      failureTypes.AppHasNoFailover,
      failureTypes.InvalidFailoverRequest,
      failureTypes.KubernetesForbidden,
      failureTypes.UnknownCluster,
      failureTypes.NoVeleroBackup,
    ],
  },
});

// Changes to the clusters: retried until the API answers (a flaky API never loses the step), each
// attempt idempotent through its annotations.
// They heartbeat per object and per poll: 10 s of silence means the worker is gone.
const changeOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '15 seconds',
    maximumAttempts: 20,
    nonRetryableErrorTypes: [
      failureTypes.KubernetesForbidden,
      failureTypes.WorkloadMissing,
      failureTypes.UnknownCluster,
      failureTypes.VeleroNameTaken,
    ],
  },
} satisfies ActivityOptions;
const change = proxyActivities<FailoverActivities & VeleroVerificationActivities>(changeOptions);

// Fence and scale-up as runs since 'failover-cancel-waits' make them: a cancelled one (an abort, or the
// other half of a hand-over failing beside it) is waited for until it has stopped, so the compensations
// that undo it never patch the same Deployments at the same time.
const handing = proxyActivities<FailoverActivities>({
  ...changeOptions,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * Runs `a` and `b` at once and returns both results. When one fails, the other is cancelled (and
 * `stopped` told which, with the failure that stopped it), and the first failure is thrown once both
 * have ended; a cancellation from outside cancels both.
 */
async function bothOrNeither<A, B>(
  a: () => Promise<A>,
  b: () => Promise<B>,
  stopped: (which: 0 | 1, by: unknown) => void,
): Promise<[A, B]> {
  const scope = new CancellationScope();
  // What rejects here is an Error: an activity's failure or a cancellation.
  let first: Error | undefined;
  const cancelOnFailure = <T>(p: Promise<T>) =>
    p.catch((err: unknown) => {
      if (first === undefined && !isCancellation(err)) {
        first = err as Error;
        scope.cancel();
      }
      throw err;
    });
  const [ra, rb] = await Promise.allSettled([cancelOnFailure(scope.run(a)), cancelOnFailure(scope.run(b))]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  if (first === undefined) throw (ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason) as Error;
  [ra, rb].forEach((r, i) => {
    if (r.status === 'rejected' && isCancellation(r.reason)) stopped(i as 0 | 1, first);
  });
  throw first;
}

const rootCause = (err: unknown) => rootFailure(err).message;

const w = (x: Workload) => `${x.namespace}/${x.name}`;

function planOf(
  kind: FailoverReport['kind'],
  input: FailoverInput,
  p: FailoverPreflight,
  backupName: string | undefined,
  handOver: boolean,
): PlannedChange[] {
  const plan: PlannedChange[] = [];
  if (p.from.reachable) {
    for (const x of p.workloads)
      plan.push({
        step: 'fence',
        cluster: input.from,
        change: `scale Deployment ${w(x)} to 0 (labelled lifeboat.io/fenced-by with this run, replicas recorded)`,
      });
  } else {
    plan.push({
      step: 'fence',
      cluster: input.from,
      change: `cannot fence: the API of '${input.from}' is unreachable (${p.from.detail}); proceeds only with a forced approval`,
    });
  }
  if (p.mode === 'restore') {
    plan.push({
      step: 'bring-up',
      cluster: input.to,
      change: `${kind === 'failback' ? `take a Velero backup of ${input.app} on '${input.from}', then ` : ''}restore Velero backup ${backupName ?? '(newest Completed)'} of the app's namespaces`,
    });
  }
  for (const x of p.workloads)
    plan.push({
      step: 'bring-up',
      cluster: input.to,
      change: `scale Deployment ${w(x)} to ${x.replicas} (from ${x.replicasFrom})${handOver ? `, as soon as it serves no more on '${input.from}'` : ''}`,
    });
  plan.push({
    step: 'available',
    cluster: input.to,
    change: `wait until ${p.workloads.length} Deployments are Available (at most ${p.availableTimeoutSeconds} s)`,
  });
  plan.push({ step: 'traffic', cluster: input.to, change: p.traffic.description });
  plan.push({ step: 'verify', cluster: input.to, change: 'Deployments Available and the traffic record pointing here' });
  return plan;
}

/**
 * Why `approver` may not approve this run, under the policy the worker's configuration gave its
 * preflight; undefined when they may (and for runs from before approvals were authorised, whose
 * preflight carried no policy).
 */
function refusal(input: FailoverInput, report: FailoverReport, approver: string, force: boolean | undefined): string | undefined {
  const policy = report.preflight?.approval;
  if (!policy) return undefined;
  return approvalRefusal(policy, {
    approver,
    requester: input.requestedBy,
    force,
    parentWorkflowId: workflowInfo().parent?.workflowId,
  });
}

/** Statuses of a run that has ended (or is rolling back): nothing is left to approve or abort. */
export const endedStatuses: readonly FailoverReport['status'][] = [
  'planned',
  'completed',
  'source-unfenced',
  'rolled-back',
  'aborted',
  'failed',
];

/**
 * Shared by failover and failback: the same run in either direction. Answers the `report` query and
 * the `approve` and `abort` updates; an abort (or a cancel of the workflow) cancels the steps, which
 * roll back what they changed, and the run fails as `FailoverAborted` carrying its report.
 */
async function switchSites(kind: FailoverReport['kind'], input: FailoverInput): Promise<FailoverReport> {
  const info = workflowInfo();
  const steps = new Steps(failoverSteps);
  const report: FailoverReport = {
    kind,
    app: input.app,
    from: input.from,
    to: input.to,
    reason: input.reason,
    status: 'in-progress',
    requestedAt: new Date().toISOString(),
    ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
    plan: [],
    steps: steps.all,
    rolledBack: [],
    workflowId: info.workflowId,
    runId: info.runId,
  };
  setHandler(reportQuery, () => report);
  // Who started it and who approves or aborts, searchable in the Temporal UI and `temporal workflow list`;
  // runs from before recorded none, and replay so.
  const searchable = patched('failover-search-attributes');
  if (searchable && input.requestedBy) upsertSearchAttributes([{ key: requesterAttribute, value: input.requestedBy }]);
  const waiting = { approval: false };
  setHandler(
    approveUpdate,
    (request) => {
      report.approval = { ...request, force: request.force ?? false, at: new Date().toISOString(), auto: false };
      if (searchable) upsertSearchAttributes([{ key: approversAttribute, value: [report.approval.approver] }]);
      return report.approval;
    },
    {
      validator: (request: ApproveRequest | undefined) => {
        if (typeof request?.approver !== 'string' || !request.approver.trim()) throw new Error("approve needs the approver's name");
        if (report.abort) throw new Error(`aborted by ${report.abort.by} at ${report.abort.at}`);
        if (!waiting.approval)
          throw new Error(
            report.approval ? `already approved by ${report.approval.approver}` : `not waiting for an approval (status ${report.status})`,
          );
        if (report.preflight && !report.preflight.from.reachable && !request.force) {
          throw new Error(`'${input.from}' is unreachable and cannot be fenced: approve with force to proceed anyway`);
        }
        const refused = refusal(input, report, request.approver, request.force);
        if (refused) throw new Error(`refused: ${refused}`);
      },
    },
  );
  // The steps run in a scope of their own, so that `abort` cancels them as a cancel of the workflow would.
  const work = new CancellationScope();
  setHandler(
    abortUpdate,
    (request) => {
      const reason = request.reason?.trim();
      report.abort = { by: request.by.trim(), at: new Date().toISOString(), ...(reason ? { reason } : {}) };
      if (searchable) upsertSearchAttributes([{ key: abortedByAttribute, value: report.abort.by }]);
      work.cancel();
      return report.abort;
    },
    {
      validator: (request: AbortRequest | undefined) => {
        if (typeof request?.by !== 'string' || !request.by.trim()) throw new Error('abort needs the name of who aborts');
        if (report.abort) throw new Error(`already aborted by ${report.abort.by} at ${report.abort.at}`);
        if (endedStatuses.includes(report.status)) throw new Error(`the ${kind} has already ended: ${report.status}`);
      },
    },
  );

  try {
    return await work.run(() => switchSitesSteps(kind, input, report, steps, waiting));
  } catch (err) {
    // Runs from before `abort` ended as cancelled: they replay so.
    if (!isCancellation(err) || !patched('failover-abort-report')) throw err;
    waiting.approval = false;
    const abort = (report.abort ??= { by: 'unknown', at: new Date().toISOString() });
    const by = `aborted by ${abort.by}${abort.reason ? ` (${abort.reason})` : ''}`;
    // A compensation that failed leaves the run failed: something is left to undo by hand.
    if (report.status !== 'failed') report.status = 'aborted';
    if (report.sourceWatch?.state === 'watching') report.sourceWatch.state = 'aborted';
    for (const s of steps.all) if (s.state === 'failed') s.detail = `interrupted: ${by}`;
    steps.skipPending(by);
    const rolled = report.rolledBack.length ? `; rolled back: ${report.rolledBack.join('; ')}` : '; nothing had been changed';
    const unfenced =
      report.sourceWatch?.state === 'aborted'
        ? `; '${input.from}' was never fenced and may serve beside '${input.to}': ${report.sourceWatch.fenceCommand}`
        : '';
    throw ApplicationFailure.nonRetryable(
      `${kind} of ${input.app} from ${input.from} to ${input.to} ${by}${report.sourceWatch ? unfenced : rolled}`,
      failureTypes.FailoverAborted,
      report,
    );
  }
}

/** The steps of a switch, from preflight to report (and, after a forced one, the watch of the source). */
async function switchSitesSteps(
  kind: FailoverReport['kind'],
  input: FailoverInput,
  report: FailoverReport,
  steps: Steps,
  waiting: { approval: boolean },
): Promise<FailoverReport> {
  const info = workflowInfo();
  const preflight = await steps.run(
    'preflight',
    () => read.preflightFailover({ app: input.app, from: input.from, to: input.to }),
    (p) =>
      `${input.to}: ${p.to.detail}; ${input.from}: ${p.from.reachable ? p.from.detail : 'unreachable'}; capacity ${p.capacity.ok ? 'ok' : 'short'}`,
  );
  report.preflight = preflight;
  let backup: { name: string; startTimestamp?: string } | undefined;
  const velero = preflight.velero;
  if (preflight.mode === 'restore' && kind === 'failover' && velero.sourceLocation) {
    // The newest backup of the app, as the target sees it through its location for the source.
    const found = await read.findVeleroBackup({
      cluster: input.to,
      veleroNamespace: velero.namespace,
      storageLocation: velero.sourceLocation,
      namespaces: preflight.namespaces,
    });
    backup = { name: found.name, startTimestamp: found.startTimestamp };
    const age = secondsBetween(found.startTimestamp!, report.requestedAt);
    report.backup = { name: found.name, startedAt: found.startTimestamp!, ageSeconds: age };
    if (age > preflight.objectives.rpoSeconds)
      preflight.warnings.push(
        `the newest backup ${found.name} is ${age} s old: the RPO objective of ${preflight.objectives.rpoSeconds} s will be missed`,
      );
  }
  // A warm standby takes over Deployment by Deployment: each is scaled up on the target as soon as
  // its copy on the source, fenced by this run, serves no more, while the others are still stopping. Runs
  // from before fenced everything first; they replay so.
  const handOver = preflight.from.reachable && preflight.mode === 'warm-standby' && patched('failover-pipelined-hand-over');
  report.plan = await steps.run(
    'plan',
    () => Promise.resolve(planOf(kind, input, preflight, backup?.name, handOver)),
    (p) => `${p.length} changes`,
  );
  if (preflight.blockers.length) {
    report.status = 'failed';
    report.failure = `preflight: ${preflight.blockers.join('; ')}`;
    report.failureType = failureTypes.PreflightFailed;
    steps.skipPending('preflight blocked the run');
    throw ApplicationFailure.nonRetryable(
      `${kind} of ${input.app} from ${input.from} to ${input.to} stopped at preflight, nothing was changed: ${preflight.blockers.join('; ')}`,
      failureTypes.PreflightFailed,
      report,
    );
  }
  if (input.dryRun) {
    report.status = 'planned';
    steps.skipPending('dry run');
    return report;
  }
  // A source that cannot be fenced now serves again, with its old replicas, as soon as it is back: a
  // forced run watches for it after the switch.
  const watchesSource = !preflight.from.reachable && patched('failover-source-watch');
  if (watchesSource) steps.append('watch');

  await steps.run(
    'approval',
    async () => {
      if (input.autoApprove) {
        if (!preflight.from.reachable && !input.autoApprove.force) {
          report.status = 'failed';
          report.failure = `'${input.from}' is unreachable and cannot be fenced; auto-approval did not say force`;
          report.failureType = failureTypes.ForceRequired;
          throw ApplicationFailure.nonRetryable(
            `'${input.from}' is unreachable and cannot be fenced; auto-approval did not say force`,
            failureTypes.ForceRequired,
            report,
          );
        }
        const refused = refusal(input, report, input.autoApprove.approver, input.autoApprove.force);
        if (refused) {
          report.status = 'failed';
          report.failure = `auto-approval refused, nothing was changed: ${refused}`;
          report.failureType = failureTypes.ApprovalRefused;
          throw ApplicationFailure.nonRetryable(report.failure, failureTypes.ApprovalRefused, report);
        }
        report.approval = {
          approver: input.autoApprove.approver,
          force: input.autoApprove.force ?? false,
          at: new Date().toISOString(),
          auto: true,
        };
        if (patched('failover-search-attributes')) upsertSearchAttributes([{ key: approversAttribute, value: [report.approval.approver] }]);
        return;
      }
      report.status = 'awaiting-approval';
      waiting.approval = true;
      const endWait = awaitApproval({
        step: 'approval',
        command: `lifeboat failover approve --app ${input.app}`,
        approvers: preflight.approval?.approvers ?? [],
        timeoutSeconds: preflight.approvalTimeoutSeconds,
      });
      const approved = await condition(() => report.approval !== undefined, preflight.approvalTimeoutSeconds * 1000);
      waiting.approval = false;
      endWait();
      if (!approved) {
        report.status = 'failed';
        report.failure = `no approval within ${preflight.approvalTimeoutSeconds} s`;
        report.failureType = failureTypes.ApprovalTimedOut;
        throw ApplicationFailure.nonRetryable(
          `no approval within ${preflight.approvalTimeoutSeconds} s; nothing was changed`,
          failureTypes.ApprovalTimedOut,
          report,
        );
      }
      report.status = 'in-progress';
    },
    () =>
      `${report.approval!.auto ? 'auto-approved' : 'approved'} by ${report.approval!.approver}${report.approval!.force ? ' (force)' : ''}`,
  );

  const compensations: { what: string; run: () => Promise<unknown> }[] = [];
  const workloads = preflight.workloads.map((x) => ({ namespace: x.namespace, name: x.name }));
  // Everything this run creates or marks is named from the run (its run ID), the lock stays the
  // workflow ID; runs from before keep their names, so their histories replay.
  const runScoped = patched('failover-run-scoped');
  const thisRun = { workflowId: info.workflowId, runId: runScoped ? info.runId : undefined };
  // When the target's own time starts: every scale-up accepted (or, handing over, the first).
  let scaledUp = report.requestedAt;
  // A fence or scale-up that an abort cancels has stopped before its undo starts (else the two would
  // patch the same Deployments at once); runs from before did not wait, and replay so.
  const changing = handOver || patched('failover-cancel-waits') ? handing : change;
  // The two undos of a switch: the source's fence, the target's scale-up.
  const unfence = {
    what: `unfenced ${workloads.length} Deployments on '${input.from}'`,
    run: () => change.unfenceWorkloads({ cluster: input.from, workloads, ...thisRun }),
  };
  const deactivate = {
    what: `scaled ${workloads.length} Deployments on '${input.to}' back down`,
    run: () => change.deactivateWorkloads({ cluster: input.to, workloads, ...thisRun }),
  };
  try {
    if (handOver && runScoped) {
      // Pushed before either starts, and undone target first: the source serves again only once the target has stopped.
      compensations.push(unfence, deactivate);
      const stoppedBy = new Date(Date.now() + preflight.availableTimeoutSeconds * 1000).toISOString();
      const [, up] = await bothOrNeither(
        () =>
          steps.run(
            'fence',
            () => handing.fenceWorkloads({ cluster: input.from, workloads, ...thisRun, deadline: stoppedBy }),
            (r) => `${r.fenced.length} Deployments on '${input.from}' scaled to 0, no Pod serving`,
          ),
        () =>
          steps.run(
            'bring-up',
            () =>
              handing.activateAsSourceStops({
                cluster: input.to,
                source: input.from,
                workloads: preflight.workloads.map((x) => ({ namespace: x.namespace, name: x.name, replicas: x.replicas })),
                ...thisRun,
                // Later than the fence's: while the fence runs, only its failure ends the bring-up.
                deadline: new Date(Date.parse(stoppedBy) + 30_000).toISOString(),
              }),
            (r) =>
              `${r.activated.length} Deployments on '${input.to}' scaled up, each once its copy on '${input.from}' had stopped serving`,
          ),
        (which, by) => {
          const step = steps.all.find((s) => s.name === (which === 0 ? 'fence' : 'bring-up'))!;
          step.detail = `stopped: the ${which === 0 ? 'bring-up' : 'fence'} failed (${rootCause(by)})`;
        },
      );
      scaledUp = up.firstActivatedAt;
    } else {
      if (preflight.from.reachable) {
        // Pushed before fencing: a fence that failed part-way has still scaled some Deployments down.
        if (runScoped) compensations.push(unfence);
        // Fixed here, so an attempt retried after a worker crash still ends on time.
        const stoppedBy = new Date(Date.now() + preflight.availableTimeoutSeconds * 1000).toISOString();
        await steps.run(
          'fence',
          () => changing.fenceWorkloads({ cluster: input.from, workloads, ...thisRun, deadline: stoppedBy }),
          (r) => `${r.fenced.length} Deployments on '${input.from}' scaled to 0, no Pod serving`,
        );
        if (!runScoped) compensations.push(unfence);
      } else {
        steps.skip('fence', `'${input.from}' unreachable; proceeding on the forced approval of ${report.approval!.approver}`);
      }

      await steps.run(
        'bring-up',
        async () => {
          if (preflight.mode === 'restore') {
            let backupName = backup?.name;
            if (kind === 'failback') {
              // Carry the state home: a fresh backup of the app where it ran, restored over the fenced originals.
              const childId = runScoped ? failbackBackupWorkflowIdFor(info.workflowId, info.runId) : `${info.workflowId}/velero-backup`;
              const taken = await executeChild<typeof veleroBackup>('veleroBackup', {
                workflowId: childId,
                args: [{ cluster: input.from, includeNamespaces: preflight.namespaces }],
              });
              if (taken.phase !== 'Completed')
                throw ApplicationFailure.nonRetryable(
                  `Velero backup ${taken.name} of '${input.from}' ended ${taken.phase}`,
                  failureTypes.FailbackBackupFailed,
                );
              backupName = taken.name;
              const startedAt = taken.startTimestamp ?? report.requestedAt;
              report.backup = { name: taken.name, startedAt, ageSeconds: runScoped ? veleroAgeSeconds(startedAt, report.requestedAt) : 0 };
              await change.waitForVeleroBackupSync({
                cluster: input.to,
                veleroNamespace: velero.namespace,
                name: taken.name,
                location: velero.sourceLocation!,
                deadline: new Date(Date.now() + 300_000).toISOString(),
              });
            }
            const restoreName = runScoped ? runRestoreNameFor(info.workflowId, info.runId) : restoreNameFor(info.workflowId);
            await change.createVeleroRestore({
              cluster: input.to,
              veleroNamespace: velero.namespace,
              name: restoreName,
              backupName: backupName!,
              namespaceMapping: {},
              includedNamespaces: preflight.namespaces,
              excludedResources: derivedResourceNames,
              // What an earlier failover left on the target is older than the backup: overwrite it.
              existingResourcePolicy: kind === 'failback' || runScoped ? 'update' : undefined,
            });
            const restored = await change.waitForVeleroRestore({
              cluster: input.to,
              veleroNamespace: velero.namespace,
              name: restoreName,
              deadline: new Date(Date.now() + velero.timeoutSeconds * 1000).toISOString(),
              timeoutSeconds: velero.timeoutSeconds,
            });
            if (restored.phase !== 'Completed')
              throw ApplicationFailure.nonRetryable(
                `Velero restore ${restoreName} ended ${restored.phase}: ${restored.problems?.failureReason ?? restored.problems?.errors[0] ?? ''}`,
                failureTypes.RestoreFailed,
              );
          }
          compensations.push(deactivate);
          return changing.activateWorkloads({
            cluster: input.to,
            workloads: preflight.workloads.map((x) => ({ namespace: x.namespace, name: x.name, replicas: x.replicas })),
            ...thisRun,
          });
        },
        (r) => `${r.activated.length} Deployments on '${input.to}' scaled up`,
      );

      scaledUp = new Date().toISOString();
    }

    const available = await steps.run(
      'available',
      () =>
        change.waitWorkloadsAvailable({
          cluster: input.to,
          workloads,
          since: scaledUp,
          deadline: new Date(Date.now() + preflight.availableTimeoutSeconds * 1000).toISOString(),
        }),
      (a) => `all Available ${a.secondsSinceStart} s after scale-up`,
    );
    report.podsReadySeconds = available.secondsSinceStart;

    const traffic = proxyActivities<TrafficActivities>({
      startToCloseTimeout: `${preflight.traffic.timeoutSeconds + 5} seconds`,
      retry: {
        initialInterval: '1 second',
        backoffCoefficient: 2,
        maximumInterval: '10 seconds',
        maximumAttempts: preflight.traffic.attempts,
        nonRetryableErrorTypes: [
          failureTypes.TrafficSwitchRejected,
          failureTypes.KubernetesForbidden,
          failureTypes.UnknownApp,
          failureTypes.AppHasNoFailover,
          failureTypes.UnknownCluster,
        ],
      },
    });
    const decision = (to: string, from: string, why: string) => ({
      app: input.app,
      from,
      to,
      reason: why,
      idempotencyKey: `${info.workflowId}/${info.runId}/${to}`,
      workflowId: info.workflowId,
    });
    if (preflight.from.reachable) {
      // Pushed before the switch: a switch that failed may still have half-happened.
      compensations.push({
        what: `traffic switched back to '${input.from}'`,
        run: () => traffic.switchTraffic(decision(input.from, input.to, `rollback of ${kind}: ${input.reason}`)),
      });
    }
    await steps.run(
      'traffic',
      () => traffic.switchTraffic(decision(input.to, input.from, input.reason)),
      (t) => `${t.changed ? 'switched' : 'already'} to '${t.activeCluster}': ${t.detail}`,
    );

    await steps.run(
      'verify',
      async () => {
        await change.waitWorkloadsAvailable({
          cluster: input.to,
          workloads,
          since: scaledUp,
          deadline: new Date(Date.now() + 60_000).toISOString(),
        });
        const status = await read.trafficStatus({ app: input.app });
        if (status.activeCluster !== undefined && status.activeCluster !== input.to) {
          throw ApplicationFailure.nonRetryable(
            `traffic record points at '${status.activeCluster}', not '${input.to}': ${status.detail}`,
            failureTypes.TrafficNotSwitched,
          );
        }
        return status;
      },
      (s) =>
        `Deployments Available on '${input.to}'; traffic ${s.activeCluster ? `points at '${s.activeCluster}'` : `acknowledged (${s.detail})`}`,
    );
  } catch (err) {
    // An abort is no failure: switchSites reports who aborted.
    const aborting = isCancellation(err);
    if (!aborting) {
      const root = rootFailure(err);
      report.failure = root.message;
      // A type of the registry only: an error that outlasted its retries has its JavaScript name, not one.
      if ((Object.values(failureTypes) as string[]).includes(root.type ?? '')) report.failureType = root.type;
    }
    report.status = aborting ? 'aborted' : compensations.length ? 'rolled-back' : 'failed';
    // Compensate in reverse, even when the run itself is being cancelled.
    await CancellationScope.nonCancellable(async () => {
      for (const c of compensations.reverse()) {
        try {
          await c.run();
          report.rolledBack.push(c.what);
        } catch (undo) {
          report.rolledBack.push(`FAILED to undo (${c.what}): ${rootCause(undo)}`);
          report.status = 'failed';
        }
      }
    });
    steps.skipPending();
    if (isCancellation(err)) throw err;
    const rolled = report.rolledBack.length ? `; rolled back: ${report.rolledBack.join('; ')}` : '';
    throw ApplicationFailure.nonRetryable(
      `${kind} of ${input.app} from ${input.from} to ${input.to} failed: ${report.failure}${rolled}`,
      failureTypes.FailoverFailed,
      report,
    );
  }

  await steps.run(
    'report',
    () => {
      const verified = steps.all.find((s) => s.name === 'verify')!.finishedAt!;
      report.rtoSeconds = secondsBetween(report.requestedAt, verified);
      report.rpoSeconds = preflight.mode === 'restore' ? report.backup?.ageSeconds : 0;
      report.status = 'completed';
      return Promise.resolve();
    },
    () => `RTO ${report.rtoSeconds} s (objective ${preflight.objectives.rtoSeconds} s)`,
  );

  if (watchesSource) {
    report.status = 'watching-source';
    const watch = await steps.run(
      'watch',
      () => watchReturningSource(input, workloads, thisRun, preflight.availableTimeoutSeconds, report),
      describeWatch,
    );
    if (watch.state !== 'fenced') {
      report.status = 'source-unfenced';
      report.failureType = failureTypes.SourceNotFenced;
      throw ApplicationFailure.nonRetryable(
        `${kind} of ${input.app} switched to ${input.to}, but '${input.from}' was never fenced: ${watch.detail}. Both sites may serve. ` +
          `Fence it as soon as its API answers: ${watch.fenceCommand}`,
        failureTypes.SourceNotFenced,
        report,
      );
    }
    report.status = 'completed';
  }
  return report;
}

const describeWatch = (w: SourceWatch) =>
  w.state === 'fenced'
    ? `'${w.cluster}' answered at ${w.answeredAt}; its ${w.workloads} Deployments fenced by this run, no Pod serving`
    : `'${w.cluster}' NOT fenced: ${w.detail}`;

/**
 * The watch of a source a forced run could not fence: waits (a heartbeating activity, at most
 * `apps[].failover.returnWatch`) until its API answers, then fences it as a normal run does, with
 * this run's annotations. Its state is in the report (`sourceWatch`) throughout.
 */
async function watchReturningSource(
  input: FailoverInput,
  workloads: Workload[],
  thisRun: { workflowId: string; runId?: string },
  stopSeconds: number,
  report: FailoverReport,
): Promise<SourceWatch> {
  const plan = await read.sourceWatchPlan({ app: input.app, cluster: input.from, workloads });
  const since = Date.now();
  const w: SourceWatch = (report.sourceWatch = {
    cluster: input.from,
    state: 'watching',
    since: new Date(since).toISOString(),
    until: new Date(since + plan.limitSeconds * 1000).toISOString(),
    limitSeconds: plan.limitSeconds,
    workloads: workloads.length,
    fenceCommand: plan.fenceCommand,
  });
  // Retried across worker crashes for as long as the watch may last; each attempt resumes from the last heartbeat.
  const watcher = proxyActivities<FailoverWatchActivities>({
    scheduleToCloseTimeout: `${plan.limitSeconds + 300} seconds`,
    heartbeatTimeout: '10 seconds',
    retry: {
      initialInterval: '1 second',
      maximumInterval: '10 seconds',
      nonRetryableErrorTypes: [failureTypes.UnknownCluster, failureTypes.InvalidFailoverRequest],
    },
  });
  try {
    const seen = await watcher.watchForSourceApi({ cluster: input.from, workloads, deadline: w.until });
    if (!seen.answered) {
      w.state = 'limit-passed';
      w.detail = `its API did not answer within ${plan.limitSeconds} s (${seen.checks} checks since ${w.since}; last: ${seen.lastProblem ?? 'no answer'})`;
      return w;
    }
    w.answeredAt = seen.at;
  } catch (err) {
    if (isCancellation(err)) throw err;
    w.state = 'limit-passed';
    w.detail = `the watch of its API ended: ${rootCause(err)}`;
    return w;
  }
  try {
    await change.fenceWorkloads({
      cluster: input.from,
      workloads,
      ...thisRun,
      deadline: new Date(Date.now() + stopSeconds * 1000).toISOString(),
    });
    w.state = 'fenced';
    w.fencedAt = new Date().toISOString();
  } catch (err) {
    if (isCancellation(err)) throw err;
    w.state = 'fence-failed';
    w.detail = `its API answered at ${w.answeredAt}, but fencing failed: ${rootCause(err)}`;
  }
  return w;
}

/** Moves an app from its cluster to the standby (or between any two sites it is configured for). */
export async function failover(input: FailoverInput): Promise<FailoverReport> {
  return switchSites('failover', input);
}

/** Moves it back, carrying state home (a Velero backup on the standby restored to the primary in restore mode). */
export async function failback(input: FailoverInput): Promise<FailoverReport> {
  return switchSites('failback', input);
}
