// Activities of the etcdSnapshot runbook: stream a snapshot into the object store, take the inventory,
// check what was stored, write the manifest, apply retention.
import { ApplicationFailure, Context, CancelledFailure } from '@temporalio/activity';
import { AbortMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ActivityDeps } from '../deps.js';
import type { KeyRing } from '../../worker/keys.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { withEtcdClient } from './client.js';
import { countRegistry } from './inventory.js';
import { etcdEndpointAnswers, followsLeader, snapshotSourceMember } from './health.js';
import type { EtcdMemberStatus } from '../../model/health.js';
import { planRetention, type RetentionPlan, type SnapshotRecord } from '../../model/retention.js';
import { SnapshotChecksumError, streamDefaults, streamSnapshotToStore, type StreamProgress } from './snapshot-stream.js';
import {
  maxStreamAttempts,
  snapshotManifestKey,
  snapshotObjectKey,
  snapshotPrefix,
  type Inventory,
  type SnapshotManifest,
  type SnapshotUpload,
} from '../../model/snapshot-layout.js';
import { deleteObjects, listManifests, ManifestCollisionError, writeManifest, type DeleteOutcome } from '../object-store/manifests.js';
import { deleteAllVersions, objectLockHolds, objectLockParams, type ObjectLockHold } from '../object-store/object-lock.js';
import { manifestFailure } from '../object-store/manifest-mac.js';
import { failureTypes } from '../../model/failures.js';

const nonRetryableS3 = new Map<string, string>([
  ['AccessDenied', failureTypes.ObjectStoreAccessDenied],
  ['InvalidAccessKeyId', failureTypes.ObjectStoreAccessDenied],
  ['SignatureDoesNotMatch', failureTypes.ObjectStoreAccessDenied],
  ['NoSuchBucket', failureTypes.ObjectStoreMisconfigured],
  ['InvalidBucketName', failureTypes.ObjectStoreMisconfigured],
]);

/** Turns what went wrong into a retryable error, or a typed non-retryable one with a clear message. */
export function classifySnapshotError(err: unknown, where: { cluster: string; endpoints: string; bucket: string }): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const e = err as Error & { code?: number | string; details?: string; $metadata?: unknown };
  const text = `${e.message ?? ''} ${e.details ?? ''}`;
  if (err instanceof SnapshotChecksumError) return ApplicationFailure.retryable(err.message, failureTypes.SnapshotChecksumMismatch);
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
    return ApplicationFailure.nonRetryable(
      `etcd client certificate files for cluster '${where.cluster}': ${e.message}`,
      failureTypes.EtcdTlsError,
    );
  }
  // A connection lost during the handshake (a member that died or is starting, a proxy in front of one)
  // is the network, which a retry may find healed; a refused certificate is not.
  const lostConnection = /socket disconnected before secure TLS connection|ECONNRESET|ECONNREFUSED|socket hang up/i.test(text);
  if (!lostConnection && /certificate|handshake|tls|ssl|x509|self.signed|PEM|key values mismatch/i.test(text) && !e.$metadata) {
    return ApplicationFailure.nonRetryable(
      `TLS to etcd of cluster '${where.cluster}' at ${where.endpoints} failed: ${text.trim()}`,
      failureTypes.EtcdTlsError,
    );
  }
  if (/PERMISSION_DENIED|UNAUTHENTICATED|permission denied|authentication/i.test(text) && !e.$metadata) {
    return ApplicationFailure.nonRetryable(
      `etcd of cluster '${where.cluster}' refused the client: ${text.trim()}`,
      failureTypes.EtcdAuthError,
    );
  }
  const s3Type = nonRetryableS3.get(e.name);
  if (s3Type) return ApplicationFailure.nonRetryable(`object store bucket '${where.bucket}': ${e.name}: ${e.message}`, s3Type);
  return err as Error;
}

/**
 * Aborts multipart uploads left by crashed attempts, optionally only those started before `olderThan`.
 * S3 lists uploads by prefix; MinIO only by exact object key, so callers also name every key they know.
 */
export async function abortIncompleteUploads(
  s3: S3Client,
  bucket: string,
  where: { prefix?: string; keys?: string[] },
  olderThan?: Date,
): Promise<string[]> {
  const aborted = new Map<string, string>();
  for (const prefix of [...(where.prefix ? [where.prefix] : []), ...(where.keys ?? [])]) {
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, ...markers }));
      for (const u of page.Uploads ?? []) {
        if (aborted.has(u.UploadId!) || (olderThan && u.Initiated && u.Initiated > olderThan)) continue;
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
        aborted.set(u.UploadId!, `${u.Key} (${u.UploadId})`);
      }
      if (!page.IsTruncated) break;
      markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
  }
  return [...aborted.values()];
}

export interface RetentionResult {
  plan: RetentionPlan;
  dryRun: boolean;
  /** Keys the store reports deleted, in the order they were deleted. */
  deletedObjects: string[];
  abortedUploads: string[];
  /**
   * Objects retention would delete but an S3 Object Lock still holds (the plan's `locked` snapshots'
   * objects, and locked objects without a manifest): left for a later run. Default: none.
   */
  lockedObjects?: ObjectLockHold[];
}

/** Per-object delete errors that a later attempt may not meet: the store was busy or timed out. */
const transientDeleteCodes = new Set(['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout', 'OperationAborted', 'NoAnswer']);

/**
 * The failure of a retention that the store refused some deletes: it names the refused keys (the
 * first five) and carries the result, so what was deleted is still reported. Not retryable when any
 * refusal is one retrying cannot change (AccessDenied, an object lock); a retry lists afresh, so it
 * only ever deletes what is still planned.
 */
export function retentionDeleteFailure(cluster: string, result: RetentionResult, failed: DeleteOutcome['failed']): ApplicationFailure {
  const shown = failed
    .slice(0, 5)
    .map((f) => `${f.key}: ${f.code}${f.message ? ` (${f.message})` : ''}`)
    .join('; ');
  const more = failed.length > 5 ? `; and ${failed.length - 5} more` : '';
  return ApplicationFailure.create({
    message: `retention of cluster '${cluster}' deleted ${result.deletedObjects.length} of ${result.deletedObjects.length + failed.length} objects; the store refused ${failed.length}: ${shown}${more}`,
    type: failureTypes.RetentionDeleteFailed,
    nonRetryable: failed.some((f) => !transientDeleteCodes.has(f.code)),
    details: [result],
  });
}

/** An error of an etcd call (a gRPC status: the member died, hung past its keepalive, or refused), not of the object store. */
const isGrpcStatusError = (err: unknown): err is Error & { code: number; details: string } => {
  const e = err as { code?: unknown; details?: unknown; $metadata?: unknown };
  return err instanceof Error && typeof e.code === 'number' && typeof e.details === 'string' && e.$metadata === undefined;
};

/** What the stream's heartbeats carry: its progress, and the member it streams from (a pending activity shows which). */
export interface StreamHeartbeat extends StreamProgress {
  endpoint: string;
  memberId: string;
}

/** Listings in a row that must show no earlier attempt's upload before a retried stream returns. */
const cleanSweepsAfterRetry = 8;

export const createEtcdSnapshotActivities = (
  deps: Pick<ActivityDeps, 'clusters' | 'tools' | 's3' | 'bucket' | 'keyRing' | 'objectLock'>,
) => {
  const { bucket, keyRing } = deps;
  const etcdWhere = (cluster: string, endpoints: string[]) => ({ cluster, endpoints: endpoints.join(','), bucket });
  const requireKeys = (): KeyRing => {
    if (!keyRing)
      throw ApplicationFailure.nonRetryable(
        'this worker has no snapshot encryption keys configured (encryption in its configuration)',
        failureTypes.EncryptionNotConfigured,
      );
    return keyRing;
  };

  return {
    /**
     * Streams a fresh snapshot of the cluster's etcd into `etcd/<cluster>/<snapshotId>/`. A retry
     * first aborts the multipart uploads an earlier attempt left, then starts a new stream.
     */
    async streamEtcdSnapshot({ cluster, snapshotId }: { cluster: string; snapshotId: string }): Promise<SnapshotUpload> {
      const { config } = clusterClients(deps, cluster);
      const keys = requireKeys();
      const ctx = Context.current();
      const attempt = ctx.info.attempt;
      const objectKey = snapshotObjectKey(cluster, snapshotId, attempt);
      // This attempt's key and every earlier attempt's: their uploads are stale now.
      const attemptKeys = Array.from({ length: attempt }, (_, i) => snapshotObjectKey(cluster, snapshotId, i + 1));
      const where = etcdWhere(cluster, config.etcd.endpoints);
      let member: EtcdMemberStatus | undefined;
      let progress: StreamProgress | undefined;
      try {
        const leftovers = await abortIncompleteUploads(deps.s3, bucket, { keys: attemptKeys });
        if (leftovers.length) ctx.log.info('aborted uploads left by an earlier attempt', { uploads: leftovers });
        // One member, named in the manifest: the one whose snapshot this is.
        member = snapshotSourceMember(await etcdEndpointAnswers(deps, cluster), cluster);
        const source = member;
        const streamStartedAt = new Date().toISOString();
        // The SDK throttles what reaches the server (the worker's maxHeartbeatThrottleInterval).
        const result = await withEtcdClient(config, [member.endpoint], (etcd) =>
          streamSnapshotToStore({
            etcd,
            s3: deps.s3,
            bucket,
            objectKey,
            key: keys.lookup(keys.currentKeyId)!,
            keyId: keys.currentKeyId,
            binding: { cluster, snapshotId },
            objectLock: objectLockParams(deps.objectLock),
            signal: ctx.cancellationSignal,
            onProgress: (p: StreamProgress) => {
              progress = p;
              ctx.heartbeat({ ...p, endpoint: source.endpoint, memberId: source.memberId } satisfies StreamHeartbeat);
            },
          }),
        );
        // Once more now the store took a whole upload. A store that lost drives can answer an abort 200
        // without having applied it everywhere (MinIO does, when it lacks write quorum); once its drives
        // are back, its listings show such an upload to some requests and not others, and an abort then
        // removes it for good. So the earlier attempts' keys are listed until enough listings in a row
        // show nothing. No later run names this snapshot's attempt keys (retention sweeps only
        // unfinished snapshots). Runs that were never retried skip this.
        const earlierKeys = attemptKeys.filter((k) => k !== objectKey);
        const late: string[] = [];
        for (let clean = 0, round = 0; earlierKeys.length && clean < cleanSweepsAfterRetry && round < 4 * cleanSweepsAfterRetry; round++) {
          const aborted = await abortIncompleteUploads(deps.s3, bucket, { keys: earlierKeys }).catch((err: unknown) => {
            ctx.log.warn(
              "could not sweep earlier attempts' uploads after the upload; the store's own expiry of stale uploads removes them",
              {
                keys: earlierKeys,
                error: String(err),
              },
            );
            return undefined;
          });
          if (!aborted) break;
          late.push(...aborted);
          clean = aborted.length ? 0 : clean + 1;
        }
        if (late.length) ctx.log.info('aborted uploads left by an earlier attempt, missed by the first sweep', { uploads: late });
        return {
          objectKey,
          keyId: keys.currentKeyId,
          chunkSize: streamDefaults.chunkSize,
          ...result,
          etcdTrailerVerified: true,
          etcd: {
            endpoint: member.endpoint,
            memberId: member.memberId,
            version: member.version,
            revisionAtStart: member.revision,
            dbSizeBytes: member.dbSizeBytes,
          },
          streamStartedAt,
          streamFinishedAt: new Date().toISOString(),
        };
      } catch (err) {
        // Whatever happened, no parts of this attempt stay behind.
        await abortIncompleteUploads(deps.s3, bucket, { keys: [objectKey] }).catch(() => undefined);
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('snapshot upload cancelled; multipart upload aborted');
        const classified = classifySnapshotError(err, where);
        if (classified === err && member && isGrpcStatusError(err))
          throw ApplicationFailure.retryable(
            `the snapshot stream from etcd member ${BigInt(member.memberId).toString(16)} at ${member.endpoint} of cluster '${cluster}' broke${
              progress
                ? ` after ${progress.bytesRead} of ${progress.bytesRead + progress.bytesRemaining} bytes (its last progress report)`
                : ''
            }: ${err.message}; a retry streams from a member that answers`,
            failureTypes.EtcdStreamInterrupted,
          );
        throw classified;
      }
    },

    /** Object count per resource prefix at `revision`, read keys-only in pages. */
    async etcdInventory({ cluster, revision }: { cluster: string; revision: number }): Promise<Inventory> {
      const { config } = clusterClients(deps, cluster);
      // Only members that answer with a leader: a client given a dead or starting member among the
      // endpoints sends some calls to it. None answering: every endpoint, and its error says why.
      const answering = (await etcdEndpointAnswers(deps, cluster)).flatMap((a) =>
        'status' in a && followsLeader(a.status) ? [a.endpoint] : [],
      );
      // kube-apiserver compacts old revisions every few minutes; after a long upload the snapshot's may
      // be gone. Count at the current one instead; the inventory records which revision was counted.
      return withEtcdClient(config, answering.length ? answering : undefined, (etcd) =>
        countRegistry(etcd, revision, {
          onPage: (totalKeys) => Context.current().heartbeat({ totalKeys }),
          onCompacted: (from, end) => etcd.kv.range({ key: from, range_end: end, keys_only: true, limit: 5_000 }),
        }),
      ).catch((err: unknown) => {
        throw classifySnapshotError(err, etcdWhere(cluster, config.etcd.endpoints));
      });
    },

    /** The stored object is there and has the size the stream produced. */
    async verifyStoredSnapshot({ objectKey, storedBytes }: { objectKey: string; storedBytes: number }): Promise<{ storedBytes: number }> {
      const head = await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }));
      if (head.ContentLength !== storedBytes) {
        throw ApplicationFailure.nonRetryable(
          `s3://${bucket}/${objectKey} is ${head.ContentLength} bytes, the upload produced ${storedBytes}`,
          failureTypes.StoredObjectMismatch,
        );
      }
      return { storedBytes: head.ContentLength };
    },

    /**
     * Signs and writes the manifest (locked, with objectLock configured), the last step: only now does the
     * snapshot become visible. Returns it as stored.
     */
    async writeSnapshotManifest(manifest: SnapshotManifest): Promise<SnapshotManifest> {
      return writeManifest(deps.s3, bucket, manifest, { keyRing: requireKeys(), objectLock: deps.objectLock }).catch((err: unknown) => {
        // A manifest already there that fails its check is not this run's to replace, nor to trust.
        throw err instanceof ManifestCollisionError
          ? ApplicationFailure.nonRetryable(err.message, failureTypes.SnapshotIdCollision)
          : manifestFailure(err);
      });
    },

    /**
     * Applies the cluster's retention policy: deletes manifest and object of each snapshot the plan
     * drops (manifest first, so a half-done delete leaves an invisible object, never a dangling
     * manifest), removes objects without a manifest older than the upload threshold, and aborts
     * incomplete multipart uploads older than it. Does nothing when the listing is incomplete.
     * Reports only what the store says it deleted; when it refused any key, everything else is still
     * done, then the activity fails with RetentionDeleteFailed (see retentionDeleteFailure).
     */
    async applyEtcdRetention({ cluster, dryRun, now }: { cluster: string; dryRun: boolean; now: string }): Promise<RetentionResult> {
      const { config } = clusterClients(deps, cluster);
      const policy = config.etcdSnapshots.retention;
      const at = new Date(now);
      // An object-lock bucket is versioned: its objects are deleted (and their locks read) version by version.
      const versioned = deps.objectLock !== undefined;
      const listing = await listManifests(deps.s3, bucket, cluster, requireKeys());
      const keysOfSnapshot = (id: string) => listing.keys.map((k) => k.key).filter((k) => k.startsWith(`${snapshotPrefix(cluster)}${id}/`));
      const records: SnapshotRecord[] = listing.manifests.map((m) => ({
        id: m.snapshotId,
        startedAt: m.startedAt,
        status: m.status,
        sizeBytes: m.object.storedBytes,
      }));
      const listed = {
        snapshots: records,
        complete: listing.complete,
        problem: listing.problem,
        tampered: listing.tampered.map((t) => t.reason),
      };
      let plan = planRetention(listed, policy, at);
      // What the plan would delete and a lock still holds is left for a later run, and the plan says so.
      const lockedObjects: ObjectLockHold[] = [];
      if (!plan.refused && plan.delete.length) {
        for (const { id } of plan.delete) {
          const holds = await objectLockHolds(deps.s3, bucket, keysOfSnapshot(id), at, versioned);
          if (!holds.length) continue;
          lockedObjects.push(...holds);
          const latest = holds.reduce((a, b) => ((a.retainUntil ?? '9999') >= (b.retainUntil ?? '9999') ? a : b));
          const record = records.find((r) => r.id === id)!;
          record.lockedUntil = latest.retainUntil ?? '9999-12-31T23:59:59Z';
          record.lockMode = latest.mode;
        }
        if (lockedObjects.length) plan = planRetention(listed, policy, at);
      }
      const result: RetentionResult = {
        plan,
        dryRun,
        deletedObjects: [],
        abortedUploads: [],
        ...(lockedObjects.length ? { lockedObjects } : {}),
      };
      if (plan.refused || dryRun) return result;
      const threshold = new Date(Date.parse(now) - config.etcdSnapshots.incompleteUploadMaxAgeHours * 3_600_000);
      // Objects no manifest names: snapshots that never completed, and earlier attempts' objects.
      const referenced = new Map(listing.manifests.map((m) => [m.snapshotId, m.object.objectKey]));
      const orphanCandidates = listing.keys
        .filter((k) => {
          const id = k.key.slice(snapshotPrefix(cluster).length).split('/')[0]!;
          const named = k.key.endsWith('/manifest.json') || referenced.get(id) === k.key;
          return !named && k.lastModified !== undefined && k.lastModified < threshold;
        })
        .map((k) => k.key);
      const orphanHolds = await objectLockHolds(deps.s3, bucket, orphanCandidates, at, versioned);
      const heldOrphans = new Set(orphanHolds.map((h) => h.key));
      if (orphanHolds.length) result.lockedObjects = [...(result.lockedObjects ?? []), ...orphanHolds];
      const orphans = orphanCandidates.filter((k) => !heldOrphans.has(k));
      const failed: DeleteOutcome['failed'] = [];
      /** Deletes `keys`, recording what went and what the store refused; true when all went. */
      const remove = async (keys: string[]): Promise<boolean> => {
        if (!keys.length) return true;
        const outcome = versioned ? await deleteAllVersions(deps.s3, bucket, keys) : await deleteObjects(deps.s3, bucket, keys);
        result.deletedObjects.push(...outcome.deleted);
        failed.push(...outcome.failed);
        return outcome.failed.length === 0;
      };
      for (const { id } of plan.delete) {
        const manifestKey = snapshotManifestKey(cluster, id);
        const others = listing.keys.map((k) => k.key).filter((k) => k.startsWith(`${snapshotPrefix(cluster)}${id}/`) && k !== manifestKey);
        // While the manifest stays, the snapshot stays whole: its object is deleted only after it.
        if (await remove([manifestKey])) await remove(others);
      }
      await remove(orphans);
      // S3 lists uploads by prefix; MinIO only by exact key, so also name the attempt keys of
      // snapshots that have objects but no manifest (the ones an upload may have been left for).
      const unfinished = new Set(
        listing.keys.map((k) => k.key.slice(snapshotPrefix(cluster).length).split('/')[0]!).filter((id) => !referenced.has(id)),
      );
      result.abortedUploads = await abortIncompleteUploads(
        deps.s3,
        bucket,
        {
          prefix: snapshotPrefix(cluster),
          keys: [...unfinished].flatMap((id) => Array.from({ length: maxStreamAttempts }, (_, i) => snapshotObjectKey(cluster, id, i + 1))),
        },
        threshold,
      );
      if (failed.length) throw retentionDeleteFailure(cluster, result, failed);
      return result;
    },
  };
};

export type EtcdSnapshotActivities = ReturnType<typeof createEtcdSnapshotActivities>;
