import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { VeleroActivities, VeleroBackupInput } from '../activities/velero/backup.js';
import { backupNameFor, type VeleroBackupStatus, type VeleroProblems } from '../model/velero-layout.js';
import type { Step } from '../model/steps.js';
import { Steps } from './steps.js';
import { failureTypes } from '../model/failures.js';

export type { VeleroBackupInput };

/** The Backup's final status (name derived from the workflow ID; phase Completed, PartiallyFailed, Failed or FailedValidation) and where it ran. */
export interface VeleroBackupResult extends VeleroBackupStatus {
  cluster: string;
  veleroNamespace: string;
  storageLocation: string;
  /** False when a retry found the Backup an earlier attempt (or run with this workflow ID) created. */
  created: boolean;
  /** Velero's reasons, when the Backup did not complete or completed with warnings. */
  problems?: VeleroProblems;
  steps: Step[];
}

const config = proxyActivities<VeleroActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3 } });

const kube = proxyActivities<VeleroActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [
      failureTypes.VeleroNameTaken,
      failureTypes.VeleroNotInstalled,
      failureTypes.KubernetesForbidden,
      failureTypes.VeleroBackupGone,
      failureTypes.VeleroLocationNotFound,
      failureTypes.UnknownCluster,
    ],
  },
});

export const veleroBackupSteps = ['resolve', 'create', 'wait', 'report'] as const;

/** Takes a Velero Backup named after the run, waits for Velero to finish it, and reports Velero's reasons when it did not complete cleanly. */
export async function veleroBackup(input: VeleroBackupInput): Promise<VeleroBackupResult> {
  const steps = new Steps(veleroBackupSteps);
  const name = backupNameFor(workflowInfo().workflowId);
  const plan = await steps.run(
    'resolve',
    () => config.resolveVeleroBackup(input),
    (p) =>
      `cluster ${p.cluster}, namespaces ${p.spec.includedNamespaces?.join(',') ?? '*'}, location ${p.spec.storageLocation}, timeout ${p.timeoutSeconds} s`,
  );
  const where = { cluster: plan.cluster, veleroNamespace: plan.veleroNamespace, name };
  const created = await steps.run(
    'create',
    () => kube.createVeleroBackup({ ...where, spec: plan.spec }),
    (c) => `${c.created ? 'created' : 'found its own'} Backup ${plan.veleroNamespace}/${name}`,
  );

  // The deadline is fixed here, so an attempt retried after a worker crash still ends on time.
  const deadline = new Date(Date.now() + plan.timeoutSeconds * 1000).toISOString();
  const wait = proxyActivities<VeleroActivities>({
    startToCloseTimeout: `${plan.timeoutSeconds + 120} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '2 seconds',
      maximumInterval: '30 seconds',
      maximumAttempts: 10,
      nonRetryableErrorTypes: [
        failureTypes.VeleroBackupTimedOut,
        failureTypes.VeleroBackupGone,
        failureTypes.KubernetesForbidden,
        failureTypes.UnknownCluster,
      ],
    },
  });
  const status = await steps.run(
    'wait',
    () => wait.waitForVeleroBackup({ ...where, deadline, timeoutSeconds: plan.timeoutSeconds }),
    (s) => `${s.phase}: ${s.itemsBackedUp}/${s.totalItems} items, ${s.warnings} warnings, ${s.errors} errors`,
  );

  const result: VeleroBackupResult = {
    ...status,
    cluster: plan.cluster,
    veleroNamespace: plan.veleroNamespace,
    storageLocation: plan.spec.storageLocation,
    created: created.created,
    steps: steps.all,
  };
  if (status.phase === 'Completed' && status.warnings === 0 && status.errors === 0) {
    steps.skip('report', 'completed cleanly');
    return result;
  }
  result.problems = await steps.run(
    'report',
    () => kube.veleroBackupProblems(where),
    (p) => p.failureReason ?? p.validationErrors?.join('; ') ?? p.errors[0] ?? p.logErrors[0] ?? p.warnings[0] ?? 'no reason recorded',
  );
  return result;
}
