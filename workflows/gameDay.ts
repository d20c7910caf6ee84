// The quarterly game day: prove, in parallel, that every configured cluster's etcd snapshots and every
// app's Velero backups restore; compare RTO and RPO with their objectives; write a report people read.
import { ParentClosePolicy, executeChild, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { GameDayActivities, GameDayPlan, GameDayPlanInput } from '../activities/object-store/gameday-reports.js';
import type { etcdSnapshot } from './etcdSnapshot.js';
import type { veleroBackup } from './veleroBackup.js';
import type { restoreVerification, RestoreVerificationInput } from './restoreVerification.js';
import { isFailoverReport, type failback, type failover, type FailoverReport } from './failover.js';
import { carriedDetails, describeRootFailure } from '../model/failure-chain.js';
import { gameDayIdFor } from '../model/gameday-layout.js';
import { gameDayApprover } from '../model/approvals.js';
import { Steps } from './steps.js';
import { type GameDayEntry, type GameDayReport, type VerificationResult } from '../model/verification.js';
import { failureTypes } from '../model/failures.js';
import { failoverWorkflowId } from '../model/workflow-ids.js';
import { failoverEntry, judged, type FailoverPhase } from '../model/gameday.js';

export interface GameDayInput extends GameDayPlanInput {
  /** Who started the game day (the CLI's Temporal client identity); its failovers name them as their requester. */
  requestedBy?: string;
}

export interface GameDayResult {
  report: GameDayReport;
  /** Where the report is: the object store keys, and the directory on the worker that wrote it. */
  stored: { bucket: string; keys: { json: string; markdown: string; html: string }; localDir: string };
}

const acts = proxyActivities<GameDayActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [failureTypes.UnknownGameDayTarget, failureTypes.EmptyGameDay],
  },
});

export const gameDaySteps = ['plan', 'prove', 'report'] as const;

/** The VerificationResult a failed verification carries, if it ran far enough to have one. */
const verificationOf = (err: unknown) => carriedDetails<VerificationResult>(err, ({ type }) => type === failureTypes.VerificationFailed);
const rootCause = describeRootFailure;

/** Runs every verification of the plan as child workflows, in parallel, and reports. */
export async function gameDay(input: GameDayInput = {}): Promise<GameDayResult> {
  const info = workflowInfo();
  const base = info.workflowId;
  const startedAt = new Date().toISOString();
  const steps = new Steps(gameDaySteps);
  // Cancelling the game day cancels its children, which then tear down their scratch restores.
  const child = { parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL };

  async function verify(entry: GameDayEntry, input: RestoreVerificationInput, workflowId: string): Promise<GameDayEntry> {
    try {
      return judged(entry, await executeChild<typeof restoreVerification>('restoreVerification', { ...child, workflowId, args: [input] }));
    } catch (err) {
      const v = verificationOf(err);
      return v ? judged(entry, v) : { ...entry, error: `verification ${workflowId} failed: ${rootCause(err)}` };
    }
  }

  async function proveEtcd(cluster: string, plan: GameDayPlan): Promise<GameDayEntry> {
    const entry: GameDayEntry = { name: `etcd/${cluster}`, kind: 'etcd', passed: false, rtoMet: false, rpoMet: false };
    let snapshotId: string | undefined;
    if (plan.freshBackups) {
      const workflowId = `${base}/etcd-snapshot/${cluster}`;
      try {
        const r = await executeChild<typeof etcdSnapshot>('etcdSnapshot', { ...child, workflowId, args: [{ cluster }] });
        snapshotId = r.manifest.snapshotId;
        entry.backup = {
          workflowId,
          id: snapshotId,
          passed: true,
          detail: `snapshot ${snapshotId}: ${r.manifest.object.plaintextBytes} bytes at revision ${r.manifest.etcd.revisionAtStart}`,
          steps: r.steps,
        };
      } catch (err) {
        return {
          ...entry,
          backup: { workflowId, passed: false, detail: rootCause(err), steps: [] },
          error: `etcd snapshot failed: ${rootCause(err)}`,
        };
      }
    }
    return verify(entry, { kind: 'etcd', cluster, snapshotId }, `${base}/verify-etcd/${cluster}`);
  }

  async function proveVelero(app: GameDayPlan['apps'][number], plan: GameDayPlan): Promise<GameDayEntry> {
    const entry: GameDayEntry = { name: `velero/${app.name}`, kind: 'velero', passed: false, rtoMet: false, rpoMet: false };
    let backupName: string | undefined;
    if (plan.freshBackups) {
      const workflowId = `${base}/velero-backup/${app.name}`;
      try {
        const r = await executeChild<typeof veleroBackup>('veleroBackup', { ...child, workflowId, args: [{ app: app.name }] });
        const passed = r.phase === 'Completed';
        entry.backup = {
          workflowId,
          id: r.name,
          passed,
          detail: `Backup ${r.name} ${r.phase}: ${r.itemsBackedUp}/${r.totalItems} items, ${r.warnings} warnings, ${r.errors} errors`,
          steps: r.steps,
        };
        if (!passed)
          return {
            ...entry,
            error: `Velero backup ${r.name} of ${app.name} ended ${r.phase}: ${r.problems?.failureReason ?? r.problems?.errors[0] ?? r.problems?.logErrors[0] ?? 'see its logs'}`,
          };
        backupName = r.name;
      } catch (err) {
        return {
          ...entry,
          backup: { workflowId, passed: false, detail: rootCause(err), steps: [] },
          error: `Velero backup failed: ${rootCause(err)}`,
        };
      }
    }
    return verify(entry, { kind: 'velero', app: app.name, backupName }, `${base}/verify-velero/${app.name}`);
  }

  /** Fails the app over to its standby and back, auto-approved: RTO measured against its objective. */
  async function proveFailover(app: NonNullable<GameDayPlan['failovers']>[number]): Promise<GameDayEntry> {
    const reason = `game day ${gameDayIdFor(base)}`;
    // Approved by the configuration (gameDay.failover), under the game day's own approver name, which a
    // failover takes only from a child of a game-day run: see model/approvals.ts.
    const autoApprove = { approver: gameDayApprover };
    const requestedBy = input.requestedBy ?? `gameday ${gameDayIdFor(base)}`;
    // The app's own failover lock: a game day never moves an app someone is moving by hand.
    const workflowId = failoverWorkflowId(app.name);
    const reportOf = (err: unknown) => carriedDetails<FailoverReport>(err, ({ detail }) => isFailoverReport(detail));
    const phases: FailoverPhase[] = [];
    for (const [kind, from, to] of [
      ['failover', app.from, app.to],
      ['failback', app.to, app.from],
    ] as const) {
      try {
        const r = await executeChild<typeof failover | typeof failback>(kind, {
          ...child,
          workflowId,
          args: [{ app: app.name, from, to, reason, autoApprove, requestedBy }],
        });
        phases.push({ name: kind, report: r });
      } catch (err) {
        phases.push({ name: kind, report: reportOf(err), error: rootCause(err) });
        break;
      }
    }
    return failoverEntry(app, phases, startedAt, new Date().toISOString());
  }

  const plan = await steps.run(
    'plan',
    () => acts.planGameDay(input),
    (p) =>
      `clusters ${p.clusters.join(', ') || '-'}; apps ${p.apps.map((a) => a.name).join(', ') || '-'}; ${p.freshBackups ? 'fresh backups' : 'newest existing backups'}; failovers ${(p.failovers ?? []).map((f) => f.name).join(', ') || '-'}`,
  );
  const entries = await steps.run(
    'prove',
    async () => {
      const proven = await Promise.all([...plan.clusters.map((c) => proveEtcd(c, plan)), ...plan.apps.map((a) => proveVelero(a, plan))]);
      // After the backups and restores: a failover fences the app whose backup is being taken.
      if (patched('gameday-failover')) for (const f of plan.failovers ?? []) proven.push(await proveFailover(f));
      return proven;
    },
    (es) => `${es.filter((e) => e.passed).length}/${es.length} passed`,
  );
  const report: GameDayReport = {
    kind: 'lifeboat.gameday-report',
    formatVersion: 1,
    id: gameDayIdFor(base),
    workflowId: base,
    runId: info.runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    passed: entries.every((e) => e.passed),
    entries,
  };
  const stored = await steps.run(
    'report',
    () => acts.storeGameDayReport(report),
    (s) => `s3://${s.bucket}/${s.keys.html} and ${s.localDir}`,
  );
  return { report, stored };
}
