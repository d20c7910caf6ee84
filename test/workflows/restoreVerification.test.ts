// restoreVerification, kind etcd (lab: Temporal, MinIO, both clusters' etcd and kube-apiserver; the
// worker starts scratch etcd and kube-apiserver processes from the lab's binaries).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { scratchIdFor, type EtcdVerificationInput, type restoreVerification } from '../../workflows/restoreVerification.js';
import type { VerificationResult } from '../../model/verification.js';
import { readManifest } from '../../activities/object-store/manifests.js';
import { failedVerification } from '../../cli/verification-output.js';
import { createClients } from '../../worker/clients.js';
import type { ObjectRef } from '../../worker/config.js';
import { loadKeyRing } from '../../worker/keys.js';
import { fetchHistory } from '../helpers/histories.js';
import { adminKubeConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { alive, listeningSockets } from '../helpers/processes.js';
import { grantObjectReads, revokeObjectReads } from '../../lab/rbac.js';
import { deleteSnapshotsOf, testClusterName, withTestClusters } from '../helpers/test-cluster.js';

const scratchDir = mkdtempSync(join(tmpdir(), 'lifeboat-verify-test-'));
// Clusters of the tests' own (the standby's etcd under names no other test uses): the snapshots a test
// verifies, corrupts or lets the runbook pick as the newest are only the ones it took itself.
const newestCluster = testClusterName('verify-newest');
const corruptCluster = testClusterName('verify-corrupt');
const tlsCluster = testClusterName('verify-tls');
let w: TestWorker;
let clients: ReturnType<typeof createClients>;
beforeAll(async () => {
  w = await startTestWorker((c) =>
    withTestClusters({ ...c, verification: { ...c.verification, scratchDir } }, [newestCluster, corruptCluster, tlsCluster], 'standby'),
  );
  clients = createClients(w.config);
});
afterAll(async () => {
  await w?.stop();
  for (const cluster of [newestCluster, corruptCluster, tlsCluster]) await deleteSnapshotsOf(clients.s3, bucket(), cluster);
  clients?.s3.destroy();
  rmSync(scratchDir, { recursive: true, force: true });
});

const bucket = () => w.config.objectStore.bucket;

async function snapshot(cluster: string) {
  const handle = await w.client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `etcd-snapshot/${cluster}/test-verify-${Date.now()}-${randomBytes(3).toString('hex')}`,
    args: [{ cluster, skipRetention: true }],
  });
  return (await handle.result()).manifest;
}

/** The workflow's own definitions of RTO (start to the objects checked) and RPO (the backup's age at the start), from the result. */
const seconds = (from: string, to: string) => Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10);
const expectObjectivesMeasured = (r: VerificationResult, snapshotStartedAt: string) => {
  expect(r.backup.createdAt).toBe(snapshotStartedAt);
  expect(r.rpoSeconds).toBe(seconds(snapshotStartedAt, r.startedAt));
  const end = r.steps.find((s) => s.name === 'check-objects')?.finishedAt ?? r.steps.find((s) => s.state === 'failed')!.finishedAt!;
  expect(r.rtoSeconds).toBe(seconds(r.startedAt, end));
};

function verify(
  input: EtcdVerificationInput,
  workflowId = `verify-etcd/${input.cluster}/test-${Date.now()}-${randomBytes(3).toString('hex')}`,
) {
  return w.client.workflow.execute<typeof restoreVerification>('restoreVerification', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId,
    args: [input],
  });
}

/** Processes whose command line names the test's scratch directory (a leftover scratch etcd or apiserver). */
const scratchProcesses = () =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(scratchDir);
      } catch {
        return false;
      }
    });

const expectNothingLeft = () => {
  expect(readdirSync(scratchDir)).toEqual([]);
  expect(scratchProcesses()).toEqual([]);
};

describe('restoreVerification (etcd)', () => {
  it('restores a snapshot in which the test created known objects, and finds them', async () => {
    const kc = adminKubeConfig('primary');
    const core = kc.makeApiClient(CoreV1Api);
    const ns = `verify-${randomBytes(4).toString('hex')}`;
    const token = randomBytes(16).toString('base64');
    await core.createNamespace({ body: { metadata: { name: ns } } });
    try {
      const secret = await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db-credentials' }, data: { token } } });
      await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: 'api' },
          spec: {
            replicas: 3,
            selector: { matchLabels: { app: 'api' } },
            template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'registry.example/api:1' }] } },
          },
        },
      });
      const objects: ObjectRef[] = [
        { resource: 'namespaces', name: ns },
        { resource: 'deployments', namespace: ns, name: 'api' },
        { resource: 'secrets', namespace: ns, name: 'db-credentials' },
      ];
      // Lifeboat reads the live copies by name, as an operator grants clusters[].restoreVerification.objects.
      await grantObjectReads('primary', objects, 'lifeboat-test-restore-objects');
      const manifest = await snapshot('primary');
      const workflowId = `verify-etcd/primary/test-known-${Date.now()}`;
      const r = await verify(
        {
          kind: 'etcd',
          cluster: 'primary',
          snapshotId: manifest.snapshotId,
          objects,
        },
        workflowId,
      );
      expect(r.passed).toBe(true);
      expect(r.backup.id).toBe(manifest.snapshotId);
      const check = (name: string) => r.checks.find((c) => c.name === name)!;
      expect(check(`namespaces/${ns}`).passed).toBe(true);
      expect(check(`deployments/${ns}/api`)).toEqual({
        name: `deployments/${ns}/api`,
        passed: true,
        detail: expect.stringMatching(/^found at resourceVersion \d+, 3 replicas$/),
      });
      // The Secret is encrypted at rest in the primary's etcd: reading it back proves the scratch API
      // server got the EncryptionConfiguration, and the keyed comparison proves the data, showing only that it matched.
      expect(check(`secrets/${ns}/db-credentials`)).toEqual({
        name: `secrets/${ns}/db-credentials`,
        passed: true,
        detail: `data matches the source's at resourceVersion ${secret.metadata!.resourceVersion}`,
      });
      const prefixes = Object.keys(manifest.inventory.prefixes).length;
      expect(check('inventory')).toEqual({
        name: 'inventory',
        passed: true,
        detail: expect.stringMatching(
          new RegExp(`^${manifest.inventory.totalKeys} keys in ${prefixes} resource prefixes at revision \\d+, as the manifest says$`),
        ),
      });
      expect(check('count secrets').passed).toBe(true);
      expect(r.steps.map((s) => [s.name, s.state])).toEqual(
        ['select', 'fetch', 'restore-db', 'start-etcd', 'check-inventory', 'start-apiserver', 'check-objects', 'teardown', 'record'].map(
          (n) => [n, 'done'],
        ),
      );
      expectObjectivesMeasured(r, manifest.startedAt);
      const stored = await readManifest(clients.s3, bucket(), 'primary', manifest.snapshotId, loadKeyRing(w.config.encryption!));
      expect(stored.status).toBe('verified');
      expect(stored.verification).toMatchObject({ result: 'verified', checks: { passed: r.checks.length, total: r.checks.length } });
      expectNothingLeft();
      // The Secret's data, any plain digest of it and the snapshot key never enter the history (nor does
      // any sha256-looking text next to a Secret's check).
      const history = await fetchHistory(w.client, workflowId, 'restoreVerification-etcd');
      const key = loadKeyRing(w.config.encryption!).lookup('lab-1')!;
      const sha256 = (x: string | Buffer) => createHash('sha256').update(x).digest('hex');
      const digests = [
        sha256(token),
        sha256(Buffer.from(token, 'base64')),
        sha256(JSON.stringify([[['token', token]], []])), // what the result used to carry
      ].flatMap((d) => [d, d.slice(0, 12)]);
      for (const secretText of [
        token,
        Buffer.from(token, 'base64').toString('hex'),
        key.toString('base64'),
        key.toString('hex'),
        ...digests,
      ]) {
        expect(history.searchable).not.toContain(secretText);
      }
      for (const c of r.checks.filter((c) => c.name.startsWith('secrets/')))
        expect(c.detail).not.toMatch(/sha256|\b(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/);
    } finally {
      await core.deleteNamespace({ name: ns });
      await revokeObjectReads('primary', 'lifeboat-test-restore-objects');
    }
  }, 240_000);

  it('the scratch etcd listens only with TLS and client certificates on 127.0.0.1, in a private directory', async () => {
    const manifest = await snapshot(tlsCluster);
    const workflowId = `verify-etcd/${tlsCluster}/test-tls-${Date.now()}`;
    const handle = await w.client.workflow.start<typeof restoreVerification>('restoreVerification', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId,
      args: [{ kind: 'etcd', cluster: tlsCluster, snapshotId: manifest.snapshotId }],
    });
    try {
      // The scratch etcd of this run, once it listens.
      let etcd: { pid: number; argv: string[] } | undefined;
      let sockets: ReturnType<typeof listeningSockets> = [];
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && sockets.length < 2; await new Promise((r) => setTimeout(r, 10))) {
        etcd ??= scratchProcesses()
          .map((pid) => ({ pid: Number(pid), argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') }))
          .find((p) => p.argv[0]!.endsWith('/etcd'));
        if (etcd) sockets = listeningSockets(etcd.pid);
      }
      expect(etcd).toBeDefined();
      const { argv } = etcd!;
      const arg = (name: string) => argv[argv.indexOf(name) + 1]!;

      // Its command line: https only, client certificates required on the client and peer ports.
      expect(argv.join(' ')).not.toMatch(/http:\/\//);
      expect(arg('--listen-client-urls')).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(arg('--listen-peer-urls')).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(argv).toEqual(expect.arrayContaining(['--client-cert-auth', '--peer-client-cert-auth']));
      const ports = ['--listen-client-urls', '--listen-peer-urls'].map((a) => Number(new URL(arg(a)).port)).sort();
      // What it listens on: those two ports on 127.0.0.1, nothing else.
      expect(sockets.map((s) => ('tcp' in s ? `${s.tcp}:${s.port}` : s.unix)).sort()).toEqual(ports.map((p) => `127.0.0.1:${p}`).sort());

      // Its directory: `<the run's scratch id>-<16 random hex>`, 0700 in the 0700 base; keys 0600; Lifeboat's own client key not on disk.
      const dir = arg('--data-dir').replace(/\/etcd-data$/, '');
      const { runId } = await handle.describe();
      expect(dir).toMatch(new RegExp(`^${scratchDir}/${scratchIdFor(workflowId, runId)}-[0-9a-f]{16}$`));
      expect(statSync(scratchDir).mode & 0o777).toBe(0o700);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const f of ['etcd.key', 'apiserver.key', 'apiserver-etcd-client.key']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
      expect(readFileSync(arg('--key-file'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      expect(readdirSync(dir).filter((f) => /verifier|token/.test(f))).toEqual([]);

      for (const port of ports) {
        // Plain HTTP gets nothing of etcd's: no answer at all, or an HTTP error, never its API.
        const plain = await new Promise<string>((resolve) => {
          const req = httpGet({ host: '127.0.0.1', port, path: '/version', timeout: 5_000 }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(`HTTP ${res.statusCode}: ${body}`));
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', (err) => resolve(`error: ${err.message}`));
        });
        expect(plain).not.toMatch(/etcdserver|HTTP 200|ECONNREFUSED/);
        // TLS without a client certificate of the run's CA is refused in the handshake.
        const anonymous = await new Promise<string>((resolve) => {
          const req = httpsGet({ host: '127.0.0.1', port, path: '/version', rejectUnauthorized: false, timeout: 5_000 }, (res) => {
            res.resume();
            resolve(`HTTP ${res.statusCode}`);
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', (err) => resolve(`error: ${err.message}`));
        });
        expect(anonymous).toMatch(/^error: .*(certificate required|alert|socket hang up|ECONNRESET)/);
      }
      // The refusals above came from the scratch etcd itself, still serving.
      expect(alive(etcd!.pid)).toBe(true);
    } finally {
      // Whatever failed above, the run finishes (and tears down) before the next test looks.
      await handle.result().catch(() => undefined);
    }
    const r = await handle.result();
    expect(r.passed).toBe(true);
    expect(r.steps.find((s) => s.name === 'start-etcd')!.detail).toMatch(/^serving at https:\/\/127\.0\.0\.1:\d+, revision \d+$/);
    expectNothingLeft();
  }, 240_000);

  it('a corrupted stored snapshot fails with a precise reason, and the manifest says failed', async () => {
    const manifest = await snapshot(corruptCluster);
    const Key = manifest.object.objectKey;
    const stored = Buffer.from(await (await clients.s3.send(new GetObjectCommand({ Bucket: bucket(), Key }))).Body!.transformToByteArray());
    stored[Math.floor(stored.length / 2)]! ^= 0x01;
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket(), Key, Body: stored }));

    const err = await verify({ kind: 'etcd', cluster: corruptCluster, snapshotId: manifest.snapshotId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const r = failedVerification(err) as VerificationResult;
    expect(r.passed).toBe(false);
    expect(r.failureReason).toMatch(
      new RegExp(`^snapshot ${manifest.snapshotId} is corrupt: authentication failed on chunk \\d+ .*the data was modified`),
    );
    expect(r.steps.map((s) => [s.name, s.state])).toEqual([
      ['select', 'done'],
      ['fetch', 'failed'],
      ['restore-db', 'skipped'],
      ['start-etcd', 'skipped'],
      ['check-inventory', 'skipped'],
      ['start-apiserver', 'skipped'],
      ['check-objects', 'skipped'],
      ['teardown', 'done'],
      ['record', 'done'],
    ]);
    expectObjectivesMeasured(r, manifest.startedAt);
    const after = await readManifest(clients.s3, bucket(), corruptCluster, manifest.snapshotId, loadKeyRing(w.config.encryption!));
    expect(after.status).toBe('failed');
    expect(after.verification!.result).toBe(`failed: ${r.failureReason}`);
    expectNothingLeft();
  }, 240_000);

  it('an object the snapshot does not hold fails its check by name (on the newest snapshot, when none is named)', async () => {
    const manifest = await snapshot(newestCluster);
    const err = await verify({
      kind: 'etcd',
      cluster: newestCluster,
      objects: [{ resource: 'secrets', namespace: 'default', name: 'never-created' }],
    }).catch((e: unknown) => e);
    const r = failedVerification(err) as VerificationResult;
    expect(r.backup.id).toBe(manifest.snapshotId);
    expect(r.failureReason).toBe('check secrets/default/never-created failed: not found in the restored cluster');
    expect(r.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['secrets/default/never-created']);
    expectNothingLeft();
  }, 240_000);

  it('an unknown snapshot id is a SnapshotNotFound failure, and nothing is started', async () => {
    const err = (await verify({ kind: 'etcd', cluster: 'standby', snapshotId: '20200101T000000Z-000000000000' }).catch(
      (e: unknown) => e,
    )) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err.cause?.cause as { type?: string }).type).toBe('SnapshotNotFound');
    expect(existsSync(scratchDir)).toBe(true);
    expectNothingLeft();
  }, 60_000);
});
