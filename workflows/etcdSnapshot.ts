import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HealthActivities } from '../activities/index.js';
import type { EtcdSnapshotActivities, RetentionResult } from '../activities/etcd/snapshot.js';
import { describeRootFailure } from '../model/failure-chain.js';
import { legacySnapshotIdFor, maxStreamAttempts, snapshotIdFor, type SnapshotManifest } from '../model/snapshot-layout.js';
import type { Step } from '../model/steps.js';
import { Steps } from './steps.js';
import { failureTypes } from '../model/failures.js';

export interface EtcdSnapshotInput {
  cluster: string;
  /** Skip the retention step (e.g. for an ad-hoc snapshot before a risky change). Default: false. */
  skipRetention?: boolean;
}

export interface EtcdSnapshotResult {
  manifest: SnapshotManifest;
  retention?: RetentionResult;
  /** Retention failed; the snapshot itself is good. */
  retentionError?: string;
  steps: Step[];
}

const preflight = proxyActivities<HealthActivities>({ startToCloseTimeout: '45 seconds', retry: { maximumAttempts: 3 } });

// The stream heartbeats every second; 30 s of silence means the worker is gone and the attempt is
// retried (a fresh stream; the old parts are aborted first).
const stream = proxyActivities<EtcdSnapshotActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: maxStreamAttempts,
    nonRetryableErrorTypes: [
      failureTypes.EncryptionNotConfigured,
      failureTypes.EtcdTlsError,
      failureTypes.EtcdAuthError,
      failureTypes.ObjectStoreAccessDenied,
      failureTypes.ObjectStoreMisconfigured,
      failureTypes.UnknownCluster,
    ],
  },
});

const store = proxyActivities<EtcdSnapshotActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [
      failureTypes.StoredObjectMismatch,
      failureTypes.SnapshotIdCollision,
      failureTypes.ObjectStoreAccessDenied,
      failureTypes.ObjectStoreMisconfigured,
      failureTypes.UnknownCluster,
    ],
  },
});

export const etcdSnapshotSteps = ['preflight', 'stream', 'inventory', 'verify-upload', 'manifest', 'retention'] as const;

/** Streams an encrypted, verified etcd snapshot into the object store, writes its manifest, applies retention. */
export async function etcdSnapshot(input: EtcdSnapshotInput): Promise<EtcdSnapshotResult> {
  const info = workflowInfo();
  const steps = new Steps(etcdSnapshotSteps);
  const snapshotId = patched('snapshot-id-from-run-id-tail')
    ? snapshotIdFor(info.startTime, info.runId)
    : legacySnapshotIdFor(info.startTime, info.runId);
  const startedAt = new Date().toISOString();

  await steps.run(
    'preflight',
    async () => {
      const etcd = await preflight.checkEtcd({ cluster: input.cluster });
      // A member down with the quorum intact is when a backup matters most: take it from one that answers.
      if (!etcd.healthy && !etcd.quorum)
        throw ApplicationFailure.nonRetryable(
          `preflight: etcd of cluster '${input.cluster}' at ${etcd.address} is unhealthy: ${etcd.detail}`,
          failureTypes.PreflightFailed,
        );
      return etcd;
    },
    (etcd) => etcd.detail,
  );

  const upload = await steps.run(
    'stream',
    () => stream.streamEtcdSnapshot({ cluster: input.cluster, snapshotId }),
    (u) => `${u.plaintextBytes} bytes, stored ${u.storedBytes} encrypted with key ${u.keyId}`,
  );
  const inventory = await steps.run(
    'inventory',
    () => store.etcdInventory({ cluster: input.cluster, revision: upload.etcd.revisionAtStart }),
    (inv) => `${inv.totalKeys} keys at revision ${inv.revision}`,
  );
  await steps.run('verify-upload', () => store.verifyStoredSnapshot({ objectKey: upload.objectKey, storedBytes: upload.storedBytes }));

  const manifest: SnapshotManifest = {
    kind: 'lifeboat.etcd-snapshot',
    formatVersion: 1,
    cluster: input.cluster,
    snapshotId,
    status: 'uploaded',
    etcd: upload.etcd,
    object: {
      objectKey: upload.objectKey,
      plaintextBytes: upload.plaintextBytes,
      plaintextSha256: upload.plaintextSha256,
      storedBytes: upload.storedBytes,
      storedSha256: upload.storedSha256,
      etcdTrailerVerified: upload.etcdTrailerVerified,
    },
    encryption: { algorithm: 'AES-256-GCM-STREAM', keyId: upload.keyId, chunkSize: upload.chunkSize },
    inventory,
    startedAt,
    finishedAt: new Date().toISOString(),
    workflowId: info.workflowId,
    runId: info.runId,
  };
  // The manifest as stored, with its signature (histories from before signing returned nothing).
  const stored: SnapshotManifest | undefined = await steps.run('manifest', () => store.writeSnapshotManifest(manifest));

  const result: EtcdSnapshotResult = { manifest: stored ?? manifest, steps: steps.all };
  if (input.skipRetention) {
    steps.skip('retention', 'skipRetention requested');
    return result;
  }
  try {
    result.retention = await steps.run(
      'retention',
      () => store.applyEtcdRetention({ cluster: input.cluster, dryRun: false, now: new Date().toISOString() }),
      (r) => r.plan.refused ?? `kept ${r.plan.keep.length}, deleted ${r.plan.delete.length}`,
    );
  } catch (err) {
    // A retention failure never fails the backup that succeeded; its root cause says what went wrong.
    result.retentionError = describeRootFailure(err);
  }
  return result;
}

export interface PruneSnapshotsInput {
  cluster: string;
  dryRun: boolean;
}

/** `lifeboat snapshots prune`: retention on demand, with a dry run that only reports. */
export async function pruneEtcdSnapshots(input: PruneSnapshotsInput): Promise<RetentionResult> {
  return store.applyEtcdRetention({ cluster: input.cluster, dryRun: input.dryRun, now: new Date().toISOString() });
}
