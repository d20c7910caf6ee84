// Restore verification: proof that a backup restores. Two kinds: an etcd snapshot restored into a
// scratch etcd and kube-apiserver on the worker, and a Velero backup restored into another cluster.
import { ApplicationFailure, CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { EtcdRestoreActivities, ScratchRestoreResult } from '../activities/scratch/etcd-restore.js';
import type { ObjectRef } from '../worker/config.js';
import { Steps } from './steps.js';
import { veleroRestoreVerification, type VeleroRestoreVerificationInput } from './velero-verification.js';
import type { VerificationResult } from '../model/verification.js';
import { failureTypes } from '../model/failures.js';
import { secondsBetween } from '../model/durations.js';

export interface EtcdVerificationInput {
  kind: 'etcd';
  cluster: string;
  /** Default: the newest snapshot that is uploaded or verified. */
  snapshotId?: string;
  /** Checked in addition to the cluster's configured objects. */
  objects?: ObjectRef[];
}

export type RestoreVerificationInput = EtcdVerificationInput | ({ kind: 'velero' } & VeleroRestoreVerificationInput);

const plan = proxyActivities<EtcdRestoreActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [failureTypes.NoSnapshotToVerify, failureTypes.SnapshotNotFound, failureTypes.UnknownCluster],
  },
});

// The restore heartbeats at least every 5 s; 30 s of silence means its worker is gone, and the next
// attempt first stops whatever the last one left in the same scratch directory.
const scratch = proxyActivities<EtcdRestoreActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '5 seconds',
    maximumInterval: '1 minute',
    maximumAttempts: 4,
    nonRetryableErrorTypes: [failureTypes.ScratchToolMissing, failureTypes.EncryptionNotConfigured, failureTypes.UnknownCluster],
  },
});

const record = proxyActivities<EtcdRestoreActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export const etcdVerificationSteps = [
  'select',
  'fetch',
  'restore-db',
  'start-etcd',
  'check-inventory',
  'start-apiserver',
  'check-objects',
  'teardown',
  'record',
] as const;

/** The scratch directory's name: from the workflow ID (a retry finds it) and the run (a re-run does not). */
export const scratchIdFor = (workflowId: string, runId: string) =>
  `${workflowId.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 80)}-${runId.replace(/-/g, '').slice(-12)}`;

async function etcdRestoreVerification(input: EtcdVerificationInput): Promise<VerificationResult> {
  const info = workflowInfo();
  const steps = new Steps(etcdVerificationSteps);
  const startedAt = new Date().toISOString();
  const p = await steps.run(
    'select',
    () => plan.planEtcdVerification({ cluster: input.cluster, snapshotId: input.snapshotId }),
    (x) => `snapshot ${x.snapshot.snapshotId} (${x.snapshot.status}), taken ${x.snapshot.startedAt}`,
  );
  const objects = [...p.objects, ...(input.objects ?? [])];
  const scratchId = scratchIdFor(info.workflowId, info.runId);

  let restore: ScratchRestoreResult;
  steps.begin('fetch');
  try {
    restore = await scratch.restoreSnapshotInScratch({ cluster: input.cluster, snapshotId: p.snapshot.snapshotId, scratchId, objects });
  } catch (err) {
    steps.absorb([{ name: 'fetch', state: 'failed', finishedAt: new Date().toISOString(), detail: (err as Error).message }]);
    throw err;
  } finally {
    // Belt and braces: the activity tears down in every outcome, but not when its worker was killed.
    await CancellationScope.nonCancellable(() => scratch.removeVerificationScratch({ scratchId }));
  }
  steps.absorb(restore.steps);
  steps.skipPending(undefined, ['record']);

  const verifiedAt =
    restore.steps.find((s) => s.name === 'check-objects')?.finishedAt ??
    restore.steps.find((s) => s.state === 'failed')?.finishedAt ??
    new Date().toISOString();
  const result: VerificationResult = {
    kind: 'etcd',
    subject: input.cluster,
    sourceCluster: input.cluster,
    restoredTo: 'scratch',
    backup: {
      id: p.snapshot.snapshotId,
      createdAt: p.snapshot.startedAt,
      location: `s3:${p.snapshot.objectKey}`,
      sizeBytes: p.snapshot.plaintextBytes,
      items: p.snapshot.inventoryKeys,
    },
    passed: restore.passed,
    failureReason: restore.failureReason,
    checks: restore.checks,
    steps: steps.all,
    rtoSeconds: secondsBetween(startedAt, verifiedAt),
    rpoSeconds: secondsBetween(p.snapshot.startedAt, startedAt),
    objectives: p.objectives,
    workflowId: info.workflowId,
    runId: info.runId,
    startedAt,
    finishedAt: startedAt,
  };
  await steps.run(
    'record',
    () =>
      record.recordSnapshotVerification({
        cluster: input.cluster,
        snapshotId: p.snapshot.snapshotId,
        passed: restore.passed,
        verification: {
          at: verifiedAt,
          result: restore.passed ? 'verified' : `failed: ${restore.failureReason}`,
          workflowId: info.workflowId,
          runId: info.runId,
          rtoSeconds: result.rtoSeconds,
          checks: { passed: restore.checks.filter((c) => c.passed).length, total: restore.checks.length },
        },
      }),
    () => `manifest marked ${restore.passed ? 'verified' : 'failed'}`,
  );
  result.finishedAt = new Date().toISOString();
  if (!result.passed)
    throw ApplicationFailure.nonRetryable(
      `etcd snapshot ${p.snapshot.snapshotId} of ${input.cluster} did not verify: ${result.failureReason}`,
      failureTypes.VerificationFailed,
      result,
    );
  return result;
}

/** Proves a backup restores; fails with type VerificationFailed (details: the result) when it does not. */
export async function restoreVerification(input: RestoreVerificationInput): Promise<VerificationResult> {
  return input.kind === 'velero'
    ? veleroRestoreVerification({ app: input.app, backupName: input.backupName })
    : etcdRestoreVerification(input);
}
