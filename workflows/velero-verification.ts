import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { VeleroVerificationActivities } from '../activities/velero/restore-verification.js';
import { derivedResourceNames, restoreNameFor, scratchNamespaceFor } from '../model/velero-layout.js';
import { Steps } from './steps.js';
import { type VerificationCheck, type VerificationResult } from '../model/verification.js';
import { failureTypes } from '../model/failures.js';
import { secondsBetween } from '../model/durations.js';
import { rootFailure } from '../model/failure-chain.js';

export interface VeleroRestoreVerificationInput {
  app: string;
  /** A Backup on the app's cluster. Default: the newest Completed one of the app's namespaces. */
  backupName?: string;
}

/** How long the target cluster's Velero may take to sync a backup from the source's location (sync period 1 min by default). */
const syncTimeoutSeconds = 300;
/** How long deleting the scratch namespaces may take. */
const cleanupTimeoutSeconds = 300;

const nonRetryableErrorTypes = [
  failureTypes.UnknownApp,
  failureTypes.UnknownCluster,
  failureTypes.KubernetesForbidden,
  failureTypes.VeleroNameTaken,
  failureTypes.VeleroNotInstalled,
  failureTypes.VeleroLocationNotFound,
  failureTypes.NoVeleroBackup,
  failureTypes.VeleroBackupNotUsable,
  failureTypes.VeleroBackupNotSynced,
  failureTypes.VeleroRestoreNotConfigured,
  failureTypes.VeleroRestoreTimedOut,
  failureTypes.ScratchNamespaceTaken,
  failureTypes.ScratchCleanupTimedOut,
];

const config = proxyActivities<VeleroVerificationActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3 } });
const kube = proxyActivities<VeleroVerificationActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes },
});
/** A heartbeating wait that ends by itself at a deadline the workflow fixed (so a retried attempt keeps it). */
const waitUpTo = (seconds: number) =>
  proxyActivities<VeleroVerificationActivities>({
    startToCloseTimeout: `${seconds + 120} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes },
  });

export const veleroVerificationSteps = [
  'plan',
  'find-backup',
  'sync',
  'backup-files',
  'scratch',
  'restore',
  'restored-objects',
  'available',
  'app-checks',
  'cleanup',
] as const;

const deadlineIn = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

/**
 * Restores a Velero backup of an app into scratch namespaces on its verify cluster and proves it: the
 * Restore Completed, every backed-up object came back, the Deployments became Available, and the
 * app's own checks pass. The scratch namespaces are deleted in every outcome. Returns the
 * VerificationResult; a verification that does not pass fails with type VerificationFailed and the
 * result in its details.
 */
export async function veleroRestoreVerification(input: VeleroRestoreVerificationInput): Promise<VerificationResult> {
  const info = workflowInfo();
  const startedAt = new Date().toISOString();
  const steps = new Steps(veleroVerificationSteps);
  const plan = await steps.run(
    'plan',
    () => config.veleroVerificationPlan({ app: input.app }),
    (p) => `${p.app}: ${p.namespaces.join(', ')} on ${p.source.cluster}, verified on ${p.target.cluster}`,
  );
  const mapping = Object.fromEntries(plan.namespaces.map((ns) => [ns, scratchNamespaceFor(info.workflowId, ns)]));
  const scratch = Object.values(mapping);
  const target = { cluster: plan.target.cluster, veleroNamespace: plan.target.veleroNamespace };

  const checks: VerificationCheck[] = [];
  const result: VerificationResult = {
    kind: 'velero',
    subject: plan.app,
    sourceCluster: plan.source.cluster,
    restoredTo: plan.target.cluster,
    backup: { id: input.backupName ?? '', createdAt: '', location: `velero/${plan.source.storageLocation}` },
    passed: false,
    checks,
    steps: steps.all,
    rtoSeconds: 0,
    rpoSeconds: 0,
    objectives: plan.objectives,
    workflowId: info.workflowId,
    runId: info.runId,
    startedAt,
    finishedAt: '',
  };
  let stepFailure: string | undefined;
  try {
    const backup = await steps.run(
      'find-backup',
      () => kube.findVeleroBackup({ ...plan.source, namespaces: plan.namespaces, backupName: input.backupName }),
      (b) => `${b.name}, started ${b.startTimestamp}, ${b.itemsBackedUp} items`,
    );
    Object.assign(result.backup, { id: backup.name, createdAt: backup.startTimestamp ?? '', items: backup.itemsBackedUp });
    result.rpoSeconds = Math.max(0, (Date.parse(startedAt) - Date.parse(backup.startTimestamp ?? startedAt)) / 1000);

    await steps.run(
      'sync',
      () =>
        waitUpTo(syncTimeoutSeconds).waitForVeleroBackupSync({
          ...target,
          name: backup.name,
          location: plan.target.location,
          deadline: deadlineIn(syncTimeoutSeconds),
        }),
      (s) => `in location '${plan.target.location}' on ${plan.target.cluster} after ${s.syncedAfterSeconds.toFixed(1)} s`,
    );
    const files = await steps.run(
      'backup-files',
      () => kube.describeVeleroBackupFiles({ ...target, location: plan.target.location, name: backup.name }),
      (f) => `${f.files} files, ${f.sizeBytes} bytes at ${f.url}${f.podVolumeBackups ? `, ${f.podVolumeBackups} pod volume backups` : ''}`,
    );
    Object.assign(result.backup, { location: files.url, sizeBytes: files.sizeBytes });
    const excludedResources = derivedResourceNames.filter((r) => !(r === 'pods' && files.podVolumeBackups > 0));

    await steps.run(
      'scratch',
      () => kube.createScratchNamespaces({ cluster: target.cluster, namespaces: scratch }),
      () => scratch.join(', '),
    );
    const restoreName = restoreNameFor(info.workflowId);
    const restoreTimeout = plan.target.timeoutSeconds;
    const restore = await steps.run(
      'restore',
      async () => {
        await kube.createVeleroRestore({
          ...target,
          name: restoreName,
          backupName: backup.name,
          namespaceMapping: mapping,
          excludedResources,
        });
        return waitUpTo(restoreTimeout).waitForVeleroRestore({
          ...target,
          name: restoreName,
          deadline: deadlineIn(restoreTimeout),
          timeoutSeconds: restoreTimeout,
        });
      },
      (r) => `Restore ${restoreName}: ${r.phase}, ${r.itemsRestored}/${r.totalItems} items, ${r.warnings} warnings, ${r.errors} errors`,
    );
    const why =
      restore.problems &&
      [
        restore.problems.failureReason,
        ...(restore.problems.validationErrors ?? []),
        ...restore.problems.errors,
        ...restore.problems.logErrors,
      ]
        .filter(Boolean)
        .slice(0, 3)
        .join('; ');
    checks.push({
      name: 'restore-phase',
      passed: restore.phase === 'Completed',
      detail: `Restore ${restoreName} ${restore.phase}: ${restore.itemsRestored}/${restore.totalItems} items, ${restore.warnings} warnings, ${restore.errors} errors${why ? ` (${why})` : ''}`,
    });

    if (restore.phase !== 'Completed') {
      for (const s of ['restored-objects', 'available', 'app-checks'] as const) steps.skip(s, 'the restore did not complete');
    } else {
      checks.push(
        await steps.run(
          'restored-objects',
          () =>
            kube.checkRestoredObjects({
              ...target,
              location: plan.target.location,
              backupName: backup.name,
              namespaceMapping: mapping,
              excludedResources,
            }),
          (c) => c.detail,
        ),
      );
      const availableTimeout = plan.availableTimeoutSeconds;
      checks.push(
        ...(await steps.run(
          'available',
          () =>
            waitUpTo(availableTimeout).waitForDeploymentsAvailable({
              cluster: target.cluster,
              namespaces: scratch,
              deadline: deadlineIn(availableTimeout),
              timeoutSeconds: availableTimeout,
            }),
          (cs) => `${cs.filter((c) => c.passed).length}/${cs.length} Available`,
        )),
      );
      checks.push(
        ...(await steps.run(
          'app-checks',
          () =>
            kube.runVeleroAppChecks({
              sourceCluster: plan.source.cluster,
              targetCluster: target.cluster,
              checks: plan.checks,
              namespaceMapping: mapping,
            }),
          (cs) => `${cs.filter((c) => c.passed).length}/${cs.length} passed`,
        )),
      );
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    const failed = steps.all.find((s) => s.state === 'failed');
    // An activity's failure wraps the reason it gave; the innermost cause says what went wrong.
    const cause = rootFailure(err);
    if (failed) failed.detail = cause.message;
    stepFailure = `step ${failed?.name ?? 'unknown'} failed: ${cause.message}`;
    steps.skipPending('an earlier step failed', ['cleanup']);
  } finally {
    result.rtoSeconds = secondsBetween(startedAt, new Date().toISOString());
    // Scratch namespaces go in every outcome, also when the run is cancelled.
    await CancellationScope.nonCancellable(() =>
      steps.run(
        'cleanup',
        () =>
          waitUpTo(cleanupTimeoutSeconds).deleteScratchNamespaces({
            cluster: target.cluster,
            namespaces: scratch,
            deadline: deadlineIn(cleanupTimeoutSeconds),
          }),
        (c) => `deleted ${c.deleted.join(', ') || 'nothing (none were created)'} in ${c.seconds.toFixed(1)} s`,
      ),
    ).catch((err: unknown) => {
      checks.push({ name: 'scratch-cleanup', passed: false, detail: (err as Error).message });
    });
    result.finishedAt = new Date().toISOString();
  }

  const failedCheck = checks.find((c) => !c.passed);
  result.passed = !stepFailure && !failedCheck;
  if (!result.passed) {
    result.failureReason = stepFailure ?? `${failedCheck!.name}: ${failedCheck!.detail}`;
    throw ApplicationFailure.nonRetryable(result.failureReason, failureTypes.VerificationFailed, result);
  }
  return result;
}
