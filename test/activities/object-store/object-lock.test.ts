// Integration (lab: Temporal, standby etcd, MinIO): immutable backups. A bucket of the test's own, made
// with S3 Object Lock; snapshots taken by the real etcdSnapshot workflow with `objectLock: GOVERNANCE, 1
// day` are stored locked (object and manifest); the store itself refuses to delete them before the date
// (MinIO: 400 InvalidRequest "Object is WORM protected"; AWS S3: 403 AccessDenied);
// retention plans around them and says so instead of failing; once the date has passed (shortened here
// with the GOVERNANCE bypass, as an operator allowed to may), a later run deletes every version. Cleanup
// deletes what is left with BypassGovernanceRetention and removes the bucket.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { etcdSnapshot } from '../../../workflows/etcdSnapshot.js';
import { activityDeps } from '../../../activities/deps.js';
import { createEtcdSnapshotActivities, type RetentionResult } from '../../../activities/etcd/snapshot.js';
import { readManifest, updateManifestVerification } from '../../../activities/object-store/manifests.js';
import { snapshotManifestKey, type SnapshotManifest } from '../../../model/snapshot-layout.js';
import { createClients } from '../../../worker/clients.js';
import type { LifeboatConfig } from '../../../worker/config.js';
import { loadKeyRing } from '../../../worker/keys.js';
import { labConfig, startTestWorker, type TestWorker } from '../../helpers/lab.js';
import { deleteBucket } from '../../helpers/minio.js';
import { testClusterName, withTestClusters } from '../../helpers/test-cluster.js';

const lockBucket = `lifeboat-lock-${randomBytes(4).toString('hex')}`;
const cluster = testClusterName('locked');
const retention = { keepLast: 1, daily: 0, weekly: 0, monthly: 0 };
const adjust = (c: LifeboatConfig): LifeboatConfig => ({
  ...withTestClusters(c, [cluster], 'standby', { retention }),
  objectStore: { ...c.objectStore, bucket: lockBucket, objectLock: { mode: 'GOVERNANCE', days: 1 } },
});
const config = adjust(labConfig());
const clients = createClients(config);
const s3 = clients.s3;
const keyRing = loadKeyRing(config.encryption!);
const dayMs = 86_400_000;

let w: TestWorker;
let older: SnapshotManifest;
let newer: SnapshotManifest;

const snapshot = async (): Promise<SnapshotManifest> =>
  (
    await w.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `etcd-snapshot/${cluster}/test-${randomBytes(4).toString('hex')}`,
      args: [{ cluster, skipRetention: true }],
      workflowExecutionTimeout: '5 minutes',
    })
  ).manifest;
const keysOf = (m: SnapshotManifest) => [snapshotManifestKey(m.cluster, m.snapshotId), m.object.objectKey];
const versionsOf = async (prefix: string) => {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: lockBucket, Prefix: prefix }));
  return [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId! }));
};
const applyRetention = (): Promise<RetentionResult> =>
  new MockActivityEnvironment().run(() =>
    createEtcdSnapshotActivities(activityDeps(clients, keyRing)).applyEtcdRetention({
      cluster,
      dryRun: false,
      now: new Date().toISOString(),
    }),
  );

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: lockBucket, ObjectLockEnabledForBucket: true }));
  w = await startTestWorker(adjust);
  older = await snapshot();
  newer = await snapshot();
}, 300_000);
afterAll(async () => {
  await w?.stop();
  // GOVERNANCE lets the test remove what it locked; COMPLIANCE would not, which is its point.
  await deleteBucket(s3, lockBucket, { bypassGovernance: true });
  s3.destroy();
});

describe('objectLock', () => {
  it('writes each snapshot and its manifest locked (GOVERNANCE, for the configured days)', async () => {
    for (const m of [older, newer]) {
      expect(await readManifest(s3, lockBucket, cluster, m.snapshotId, keyRing)).toEqual(m);
      for (const Key of keysOf(m)) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key }));
        expect(head.ObjectLockMode).toBe('GOVERNANCE');
        const until = head.ObjectLockRetainUntilDate!.getTime();
        // Locked from when it was written: a day after the snapshot's run, give or take the run itself.
        expect(until).toBeGreaterThan(Date.parse(m.startedAt) + dayMs - 60_000);
        expect(until).toBeLessThan(Date.now() + dayMs + 60_000);
      }
    }
  });

  it("a verification's rewrite of a manifest is a new version, signed and locked in turn; the first version stays", async () => {
    const key = snapshotManifestKey(cluster, newer.snapshotId);
    const verification = { at: new Date().toISOString(), result: 'verified', workflowId: 'verify-etcd/test' };
    const updated = await updateManifestVerification(s3, lockBucket, cluster, newer.snapshotId, 'verified', verification, {
      keyRing,
      objectLock: config.objectStore.objectLock,
    });
    expect(await readManifest(s3, lockBucket, cluster, newer.snapshotId, keyRing)).toEqual(updated);
    expect(updated.mac!.value).not.toBe(newer.mac!.value);
    const versions = await versionsOf(key);
    expect(versions).toHaveLength(2);
    for (const { VersionId } of versions) {
      expect((await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key: key, VersionId }))).ObjectLockMode).toBe('GOVERNANCE');
    }
    newer = updated;
  });

  it('a delete before the date is refused by the store itself', async () => {
    for (const Key of keysOf(older)) {
      const [version] = await versionsOf(Key);
      const err = await s3.send(new DeleteObjectCommand({ Bucket: lockBucket, Key, VersionId: version!.VersionId })).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      // MinIO's answer; AWS S3 answers 403 AccessDenied. Either way the store refuses, not Lifeboat.
      expect({ name: err?.name, message: err?.message }).toEqual({
        name: 'InvalidRequest',
        message: 'Object is WORM protected and cannot be overwritten',
      });
    }
    expect((await versionsOf(older.object.objectKey)).length).toBe(1);
  });

  it('retention reports the locked snapshot instead of failing, and a later run deletes every version once the date has passed', async () => {
    const first = await applyRetention();
    const [manifestHold, objectHold] = keysOf(older).map((key) => ({
      key,
      mode: 'GOVERNANCE',
      retainUntil: expect.any(String),
    }));
    expect(first).toEqual({
      plan: {
        keep: [{ id: newer.snapshotId, reasons: ['last 1', 'newest verified'] }],
        delete: [],
        locked: [{ id: older.snapshotId, reason: 'not selected by policy', until: expect.any(String) as unknown, mode: 'GOVERNANCE' }],
      },
      dryRun: false,
      deletedObjects: [],
      abortedUploads: [],
      lockedObjects: [manifestHold, objectHold],
    });
    expect(Date.parse(first.plan.locked![0]!.until)).toBeGreaterThan(Date.now() + dayMs - 10 * 60_000);
    for (const key of keysOf(older)) expect(await versionsOf(key)).toHaveLength(1);

    // The date passes: shortened to a few seconds from now, as only a GOVERNANCE bypass may.
    const soon = new Date(Date.now() + 3_000);
    for (const key of keysOf(older)) {
      for (const { VersionId } of await versionsOf(key)) {
        await s3.send(
          new PutObjectRetentionCommand({
            Bucket: lockBucket,
            Key: key,
            VersionId,
            BypassGovernanceRetention: true,
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: soon },
          }),
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, soon.getTime() - Date.now() + 1_500));
    const later = await applyRetention();
    expect(later.plan).toEqual({
      keep: [{ id: newer.snapshotId, reasons: ['last 1', 'newest verified'] }],
      delete: [{ id: older.snapshotId, reason: 'not selected by policy' }],
    });
    expect(later.deletedObjects).toEqual(keysOf(older));
    // Every version went: no data left behind a delete marker.
    for (const key of keysOf(older)) expect(await versionsOf(key)).toEqual([]);
    expect((await versionsOf(newer.object.objectKey)).length).toBe(1);
    expect((await versionsOf(snapshotManifestKey(cluster, newer.snapshotId))).length).toBe(2);
  }, 60_000);
});
