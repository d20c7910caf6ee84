// Integration (lab: Temporal, standby etcd, MinIO): tamper-evident backups. Snapshots taken by the real
// etcdSnapshot workflow on a cluster of the test's own; then the bucket is tampered with as someone who
// can write it would (an edited, a swapped, a rolled-back manifest; a signature removed; an object
// copied under another id) and every reader refuses it: listing, readManifest, fetch, retention,
// restore verification, the restore's snapshot choice and the CLI. A snapshot written before signing
// (envelope version 1, unsigned manifest) is listed, counted by retention, never chosen automatically.
import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { etcdSnapshot } from '../../../workflows/etcdSnapshot.js';
import type { restoreVerification } from '../../../workflows/restoreVerification.js';
import { activityDeps } from '../../../activities/deps.js';
import { createEtcdSnapshotActivities, type RetentionResult } from '../../../activities/etcd/snapshot.js';
import { createEtcdRestoreRunbookActivities, type EtcdRestorePreflight } from '../../../activities/control-plane/restore.js';
import { EnvelopeError } from '../../../activities/object-store/envelope.js';
import { ManifestTamperedError } from '../../../activities/object-store/manifest-mac.js';
import { listManifests, readManifest } from '../../../activities/object-store/manifests.js';
import { fetchSnapshot } from '../../../activities/object-store/snapshot-fetch.js';
import { chooseRestoreSnapshot } from '../../../model/etcd-recovery.js';
import { failureTypes } from '../../../model/failures.js';
import { snapshotManifestKey, snapshotObjectKey, type SnapshotManifest } from '../../../model/snapshot-layout.js';
import { createClients } from '../../../worker/clients.js';
import { loadKeyRing } from '../../../worker/keys.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../../helpers/lab.js';
import { deleteSnapshotsOf, testClusterName, withTestClusters, writeConfigWithTestCluster } from '../../helpers/test-cluster.js';

const cluster = testClusterName('integrity');
const elsewhere = testClusterName('integrity-other');
const retention = { keepLast: 10, daily: 0, weekly: 0, monthly: 0 };
const config = withTestClusters(labConfig(), [cluster, elsewhere], 'standby', { retention });
const clients = createClients(config);
const keyRing = loadKeyRing(config.encryption!);
const bucket = config.objectStore.bucket;
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-integrity-'));
const discard = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

let w: TestWorker;
let older: SnapshotManifest;
let newer: SnapshotManifest;
let env: Record<string, string>;

const snapshot = async (): Promise<SnapshotManifest> =>
  (
    await w.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `etcd-snapshot/${cluster}/test-${randomBytes(4).toString('hex')}`,
      args: [{ cluster, skipRetention: true }],
      workflowExecutionTimeout: '5 minutes',
    })
  ).manifest;

const bodyOf = async (Key: string) =>
  Buffer.from(await (await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body!.transformToByteArray());
const put = (Key: string, body: string | Buffer) => clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
const manifestText = (m: object) => `${JSON.stringify(m, null, 2)}\n`;
const refusal = async (run: Promise<unknown>) => {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ManifestTamperedError);
  return err as ManifestTamperedError;
};
/** Runs `change` on the bucket, then `check`, then puts the original manifest of `m` back. */
async function tampered(m: SnapshotManifest, change: () => Promise<unknown>, check: () => Promise<void>): Promise<void> {
  const key = snapshotManifestKey(m.cluster, m.snapshotId);
  const original = await bodyOf(key);
  try {
    await change();
    await check();
  } finally {
    await put(key, original);
  }
}
const withoutMac = (m: SnapshotManifest): SnapshotManifest => {
  const copy = { ...m };
  delete copy.mac;
  return copy;
};
const retentionNow = (): Promise<RetentionResult> =>
  new MockActivityEnvironment().run(() =>
    createEtcdSnapshotActivities(activityDeps(clients, keyRing)).applyEtcdRetention({
      cluster,
      dryRun: true,
      now: new Date().toISOString(),
    }),
  );

/**
 * The etcd restore's preflight on the test cluster (the standby's members, through the lab driver): it
 * reads and stages the snapshot and asks each member's host, and stops nothing. The staged file is removed.
 */
async function restorePreflight(input: { allowUnsigned?: boolean; force?: boolean }): Promise<EtcdRestorePreflight> {
  const activities = createEtcdRestoreRunbookActivities(activityDeps(clients, keyRing));
  const runId = randomUUID();
  try {
    return await new MockActivityEnvironment().run(() => activities.preflightEtcdRestore({ cluster, runId, ...input }));
  } finally {
    await new MockActivityEnvironment().run(() => activities.removeStagedSnapshot({ runId }));
  }
}
const failureOf = (run: Promise<unknown>) =>
  run.then(
    () => undefined,
    (e: unknown) => e as { type?: string; nonRetryable?: boolean; message: string },
  );

beforeAll(async () => {
  w = await startTestWorker((c) => withTestClusters(c, [cluster, elsewhere], 'standby', { retention }));
  env = {
    LIFEBOAT_CONFIG: writeConfigWithTestCluster(dir, [cluster, elsewhere], 'standby', retention),
    LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue,
  };
  older = await snapshot();
  newer = await snapshot();
}, 300_000);
afterAll(async () => {
  await w?.stop();
  for (const c of [cluster, elsewhere]) await deleteSnapshotsOf(clients.s3, bucket, c);
  clients.s3.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('what Lifeboat writes', () => {
  it('signs each manifest with the keyring key it names, and binds each object to its cluster and snapshot id', async () => {
    for (const m of [older, newer]) {
      expect(m.mac).toEqual({ algorithm: 'HMAC-SHA256', keyId: 'lab-1', value: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/) });
      expect(await readManifest(clients.s3, bucket, cluster, m.snapshotId, keyRing)).toEqual(m);
      const stored = await bodyOf(m.object.objectKey);
      expect(stored.subarray(0, 7).toString('latin1')).toBe('LBSNAP\x02');
      expect(stored.includes(Buffer.from(`${cluster}\x1d${m.snapshotId}`))).toBe(true);
      const fetched = await fetchSnapshot({ s3: clients.s3, bucket, manifest: m, keyRing, destination: discard() });
      expect(fetched.plaintextSha256).toBe(m.object.plaintextSha256);
    }
    const listing = await listManifests(clients.s3, bucket, cluster, keyRing);
    expect(listing).toMatchObject({ complete: true, macsChecked: true, tampered: [] });
    expect(listing.manifests.map((m) => m.snapshotId)).toEqual([newer.snapshotId, older.snapshotId]);
  });
});

describe('a tampered manifest is refused by every reader', () => {
  it('edited (status set to verified): readManifest, listing, retention, restore choice, verification and the CLI refuse it', async () => {
    const key = snapshotManifestKey(cluster, newer.snapshotId);
    await tampered(
      newer,
      () => put(key, manifestText({ ...newer, status: 'verified' })),
      async () => {
        const err = await refusal(readManifest(clients.s3, bucket, cluster, newer.snapshotId, keyRing));
        expect(err.kind).toBe('edited');
        expect(err.message).toBe(
          `manifest ${key} was edited after Lifeboat wrote it: its signature (key 'lab-1') does not match its content (or the key configured as 'lab-1' is not the one it was signed with). It is refused; compare it with the bucket's earlier versions and find out who wrote it`,
        );

        const listing = await listManifests(clients.s3, bucket, cluster, keyRing);
        expect(listing.manifests.map((m) => m.snapshotId)).toEqual([older.snapshotId]);
        expect(listing.tampered).toEqual([{ key, kind: 'edited', reason: err.message }]);

        const plan = (await retentionNow()).plan;
        expect(plan.delete).toEqual([]);
        expect(plan.refused).toBe(`1 tampered manifest(s), nothing is deleted until someone has looked at the bucket: ${err.message}`);

        const choice = chooseRestoreSnapshot(listing, { cluster, force: true });
        expect(choice).toMatchObject({ ok: false, type: failureTypes.ManifestTampered });

        const verification = await w.client.workflow
          .execute<typeof restoreVerification>('restoreVerification', {
            taskQueue: w.config.temporal.taskQueue,
            workflowId: `verify-etcd/${cluster}/test-${randomBytes(4).toString('hex')}`,
            args: [{ kind: 'etcd', cluster, snapshotId: newer.snapshotId }],
            workflowExecutionTimeout: '3 minutes',
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(verification).toBeInstanceOf(WorkflowFailedError);
        let cause = (verification as WorkflowFailedError).cause as { cause?: unknown; type?: string; message: string } | undefined;
        while (cause?.cause) cause = cause.cause as typeof cause;
        expect(cause).toMatchObject({ type: failureTypes.ManifestTampered, message: err.message });

        const list = await lifeboat(['snapshots', 'list', '--cluster', cluster], env);
        expect(list.exitCode).toBe(1);
        expect(list.stdout).toContain(`REFUSED: ${err.message}`);
        const fetched = await lifeboat(
          ['snapshots', 'fetch', '--cluster', cluster, '--snapshot', newer.snapshotId, '--out', join(dir, 'edited.db')],
          env,
        );
        expect({ exitCode: fetched.exitCode, stderr: fetched.stderr.trim() }).toEqual({
          exitCode: 1,
          stderr: `lifeboat: ${err.message}. Nothing written to ${join(dir, 'edited.db')}`,
        });
      },
    );
    // Put back, it reads again.
    expect(await readManifest(clients.s3, bucket, cluster, newer.snapshotId, keyRing)).toEqual(newer);
  }, 240_000);

  it('rolled back (the older snapshot’s manifest written over the newer id) and swapped (the newer over the older; another cluster’s)', async () => {
    const newerKey = snapshotManifestKey(cluster, newer.snapshotId);
    await tampered(
      newer,
      async () => put(newerKey, await bodyOf(snapshotManifestKey(cluster, older.snapshotId))),
      async () => {
        const err = await refusal(readManifest(clients.s3, bucket, cluster, newer.snapshotId, keyRing));
        expect(err.kind).toBe('rolled-back');
        expect(err.message).toBe(
          `manifest ${newerKey} is rolled back: it is the manifest of the older snapshot ${older.snapshotId} (taken ${older.startedAt}) written over snapshot ${newer.snapshotId}'s, so the newest snapshot would restore old data. It is refused`,
        );
        const listing = await listManifests(clients.s3, bucket, cluster, keyRing);
        expect(listing.tampered.map((t) => t.kind)).toEqual(['rolled-back']);
        // Without the check, "the newest" would have been the old data under the new id.
        expect(chooseRestoreSnapshot(listing, { cluster, force: true })).toMatchObject({
          ok: false,
          type: failureTypes.ManifestTampered,
          reason: expect.stringContaining(err.message),
        });
        // The restore's preflight refuses it before anything is stopped.
        expect(await failureOf(restorePreflight({ force: true }))).toMatchObject({
          type: failureTypes.ManifestTampered,
          nonRetryable: true,
          message: expect.stringMatching(
            new RegExp(`^1 manifest\\(s\\) of cluster '${cluster}' were tampered with, .*Nothing was stopped$`),
          ),
        });
      },
    );

    const olderKey = snapshotManifestKey(cluster, older.snapshotId);
    await tampered(
      older,
      async () => put(olderKey, await bodyOf(newerKey)),
      async () => {
        const err = await refusal(readManifest(clients.s3, bucket, cluster, older.snapshotId, keyRing));
        expect(err.kind).toBe('swapped');
        expect(err.message).toBe(
          `manifest ${olderKey} is swapped: it is the manifest of snapshot ${newer.snapshotId} of cluster '${cluster}', stored as snapshot ${older.snapshotId} of cluster '${cluster}'. It is refused`,
        );
      },
    );

    // A snapshot of `cluster`, manifest and object copied whole under another cluster's prefix.
    const foreignKey = snapshotManifestKey(elsewhere, newer.snapshotId);
    await put(foreignKey, await bodyOf(newerKey));
    await clients.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        CopySource: `${bucket}/${newer.object.objectKey}`,
        Key: newer.object.objectKey.replace(cluster, elsewhere),
      }),
    );
    const err = await refusal(readManifest(clients.s3, bucket, elsewhere, newer.snapshotId, keyRing));
    expect(err.kind).toBe('swapped');
    expect(err.message).toContain(
      `it is the manifest of snapshot ${newer.snapshotId} of cluster '${cluster}', stored as snapshot ${newer.snapshotId} of cluster '${elsewhere}'`,
    );
  }, 120_000);

  it('a signature removed: listed as unsigned, but its fetch is refused (only a signing Lifeboat writes version 2 objects)', async () => {
    const key = snapshotManifestKey(cluster, newer.snapshotId);
    const stripped = withoutMac(newer);
    await tampered(
      newer,
      () => put(key, manifestText(stripped)),
      async () => {
        const read = await readManifest(clients.s3, bucket, cluster, newer.snapshotId, keyRing);
        expect(read.mac).toBeUndefined();
        const err = await refusal(fetchSnapshot({ s3: clients.s3, bucket, manifest: read, keyRing, destination: discard() }));
        expect(err.kind).toBe('signature-removed');
        expect(err.message).toBe(
          `manifest ${key} is unsigned, but its snapshot was written by a Lifeboat that signs every manifest (envelope version 2): its signature was removed. It is refused`,
        );
        // Never chosen automatically: the older, signed snapshot is.
        const listing = await listManifests(clients.s3, bucket, cluster, keyRing);
        expect(chooseRestoreSnapshot(listing, { cluster, force: true })).toMatchObject({
          ok: true,
          snapshot: { snapshotId: older.snapshotId },
        });
      },
    );
  });

  it('an object copied under another snapshot id, with an unsigned manifest made for it, fails decryption as the wrong snapshot', async () => {
    const copyId = `${newer.snapshotId.slice(0, -1)}${newer.snapshotId.endsWith('0') ? '1' : '0'}`;
    const objectKey = snapshotObjectKey(cluster, copyId, 1);
    await clients.s3.send(new CopyObjectCommand({ Bucket: bucket, CopySource: `${bucket}/${newer.object.objectKey}`, Key: objectKey }));
    const fields = withoutMac(newer);
    await put(
      snapshotManifestKey(cluster, copyId),
      manifestText({ ...fields, snapshotId: copyId, object: { ...fields.object, objectKey } }),
    );
    try {
      const forged = await readManifest(clients.s3, bucket, cluster, copyId, keyRing);
      const err = await fetchSnapshot({ s3: clients.s3, bucket, manifest: forged, keyRing, destination: discard() }).then(
        () => undefined,
        (e: unknown) => e as EnvelopeError,
      );
      expect(err).toBeInstanceOf(EnvelopeError);
      expect(err!.reason).toBe('wrong-snapshot');
      expect(err!.message).toBe(
        `this object is snapshot ${newer.snapshotId} of cluster '${cluster}', but it was read as snapshot ${copyId} of cluster '${cluster}': it was copied or moved under another name, and is refused`,
      );
    } finally {
      await deleteKeys([snapshotManifestKey(cluster, copyId), objectKey]);
    }
  });
});

/** A version 1 envelope, as Lifeboat wrote before snapshots were bound (the format in envelope.ts). */
function encryptV1(plaintext: Buffer, key: Buffer, keyId: string, chunkSize = 65536): Buffer {
  const header = Buffer.concat([
    Buffer.from('LBSNAP\x01', 'latin1'),
    Buffer.of(keyId.length),
    Buffer.from(keyId),
    Buffer.alloc(4),
    randomBytes(7),
  ]);
  header.writeUInt32BE(chunkSize, 8 + keyId.length);
  const prefix = header.subarray(header.length - 7);
  const records: Buffer[] = [header];
  const chunks = Math.max(1, Math.ceil(plaintext.length / chunkSize));
  for (let i = 0; i < chunks; i++) {
    const nonce = Buffer.concat([prefix, Buffer.alloc(4), Buffer.of(i === chunks - 1 ? 1 : 0)]);
    nonce.writeUInt32BE(i, 7);
    const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(header);
    records.push(cipher.update(plaintext.subarray(i * chunkSize, (i + 1) * chunkSize)), cipher.final(), cipher.getAuthTag());
  }
  return Buffer.concat(records);
}

async function deleteKeys(keys: string[]): Promise<void> {
  const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
  await clients.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
}

describe('a snapshot from before signing (envelope version 1, unsigned manifest)', () => {
  it('is listed as unsigned, counted by retention, passed over by the restore choice, fetched only with --allow-unsigned', async () => {
    const legacyId = `${older.snapshotId.slice(0, 8)}T000000Z-${'0'.repeat(11)}1`;
    const plaintext = await (async () => {
      const parts: Buffer[] = [];
      await fetchSnapshot({
        s3: clients.s3,
        bucket,
        manifest: older,
        keyRing,
        destination: new Writable({
          write(chunk: Buffer, _encoding, done) {
            parts.push(chunk);
            done();
          },
        }),
      });
      return Buffer.concat(parts);
    })();
    const stored = encryptV1(plaintext, keyRing.lookup('lab-1')!, 'lab-1');
    const objectKey = snapshotObjectKey(cluster, legacyId, 1);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const fields = withoutMac(older);
    const legacy: SnapshotManifest = {
      ...fields,
      snapshotId: legacyId,
      status: 'verified',
      startedAt: `${legacyId.slice(0, 4)}-${legacyId.slice(4, 6)}-${legacyId.slice(6, 8)}T00:00:00.000Z`,
      object: { ...fields.object, objectKey, storedBytes: stored.length, storedSha256: sha(stored) },
      encryption: { ...fields.encryption, chunkSize: 65536 },
    };
    await put(objectKey, stored);
    await put(snapshotManifestKey(cluster, legacyId), manifestText(legacy));
    try {
      const listing = await listManifests(clients.s3, bucket, cluster, keyRing);
      expect(listing.tampered).toEqual([]);
      expect(listing.manifests.map((m) => [m.snapshotId, m.mac ? 'signed' : 'unsigned'])).toEqual([
        [newer.snapshotId, 'signed'],
        [older.snapshotId, 'signed'],
        [legacyId, 'unsigned'],
      ]);
      // The only verified snapshot is the unsigned one: not taken without allowUnsigned.
      expect(chooseRestoreSnapshot(listing, { cluster })).toMatchObject({
        ok: false,
        type: failureTypes.NoRestorableSnapshot,
        reason: expect.stringContaining(
          '1 snapshot(s) with unsigned manifests (written before signing) were passed over: --allow-unsigned takes them',
        ),
      });
      expect(chooseRestoreSnapshot(listing, { cluster, allowUnsigned: true })).toMatchObject({
        ok: true,
        snapshot: { snapshotId: legacyId },
      });
      // The restore's preflight, as `lifeboat etcd restore` runs it: refused, then taken with allowUnsigned, and said so.
      expect(await failureOf(restorePreflight({}))).toMatchObject({ type: failureTypes.NoRestorableSnapshot, nonRetryable: true });
      const plan = await restorePreflight({ allowUnsigned: true });
      expect(plan.snapshot).toMatchObject({ snapshotId: legacyId, plaintextSha256: older.object.plaintextSha256 });
      expect(plan.notes).toContain('ITS MANIFEST IS UNSIGNED (written before manifests were signed; taken because of allowUnsigned).');
      expect((await retentionNow()).plan.keep.map((k) => k.id)).toEqual([newer.snapshotId, older.snapshotId, legacyId]);

      const list = await lifeboat(['snapshots', 'list', '--cluster', cluster], env);
      expect(list.exitCode).toBe(0);
      expect(list.stdout).toMatch(new RegExp(`^${legacyId}\\s.*\\sverified\\s+lab-1\\s+unsigned$`, 'm'));

      const out = join(dir, 'legacy.db');
      const refused = await lifeboat(['snapshots', 'fetch', '--cluster', cluster, '--snapshot', legacyId, '--out', out], env);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toContain(
        `snapshot ${legacyId} of '${cluster}' has an unsigned manifest (written before Lifeboat signed manifests)`,
      );
      const fetched = await lifeboat(
        ['snapshots', 'fetch', '--cluster', cluster, '--snapshot', legacyId, '--out', out, '--allow-unsigned', '--json'],
        env,
      );
      expect({ exitCode: fetched.exitCode, stderr: fetched.stderr }).toEqual({ exitCode: 0, stderr: '' });
      expect(JSON.parse(fetched.stdout)).toMatchObject({ snapshotId: legacyId, sha256: older.object.plaintextSha256, signed: false });
      expect(sha(readFileSync(out))).toBe(older.object.plaintextSha256);
    } finally {
      await deleteKeys([snapshotManifestKey(cluster, legacyId), objectKey]);
    }
  }, 120_000);
});
