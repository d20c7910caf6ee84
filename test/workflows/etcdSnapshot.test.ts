// Integration (lab: Temporal, primary and standby etcd and kube-apiserver, MinIO; etcdutl): the
// etcdSnapshot runbook end to end, its secrecy, integrity checks and classified failures.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CoreV1Api } from '@kubernetes/client-node';
import type { ApplicationFailure } from '@temporalio/common';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { fetchSnapshot, SnapshotIntegrityError } from '../../activities/object-store/snapshot-fetch.js';
import { EnvelopeError } from '../../activities/object-store/envelope.js';
import { createEtcdSnapshotActivities, type RetentionResult } from '../../activities/etcd/snapshot.js';
import { activityDeps } from '../../activities/deps.js';
import { ManifestCollisionError, readManifest, writeManifest } from '../../activities/object-store/manifests.js';
import {
  snapshotManifestKey,
  snapshotObjectKey,
  snapshotPrefix,
  type Inventory,
  type SnapshotManifest,
} from '../../model/snapshot-layout.js';
import { withEtcdClient } from '../../activities/etcd/client.js';
import { createClients, type LifeboatClients } from '../../worker/clients.js';
import { loadKeyRing, type KeyRing } from '../../worker/keys.js';
import { bin } from '../../lab/topology.js';
import { adminKubeConfig, labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { s3ClientDenyingDelete } from '../helpers/minio.js';
import { deleteSnapshotsOf, snapshotKeysOf, testClusterName, withTestClusters } from '../helpers/test-cluster.js';
import { decodeHistoryJSON } from '../../worker/temporal.js';

const config = labConfig();
const clients = createClients(config);
const keyRing = loadKeyRing(config.encryption!);
const bucket = config.objectStore.bucket;
const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-snapshot-test-'));
const discard = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

let w: TestWorker;
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.stop();
  clients.s3.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

const snapshot = (cluster: string, extra: Partial<Parameters<typeof etcdSnapshot>[0]> = {}, worker = w) =>
  worker.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: worker.config.temporal.taskQueue,
    workflowId: `etcd-snapshot/${cluster}/test-${Date.now()}-${randomBytes(3).toString('hex')}`,
    args: [{ cluster, skipRetention: true, ...extra }],
    workflowExecutionTimeout: '5 minutes',
  });

const failureOf = async (run: Promise<unknown>) => {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  let cause: unknown = (err as WorkflowFailedError).cause;
  while ((cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
  return cause as { type?: string; message: string };
};

describe('etcdSnapshot round trip', () => {
  const marker = `lifeboat-marker-${randomBytes(12).toString('hex')}`;
  let manifest: SnapshotManifest;
  let workflowId: string;

  beforeAll(async () => {
    const core = adminKubeConfig('primary').makeApiClient(CoreV1Api);
    await core
      .createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'snapshot-marker' }, data: { marker } } })
      .catch(() =>
        core.replaceNamespacedConfigMap({
          name: 'snapshot-marker',
          namespace: 'default',
          body: { metadata: { name: 'snapshot-marker' }, data: { marker } },
        }),
      );
    const result = await snapshot('primary');
    manifest = result.manifest;
    workflowId = manifest.workflowId;
  });

  it('writes a manifest that describes the stored object', async () => {
    expect(manifest).toMatchObject({
      kind: 'lifeboat.etcd-snapshot',
      cluster: 'primary',
      status: 'uploaded',
      encryption: { keyId: 'lab-1', algorithm: 'AES-256-GCM-STREAM' },
    });
    expect(manifest.object.etcdTrailerVerified).toBe(true);
    expect(manifest.etcd.version).toBe('3.5.21');
    expect(await readManifest(clients.s3, bucket, 'primary', manifest.snapshotId, keyRing)).toEqual(manifest);
    // The inventory counts exactly what etcd itself holds at the revision it names, the test's marker among it.
    const primary = config.clusters.find((c) => c.name === 'primary')!;
    const counted = await withEtcdClient(primary, undefined, async (etcd) => {
      const count = async (key: string, rangeEnd?: string) =>
        Number(
          (
            await etcd.kv.range({
              key: Buffer.from(key),
              ...(rangeEnd ? { range_end: Buffer.from(rangeEnd) } : {}),
              revision: manifest.inventory.revision,
              count_only: true,
            })
          ).count,
        );
      return {
        configmaps: await count('/registry/configmaps/', '/registry/configmaps0'),
        namespaces: await count('/registry/namespaces/', '/registry/namespaces0'),
        marker: await count('/registry/configmaps/default/snapshot-marker'),
      };
    });
    expect({ configmaps: manifest.inventory.prefixes.configmaps, namespaces: manifest.inventory.prefixes.namespaces, marker: 1 }).toEqual(
      counted,
    );
    expect(manifest.inventory.prefixes.minions).toBe(3);
  });

  it('downloads, decrypts to the manifest sha256, and etcdutl accepts the snapshot', async () => {
    const file = join(scratch, 'snapshot.db');
    const fetched = await fetchSnapshot({ s3: clients.s3, bucket, manifest, keyRing, destination: createWriteStream(file) });
    expect(fetched.plaintextSha256).toBe(manifest.object.plaintextSha256);
    const { stdout } = await execa(bin.etcdutl, ['snapshot', 'status', file, '-w', 'json']);
    const status = JSON.parse(stdout) as { revision: number; totalKey: number };
    expect(status.revision).toBeGreaterThanOrEqual(manifest.etcd.revisionAtStart);
    expect(status.totalKey).toBeGreaterThan(manifest.inventory.totalKeys);
    // The marker is in the snapshot in clear (the next test relies on that to mean something).
    expect(readFileSync(file).includes(marker)).toBe(true);
  });

  it('keeps key material and snapshot bytes out of the workflow history', async () => {
    // Opened with the codec (what Lifeboat writes, not what the encryption hides); payloads are base64 in the history: search them decoded, too.
    const json = await decodeHistoryJSON(w.client, historyToJSON(await w.client.workflow.getHandle(workflowId).fetchHistory()));
    const decoded = [...json.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
    const history = [json, ...decoded].join('\n');
    const key = keyRing.lookup('lab-1')!;
    for (const secret of [key.toString('base64'), key.toString('hex'), marker, Buffer.from(marker).toString('base64')]) {
      expect(history).not.toContain(secret);
    }
    // The search does see inside payloads: the key id and the manifest's hashes are there.
    expect(history).toContain('"keyId":"lab-1"');
    expect(history).toContain(manifest.object.plaintextSha256);
    if (process.env.LIFEBOAT_RECORD_HISTORIES === '1') {
      await writeFile(fileURLToPath(new URL('../../../test/histories/etcdSnapshot.json', import.meta.url)), json);
    }
    expect(history.length).toBeLessThan(64 * 1024);
  });

  it('refuses a stored object with one flipped byte, saying so', async () => {
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifest.object.objectKey }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    // Under the snapshot's own prefix: a manifest naming an object elsewhere is refused before any byte is read.
    const key = `${snapshotPrefix('primary')}${manifest.snapshotId}/flipped-${Date.now()}.lbenc`;
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    const run = fetchSnapshot({
      s3: clients.s3,
      bucket,
      manifest: { ...manifest, object: { ...manifest.object, objectKey: key } },
      keyRing,
      destination: discard(),
    });
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnvelopeError);
    expect((err as EnvelopeError).reason).toBe('authentication-failed');
    // In chunk 0 a wrong key and modified data look alike, and the message says both; later chunks say which.
    expect((err as Error).message).toMatch(/^authentication failed on chunk \d+ \(bytes \d+ to \d+\): .*the data was modified/);
    await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });

  it('refuses the wrong key, and an unknown key id, saying so', async () => {
    const wrong: KeyRing = { currentKeyId: 'lab-1', ids: ['lab-1'], lookup: (id) => (id === 'lab-1' ? randomBytes(32) : undefined) };
    const err = await fetchSnapshot({ s3: clients.s3, bucket, manifest, keyRing: wrong, destination: discard() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as EnvelopeError).reason).toBe('authentication-failed');
    const other: KeyRing = { currentKeyId: 'k9', ids: ['k9'], lookup: () => undefined };
    const unknown = await fetchSnapshot({ s3: clients.s3, bucket, manifest, keyRing: other, destination: discard() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((unknown as EnvelopeError).reason).toBe('unknown-key');
    expect((unknown as Error).message).toContain('"lab-1", which is not configured (configured: k9)');
  });

  it('key rotation: new snapshots use the current key, old ones stay readable', async () => {
    process.env.LIFEBOAT_TEST_KEY_K2 = randomBytes(32).toString('base64');
    const encryption = { currentKeyId: 'k2', keys: [...config.encryption!.keys, { id: 'k2', env: 'LIFEBOAT_TEST_KEY_K2' }] };
    const rotated = await startTestWorker((c) => ({ ...c, encryption }));
    try {
      const { manifest: fresh } = await snapshot('primary', {}, rotated);
      expect(fresh.encryption.keyId).toBe('k2');
      const both = loadKeyRing(encryption);
      expect((await fetchSnapshot({ s3: clients.s3, bucket, manifest: fresh, keyRing: both, destination: discard() })).keyId).toBe('k2');
      expect((await fetchSnapshot({ s3: clients.s3, bucket, manifest, keyRing: both, destination: discard() })).keyId).toBe('lab-1');
      const oldOnly = await fetchSnapshot({ s3: clients.s3, bucket, manifest: fresh, keyRing, destination: discard() }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((oldOnly as EnvelopeError).reason).toBe('unknown-key');
    } finally {
      await rotated.stop();
      delete process.env.LIFEBOAT_TEST_KEY_K2;
    }
  });

  it('two snapshots started at the same moment get their own ids, objects and manifests', async () => {
    const [a, b] = await Promise.all([snapshot('standby'), snapshot('standby')]);
    expect(a.manifest.snapshotId).not.toBe(b.manifest.snapshotId);
    for (const m of [a.manifest, b.manifest]) {
      expect(await readManifest(clients.s3, bucket, 'standby', m.snapshotId, keyRing)).toEqual(m);
      expect((await fetchSnapshot({ s3: clients.s3, bucket, manifest: m, keyRing, destination: discard() })).plaintextSha256).toBe(
        m.object.plaintextSha256,
      );
    }
  });

  it("a manifest never replaces another run's, but the same run may write it again", async () => {
    await writeManifest(clients.s3, bucket, manifest, { keyRing });
    const other = { ...manifest, runId: 'another-run', workflowId: 'etcd-snapshot/primary/other' };
    const err = await writeManifest(clients.s3, bucket, other, { keyRing }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ManifestCollisionError);
    expect((err as Error).message).toMatch(
      new RegExp(`already belongs to run ${manifest.workflowId}/${manifest.runId}; refusing to replace it`),
    );
    expect(await readManifest(clients.s3, bucket, 'primary', manifest.snapshotId, keyRing)).toEqual(manifest);
  });

  it('refuses a manifest whose sha256 does not match what is stored', async () => {
    const forged = { ...manifest, object: { ...manifest.object, plaintextSha256: createHash('sha256').update('x').digest('hex') } };
    const err = await fetchSnapshot({ s3: clients.s3, bucket, manifest: forged, keyRing, destination: discard() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SnapshotIntegrityError);
    expect((err as Error).message).toMatch(/^decrypted snapshot has sha256 [0-9a-f]{64} \(\d+ bytes\), the manifest says /);
  });
});

describe('etcdSnapshot bad input and classified failures', () => {
  it('an unknown cluster fails without retrying', async () => {
    const cause = await failureOf(snapshot('nowhere'));
    expect(cause).toMatchObject({ type: 'UnknownCluster', message: "unknown cluster 'nowhere'; this worker knows primary, standby" });
  });

  it('an unreachable etcd stops at preflight, naming the address', async () => {
    const broken = await startTestWorker((c) => ({
      ...c,
      clusters: c.clusters.map((cl) => (cl.name === 'standby' ? { ...cl, etcd: { ...cl.etcd, endpoints: ['https://127.0.0.1:1'] } } : cl)),
    }));
    try {
      const cause = await failureOf(snapshot('standby', {}, broken));
      expect(cause.type).toBe('PreflightFailed');
      expect(cause.message).toMatch(/^preflight: etcd of cluster 'standby' at https:\/\/127\.0\.0\.1:1 is unhealthy: connection refused/);
    } finally {
      await broken.stop();
    }
  });

  it("bad certificates (the other cluster's CA) are a non-retryable TLS error", async () => {
    const primary = config.clusters.find((c) => c.name === 'primary')!;
    const acts = createEtcdSnapshotActivities(
      activityDeps(
        createClients({
          ...config,
          clusters: config.clusters.map((c) => (c.name === 'standby' ? { ...c, etcd: { ...c.etcd, caFile: primary.etcd.caFile } } : c)),
        }),
        keyRing,
      ),
    );
    const env = new MockActivityEnvironment({ attempt: 1 });
    const err = await env
      .run(() => acts.streamEtcdSnapshot({ cluster: 'standby', snapshotId: `tls-test-${Date.now()}` }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ type: 'EtcdTlsError', nonRetryable: true });
    const endpoint = config.clusters.find((c) => c.name === 'standby')!.etcd.endpoints[0]!;
    expect((err as Error).message).toBe(
      `TLS to etcd of cluster 'standby' at ${endpoint} failed: TLS: tls: failed to verify certificate: x509: certificate signed by unknown authority ` +
        `(Failed to get the status of endpoint ${endpoint} (context deadline exceeded))`,
    );
  });

  it('the inventory falls back to the current revision when the snapshot revision was compacted', async () => {
    const primary = config.clusters.find((c) => c.name === 'primary')!;
    const old = await withEtcdClient(primary, undefined, async (etcd) => {
      const before = Number((await etcd.kv.range({ key: Buffer.from('/'), limit: 1 })).header.revision);
      await etcd.put('/lifeboat-scratch/compaction-probe').value(String(Date.now()));
      const now = Number((await etcd.kv.range({ key: Buffer.from('/'), limit: 1 })).header.revision);
      await etcd.kv.compact({ revision: now, physical: true });
      await etcd.delete().key('/lifeboat-scratch/compaction-probe');
      return before;
    });
    const acts = createEtcdSnapshotActivities(activityDeps(clients, keyRing));
    const inventory: Inventory = await new MockActivityEnvironment().run(() => acts.etcdInventory({ cluster: 'primary', revision: old }));
    expect(inventory.revision).toBeGreaterThan(old);
    expect(inventory.prefixes.minions).toBe(3);
  });
});

describe('etcd retention, on clusters of its own', () => {
  // Each test has a cluster of its own: the primary's real etcd under a name no other test uses, so
  // retention (with `now` a day ahead) lists, deletes and aborts only under etcd/<its cluster>/, what
  // that test made. keepLast 1 and nothing else: of two snapshots, the older goes.
  const retention = { keepLast: 1, daily: 0, weekly: 0, monthly: 0 };
  const [sweep, refusedOrphan, refusedManifest, unreachable] = ['ret-sweep', 'ret-orphan', 'ret-manifest', 'ret-unreachable'].map(
    testClusterName,
  ) as [string, string, string, string];
  const testClusters = [sweep, refusedOrphan, refusedManifest, unreachable];
  let rw: TestWorker;
  let rclients: LifeboatClients;
  beforeAll(async () => {
    rw = await startTestWorker((c) => withTestClusters(c, testClusters, 'primary', { retention }));
    rclients = createClients(rw.config);
  });
  afterAll(async () => {
    await rw?.stop();
    for (const cluster of testClusters) await deleteSnapshotsOf(clients.s3, bucket, cluster);
    rclients?.s3.destroy();
  });

  /** Two snapshots of the cluster through the real workflow, the older first; and an attempt object the store holds for the newer one that no manifest names. */
  async function olderNewerAndStale(cluster: string, attempts: number[]) {
    const { manifest: older } = await snapshot(cluster, {}, rw);
    const { manifest: newer } = await snapshot(cluster, {}, rw);
    const stale = attempts.map((a) => snapshotObjectKey(cluster, newer.snapshotId, a));
    for (const Key of stale) await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'an attempt Temporal gave up on' }));
    return { older, newer, stale };
  }
  const keysOf = (m: SnapshotManifest) => [m.object.objectKey, snapshotManifestKey(m.cluster, m.snapshotId)];
  // A day and more later, past the 24 h threshold for unreferenced objects.
  const aDayLater = () => new Date(Date.now() + 25 * 3_600_000).toISOString();
  const applyRetention = (c: LifeboatClients, cluster: string): Promise<RetentionResult> =>
    new MockActivityEnvironment().run(() =>
      createEtcdSnapshotActivities(activityDeps(c, keyRing)).applyEtcdRetention({ cluster, dryRun: false, now: aDayLater() }),
    );

  it('deletes the snapshot the policy drops (manifest and object) and an object no manifest names, keeps the newest, and reports exactly that', async () => {
    const { older, newer, stale } = await olderNewerAndStale(sweep, [7]);
    const result: RetentionResult = await applyRetention(rclients, sweep);
    expect(result).toEqual({
      plan: {
        keep: [{ id: newer.snapshotId, reasons: ['last 1', 'newest uploaded (no verified snapshot)'] }],
        delete: [{ id: older.snapshotId, reason: 'not selected by policy' }],
      },
      dryRun: false,
      deletedObjects: [snapshotManifestKey(sweep, older.snapshotId), older.object.objectKey, ...stale],
      abortedUploads: [],
    });
    expect(await snapshotKeysOf(clients.s3, bucket, sweep)).toEqual(keysOf(newer).sort());
  }, 180_000);

  /** Retention through a client whose deletes of `denied` the store refuses; returns the failure. */
  async function retentionRefusing(cluster: string, denied: string[]): Promise<ApplicationFailure> {
    const denying = await s3ClientDenyingDelete(config, denied);
    try {
      const err = await applyRetention({ ...rclients, s3: denying }, cluster).then(
        (result) => result,
        (e: unknown) => e,
      );
      // Matched by name and type, not instanceof (which breaks across module copies under Jest).
      expect(err).toMatchObject({ name: 'ApplicationFailure', type: 'RetentionDeleteFailed', nonRetryable: true });
      return err as ApplicationFailure;
    } finally {
      denying.destroy();
    }
  }

  it('a store that refuses to delete an object no manifest names: the rest goes, the report names only what went, and retention fails as RetentionDeleteFailed', async () => {
    const {
      older,
      newer,
      stale: [deletable, refusedKey],
    } = await olderNewerAndStale(refusedOrphan, [7, 8]);
    const failure = await retentionRefusing(refusedOrphan, [refusedKey!]);
    expect(failure.message).toBe(
      `retention of cluster '${refusedOrphan}' deleted 3 of 4 objects; the store refused 1: ${refusedKey}: AccessDenied (Access Denied.)`,
    );
    expect(failure.details).toEqual([
      {
        plan: {
          keep: [{ id: newer.snapshotId, reasons: ['last 1', 'newest uploaded (no verified snapshot)'] }],
          delete: [{ id: older.snapshotId, reason: 'not selected by policy' }],
        },
        dryRun: false,
        deletedObjects: [snapshotManifestKey(refusedOrphan, older.snapshotId), older.object.objectKey, deletable],
        abortedUploads: [],
      },
    ]);
    expect(await snapshotKeysOf(clients.s3, bucket, refusedOrphan)).toEqual([...keysOf(newer), refusedKey!].sort());
  }, 180_000);

  it("a store that refuses to delete a dropped snapshot's manifest: its object stays too, the rest goes, and retention fails as RetentionDeleteFailed", async () => {
    const {
      older,
      newer,
      stale: [deletable],
    } = await olderNewerAndStale(refusedManifest, [7]);
    const manifestKey = snapshotManifestKey(refusedManifest, older.snapshotId);
    const failure = await retentionRefusing(refusedManifest, [manifestKey]);
    // The object is not even asked for: a snapshot never loses its object while its manifest shows it.
    expect(failure.message).toBe(
      `retention of cluster '${refusedManifest}' deleted 1 of 2 objects; the store refused 1: ${manifestKey}: AccessDenied (Access Denied.)`,
    );
    expect(failure.details).toEqual([
      {
        plan: {
          keep: [{ id: newer.snapshotId, reasons: ['last 1', 'newest uploaded (no verified snapshot)'] }],
          delete: [{ id: older.snapshotId, reason: 'not selected by policy' }],
        },
        dryRun: false,
        deletedObjects: [deletable],
        abortedUploads: [],
      },
    ]);
    expect(await snapshotKeysOf(clients.s3, bucket, refusedManifest)).toEqual([...keysOf(older), ...keysOf(newer)].sort());
  }, 180_000);

  it('does nothing when the listing fails', async () => {
    const Key = `${snapshotPrefix(unreachable)}20200101T000000Z-000000000000/snapshot.a1.db.lbenc`;
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'an object retention never saw' }));
    const s3 = new S3Client({
      endpoint: 'http://127.0.0.1:1',
      region: 'minio',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    try {
      const result: RetentionResult = await applyRetention({ ...rclients, s3 }, unreachable);
      expect(result.plan.refused).toMatch(new RegExp(`^listing incomplete: listing s3://lifeboat/etcd/${unreachable}/ failed: `));
      expect(result).toEqual({
        plan: { keep: [], delete: [], refused: result.plan.refused },
        dryRun: false,
        deletedObjects: [],
        abortedUploads: [],
      });
      expect(await snapshotKeysOf(clients.s3, bucket, unreachable)).toEqual([Key]);
    } finally {
      s3.destroy();
    }
  });
});
