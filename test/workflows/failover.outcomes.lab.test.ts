// failover outcomes the lab produces for real (lab: Temporal, both clusters' API servers, schedulers,
// controller managers and kwok, Velero on both, MinIO; the DNSEndpoint CRD on standby). Each test moves
// a throwaway app of its own (test/helpers/failover-app.ts) and touches only what it made.
// - A traffic switch the load balancer acknowledged but did not make: its status endpoint still names
//   the primary, so verification fails with TrafficNotSwitched and the run rolls back.
// - A failback whose backup fails: the standby's storage location is misnamed, Velero fails the Backup
//   validation, and the standby is unfenced again.
// - A restore that fails: the backup's contents are gone from the store, Velero fails the Restore, and
//   the primary is unfenced again.
// Outcomes the lab cannot produce on demand (an approval timeout, a failing undo) run on the
// time-skipping test server: failover.outcomes.test.ts.
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { failback, failover, FailoverInput, FailoverReport } from '../../workflows/failover.js';
import { isFailoverReport } from '../../workflows/failover.js';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import { backupFileKey } from '../../model/velero-layout.js';
import { carriedDetails, rootFailure } from '../../model/failure-chain.js';
import { storageLocationOf } from '../../activities/velero/backup.js';
import { createS3Client } from '../../worker/s3.js';
import type { LifeboatConfig } from '../../worker/config.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createTestApp, lifeboatMarks, targets, testRequester, type TestApp } from '../helpers/failover-app.js';

const apps: TestApp[] = [];
const workers: TestWorker[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
});
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c().catch(() => undefined)));
  await Promise.all(apps.map((a) => a.remove()));
});

async function worker(adjust: (c: LifeboatConfig) => LifeboatConfig): Promise<TestWorker> {
  const w = await startTestWorker(adjust);
  workers.push(w);
  return w;
}

const input = (app: TestApp, extra: Partial<FailoverInput> = {}): FailoverInput => ({
  app: app.name,
  from: 'primary',
  to: 'standby',
  reason: 'test',
  autoApprove: { approver: 'jest' },
  requestedBy: testRequester,
  ...extra,
});
const run = (w: TestWorker, kind: 'failover' | 'failback', i: FailoverInput) =>
  w.client.workflow.start<typeof failover | typeof failback>(kind, {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `failover/${i.app}`,
    args: [i],
  });
const failureOf = async (w: TestWorker, kind: 'failover' | 'failback', i: FailoverInput) =>
  (await run(w, kind, i)).result().then(
    () => undefined,
    (e: unknown) => e,
  );
const reportOf = (err: unknown) => carriedDetails<FailoverReport>(err, ({ detail }) => isFailoverReport(detail))!;
const dnsTargets = async (app: TestApp) => (await app.dnsEndpoint()).spec.endpoints[0]!.targets;
/** svc-0's fence marks on `cluster` (labels, or a legacy annotation): none once a fence is undone. */
const fenceMarks = async (app: TestApp, cluster: 'primary' | 'standby') =>
  Object.keys(lifeboatMarks(await app.deployment(cluster, 'svc-0'))).filter((k) => k.includes('lifeboat.io/fenced-'));

interface VeleroObject {
  metadata: { name: string };
  spec: { backupName?: string; storageLocation?: string };
  status?: { phase?: string; failureReason?: string; validationErrors?: string[] };
}
const veleroList = async (kc: KubeConfig, plural: 'backups' | 'restores') =>
  (
    (await kc
      .makeApiClient(CustomObjectsApi)
      .listNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: 'velero', plural })) as { items: VeleroObject[] }
  ).items;

describe('failover outcomes on the lab', () => {
  it('the load balancer acknowledges the switch but still serves the primary: TrafficNotSwitched, rolled back', async () => {
    const posts: string[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.method === 'POST') posts.push((JSON.parse(body) as { to: string }).to);
        res.end(req.method === 'POST' ? '{"ok":true}' : '{"cluster":"primary"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const app = await createTestApp(labConfig(), {
        traffic: { provider: 'webhook', url: `${base}/switch`, statusUrl: `${base}/status`, timeout: 5, attempts: 3 },
      });
      apps.push(app);
      const w = await worker((c) => app.addTo(c));
      const err = await failureOf(w, 'failover', input(app));
      const report = reportOf(err);
      const failure = `traffic record points at 'primary', not 'standby': GET ${base}/status says 'primary'`;
      const rolledBack = [
        "traffic switched back to 'primary'",
        "scaled 2 Deployments on 'standby' back down",
        "unfenced 2 Deployments on 'primary'",
      ];
      expect(rootFailure(err)).toEqual({
        type: 'FailoverFailed',
        message: `failover of ${app.name} from primary to standby failed: ${failure}; rolled back: ${rolledBack.join('; ')}`,
      });
      expect(report.status).toBe('rolled-back');
      expect(report.failure).toBe(failure);
      expect(report.rolledBack).toEqual(rolledBack);
      // One switch to the standby (acknowledged), then the switch back.
      expect(posts).toEqual(['standby', 'primary']);
      expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
      expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
      expect(await fenceMarks(app, 'primary')).toEqual([]);
    } finally {
      server.close();
    }
  }, 240_000);

  it('a failback whose Velero storage location does not exist: refused before any Backup, the standby unfenced, nothing restored home', async () => {
    const app = await createTestApp(labConfig());
    apps.push(app);
    // The app moves to the standby (warm standby), where it serves when the failback starts.
    const toStandby = await worker((c) => app.addTo(c));
    expect((await (await run(toStandby, 'failover', input(app))).result()).status).toBe('completed');
    await toStandby.stop();
    workers.splice(workers.indexOf(toStandby), 1);

    // Failback in restore mode, with the standby's storage location misnamed in the configuration.
    const missingLocation = `lb-missing-${app.name}`;
    const w = await worker((c) => {
      const withApp = app.addTo(c);
      return {
        ...withApp,
        apps: withApp.apps.map((a) => (a.name === app.name ? { ...a, failover: { ...a.failover!, mode: 'restore' as const } } : a)),
        clusters: withApp.clusters.map((cl) =>
          cl.name === 'standby' ? { ...cl, velero: { ...cl.velero, storageLocation: missingLocation } } : cl,
        ),
      };
    });
    const err = await failureOf(w, 'failback', input(app, { from: 'standby', to: 'primary', reason: 'primary repaired' }));
    // Refused before Velero saw a Backup (activities/velero/backup.ts): none was created to fail validation.
    expect((await veleroList(app.kube.standby, 'backups')).filter((b) => b.spec.storageLocation === missingLocation)).toEqual([]);
    const failure = `BackupStorageLocation velero/${missingLocation} on cluster 'standby' does not exist`;
    const rolledBack = ["unfenced 2 Deployments on 'standby'"];
    expect(rootFailure(err)).toEqual({
      type: 'FailoverFailed',
      message: `failback of ${app.name} from standby to primary failed: ${failure}; rolled back: ${rolledBack.join('; ')}`,
    });
    const report = reportOf(err);
    expect(report.status).toBe('rolled-back');
    expect(report.failure).toBe(failure);
    expect(report.rolledBack).toEqual(rolledBack);
    // Still served from the standby, as before the failback; nothing was restored to the primary.
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await fenceMarks(app, 'standby')).toEqual([]);
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await dnsTargets(app)).toEqual(targets.standby);
    expect((await veleroList(app.kube.primary, 'restores')).filter((r) => r.spec.backupName?.includes(app.name))).toEqual([]);
  }, 300_000);

  it('a restore whose backup contents are gone from the store: RestoreFailed, the primary unfenced, traffic unchanged', async () => {
    const app = await createTestApp(labConfig(), { mode: 'restore' });
    apps.push(app);
    const w = await worker((c) => app.addTo(c));
    const backup = await w.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `velero-backup/${app.name}/test`,
      args: [{ app: app.name }],
    });
    expect(backup.phase).toBe('Completed');
    // Velero deletes what is left of it (its metadata in the store, its Backup on both clusters) afterwards.
    cleanups.push(() =>
      app.kube.primary.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        group: 'velero.io',
        version: 'v1',
        namespace: 'velero',
        plural: 'deletebackuprequests',
        body: {
          apiVersion: 'velero.io/v1',
          kind: 'DeleteBackupRequest',
          metadata: { name: `${backup.name}-delete` },
          spec: { backupName: backup.name },
        },
      }),
    );
    const standbyVelero = app.kube.standby.makeApiClient(CustomObjectsApi);
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      const synced = await standbyVelero
        .getNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: 'velero', plural: 'backups', name: backup.name })
        .then(
          () => true,
          () => false,
        );
      if (synced) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    // The backup's contents (its tarball) go missing from the store; its metadata stays, so the
    // standby still lists it as the newest backup.
    const { bucket, prefix } = await storageLocationOf(app.kube.primary, 'primary', 'velero', backup.storageLocation);
    const key = backupFileKey(prefix, backup.name, '.tar.gz');
    const s3 = createS3Client(w.config);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength).toBeGreaterThan(0);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

    const err = await failureOf(w, 'failover', input(app));
    const restores = (await veleroList(app.kube.standby, 'restores')).filter((r) => r.spec.backupName === backup.name);
    expect(restores.map((r) => r.status?.phase)).toEqual(['Failed']);
    const restore = restores[0]!;
    // Velero's words, through the AWS plugin; only the store's request and host IDs vary.
    const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(restore.status!.failureReason).toMatch(
      new RegExp(
        `^error downloading backup: error copying Backup to temp file: rpc error: code = Unknown desc = error getting object ${escaped}: ` +
          'operation error S3: GetObject, https response error StatusCode: 404, RequestID: [0-9A-F]+, HostID: [0-9a-f]+, NoSuchKey: The specified key does not exist\\.$',
      ),
    );
    const failure = `Velero restore ${restore.metadata.name} ended Failed: ${restore.status!.failureReason}`;
    const rolledBack = ["unfenced 2 Deployments on 'primary'"];
    expect(rootFailure(err)).toEqual({
      type: 'FailoverFailed',
      message: `failover of ${app.name} from primary to standby failed: ${failure}; rolled back: ${rolledBack.join('; ')}`,
    });
    const report = reportOf(err);
    expect(report.status).toBe('rolled-back');
    expect(report.backup?.name).toBe(backup.name);
    expect(report.failure).toBe(failure);
    expect(report.rolledBack).toEqual(rolledBack);
    // The primary serves again; the standby got nothing; the record never moved.
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await fenceMarks(app, 'primary')).toEqual([]);
    expect(await app.replicas('standby')).toEqual({});
    expect(await dnsTargets(app)).toEqual(targets.primary);
  }, 300_000);
});
