// Reading and writing snapshot manifests in the object store. A snapshot is visible only through its
// manifest: an object without one is an incomplete snapshot and is never listed or restored. Manifests
// are signed when written and checked when read (manifest-mac.ts); with objectLock configured they are
// written locked, as the snapshots are.
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { snapshotManifestKey, snapshotPrefix, type SnapshotManifest } from '../../model/snapshot-layout.js';
import type { KeyRing } from '../../worker/keys.js';
import type { ObjectLockConfig } from '../../worker/config.js';
import { checkManifest, isSigned, manifestLocationOf, ManifestTamperedError, signManifest } from './manifest-mac.js';
import { objectLockParams } from './object-lock.js';
import { isStoreThrottling } from './throttling.js';

/** What writing a manifest needs: the keys to sign it, and the lock to write it with (none by default). */
export interface ManifestSigning {
  keyRing: KeyRing;
  objectLock?: ObjectLockConfig;
}

export class ManifestCollisionError extends Error {
  override readonly name = 'ManifestCollisionError';
}

/**
 * Signs a manifest and writes it only where none exists (If-None-Match), so one run can never replace
 * another's. The same run writing again (a retried activity whose first reply was lost) is accepted.
 * Returns the manifest as stored (with its MAC).
 */
export async function writeManifest(
  s3: S3Client,
  bucket: string,
  manifest: SnapshotManifest,
  signing: ManifestSigning,
): Promise<SnapshotManifest> {
  const Key = snapshotManifestKey(manifest.cluster, manifest.snapshotId);
  const signed = signManifest(manifest, signing.keyRing);
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key,
        Body: `${JSON.stringify(signed, null, 2)}\n`,
        ContentType: 'application/json',
        IfNoneMatch: '*',
        ...objectLockParams(signing.objectLock),
      }),
    );
    return signed;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 412) throw err;
    const existing = await readManifest(s3, bucket, manifest.cluster, manifest.snapshotId, signing.keyRing);
    if (existing.runId !== manifest.runId) {
      throw new ManifestCollisionError(
        `s3://${bucket}/${Key} already belongs to run ${existing.workflowId}/${existing.runId}; refusing to replace it with ${manifest.workflowId}/${manifest.runId}`,
      );
    }
    return existing;
  }
}

/**
 * Rewrites a manifest's status and verification record, conditional on the version read (If-Match):
 * a concurrent writer makes the write fail and it is retried from a fresh read, never lost. The manifest
 * read is checked first (a tampered one throws ManifestTamperedError and is left as it is); a signed one
 * is signed again, an unsigned one stays unsigned (see manifest-mac.ts: nothing signs it after the fact).
 */
export async function updateManifestVerification(
  s3: S3Client,
  bucket: string,
  cluster: string,
  snapshotId: string,
  status: SnapshotManifest['status'],
  verification: NonNullable<SnapshotManifest['verification']>,
  signing: ManifestSigning,
): Promise<SnapshotManifest> {
  const Key = snapshotManifestKey(cluster, snapshotId);
  for (let attempt = 1; ; attempt++) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
    const manifest = parseManifest(await got.Body!.transformToString(), Key);
    checkManifest(manifest, { cluster, snapshotId, key: Key }, signing.keyRing);
    const fields: SnapshotManifest = { ...manifest, status, verification };
    const updated = isSigned(manifest) ? signManifest(fields, signing.keyRing) : fields;
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: `${JSON.stringify(updated, null, 2)}\n`,
          ContentType: 'application/json',
          IfMatch: got.ETag,
          ...objectLockParams(signing.objectLock),
        }),
      );
      return updated;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 412 || attempt >= 5) throw err;
    }
  }
}

/** A manifest's JSON; text that is not a JSON object is an edited manifest. */
function parseManifest(text: string, key: string): SnapshotManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ManifestTamperedError(
      'edited',
      key,
      `manifest ${key} is not JSON (${(err as Error).message}): it was edited or damaged. It is refused`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ManifestTamperedError('edited', key, `manifest ${key} is not a JSON object: it was edited or damaged. It is refused`);
  return parsed as SnapshotManifest;
}

/**
 * Reads snapshot `snapshotId`'s manifest of `cluster` and checks it (manifest-mac.ts checkManifest):
 * throws ManifestTamperedError for an edited, swapped or rolled-back one. Without `keyRing` (a reader
 * with no keys configured) only the location is checked; whatever acts on a snapshot passes its keys.
 */
export async function readManifest(
  s3: S3Client,
  bucket: string,
  cluster: string,
  snapshotId: string,
  keyRing: KeyRing | undefined,
): Promise<SnapshotManifest> {
  const key = snapshotManifestKey(cluster, snapshotId);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const manifest = parseManifest(await got.Body!.transformToString(), key);
  checkManifest(manifest, { cluster, snapshotId, key }, keyRing);
  return manifest;
}

/** A manifest the listing refused (manifest-mac.ts): never used, never deleted by retention. */
export interface TamperedManifest {
  key: string;
  kind: ManifestTamperedError['kind'];
  reason: string;
}

export interface ManifestListing {
  /** The manifests that passed their checks, signed or unsigned (no `mac`), newest first. */
  manifests: SnapshotManifest[];
  /** Manifests refused as edited, swapped or rolled back (or signed with an unknown key), with why. */
  tampered: TamperedManifest[];
  /** False when no keys were given: signatures were not checked (locations were). */
  macsChecked: boolean;
  /** Every key under the prefix, manifests or not (for sweeping objects without a manifest). */
  keys: { key: string; size: number; lastModified?: Date }[];
  /** False when any page or manifest could not be read: nothing may be deleted on such a listing. */
  complete: boolean;
  problem?: string;
  /** The store's own error for a read that failed (a throttling one if any), when the listing is incomplete. */
  failure?: unknown;
}

/**
 * Why an incomplete listing is incomplete, as an error to throw: the store's own error when it asked
 * its client to slow down (the worker's interceptor makes that ObjectStoreThrottled), else `problem`.
 */
export function listingFailure(listing: ManifestListing): Error {
  return isStoreThrottling(listing.failure) ? (listing.failure as Error) : new Error(listing.problem);
}

/**
 * Every manifest of a cluster, newest first, each checked as readManifest does; refused ones are in
 * `tampered`. Never throws: a failure to read is reported as an incomplete listing.
 */
export async function listManifests(s3: S3Client, bucket: string, cluster: string, keyRing: KeyRing | undefined): Promise<ManifestListing> {
  const keys: ManifestListing['keys'] = [];
  try {
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: snapshotPrefix(cluster) })) {
      for (const o of page.Contents ?? []) keys.push({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified });
    }
  } catch (err) {
    return {
      manifests: [],
      tampered: [],
      macsChecked: keyRing !== undefined,
      keys,
      complete: false,
      problem: `listing s3://${bucket}/${snapshotPrefix(cluster)} failed: ${(err as Error).name}: ${(err as Error).message}`,
      failure: err,
    };
  }
  // A store losing drives can leave keys out of a listing it answers 200 (MinIO does, for a few seconds
  // after drives go: test/faults/s3Degraded.test.ts). A snapshot folder listed without its manifest
  // has it read by name too: a manifest the listing left out is still found, and an object it names is
  // never taken for an orphan. Such folders are few (failed or interrupted snapshots), so this is cheap.
  const listedManifests = new Set(keys.filter((k) => k.key.endsWith('/manifest.json')).map((k) => k.key));
  const unlisted = new Set(
    keys
      .map((k) => k.key.slice(snapshotPrefix(cluster).length).split('/')[0]!)
      .map((id) => snapshotManifestKey(cluster, id))
      .filter((k) => !listedManifests.has(k)),
  );
  const manifestKeys = [...listedManifests, ...unlisted];
  const manifests: SnapshotManifest[] = [];
  const tampered: TamperedManifest[] = [];
  const failures: string[] = [];
  let failure: unknown;
  // A few at a time: a listing of hundreds of snapshots should not open hundreds of connections.
  for (let i = 0; i < manifestKeys.length; i += 8) {
    await Promise.all(
      manifestKeys.slice(i, i + 8).map(async (key) => {
        try {
          const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          const manifest = parseManifest(await got.Body!.transformToString(), key);
          if (unlisted.has(key)) keys.push({ key, size: got.ContentLength ?? 0, lastModified: got.LastModified });
          // A key that is not <prefix><id>/manifest.json (one folder deeper) is checked as the id it sits under.
          const at = manifestLocationOf(key) ?? { cluster, snapshotId: key.slice(snapshotPrefix(cluster).length).split('/')[0]!, key };
          checkManifest(manifest, at, keyRing);
          manifests.push(manifest);
        } catch (err) {
          if (err instanceof ManifestTamperedError) tampered.push({ key, kind: err.kind, reason: err.message });
          else if (unlisted.has(key) && (err as Error).name === 'NoSuchKey')
            return; // a folder without a manifest, as listed
          else {
            failures.push(`${key}: ${(err as Error).message}`);
            // A throttling answer is the one kept: it says why the others failed too, and it is retryable.
            if (failure === undefined || (!isStoreThrottling(failure) && isStoreThrottling(err))) failure = err;
          }
        }
      }),
    );
  }
  // Newest first by start time, ties by id: the order the retention planner uses.
  manifests.sort((a, b) => (a.startedAt === b.startedAt ? (a.snapshotId < b.snapshotId ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1));
  tampered.sort((a, b) => (a.key < b.key ? 1 : -1));
  const macsChecked = keyRing !== undefined;
  return failures.length
    ? {
        manifests,
        tampered,
        macsChecked,
        keys,
        complete: false,
        problem: `could not read ${failures.length} manifest(s): ${failures.slice(0, 3).join('; ')}`,
        failure,
      }
    : { manifests, tampered, macsChecked, keys, complete: true };
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
