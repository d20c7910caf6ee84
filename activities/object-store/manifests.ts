// Reading and writing snapshot manifests in the object store. A snapshot is visible only through its
// manifest: an object without one is an incomplete snapshot and is never listed or restored.
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { snapshotManifestKey, snapshotPrefix, type SnapshotManifest } from '../../model/snapshot-layout.js';

export class ManifestCollisionError extends Error {
  override readonly name = 'ManifestCollisionError';
}

/**
 * Writes a manifest only where none exists (If-None-Match), so one run can never replace another's.
 * The same run writing again (a retried activity whose first reply was lost) is accepted.
 */
export async function writeManifest(s3: S3Client, bucket: string, manifest: SnapshotManifest): Promise<void> {
  const Key = snapshotManifestKey(manifest.cluster, manifest.snapshotId);
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key,
        Body: `${JSON.stringify(manifest, null, 2)}\n`,
        ContentType: 'application/json',
        IfNoneMatch: '*',
      }),
    );
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 412) throw err;
    const existing = await readManifest(s3, bucket, manifest.cluster, manifest.snapshotId);
    if (existing.runId !== manifest.runId) {
      throw new ManifestCollisionError(
        `s3://${bucket}/${Key} already belongs to run ${existing.workflowId}/${existing.runId}; refusing to replace it with ${manifest.workflowId}/${manifest.runId}`,
      );
    }
  }
}

/**
 * Rewrites a manifest's status and verification record, conditional on the version read (If-Match):
 * a concurrent writer makes the write fail and it is retried from a fresh read, never lost.
 */
export async function updateManifestVerification(
  s3: S3Client,
  bucket: string,
  cluster: string,
  snapshotId: string,
  status: SnapshotManifest['status'],
  verification: NonNullable<SnapshotManifest['verification']>,
): Promise<SnapshotManifest> {
  const Key = snapshotManifestKey(cluster, snapshotId);
  for (let attempt = 1; ; attempt++) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
    const manifest = JSON.parse(await got.Body!.transformToString()) as SnapshotManifest;
    const updated: SnapshotManifest = { ...manifest, status, verification };
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: `${JSON.stringify(updated, null, 2)}\n`,
          ContentType: 'application/json',
          IfMatch: got.ETag,
        }),
      );
      return updated;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 412 || attempt >= 5) throw err;
    }
  }
}

export async function readManifest(s3: S3Client, bucket: string, cluster: string, snapshotId: string): Promise<SnapshotManifest> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: snapshotManifestKey(cluster, snapshotId) }));
  return JSON.parse(await got.Body!.transformToString()) as SnapshotManifest;
}

export interface ManifestListing {
  manifests: SnapshotManifest[];
  /** Every key under the prefix, manifests or not (for sweeping objects without a manifest). */
  keys: { key: string; size: number; lastModified?: Date }[];
  /** False when any page or manifest could not be read: nothing may be deleted on such a listing. */
  complete: boolean;
  problem?: string;
}

/** Every manifest of a cluster, newest first. Never throws: a failure is reported as an incomplete listing. */
export async function listManifests(s3: S3Client, bucket: string, cluster: string): Promise<ManifestListing> {
  const keys: ManifestListing['keys'] = [];
  try {
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: snapshotPrefix(cluster) })) {
      for (const o of page.Contents ?? []) keys.push({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified });
    }
  } catch (err) {
    return {
      manifests: [],
      keys,
      complete: false,
      problem: `listing s3://${bucket}/${snapshotPrefix(cluster)} failed: ${(err as Error).name}: ${(err as Error).message}`,
    };
  }
  const manifestKeys = keys.filter((k) => k.key.endsWith('/manifest.json'));
  const manifests: SnapshotManifest[] = [];
  const failures: string[] = [];
  // A few at a time: a listing of hundreds of snapshots should not open hundreds of connections.
  for (let i = 0; i < manifestKeys.length; i += 8) {
    await Promise.all(
      manifestKeys.slice(i, i + 8).map(async ({ key }) => {
        try {
          const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          manifests.push(JSON.parse(await got.Body!.transformToString()) as SnapshotManifest);
        } catch (err) {
          failures.push(`${key}: ${(err as Error).message}`);
        }
      }),
    );
  }
  // Newest first by start time, ties by id: the order the retention planner uses.
  manifests.sort((a, b) => (a.startedAt === b.startedAt ? (a.snapshotId < b.snapshotId ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1));
  return failures.length
    ? { manifests, keys, complete: false, problem: `could not read ${failures.length} manifest(s): ${failures.slice(0, 3).join('; ')}` }
    : { manifests, keys, complete: true };
}

/** What a delete of many keys did, key by key, as the store answered. */
export interface DeleteOutcome {
  /** Keys the store reports deleted (S3 reports a key that was already gone as deleted, too). */
  deleted: string[];
  /** Keys the store did not delete, with its error code and message. */
  failed: { key: string; code: string; message: string }[];
}

/** DeleteObjects takes at most 1000 keys a request. */
const deleteBatch = 1000;

/**
 * Deletes `keys`, 1000 a request, and reads the store's answer for each key: a key counts as deleted
 * only when the store lists it as deleted. A refusal of one key (DeleteObjects answers 200 with the key
 * in its Errors, e.g. AccessDenied) is returned in `failed`; only a request that fails as a whole throws.
 */
export async function deleteObjects(s3: S3Client, bucket: string, keys: string[]): Promise<DeleteOutcome> {
  const outcome: DeleteOutcome = { deleted: [], failed: [] };
  for (let i = 0; i < keys.length; i += deleteBatch) {
    const batch = keys.slice(i, i + deleteBatch);
    const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })) } }));
    const deleted = new Set((out.Deleted ?? []).map((d) => d.Key));
    const errors = new Map((out.Errors ?? []).map((e) => [e.Key, e]));
    for (const key of batch) {
      const error = errors.get(key);
      if (error) outcome.failed.push({ key, code: error.Code ?? 'UnknownError', message: error.Message ?? '' });
      else if (deleted.has(key)) outcome.deleted.push(key);
      else outcome.failed.push({ key, code: 'NoAnswer', message: 'the store listed the key neither as deleted nor as failed' });
    }
  }
  return outcome;
}
