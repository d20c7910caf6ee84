// The Temporal server killed -9 and restarted mid-run on the same database (lab: Toxiproxy, MinIO, both
// clusters with kwok, the primary's etcd; the lab's Temporal server is not used). The suite runs a
// Temporal dev server of its own (test/helpers/private-temporal.ts: the lab's binary, its own ports,
// database and directory), a `lifeboat worker` process against it with a bucket, a scratch directory and
// two throwaway apps of its own, and the worker's object-store path through a Toxiproxy proxy of its own
// (slowed, so the snapshot stream is surely mid-upload when the server dies). Four runs at once: an etcd
// snapshot streaming, a restore verification in its scratch control plane, the shipped app-failover
// runbook with its failover child moving an app, and a failover waiting for its approval. The server is
// killed, stays down a few seconds and comes back on the same database; the failover is approved after.
// Each run completes once, every activity ran once (none retried), each change was made once, one
// manifest per snapshot, no upload, scratch process or directory left, and the same worker process
// did everything, reconnecting by itself.
//
// Why a few seconds: the worker's SDK core retries polls for ever, but an activity's completion only for
// about 10 s (sdk-core RetryOptions: max_elapsed_time 10 s, not settable from TypeScript). An outage
// longer than that loses the completions of activities that finish during it (the server runs them
// again once their heartbeat or start-to-close timeout passes); one longer than a heartbeat timeout
// (30 s for the stream and the restore) times out the long activities too. Lifeboat's activities are
// idempotent, so such a rerun changes nothing twice, but it is a second attempt, which this test says
// a short outage never causes.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ResultPromise } from 'execa';
import { addFault, deleteProxy, ensureProxies } from '../../lab/faults.js';
import { ensureSearchAttributes } from '../../lab/search-attributes.js';
import { readManifest } from '../../activities/object-store/manifests.js';
import { maxStreamAttempts, snapshotManifestKey, snapshotObjectKey } from '../../model/snapshot-layout.js';
import { runbookWorkflowId, type RunbookReport } from '../../model/runbook/run.js';
import type { AppConfig, LifeboatConfig } from '../../worker/config.js';
import { loadKeyRing } from '../../worker/keys.js';
import { createS3Client } from '../../worker/s3.js';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import type { etcdSnapshot, EtcdSnapshotResult } from '../../workflows/etcdSnapshot.js';
import { approveUpdate, reportQuery, type failover, type FailoverReport } from '../../workflows/failover.js';
import type { restoreVerification } from '../../workflows/restoreVerification.js';
import { runbookApproveUpdate, runbookReportQuery, type runbook } from '../../workflows/runbook.js';
import { completedActivities, lifecycleActivities, retriedActivities, taskIdentities, type History } from '../helpers/activity-attempts.js';
import { createTestApp, targets, testRequester, type TestApp } from '../helpers/failover-app.js';
import { labConfig } from '../helpers/lab.js';
import { startPrivateTemporal, type PrivateTemporal } from '../helpers/private-temporal.js';
import { freePort } from '../helpers/prometheus.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import { startWorkerProcessOn, polled, writeWorkerConfig } from '../helpers/worker-process.js';
import { processesNaming } from '../helpers/processes.js';
import { until, within } from '../helpers/waits.js';

const id = randomUUID().slice(0, 8);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const taskQueue = `test-temporal-restart-${id}`;
const bucket = `lifeboat-trestart-${id}`;
const proxyName = `test-${id}-trestart-s3`;
/** The snapshot taken before, which the verification restores. */
const beforeId = `etcd-snapshot/primary/test-trestart-before-${id}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: (() => unknown)[] = [];
let temporal: PrivateTemporal;
let config: LifeboatConfig;
let client: LifeboatClient;
let s3: S3Client;
let scratchDir: string;
let worker: ResultPromise;
/** How the worker process ended, once it has (it must not, until the suite stops it). */
let workerExited: string | undefined;
let workerMetrics: string;
/** The apps the runbook and the direct failover move. */
let runbookApp: TestApp;
let failoverApp: TestApp;
/** The snapshot taken before, which the verification restores. */
let verifiedSnapshot: EtcdSnapshotResult;

/** An app's entry as a configuration file spells it: the durations the schema parsed to seconds, as text again. */
const appEntry = ({ verify, objectives, failover: f, ...rest }: AppConfig) => ({
  ...rest,
  verify: { ...verify, availableTimeout: `${verify.availableTimeout}s` },
  objectives: { rto: `${objectives.rto}s`, rpo: `${objectives.rpo}s` },
  failover: f && {
    ...f,
    approvalTimeout: `${f.approvalTimeout}s`,
    availableTimeout: `${f.availableTimeout}s`,
    returnWatch: `${f.returnWatch}s`,
  },
});

/** Pids and programs of processes whose command line names the scratch directory. */
const scratchProcesses = () => processesNaming(scratchDir);

/** The worker's /readyz: its status and body, or undefined when it does not answer. */
const readyz = () =>
  fetch(`http://${workerMetrics}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
    async (r) => ({ status: r.status, body: (await r.text()).trim() }),
    () => undefined,
  );

/** The started activities a run has pending now, by type. */
async function inFlight(handle: WorkflowHandle): Promise<string[]> {
  const { raw } = await handle.describe();
  return (raw.pendingActivities ?? [])
    .filter((a) => Number(a.state) === 2) // PENDING_ACTIVITY_STATE_STARTED
    .map((a) => a.activityType!.name!)
    .filter((type) => !lifecycleActivities.has(type));
}

beforeAll(async () => {
  temporal = await startPrivateTemporal();
  cleanups.push(() => temporal.remove());
  scratchDir = join(temporal.dir, 'scratch');
  mkdirSync(scratchDir, { mode: 0o700 });

  // The worker's S3 client goes through a proxy of this suite's own; etcd, Kubernetes and Temporal are direct.
  const direct = labConfig();
  const proxied = (
    await ensureProxies([{ name: proxyName, listen: '127.0.0.1:0', upstream: new URL(direct.objectStore.endpoint!).host }])
  )[0]!.listen;
  cleanups.push(() => deleteProxy(proxyName));

  runbookApp = await createTestApp(direct);
  cleanups.push(() => runbookApp.remove());
  failoverApp = await createTestApp(direct);
  cleanups.push(() => failoverApp.remove());

  // The lab's configuration, pointed at the private server, with this suite's task queue, bucket,
  // scratch directory and apps; a metrics port of its own for /readyz.
  workerMetrics = `127.0.0.1:${await freePort()}`;
  let configFile: string;
  ({ file: configFile, config } = writeWorkerConfig(temporal.dir, (doc) => {
    doc.temporal = { ...doc.temporal, address: temporal.address, namespace: 'default', taskQueue };
    doc.objectStore = { ...doc.objectStore, endpoint: `http://${proxied}`, bucket };
    doc.verification = { ...doc.verification, scratchDir };
    doc.metrics = { port: Number(workerMetrics.split(':')[1]), runtimePort: 0 };
    doc.apps = [...doc.apps, appEntry(runbookApp.config), appEntry(failoverApp.config)];
    doc.runbooks = { ...doc.runbooks, dir: runbooksDir };
  }));

  // The suite reads the bucket directly (not through the proxy).
  s3 = createS3Client({ ...config, objectStore: { ...config.objectStore, endpoint: direct.objectStore.endpoint } });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  cleanups.push(async () => {
    for (let i = 0; i < 20; i++) {
      const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      for (const u of uploads) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      if (!listed.Contents?.length) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: listed.Contents.map((o) => ({ Key: o.Key! })) } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    s3.destroy();
  });

  worker = startWorkerProcessOn(configFile);
  void worker.then((r) => (workerExited = r.signal ?? `exit code ${r.exitCode}: ${String(r.stderr).slice(-2000)}`));
  cleanups.push(async () => {
    worker.kill('SIGTERM');
    await worker;
  });
  client = await temporalClient(config);
  cleanups.push(() => client.connection.close());
  await polled(client, 'default', taskQueue);

  // The snapshot the verification will restore, taken before anything is slowed or killed.
  verifiedSnapshot = await client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue,
    workflowId: beforeId,
    args: [{ cluster: 'primary' }],
    workflowExecutionTimeout: '5 minutes',
  });
}, 300_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse())
    await Promise.resolve(cleanup()).catch((err: Error) => process.stderr.write(`cleanup: ${err.message}\n`));
}, 120_000);

describe('the Temporal server killed -9 and restarted on the same database mid-run', () => {
  it('a snapshot, a verification, a runbook moving an app and a failover waiting for approval each complete once; nothing ran twice or was left behind', async () => {
    const { snapshotId: verifiedId } = verifiedSnapshot.manifest;
    const runbookInput = findRunbookIn(runbooksDir, 'app-failover', {
      app: runbookApp.name,
      from: 'primary',
      to: 'standby',
      reason: 'temporal restart test',
    });
    const ids = {
      snapshot: `etcd-snapshot/primary/test-trestart-${id}`,
      verify: `verify-etcd/primary/test-trestart-${id}`,
      runbook: runbookWorkflowId('app-failover', new Date(), id),
      failover: `failover/${failoverApp.name}`,
    };

    // The failover and the runbook wait for their approvals.
    const failoverRun = await client.workflow.start<typeof failover>('failover', {
      taskQueue,
      workflowId: ids.failover,
      args: [{ app: failoverApp.name, from: 'primary', to: 'standby', reason: 'temporal restart test', requestedBy: testRequester }],
    });
    const runbookRun = await client.workflow.start<typeof runbook>('runbook', {
      taskQueue,
      workflowId: ids.runbook,
      args: [runbookInput],
      workflowExecutionTimeout: '20 minutes',
    });
    await until('the failover awaiting its approval', 60_000, async () =>
      (await failoverRun.query(reportQuery)).status === 'awaiting-approval' ? true : undefined,
    );
    await until('the runbook waiting for its approval', 60_000, async () =>
      (await runbookRun.query(runbookReportQuery)).status === 'waiting-approval' ? true : undefined,
    );

    // A slow store (256 KB/s per connection of uploads): the snapshot's 8 MiB parts take ~30 s each;
    // the stream reports progress every 5 s.
    await addFault(proxyName, { kind: 'bandwidth', kbps: 256, directions: ['upstream'] });
    const snapshotRun = await client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
      taskQueue,
      workflowId: ids.snapshot,
      args: [{ cluster: 'primary' }],
      workflowExecutionTimeout: '20 minutes',
    });
    await until('the snapshot stream heartbeating', 120_000, async () => {
      const { raw } = await snapshotRun.describe();
      const stream = raw.pendingActivities?.find((a) => a.activityType?.name === 'streamEtcdSnapshot');
      return stream?.lastHeartbeatTime ? true : undefined;
    });

    // The runbook approved, so its failover child moves the app, and the verification started: the
    // server dies once the restore runs in scratch and the failover changes the clusters (each takes
    // seconds), the stream still uploading.
    await runbookRun.executeUpdate(runbookApproveUpdate, { args: [{ approver: 'alice', comment: 'before the restart' }] });
    const verifyRun = await client.workflow.start<typeof restoreVerification>('restoreVerification', {
      taskQueue,
      workflowId: ids.verify,
      args: [{ kind: 'etcd', cluster: 'primary', snapshotId: verifiedId }],
      workflowExecutionTimeout: '20 minutes',
    });
    const runbookFailover = client.workflow.getHandle(`failover/${runbookApp.name}`);
    const killedInside = await until('the stream, the restore in scratch and a change of the failover all running', 60_000, async () => {
      const [snapshot, verify, moving] = await Promise.all([inFlight(snapshotRun), inFlight(verifyRun), inFlight(runbookFailover)]);
      return snapshot.includes('streamEtcdSnapshot') &&
        verify.includes('restoreSnapshotInScratch') &&
        moving.some((t) => t !== 'preflightFailover')
        ? { snapshot, verify, runbookFailover: moving }
        : undefined;
    });

    // kill -9, down 3 s (and the ~1 s the server takes to start), then back on the same database and ports.
    const before = temporal.pid()!;
    const killedAt = Date.now();
    await temporal.kill();
    expect(() => process.kill(before, 0)).toThrow();
    process.stderr.write(`[temporal restart] server ${before} killed with in flight: ${JSON.stringify(killedInside)}\n`);
    // The worker says so: not ready while Temporal does not answer (and still serving its endpoint).
    const down = await until('the worker not ready', 10_000, async () => {
      const r = await readyz();
      return r && r.status === 503 ? r : undefined;
    });
    await sleep(Math.max(0, killedAt + 3_000 - Date.now()));
    const after = await temporal.start();
    const downMs = Date.now() - killedAt;
    process.stderr.write(`[temporal restart] server ${after} serving again after ${(downMs / 1000).toFixed(1)} s\n`);
    expect(after).not.toBe(before);
    // The same worker process polls again and is ready.
    const up = await until('the worker ready again', 60_000, async () => {
      const r = await readyz();
      return r?.status === 200 ? r : undefined;
    });
    expect(down.body).toMatch(/^not ready: Temporal health check: /);
    expect(up.body).toBe('ok');
    expect(workerExited).toBeUndefined();
    // The search attributes the worker's runs write survived on the same database: none is missing.
    expect(await ensureSearchAttributes(temporal.address, 'default')).toEqual([]);

    // The failover's approval, kept across the restart, is given now.
    await until('the failover awaiting its approval after the restart', 60_000, async () =>
      (await failoverRun.query(reportQuery)).status === 'awaiting-approval' ? true : undefined,
    );
    await failoverRun.executeUpdate(approveUpdate, { args: [{ approver: 'alice', comment: 'after the restart' }] });

    const [snapshot, verified, runbookReport, failoverReport] = await within(
      'the runs finished after the restart',
      600_000,
      Promise.all([snapshotRun.result(), verifyRun.result(), runbookRun.result(), failoverRun.result()]),
    );
    const runbookFailoverReport = (await runbookFailover.result()) as FailoverReport;

    // Results as promised.
    expect(snapshot.manifest.status).toBe('uploaded');
    expect(snapshot.manifest.object.objectKey).toBe(snapshotObjectKey('primary', snapshot.manifest.snapshotId, 1));
    expect(verified.passed).toBe(true);
    expect(verified.backup.id).toBe(verifiedId);
    const states = (r: RunbookReport) => Object.fromEntries(r.steps.map((s) => [s.path, s.state]));
    expect(runbookReport.status).toBe('succeeded');
    expect(states(runbookReport)).toEqual({ health: 'succeeded', approve: 'succeeded', failover: 'succeeded', serving: 'skipped' });
    expect(runbookReport.approvals.map((a) => [a.step, a.approver])).toEqual([['approve', 'alice']]);
    for (const r of [failoverReport, runbookFailoverReport]) {
      expect([r.app, r.status, r.approval?.approver]).toEqual([r.app, 'completed', 'alice']);
      expect(r.steps.map((s) => [s.name, s.state])).toEqual(
        ['preflight', 'plan', 'approval', 'fence', 'bring-up', 'available', 'traffic', 'verify', 'report'].map((n) => [n, 'done']),
      );
    }
    expect(failoverReport.approval).toMatchObject({ auto: false, comment: 'after the restart' });

    // One execution per workflow id on the server, each completed, started before the kill or (the
    // runbook's failover child) moments before it, and closed after the server came back.
    const executions: { workflowId: string; status: string; startTime: Date; closeTime?: Date }[] = [];
    for await (const e of client.workflow.list())
      executions.push({ workflowId: e.workflowId, status: e.status.name, startTime: e.startTime, closeTime: e.closeTime });
    const expected = [
      beforeId,
      ids.snapshot,
      ids.verify,
      ids.runbook,
      `${ids.runbook}/health`,
      `failover/${runbookApp.name}`,
      ids.failover,
    ].sort();
    expect(executions.map((e) => `${e.workflowId} ${e.status}`).sort()).toEqual(expected.map((w) => `${w} COMPLETED`));
    for (const w of [ids.snapshot, ids.verify, ids.runbook, `failover/${runbookApp.name}`, ids.failover]) {
      const e = executions.find((x) => x.workflowId === w)!;
      expect([w, e.startTime.getTime() < killedAt, e.closeTime!.getTime() > killedAt]).toEqual([w, true, true]);
    }

    // Every activity of the runs across the restart ran once: none retried, each scheduled one completed
    // once (the snapshot taken before is only the verification's input). Every task of every run was
    // taken by the one worker process, which never restarted.
    const identity = `${worker.pid}@${hostname()}`;
    const histories: Record<string, History> = Object.fromEntries(
      await Promise.all(expected.map(async (w) => [w, await client.workflow.getHandle(w).fetchHistory()] as const)),
    );
    const each = <T>(workflowIds: string[], f: (h: History) => T) => Object.fromEntries(workflowIds.map((w) => [w, f(histories[w]!)]));
    const acrossRestart = expected.filter((w) => w !== beforeId);
    const scheduled = (h: History) =>
      (h.events ?? []).filter(
        (e) =>
          e.activityTaskScheduledEventAttributes && !lifecycleActivities.has(e.activityTaskScheduledEventAttributes.activityType!.name!),
      ).length;
    expect(each(acrossRestart, retriedActivities)).toEqual(each(acrossRestart, () => []));
    expect(each(acrossRestart, (h) => completedActivities(h).length)).toEqual(each(acrossRestart, scheduled));
    expect(each(expected, (h) => (h.events ?? []).filter((e) => e.workflowExecutionCompletedEventAttributes).length)).toEqual(
      each(expected, () => 1),
    );
    expect(each(expected, taskIdentities)).toEqual(each(expected, () => [identity]));
    // The failovers' changes, once each: fence, bring-up, traffic.
    const warmStandby = [
      'activateAsSourceStops',
      'fenceWorkloads',
      'preflightFailover',
      'switchTraffic',
      'trafficStatus',
      'waitWorkloadsAvailable',
      'waitWorkloadsAvailable',
    ];
    expect(completedActivities(histories[ids.failover]!)).toEqual(warmStandby);
    expect(completedActivities(histories[`failover/${runbookApp.name}`]!)).toEqual(warmStandby);
    expect(completedActivities(histories[ids.snapshot]!)).toContain('streamEtcdSnapshot');
    expect(completedActivities(histories[ids.snapshot]!).filter((t) => t === 'streamEtcdSnapshot')).toHaveLength(1);

    // Each object was changed once (generation 1 at creation): each Deployment scaled once on each
    // cluster, the traffic record switched once.
    for (const app of [runbookApp, failoverApp]) {
      expect(await app.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
      expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
      for (const cluster of ['primary', 'standby'] as const)
        for (const name of app.deployments)
          expect([cluster, name, (await app.deployment(cluster, name)).metadata!.generation]).toEqual([cluster, name, 2]);
      const record = await app.dnsEndpoint();
      expect([record.spec.endpoints[0]!.targets, record.metadata.generation]).toEqual([targets.standby, 2]);
    }

    // The bucket holds each snapshot's object (its first attempt's) and one manifest, nothing else, and
    // no incomplete upload; the verified one says so.
    const snapshotIds = [verifiedId, snapshot.manifest.snapshotId];
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
    expect(keys).toEqual(snapshotIds.flatMap((s) => [snapshotManifestKey('primary', s), snapshotObjectKey('primary', s, 1)]).sort());
    for (const s of snapshotIds)
      for (let attempt = 1; attempt <= maxStreamAttempts; attempt++) {
        const Prefix = snapshotObjectKey('primary', s, attempt);
        expect([Prefix, (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix }))).Uploads ?? []]).toEqual([Prefix, []]);
      }
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    const keyRing = loadKeyRing(config.encryption!);
    expect((await readManifest(s3, bucket, 'primary', verifiedId, keyRing)).status).toBe('verified');
    expect((await readManifest(s3, bucket, 'primary', snapshot.manifest.snapshotId, keyRing)).status).toBe('uploaded');

    // The verification's scratch etcd and kube-apiserver are gone, and so is its directory.
    expect(scratchProcesses()).toEqual([]);
    expect(readdirSync(scratchDir)).toEqual([]);
    // The worker is still the one started before the kill.
    expect(workerExited).toBeUndefined();
  }, 900_000);
});
