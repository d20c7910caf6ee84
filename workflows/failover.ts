// Failover and failback: move an app from one cluster to the other so that two sites never serve at
// once. Preflight, a plan, an approval, fencing of the source, the app up on the target, traffic
// switched, verified, reported; a failure after fencing compensates in reverse (a saga), unless the
// source was unreachable to begin with.
import {
  ApplicationFailure, CancellationScope, condition, defineQuery, defineUpdate, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { FailoverActivities, FailoverPreflight, Workload } from '../activities/failover.js';
import type { createTrafficActivities } from '../activities/traffic.js';
import type { VeleroVerificationActivities } from '../activities/velero-verification.js';
import type { veleroBackup } from './veleroBackup.js';
import { restoreNameFor } from './velero-layout.js';
import { Steps, type Step } from './steps.js';
import { rootFailure } from './failure-chain.js';

type TrafficActivities = ReturnType<typeof createTrafficActivities>;

export interface FailoverInput {
  app: string;
  from: string;
  to: string;
  /** Why: recorded in the plan, the traffic decision and the report. */
  reason: string;
  /** Preflight and plan only; nothing is changed. */
  dryRun?: boolean;
  /** Approve at once (game days, tests). */
  autoApprove?: { approver: string; force?: boolean };
}

export interface ApproveRequest {
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

export interface FailoverReport {
  kind: 'failover' | 'failback';
  app: string;
  from: string;
  to: string;
  reason: string;
  status: 'planned' | 'awaiting-approval' | 'in-progress' | 'completed' | 'rolled-back' | 'failed';
  requestedAt: string;
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
  /** Time the target spent getting Pods Ready: from every scale-up accepted to all Available. */
  podsReadySeconds?: number;
  rolledBack: string[];
  failure?: string;
  workflowId: string;
  runId: string;
}

/** A failed run carries its report as its failure's details. */
export const isFailoverReport = (d: unknown): d is FailoverReport => Boolean((d as FailoverReport | undefined)?.steps && (d as FailoverReport).app);

export const approveUpdate = defineUpdate<Approval, [ApproveRequest]>('approve');
export const reportQuery = defineQuery<FailoverReport>('report');

export const failoverSteps = ['preflight', 'plan', 'approval', 'fence', 'bring-up', 'available', 'traffic', 'verify', 'report'] as const;

const read = proxyActivities<FailoverActivities & VeleroVerificationActivities & TrafficActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['UnknownApp', 'AppHasNoFailover', 'InvalidFailoverRequest', 'KubernetesForbidden', 'UnknownCluster', 'NoVeleroBackup'] },
});

// Changes to the clusters: retried until the API answers (a flaky API never loses the step), each
// attempt idempotent through its annotations.
// They heartbeat per object and per poll: 10 s of silence means the worker is gone.
const change = proxyActivities<FailoverActivities & VeleroVerificationActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '15 seconds', maximumAttempts: 20, nonRetryableErrorTypes: ['KubernetesForbidden', 'WorkloadMissing', 'UnknownCluster', 'VeleroNameTaken'] },
});

const rootCause = (err: unknown) => rootFailure(err).message;

const seconds = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;
const w = (x: Workload) => `${x.namespace}/${x.name}`;

function planOf(kind: FailoverReport['kind'], input: FailoverInput, p: FailoverPreflight, backupName?: string): PlannedChange[] {
  const plan: PlannedChange[] = [];
  if (p.from.reachable) {
    for (const x of p.workloads) plan.push({ step: 'fence', cluster: input.from, change: `scale Deployment ${w(x)} to 0 (annotated ${'lifeboat.io/fenced-by'}, replicas recorded)` });
  } else {
    plan.push({ step: 'fence', cluster: input.from, change: `cannot fence: the API of '${input.from}' is unreachable (${p.from.detail}); proceeds only with a forced approval` });
  }
  if (p.mode === 'restore') {
    plan.push({ step: 'bring-up', cluster: input.to, change: `${kind === 'failback' ? `take a Velero backup of ${input.app} on '${input.from}', then ` : ''}restore Velero backup ${backupName ?? '(newest Completed)'} of the app's namespaces` });
  }
  for (const x of p.workloads) plan.push({ step: 'bring-up', cluster: input.to, change: `scale Deployment ${w(x)} to ${x.replicas} (from ${x.replicasFrom})` });
  plan.push({ step: 'available', cluster: input.to, change: `wait until ${p.workloads.length} Deployments are Available (at most ${p.availableTimeoutSeconds} s)` });
  plan.push({ step: 'traffic', cluster: input.to, change: p.traffic.description });
  plan.push({ step: 'verify', cluster: input.to, change: 'Deployments Available and the traffic record pointing here' });
  return plan;
}

/** Shared by failover and failback: the same run in either direction. */
async function switchSites(kind: FailoverReport['kind'], input: FailoverInput): Promise<FailoverReport> {
  const info = workflowInfo();
  const steps = new Steps(failoverSteps);
  const report: FailoverReport = {
    kind, app: input.app, from: input.from, to: input.to, reason: input.reason, status: 'in-progress', requestedAt: new Date().toISOString(),
    plan: [], steps: steps.all, rolledBack: [], workflowId: info.workflowId, runId: info.runId,
  };
  setHandler(reportQuery, () => report);
  let awaiting = false;
  setHandler(approveUpdate, (request) => {
    report.approval = { ...request, force: request.force ?? false, at: new Date().toISOString(), auto: false };
    return report.approval;
  }, {
    validator: (request: ApproveRequest | undefined) => {
      if (typeof request?.approver !== 'string' || !request.approver.trim()) throw new Error('approve needs the approver\'s name');
      if (!awaiting) throw new Error(report.approval ? `already approved by ${report.approval.approver}` : `not waiting for an approval (status ${report.status})`);
      if (report.preflight && !report.preflight.from.reachable && !request.force) {
        throw new Error(`'${input.from}' is unreachable and cannot be fenced: approve with force to proceed anyway`);
      }
    },
  });

  const preflight = await steps.run('preflight', () => read.preflightFailover({ app: input.app, from: input.from, to: input.to }),
    (p) => `${input.to}: ${p.to.detail}; ${input.from}: ${p.from.reachable ? p.from.detail : 'unreachable'}; capacity ${p.capacity.ok ? 'ok' : 'short'}`);
  report.preflight = preflight;
  let backup: { name: string; startTimestamp?: string } | undefined;
  const velero = preflight.velero;
  if (preflight.mode === 'restore' && kind === 'failover' && velero.sourceLocation) {
    // The newest backup of the app, as the target sees it through its location for the source.
    const found = await read.findVeleroBackup({ cluster: input.to, veleroNamespace: velero.namespace, storageLocation: velero.sourceLocation, namespaces: preflight.namespaces });
    backup = { name: found.name, startTimestamp: found.startTimestamp };
    const age = seconds(found.startTimestamp!, report.requestedAt);
    report.backup = { name: found.name, startedAt: found.startTimestamp!, ageSeconds: age };
    if (age > preflight.objectives.rpoSeconds) preflight.warnings.push(`the newest backup ${found.name} is ${age} s old: the RPO objective of ${preflight.objectives.rpoSeconds} s will be missed`);
  }
  report.plan = await steps.run('plan', () => Promise.resolve(planOf(kind, input, preflight, backup?.name)), (p) => `${p.length} changes`);
  if (preflight.blockers.length) {
    report.status = 'failed';
    report.failure = `preflight: ${preflight.blockers.join('; ')}`;
    steps.skipPending('preflight blocked the run');
    throw ApplicationFailure.nonRetryable(`${kind} of ${input.app} from ${input.from} to ${input.to} stopped at preflight, nothing was changed: ${preflight.blockers.join('; ')}`, 'PreflightFailed', report);
  }
  if (input.dryRun) {
    report.status = 'planned';
    steps.skipPending('dry run');
    return report;
  }

  await steps.run('approval', async () => {
    if (input.autoApprove) {
      if (!preflight.from.reachable && !input.autoApprove.force) {
        report.status = 'failed';
        report.failure = `'${input.from}' is unreachable and cannot be fenced; auto-approval did not say force`;
        throw ApplicationFailure.nonRetryable(`'${input.from}' is unreachable and cannot be fenced; auto-approval did not say force`, 'ForceRequired', report);
      }
      report.approval = { approver: input.autoApprove.approver, force: input.autoApprove.force ?? false, at: new Date().toISOString(), auto: true };
      return;
    }
    report.status = 'awaiting-approval';
    awaiting = true;
    const approved = await condition(() => report.approval !== undefined, preflight.approvalTimeoutSeconds * 1000);
    awaiting = false;
    if (!approved) {
      report.status = 'failed';
      report.failure = `no approval within ${preflight.approvalTimeoutSeconds} s`;
      throw ApplicationFailure.nonRetryable(`no approval within ${preflight.approvalTimeoutSeconds} s; nothing was changed`, 'ApprovalTimedOut', report);
    }
    report.status = 'in-progress';
  }, () => `${report.approval!.auto ? 'auto-approved' : 'approved'} by ${report.approval!.approver}${report.approval!.force ? ' (force)' : ''}`);

  const compensations: { what: string; run: () => Promise<unknown> }[] = [];
  const workloads = preflight.workloads.map((x) => ({ namespace: x.namespace, name: x.name }));
  try {
    if (preflight.from.reachable) {
      await steps.run('fence', () => change.fenceWorkloads({ cluster: input.from, workloads, workflowId: info.workflowId }),
        (r) => `${r.fenced.length} Deployments on '${input.from}' scaled to 0`);
      compensations.push({ what: `unfenced ${workloads.length} Deployments on '${input.from}'`, run: () => change.unfenceWorkloads({ cluster: input.from, workloads, workflowId: info.workflowId }) });
    } else {
      steps.skip('fence', `'${input.from}' unreachable; proceeding on the forced approval of ${report.approval!.approver}`);
    }

    await steps.run('bring-up', async () => {
      if (preflight.mode === 'restore') {
        let backupName = backup?.name;
        if (kind === 'failback') {
          // Carry the state home: a fresh backup of the app where it ran, restored over the fenced originals.
          const taken = await executeChild<typeof veleroBackup>('veleroBackup', { workflowId: `${info.workflowId}/velero-backup`, args: [{ cluster: input.from, includeNamespaces: preflight.namespaces }] });
          if (taken.phase !== 'Completed') throw ApplicationFailure.nonRetryable(`Velero backup ${taken.name} of '${input.from}' ended ${taken.phase}`, 'FailbackBackupFailed');
          backupName = taken.name;
          report.backup = { name: taken.name, startedAt: taken.startTimestamp ?? report.requestedAt, ageSeconds: 0 };
          await change.waitForVeleroBackupSync({ cluster: input.to, veleroNamespace: velero.namespace, name: taken.name, location: velero.sourceLocation!, deadline: new Date(Date.now() + 300_000).toISOString() });
        }
        const restoreName = restoreNameFor(info.workflowId);
        await change.createVeleroRestore({
          cluster: input.to, veleroNamespace: velero.namespace, name: restoreName, backupName: backupName!, namespaceMapping: {},
          includedNamespaces: preflight.namespaces, excludedResources: ['pods', 'replicasets.apps', 'endpoints', 'endpointslices.discovery.k8s.io'],
          existingResourcePolicy: kind === 'failback' ? 'update' : undefined,
        });
        const restored = await change.waitForVeleroRestore({ cluster: input.to, veleroNamespace: velero.namespace, name: restoreName, deadline: new Date(Date.now() + velero.timeoutSeconds * 1000).toISOString(), timeoutSeconds: velero.timeoutSeconds });
        if (restored.phase !== 'Completed') throw ApplicationFailure.nonRetryable(`Velero restore ${restoreName} ended ${restored.phase}: ${restored.problems?.failureReason ?? restored.problems?.errors[0] ?? ''}`, 'RestoreFailed');
      }
      compensations.push({ what: `scaled ${workloads.length} Deployments on '${input.to}' back down`, run: () => change.deactivateWorkloads({ cluster: input.to, workloads, workflowId: info.workflowId }) });
      return change.activateWorkloads({ cluster: input.to, workloads: preflight.workloads.map((x) => ({ namespace: x.namespace, name: x.name, replicas: x.replicas })), workflowId: info.workflowId });
    }, (r) => `${r.activated.length} Deployments on '${input.to}' scaled up`);

    // The clusters' own time starts once every scale-up has been accepted.
    const scaledUp = new Date().toISOString();
    const available = await steps.run('available', () => change.waitWorkloadsAvailable({
      cluster: input.to, workloads, since: scaledUp, deadline: new Date(Date.now() + preflight.availableTimeoutSeconds * 1000).toISOString(),
    }), (a) => `all Available ${a.secondsSinceStart} s after scale-up`);
    report.podsReadySeconds = available.secondsSinceStart;

    const traffic = proxyActivities<TrafficActivities>({
      startToCloseTimeout: `${preflight.traffic.timeoutSeconds + 5} seconds`,
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: preflight.traffic.attempts, nonRetryableErrorTypes: ['TrafficSwitchRejected', 'KubernetesForbidden', 'UnknownApp', 'AppHasNoFailover', 'UnknownCluster'] },
    });
    const decision = (to: string, from: string, why: string) => ({ app: input.app, from, to, reason: why, idempotencyKey: `${info.workflowId}/${info.runId}/${to}`, workflowId: info.workflowId });
    if (preflight.from.reachable) {
      // Pushed before the switch: a switch that failed may still have half-happened.
      compensations.push({ what: `traffic switched back to '${input.from}'`, run: () => traffic.switchTraffic(decision(input.from, input.to, `rollback of ${kind}: ${input.reason}`)) });
    }
    await steps.run('traffic', () => traffic.switchTraffic(decision(input.to, input.from, input.reason)), (t) => `${t.changed ? 'switched' : 'already'} to '${t.activeCluster}': ${t.detail}`);

    await steps.run('verify', async () => {
      await change.waitWorkloadsAvailable({ cluster: input.to, workloads, since: scaledUp, deadline: new Date(Date.now() + 60_000).toISOString() });
      const status = await read.trafficStatus({ app: input.app });
      if (status.activeCluster !== undefined && status.activeCluster !== input.to) {
        throw ApplicationFailure.nonRetryable(`traffic record points at '${status.activeCluster}', not '${input.to}': ${status.detail}`, 'TrafficNotSwitched');
      }
      return status;
    }, (s) => `Deployments Available on '${input.to}'; traffic ${s.activeCluster ? `points at '${s.activeCluster}'` : `acknowledged (${s.detail})`}`);
  } catch (err) {
    report.failure = rootCause(err);
    report.status = compensations.length ? 'rolled-back' : 'failed';
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
    throw ApplicationFailure.nonRetryable(`${kind} of ${input.app} from ${input.from} to ${input.to} failed: ${report.failure}${rolled}`, 'FailoverFailed', report);
  }

  await steps.run('report', () => {
    const verified = steps.all.find((s) => s.name === 'verify')!.finishedAt!;
    report.rtoSeconds = seconds(report.requestedAt, verified);
    report.rpoSeconds = preflight.mode === 'restore' ? report.backup?.ageSeconds : 0;
    report.status = 'completed';
    return Promise.resolve();
  }, () => `RTO ${report.rtoSeconds} s (objective ${preflight.objectives.rtoSeconds} s)`);
  return report;
}

/** Moves an app from its cluster to the standby (or between any two sites it is configured for). */
export async function failover(input: FailoverInput): Promise<FailoverReport> {
  return switchSites('failover', input);
}

/** Moves it back, carrying state home (a Velero backup on the standby restored to the primary in restore mode). */
export async function failback(input: FailoverInput): Promise<FailoverReport> {
  return switchSites('failback', input);
}
