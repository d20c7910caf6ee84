// Where etcd snapshots live in the object store and what their manifest says. Pure: workflows import
// these types and key builders too.

/**
 * Object-store layout: `etcd/<cluster>/<snapshotId>/{snapshot.a<attempt>.db.lbenc,manifest.json}`.
 * Each activity attempt writes its own object: an attempt Temporal has given up on but whose process
 * still runs can only ever complete its own key, never the one the manifest names.
 */
export const snapshotPrefix = (cluster: string) => `etcd/${cluster}/`;
/** Attempts the etcdSnapshot workflow gives its stream activity; bounds the attempt keys a sweep checks. */
export const maxStreamAttempts = 8;
export const snapshotObjectKey = (cluster: string, snapshotId: string, attempt: number) =>
  `${snapshotPrefix(cluster)}${snapshotId}/snapshot.a${attempt}.db.lbenc`;
export const snapshotManifestKey = (cluster: string, snapshotId: string) => `${snapshotPrefix(cluster)}${snapshotId}/manifest.json`;

const compactTime = (t: Date) =>
  t
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/**
 * `20261121T193600Z-9f8e7d6c5b4a`: the run's start time (sorts by age) and the random tail of its run
 * ID. Run IDs are UUIDv7, whose leading digits are a timestamp, so only the tail tells apart two runs
 * started in the same second.
 */
export function snapshotIdFor(startTime: Date, runId: string): string {
  return `${compactTime(startTime)}-${runIdTail(runId)}`;
}

/**
 * The last 12 hex digits of a run ID: what names a run's own things (snapshots, moved-aside etcd data
 * dirs). The leading digits of a UUIDv7 are its timestamp, so they would not tell two close runs apart.
 */
export const runIdTail = (runId: string) => runId.replace(/-/g, '').slice(-12);

/** The first form, from the run ID's leading (time) digits: kept for runs that began before the fix. */
export function legacySnapshotIdFor(startTime: Date, runId: string): string {
  return `${compactTime(startTime)}-${runId.replace(/-/g, '').slice(0, 8)}`;
}

export type SnapshotStatus = 'uploaded' | 'verified' | 'failed';

/** Object count per resource prefix (`pods`, `deployments`, `velero.io/backups`) at a revision. */
export interface Inventory {
  revision: number;
  totalKeys: number;
  prefixes: Record<string, number>;
}

/** What the streaming activity uploaded. No key material: hashes, sizes and the key's id. */
export interface SnapshotUpload {
  objectKey: string;
  keyId: string;
  chunkSize: number;
  plaintextBytes: number;
  plaintextSha256: string;
  storedBytes: number;
  storedSha256: string;
  /** etcd's own sha256 trailer matched the bytes before it. */
  etcdTrailerVerified: true;
  etcd: { endpoint: string; memberId: string; version: string; revisionAtStart: number; dbSizeBytes: number };
  streamStartedAt: string;
  streamFinishedAt: string;
}

/** A manifest's signature. The key is derived from keyring key `keyId`; no key material here. */
export interface ManifestMac {
  algorithm: 'HMAC-SHA256';
  keyId: string;
  /** base64 of the 32-byte MAC. */
  value: string;
}

export interface SnapshotManifest {
  kind: 'lifeboat.etcd-snapshot';
  formatVersion: 1;
  cluster: string;
  snapshotId: string;
  status: SnapshotStatus;
  etcd: SnapshotUpload['etcd'];
  object: Pick<SnapshotUpload, 'objectKey' | 'plaintextBytes' | 'plaintextSha256' | 'storedBytes' | 'storedSha256' | 'etcdTrailerVerified'>;
  encryption: { algorithm: 'AES-256-GCM-STREAM'; keyId: string; chunkSize: number };
  inventory: Inventory;
  startedAt: string;
  finishedAt: string;
  workflowId: string;
  runId: string;
  /**
   * HMAC-SHA256 over the manifest's canonical form (RFC 8785) with this field's `value` left out, keyed
   * with the keyring's `manifest-mac` key of `keyId` (activities/object-store/manifest-mac.ts). Absent on
   * manifests written before manifests were signed: those are "unsigned", listed, never restored
   * automatically.
   */
  mac?: ManifestMac;
  /** Set by restore verification: the latest one's outcome. */
  verification?: {
    at: string;
    /** `verified`, or `failed: <reason>`. */
    result: string;
    workflowId: string;
    runId?: string;
    rtoSeconds?: number;
    /** Checks passed of those run. */
    checks?: { passed: number; total: number };
  };
}
