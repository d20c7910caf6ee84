// S3 Object Lock for snapshots and manifests: what to write them with, and what retention must know
// before it deletes (a locked object cannot be deleted yet; the store refuses with AccessDenied). An
// object-lock bucket is versioned: a delete without a version id only adds a delete marker and leaves the
// data, so retention deletes each version by id once its lock has passed.
import { DeleteObjectsCommand, HeadObjectCommand, ListObjectVersionsCommand, type ObjectLockMode, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectLockConfig } from '../../worker/config.js';
import type { DeleteOutcome } from './manifests.js';

/** The parameters a PutObject (or lib-storage Upload) takes to lock what it writes. */
export interface ObjectLockParams {
  ObjectLockMode: ObjectLockMode;
  ObjectLockRetainUntilDate: Date;
}

const dayMs = 86_400_000;

/** The lock an object written at `now` gets under `config`; undefined when no lock is configured. */
export function objectLockParams(config: ObjectLockConfig | undefined, now = new Date()): ObjectLockParams | undefined {
  if (!config) return undefined;
  return { ObjectLockMode: config.mode, ObjectLockRetainUntilDate: new Date(now.getTime() + config.days * dayMs) };
}

/** Why an object cannot be deleted yet. */
export interface ObjectLockHold {
  key: string;
  /** GOVERNANCE or COMPLIANCE; `legal hold` for a legal hold (no date: until someone lifts it). */
  mode: string;
  /** ISO-8601; absent for a legal hold. */
  retainUntil?: string;
}

/** One stored version of a key (`null` as S3 names the version of an unversioned bucket). */
interface KeyVersion {
  key: string;
  versionId: string;
}

/** Every version and delete marker of each of `keys`, listed by prefix and filtered to exact keys. */
async function versionsOf(s3: S3Client, bucket: string, keys: string[]): Promise<KeyVersion[]> {
  const wanted = new Set(keys);
  const out: KeyVersion[] = [];
  for (const key of keys) {
    let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, ...markers }));
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key === key && wanted.has(v.Key)) out.push({ key: v.Key, versionId: v.VersionId ?? 'null' });
      }
      if (!page.IsTruncated) break;
      markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
    }
  }
  return out;
}

/**
 * The holds that keep `keys` from being deleted at `now`: for a versioned bucket (`versioned`) every
 * version's, else the current object's. An object that is gone holds nothing.
 */
export async function objectLockHolds(
  s3: S3Client,
  bucket: string,
  keys: string[],
  now: Date,
  versioned: boolean,
): Promise<ObjectLockHold[]> {
  const targets = versioned
    ? (await versionsOf(s3, bucket, keys)).map((v) => ({ key: v.key, VersionId: v.versionId }))
    : keys.map((key) => ({ key }));
  const holds: ObjectLockHold[] = [];
  for (const { key, ...version } of targets) {
    const head = await s3
      .send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...version }))
      .catch((err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        // A delete marker (405) or a key gone meanwhile (404) holds nothing.
        if (err.$metadata?.httpStatusCode === 404 || err.$metadata?.httpStatusCode === 405) return undefined;
        throw err;
      });
    if (!head) continue;
    if (head.ObjectLockLegalHoldStatus === 'ON') holds.push({ key, mode: 'legal hold' });
    const until = head.ObjectLockRetainUntilDate;
    if (until && until.getTime() > now.getTime())
      holds.push({ key, mode: head.ObjectLockMode ?? 'unknown', retainUntil: until.toISOString() });
  }
  return holds;
}

/**
 * Deletes every version of each of `keys` (each by its version id), so an object-lock bucket keeps no
 * data behind a delete marker. A key counts as deleted when all its versions went; otherwise it is in
 * `failed` with the store's first refusal.
 */
export async function deleteAllVersions(s3: S3Client, bucket: string, keys: string[]): Promise<DeleteOutcome> {
  const versions = await versionsOf(s3, bucket, keys);
  const refusals = new Map<string, { code: string; message: string }>();
  for (let i = 0; i < versions.length; i += 1000) {
    const batch = versions.slice(i, i + 1000);
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((v) => ({ Key: v.key, VersionId: v.versionId })) } }),
    );
    for (const e of out.Errors ?? []) {
      if (e.Key && !refusals.has(e.Key)) refusals.set(e.Key, { code: e.Code ?? 'UnknownError', message: e.Message ?? '' });
    }
  }
  return {
    deleted: keys.filter((k) => !refusals.has(k)),
    failed: [...refusals].map(([key, r]) => ({ key, ...r })),
  };
}
