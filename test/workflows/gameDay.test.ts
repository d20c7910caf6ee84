// gameDay (lab: everything: Temporal, MinIO, both clusters with Velero; the worker runs scratch etcd
// and kube-apiserver processes): a whole game day, and one whose objective is missed. The app the game
// day backs up, verifies and fails over and back is the test's own: suites running beside this one
// back up and verify the lab's shop, which a game day must not fence under them.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { CoreV1Api } from '@kubernetes/client-node';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { gameDay } from '../../workflows/gameDay.js';
import { gameDayReportKeys } from '../../model/gameday-layout.js';
import { scratchNamespaceFor } from '../../model/velero-layout.js';
import { createClients } from '../../worker/clients.js';
import { createTestApp, targets, type TestApp } from '../helpers/failover-app.js';
import { fetchHistory } from '../helpers/histories.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { deleteSnapshotsOf, testClusterName, withTestClusters } from '../helpers/test-cluster.js';

const reportDir = mkdtempSync(join(tmpdir(), 'lifeboat-gameday-test-'));
let w: TestWorker;
let app: TestApp;
let clients: ReturnType<typeof createClients>;
beforeAll(async () => {
  app = await createTestApp(labConfig());
  w = await startTestWorker((c) => app.addTo({ ...c, gameDay: { ...c.gameDay, reportDir } }));
  clients = createClients(w.config);
});
afterAll(async () => {
  await w?.stop();
  await app?.remove();
  clients?.s3.destroy();
  rmSync(reportDir, { recursive: true, force: true });
});

const run = (input: Parameters<typeof gameDay>[0], tag: string) =>
  w.client.workflow.execute<typeof gameDay>('gameDay', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `gameday/test-${tag}-${Date.now()}`,
    args: [input],
  });

describe('gameDay', () => {
  it("proves both clusters' etcd snapshots, an app's Velero backup (fresh backups) and its failover and failback, and stores the report", async () => {
    const { report, stored } = await run({ freshBackups: true, apps: [app.name] }, 'all');
    expect(report.entries.map((e) => [e.name, e.passed, e.error ?? e.verification?.failureReason])).toEqual([
      ['etcd/primary', true, undefined],
      ['etcd/standby', true, undefined],
      [`velero/${app.name}`, true, undefined],
      [`failover/${app.name}`, true, undefined],
    ]);
    expect(report.passed).toBe(true);
    // The app fails over and back, auto-approved: both runs complete, RTO within its objective, and it
    // ends where it started.
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect((await app.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
    const fo = report.entries.find((e) => e.kind === 'failover')!.verification!;
    expect(fo.checks.map((c) => [c.name, c.passed])).toEqual([
      ['failover', true],
      ['failback', true],
    ]);
    expect(fo.steps.map((s) => s.name)).toContain('failover traffic');
    expect(fo.steps.map((s) => s.name)).toContain('failback traffic');
    for (const e of report.entries.filter((x) => x.kind !== 'failover')) {
      expect(e.backup?.passed).toBe(true);
      // Fresh backups: the verification restored the very backup this game day took.
      expect(e.verification!.backup.id).toBe(e.backup!.id);
      expect(e.verification!.rtoSeconds).toBeGreaterThan(0);
      expect(e.verification!.steps.every((s) => s.startedAt && s.finishedAt)).toBe(true);
      expect([e.rtoMet, e.rpoMet]).toEqual([true, true]);
    }
    const velero = report.entries.find((e) => e.kind === 'velero')!.verification!;
    expect(velero.checks.filter((c) => !c.passed)).toEqual([]);
    expect(velero.restoredTo).toBe('standby');
    // The Velero verification's scratch namespace is gone.
    const scratch = scratchNamespaceFor(velero.workflowId, app.namespace);
    expect(velero.workflowId).toBe(`${report.workflowId}/verify-velero/${app.name}`);
    const standbyNamespaces = await clients.clusters.get('standby')!.kubeConfig.makeApiClient(CoreV1Api).listNamespace();
    expect(standbyNamespaces.items.map((n) => n.metadata!.name)).not.toContain(scratch);

    // The stored report is the local one, byte for byte, in each of its three forms.
    expect(stored.keys).toEqual(gameDayReportKeys(report.id));
    expect(stored.localDir).toBe(join(reportDir, report.id));
    const files = { json: 'report.json', markdown: 'report.md', html: 'report.html' } as const;
    for (const form of ['json', 'markdown', 'html'] as const) {
      const got = await clients.s3.send(new GetObjectCommand({ Bucket: stored.bucket, Key: stored.keys[form] }));
      expect({
        form,
        bytes: Buffer.from(await got.Body!.transformToByteArray()).equals(readFileSync(join(stored.localDir, files[form]))),
      }).toEqual({ form, bytes: true });
    }
    const html = readFileSync(join(stored.localDir, 'report.html'), 'utf8');
    for (const e of report.entries) expect(html).toContain(e.name);
    expect(JSON.parse(readFileSync(join(stored.localDir, 'report.json'), 'utf8'))).toEqual(report);
    expect(existsSync(join(stored.localDir, 'report.md'))).toBe(true);

    // Histories for the replay test: the game day and the children it ran.
    await fetchHistory(w.client, report.workflowId, 'gameDay');
    await fetchHistory(w.client, velero.workflowId, 'restoreVerification-velero');
    await fetchHistory(w.client, report.entries.find((e) => e.kind === 'velero')!.backup!.workflowId, 'veleroBackup');
  }, 300_000);

  it('a verification that passes but misses its RPO objective fails the game day, and the report says which', async () => {
    // A cluster of the test's own (the standby's etcd, RPO objective 1 s): its newest snapshot is the
    // one taken here, 2 s before the game day starts.
    const cluster = testClusterName('gameday-rpo');
    const strict = await startTestWorker((c) =>
      withTestClusters({ ...c, gameDay: { ...c.gameDay, reportDir } }, [cluster], 'standby', { objectives: { rto: 600, rpo: 1 } }),
    );
    try {
      const { manifest } = await strict.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
        taskQueue: strict.config.temporal.taskQueue,
        workflowId: `etcd-snapshot/${cluster}/test-gameday-${Date.now()}`,
        args: [{ cluster, skipRetention: true }],
      });
      await new Promise((r) => setTimeout(r, 2_000));
      const { report } = await strict.client.workflow.execute<typeof gameDay>('gameDay', {
        taskQueue: strict.config.temporal.taskQueue,
        workflowId: `gameday/test-rpo-${Date.now()}`,
        args: [{ clusters: [cluster], apps: [], freshBackups: false }],
      });
      expect(report.passed).toBe(false);
      expect(report.entries).toHaveLength(1);
      const [entry] = report.entries;
      expect(entry).toMatchObject({ name: `etcd/${cluster}`, passed: false, rtoMet: true, rpoMet: false });
      expect(entry!.backup).toBeUndefined();
      const v = entry!.verification!;
      expect({ passed: v.passed, backup: v.backup.id, objectives: v.objectives }).toEqual({
        passed: true,
        backup: manifest.snapshotId,
        objectives: { rtoSeconds: 600, rpoSeconds: 1 },
      });
      // RPO: the snapshot's age when the verification started, at least the 2 s waited.
      expect(v.rpoSeconds).toBe(Math.round((Date.parse(v.startedAt) - Date.parse(manifest.startedAt)) / 100) / 10);
      expect(v.rpoSeconds).toBeGreaterThanOrEqual(2);
    } finally {
      await strict.stop();
      await deleteSnapshotsOf(clients.s3, w.config.objectStore.bucket, cluster);
    }
  }, 300_000);

  it('an unknown app is refused before anything runs', async () => {
    const err = (await run({ apps: ['nope'] }, 'unknown').catch((e: unknown) => e)) as {
      cause?: { cause?: { type?: string; message?: string } };
    };
    expect(err.cause?.cause).toMatchObject({
      type: 'UnknownGameDayTarget',
      message: expect.stringContaining(`app 'nope' (configured: shop, ${app.name})`),
    });
  }, 60_000);
});
