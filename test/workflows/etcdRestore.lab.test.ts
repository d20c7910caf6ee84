// Integration (lab: Temporal, MinIO, the drill cluster's 3-member etcd, kube-apiserver, controller-manager,
// scheduler and kwok; a worker of its own): the etcd-recovery runbook through the `lab` control-plane
// driver.
// - Objects created, a snapshot taken (and verified in scratch), more objects created, some deleted:
//   the restore leaves the cluster with exactly the snapshot's objects (the later ones gone, the deleted
//   ones back), the API serving, the Deployment Available, an informer that watched through the restore
//   re-listed (it sees the deleted object back), every member's old data dir kept where the plan said.
// - A restore whose members do not hold the manifest's inventory (the manifest edited to promise 1000
//   more ConfigMaps) is rolled back before the API servers start: each restore renamed aside and kept,
//   the old data dirs back, the old cluster serving with the objects written after the snapshot.
// - A corrupted snapshot and another cluster's snapshot are refused in preflight: nothing stopped.
// - The `commands` driver over the lab's sshd (every command `node dist/lab/proc.js ...` on the lab's
//   processes, as `systemctl` would be on a real host) performs a whole restore, and its cleanup removes
//   an earlier run's old data dir kept longer than keepOldDataDirsFor; a known_hosts with
//   another key for the host is refused in preflight, nothing stopped.
// lab: drill (stops the drill cluster's kube-apiserver and etcd members): runs in the drill lane, one suite at a time, beside the other suites (test/run.sh).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api, makeInformer, type V1ConfigMap } from '@kubernetes/client-node';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { drillUp } from '../../lab/lab.js';
import { runningPid } from '../../lab/processes.js';
import { etcdMembersOf, drillCluster, labSsh } from '../../lab/topology.js';
import { labCommandsControlPlane } from '../../lab/sshd.js';
import { controlPlaneSchema, type LifeboatConfig } from '../../worker/config.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { runIdTail, snapshotManifestKey, type SnapshotManifest } from '../../model/snapshot-layout.js';
import type { EtcdRestorePreflight } from '../../activities/control-plane/restore.js';
import type { runbook } from '../../workflows/runbook.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { restoreVerification } from '../../workflows/restoreVerification.js';
import { createClients } from '../../worker/clients.js';
import { loadKeyRing } from '../../worker/keys.js';
import { signManifest } from '../../activities/object-store/manifest-mac.js';
import { adminKubeConfig, drillConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { findRunbookIn } from '../helpers/runbooks.js';

const config = drillConfig();
const clients = createClients(config);
const kc = adminKubeConfig('drill');
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const members = etcdMembersOf(drillCluster);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const bucket = config.objectStore.bucket;
const movedAside: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
let w: TestWorker;

beforeAll(async () => {
  await drillUp();
  w = await startTestWorker(undefined, drillConfig);
}, 300_000);
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  await w?.stop();
  // The old data dirs this suite's restores kept: the restore never deletes them; the test does.
  await Promise.all(movedAside.map((d) => rm(d, { recursive: true, force: true })));
  clients.s3.destroy();
  await drillUp();
}, 300_000);

const snapshot = async () =>
  (
    await w.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `etcd-snapshot/drill/test-restore-${Date.now()}-${randomBytes(3).toString('hex')}`,
      args: [{ cluster: 'drill', skipRetention: true }],
      workflowExecutionTimeout: '5 minutes',
    })
  ).manifest;

const restore = (params: Record<string, string | number | boolean>, worker: TestWorker = w) =>
  worker.client.workflow
    .execute<typeof runbook>('runbook', {
      taskQueue: worker.config.temporal.taskQueue,
      workflowId: `etcd-restore/drill/test-${Date.now()}-${randomBytes(3).toString('hex')}`,
      args: [findRunbookIn(runbooksDir, 'etcd-recovery', { cluster: 'drill', reason: 'jest', approver: 'alice', ...params })],
      workflowExecutionTimeout: '15 minutes',
    })
    .then(
      (r) => r,
      (err: unknown) => {
        const report = (err as { cause?: { details?: unknown[] } }).cause?.details?.[0] as RunbookReport | undefined;
        if (!report) throw err;
        return report;
      },
    );

const configMap = (namespace: string, name: string, value: string) =>
  core.createNamespacedConfigMap({ namespace, body: { metadata: { name, namespace }, data: { value } } });

const configMapNames = async (namespace: string) =>
  (await core.listNamespacedConfigMap({ namespace })).items
    .map((c) => c.metadata!.name!)
    .filter((n) => n !== 'kube-root-ca.crt')
    .sort();

/** The pids of the drill cluster's control plane: a refused restore must leave every one running. */
const controlPlanePids = async () =>
  Promise.all(['kube-apiserver/drill', ...members.map((m) => m.daemon)].map(async (n) => [n, await runningPid(n)] as const));

describe('etcd-recovery on the drill cluster (3 members)', () => {
  it('restores exactly the snapshot: later objects gone, deleted ones back, the API serving, an informer re-listed, old data dirs kept', async () => {
    const ns = `restore-${Date.now()}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await configMap(ns, 'kept', 'before');
    await configMap(ns, 'deleted-later', 'before');
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
          },
        },
      },
    });
    // Available before the snapshot: the restore must bring it back Available.
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
      if (d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') && d.status.readyReplicas === 2) break;
      if (Date.now() > deadline) throw new Error(`${ns}/web not Available within 60 s`);
    }
    const taken = await snapshot();
    // Proved restorable in scratch, as a real restore's snapshot is: the runbook takes a verified one only.
    await w.client.workflow.execute<typeof restoreVerification>('restoreVerification', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `verify-etcd/drill/test-restore-${Date.now()}`,
      args: [{ kind: 'etcd', cluster: 'drill', snapshotId: taken.snapshotId }],
      workflowExecutionTimeout: '10 minutes',
    });

    await configMap(ns, 'created-later', 'after');
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'deleted-later' });
    expect(await configMapNames(ns)).toEqual(['created-later', 'kept']);

    // An informer that lists and watches through the restore: it must end with the snapshot's objects.
    const informer = makeInformer<V1ConfigMap>(kc, `/api/v1/namespaces/${ns}/configmaps`, () =>
      core.listNamespacedConfigMap({ namespace: ns }),
    );
    // A watch cut by the restore ends in an error; the informer starts again (and re-lists) until the test stops it.
    let informing = true;
    informer.on('error', () => setTimeout(() => void (informing ? informer.start().catch(() => undefined) : undefined), 1_000));
    await informer.start();
    const stopInforming = async () => {
      informing = false;
      await informer.stop();
    };
    // Stopped by afterAll too, should the test fail before: an informer left running keeps Jest from exiting.
    cleanups.push(stopInforming);
    const seen = () =>
      informer
        .list(ns)
        .map((c) => c.metadata!.name!)
        .filter((n) => n !== 'kube-root-ca.crt')
        .sort();
    expect(seen()).toEqual(['created-later', 'kept']);

    const report = await restore({ snapshotId: taken.snapshotId });
    const plan = report.steps.find((s) => s.id === 'preflight')?.outputs?.plan as EtcdRestorePreflight | undefined;
    movedAside.push(...(plan?.members.map((m) => m.movedAsideTo) ?? []));
    expect({ status: report.status, failure: report.failure }).toEqual({ status: 'succeeded', failure: undefined });
    expect(plan!.snapshot.snapshotId).toBe(taken.snapshotId);

    // Exactly the snapshot's objects: the later one gone, the deleted one back.
    expect(await configMapNames(ns)).toEqual(['deleted-later', 'kept']);
    const web = await apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
    expect(web.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    // resourceVersions bumped above everything seen before: the informer re-listed and sees the restored set.
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    expect(Number(list.metadata!.resourceVersion)).toBeGreaterThanOrEqual(plan!.revisionAfterRestoreAtLeast);
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && seen().join() !== 'deleted-later,kept';)
      await new Promise((r) => setTimeout(r, 500));
    expect(seen()).toEqual(['deleted-later', 'kept']);
    await stopInforming();

    const checks = ['api', 'verify'].flatMap(
      (id) => report.steps.find((s) => s.id === id)!.outputs!.checks as { name: string; passed: boolean }[],
    );
    expect(checks.filter((c) => !c.passed)).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['readyz', 'resourceVersion', 'watch from before the restore', 'Deployments Available']),
    );
    expect(report.steps.find((s) => s.id === 'api')!.outputs!.availableDeployments).toContain(`${ns}/web`);
    // Every member's old data dir kept, moved aside under the run's name; the staged snapshot gone.
    for (const m of plan!.members) {
      expect(existsSync(`${m.movedAsideTo}/member`)).toBe(true);
      expect(existsSync(`${m.dataDir}/member/lifeboat-restore-${runIdTail(plan!.runId)}`)).toBe(true);
    }
    await core.deleteNamespace({ name: ns });
  }, 900_000);

  it('rolls back when the restored etcd does not hold the manifest’s inventory: old data dirs back, the old cluster serving', async () => {
    const ns = `restore-rollback-${Date.now()}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await configMap(ns, 'kept', 'before');
    const taken = await snapshot();
    await configMap(ns, 'created-later', 'after');
    // The manifest promises 1000 ConfigMaps more than the snapshot holds, signed as Lifeboat signs (an
    // inventory that is wrong, not a manifest someone else edited: that one the preflight refuses).
    const promised = signManifest(
      {
        ...taken,
        inventory: {
          ...taken.inventory,
          totalKeys: taken.inventory.totalKeys + 1000,
          prefixes: { ...taken.inventory.prefixes, configmaps: (taken.inventory.prefixes.configmaps ?? 0) + 1000 },
        },
      },
      loadKeyRing(config.encryption!),
    );
    await clients.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: snapshotManifestKey('drill', taken.snapshotId),
        Body: JSON.stringify(promised),
        ContentType: 'application/json',
      }),
    );

    const report = await restore({ snapshotId: taken.snapshotId, force: true });
    const plan = report.steps.find((s) => s.id === 'preflight')?.outputs?.plan as EtcdRestorePreflight;
    const run = report.steps.find((s) => s.id === 'quorum');
    expect(report.status).toBe('compensated');
    expect(run).toMatchObject({ state: 'failed', detail: expect.stringMatching(/does not hold the snapshot's inventory/) });
    // Undone newest first: the restored members stopped, the data dirs put back, the old members, API servers and controllers started.
    const undone = report.steps.filter((s) => s.state === 'compensated').map((s) => s.id);
    expect(undone.slice(0, 5)).toEqual([
      'stop-restored-apiservers',
      'stop-restored-etcd',
      'put-old-data-back',
      'start-old-etcd',
      'start-apiservers-again',
    ]);
    expect(undone.slice(5, 7).sort()).toEqual(['start-controller-managers-again', 'start-schedulers-again']);
    expect(undone.slice(7)).toEqual(['remove-staged-snapshot']);
    for (const m of plan.members) {
      // The old data is back in place (no restore mark), the restore kept beside it, nothing else moved.
      expect(existsSync(`${m.dataDir}/member/lifeboat-restore-${runIdTail(plan.runId)}`)).toBe(false);
      expect(existsSync(`${m.movedAsideTo}-restored/member/lifeboat-restore-${runIdTail(plan.runId)}`)).toBe(true);
      expect(existsSync(m.movedAsideTo)).toBe(false);
      movedAside.push(`${m.movedAsideTo}-restored`);
    }
    // The old cluster serves, with what was written after the snapshot.
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 500))) {
      const names = await configMapNames(ns).catch(() => []);
      if (names.join() === 'created-later,kept') break;
      if (Date.now() > deadline) throw new Error(`the old cluster does not serve ${ns}'s ConfigMaps within 60 s: ${names.join()}`);
    }
    expect((await controlPlanePids()).every(([, pid]) => pid !== undefined)).toBe(true);
    await core.deleteNamespace({ name: ns });
  }, 600_000);

  it('refuses a corrupted snapshot and another cluster’s in preflight: nothing stopped', async () => {
    const taken: SnapshotManifest = await snapshot();
    const before = await controlPlanePids();

    // One byte of the stored (encrypted) object flipped.
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: taken.object.objectKey }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: taken.object.objectKey, Body: bytes }));
    const corrupt = await restore({ snapshotId: taken.snapshotId, force: true });
    expect(corrupt.status).toBe('compensated');
    expect(corrupt.steps.find((s) => s.id === 'preflight')).toMatchObject({ state: 'failed', detail: expect.stringMatching(/is corrupt/) });
    expect(corrupt.steps.find((s) => s.id === 'stop-apiservers')?.state ?? 'not started').not.toBe('succeeded');

    // The standby's newest snapshot's manifest, signed and unchanged, copied under the drill cluster's prefix.
    const standby = await w.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `etcd-snapshot/standby/test-restore-${Date.now()}`,
      args: [{ cluster: 'standby', skipRetention: true }],
      workflowExecutionTimeout: '5 minutes',
    });
    const foreignKey = snapshotManifestKey('drill', standby.manifest.snapshotId);
    await clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: foreignKey, Body: JSON.stringify(standby.manifest), ContentType: 'application/json' }),
    );
    try {
      const wrong = await restore({ snapshotId: standby.manifest.snapshotId, force: true });
      expect(wrong.steps.find((s) => s.id === 'preflight')).toMatchObject({
        state: 'failed',
        detail: expect.stringMatching(
          /is swapped: it is the manifest of snapshot \S+ of cluster 'standby', stored as snapshot \S+ of cluster 'drill'/,
        ),
      });
    } finally {
      // A swapped manifest in the drill cluster's listing stops retention and the automatic choice of later runs.
      await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: foreignKey }));
    }

    expect(await controlPlanePids()).toEqual(before);
  }, 600_000);

  /** A worker whose drill cluster is driven by the `commands` driver over the lab's sshd, with these SSH files. */
  const commandsWorker = (ssh: { identityFile: string; knownHostsFile: string }, keepOldDataDirsFor = '7d') =>
    startTestWorker(
      (c): LifeboatConfig => ({
        ...c,
        clusters: c.clusters.map((cl) =>
          cl.name === 'drill'
            ? {
                ...cl,
                controlPlane: controlPlaneSchema.parse({
                  ...labCommandsControlPlane('drill', { ...ssh, port: labSsh.port }),
                  keepOldDataDirsFor,
                }),
              }
            : cl,
        ),
      }),
      drillConfig,
    );

  it('restores through the commands driver over the lab’s sshd; a wrong host key is refused before anything stops', async () => {
    const ns = `restore-ssh-${Date.now()}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await configMap(ns, 'kept', 'before');
    const taken = await snapshot();
    await configMap(ns, 'created-later', 'after');

    // Another key for the host: the host key check refuses it, and nothing is stopped.
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-known-hosts-'));
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
    const otherKey = (await execa('cat', [join(dir, 'other.pub')])).stdout.split(' ').slice(0, 2).join(' ');
    await writeFile(join(dir, 'known_hosts'), `[127.0.0.1]:${labSsh.port} ${otherKey}\n`);
    const before = await controlPlanePids();
    const impostor = await commandsWorker({ identityFile: labSsh.identityFile, knownHostsFile: join(dir, 'known_hosts') });
    try {
      const refused = await restore({ snapshotId: taken.snapshotId, force: true }, impostor);
      expect(refused.steps.find((s) => s.id === 'preflight')).toMatchObject({
        state: 'failed',
        detail: expect.stringMatching(/host key/i),
      });
      expect(await controlPlanePids()).toEqual(before);
    } finally {
      await impostor.stop();
      await rm(dir, { recursive: true, force: true });
    }

    // An old data dir of an earlier run, kept longer than keepOldDataDirsFor (1 s here): the cleanup removes it.
    const expired = `${members[0]!.dataDir}.lifeboat-0123456789ab`;
    await mkdir(`${expired}/member`, { recursive: true });
    await new Promise((r) => setTimeout(r, 1_500));
    const overSsh = await commandsWorker(labSsh, '1s');
    try {
      const report = await restore({ snapshotId: taken.snapshotId, force: true }, overSsh);
      const plan = report.steps.find((s) => s.id === 'preflight')?.outputs?.plan as EtcdRestorePreflight | undefined;
      movedAside.push(...(plan?.members.map((m) => m.movedAsideTo) ?? []));
      expect({ status: report.status, failure: report.failure }).toEqual({ status: 'succeeded', failure: undefined });
      expect(plan!.unverified).toBe(true);
      expect(await configMapNames(ns)).toEqual(['kept']);
      // Every process the driver stopped runs again, each under a new pid.
      const after = await controlPlanePids();
      expect(after.every(([, pid]) => pid !== undefined)).toBe(true);
      expect(after.filter(([name, pid]) => before.find(([n]) => n === name)![1] === pid)).toEqual([]);
      // This run's old data dirs kept whatever their age; the earlier run's expired one removed.
      for (const m of plan!.members) expect(existsSync(`${m.movedAsideTo}/member`)).toBe(true);
      expect(report.steps.find((s) => s.id === 'cleanup')?.state).toBe('succeeded');
      expect(existsSync(expired)).toBe(false);
    } finally {
      await overSsh.stop();
    }
    await core.deleteNamespace({ name: ns });
  }, 900_000);
});
