// Lab: MinIO (a bucket of the test's own), the primary cluster (its etcd is snapshotted; the snapshot is
// restored into a scratch etcd and kube-apiserver the workers run), and the cluster profile's PostgreSQL
// and Temporal server (built from go.temporal.io/server), which the test starts itself
// (ensureTemporalCluster, idempotent) and restarts mid-run. No other suite uses that server.
// Scale-out: two `lifeboat worker` processes, versioned (temporal.deployment), on one task queue of the
// test's own share a game day; the worker running an activity is killed -9 and replaced, and the Temporal
// server is restarted on the same database while the restore verification runs. The run completes once,
// with every child and activity once, and work was done by more than one worker.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ResultPromise } from 'execa';
import { localReportDir } from '../../activities/object-store/gameday-reports.js';
import { installScript } from '../../lab/lab.js';
import { clusterAddress, clusterNamespace, ensureTemporalCluster, restartTemporalServer } from '../../lab/temporal-cluster.js';
import { createS3Client } from '../../worker/s3.js';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { bundleBuildId } from '../../worker/versioning.js';
import { workflowBundlePath } from '../../worker/worker.js';
import type { GameDayResult } from '../../workflows/gameDay.js';
import { retriedActivities, taskIdentities } from '../helpers/activity-attempts.js';
import { deleteBucket } from '../helpers/minio.js';
import { until, within } from '../helpers/waits.js';
import { startWorkerProcessOn, writeWorkerConfig } from '../helpers/worker-process.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 120_000);

// On a machine that has not built the Temporal server yet, this builds it first (about 12 min on 2 cores).
beforeAll(() => ensureTemporalCluster(installScript), 45 * 60_000);

describe('two workers on a Temporal cluster (PostgreSQL)', () => {
  it('share a game day; a kill -9 of one and a restart of the server lose nothing and repeat nothing', async () => {
    // The lab's configuration, pointed at the cluster, a task queue, a deployment and a bucket of the test's own.
    const suffix = randomUUID().slice(0, 8);
    const taskQueue = `test-cluster-${suffix}`;
    const deploymentName = `lifeboat-test-${suffix}`;
    const bucket = `lifeboat-cluster-${suffix}`;
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cluster-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { file: configFile, config } = writeWorkerConfig(dir, (doc) => {
      doc.temporal = { address: clusterAddress, namespace: clusterNamespace, taskQueue, deployment: { name: deploymentName } };
      doc.objectStore = { ...doc.objectStore, bucket };
      doc.metrics = { port: 0 };
    });

    const s3 = createS3Client(config);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    cleanups.push(async () => {
      await deleteBucket(s3, bucket);
      s3.destroy();
    });

    const workers = new Map<string, ResultPromise>();
    const startWorker = (): void => {
      const w = startWorkerProcessOn(configFile);
      // The SDK's default worker identity.
      workers.set(`${w.pid}@${hostname()}`, w);
    };
    cleanups.push(async () => {
      for (const w of workers.values()) w.kill('SIGTERM');
      await Promise.all(workers.values());
    });
    startWorker();
    startWorker();
    const client: LifeboatClient = await temporalClient(config);
    cleanups.push(() => client.connection.close());

    // Both poll the task queue; each registered the version it runs, which the operator's step makes current.
    const pollers = await until('both workers polling', 90_000, async () => {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: clusterNamespace,
        taskQueue: { name: taskQueue },
        taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
      });
      const ours = (pollers ?? []).map((p) => p.identity!).filter((id) => workers.has(id));
      return ours.length === 2 ? ours : undefined;
    });
    expect(pollers.sort()).toEqual([...workers.keys()].sort());
    const buildId = bundleBuildId(workflowBundlePath);
    await until('version made current', 60_000, () =>
      client.workflowService
        .setWorkerDeploymentCurrentVersion({ namespace: clusterNamespace, deploymentName, buildId, identity: 'temporal-cluster.test' })
        .then(() => true),
    );

    const workflowId = `gameday/test-cluster-${suffix}`;
    const handle = await client.workflow.start('gameDay', {
      taskQueue,
      workflowId,
      args: [{ clusters: ['primary'], apps: [], freshBackups: true, failover: false }],
      workflowExecutionTimeout: '20 minutes',
    });
    const children = { snapshot: `${workflowId}/etcd-snapshot/primary`, verify: `${workflowId}/verify-etcd/primary` };
    /** The worker running an activity of `childId` now, and that activity's type. */
    const activityRunning = async (childId: string) => {
      const { raw: described } = await client.workflow.getHandle(childId).describe();
      const pending = (described.pendingActivities ?? []).find((a) => a.lastWorkerIdentity && workers.has(a.lastWorkerIdentity));
      return pending ? { identity: pending.lastWorkerIdentity!, activity: pending.activityType!.name! } : undefined;
    };

    // kill -9 of the worker streaming the snapshot to the object store (or, if the stream was too quick
    // to catch, of the one running the verification); a replacement starts, as a Deployment's would.
    const victim = await until('an upload or a verification running on one of the workers', 300_000, async () => {
      const streaming = await activityRunning(children.snapshot).catch(() => undefined);
      if (streaming?.activity === 'streamEtcdSnapshot') return streaming;
      const snapshot = await client.workflow
        .getHandle(children.snapshot)
        .describe()
        .catch(() => undefined);
      return snapshot?.status.name === 'COMPLETED' ? activityRunning(children.verify).catch(() => undefined) : undefined;
    });
    workers.get(victim.identity)!.kill('SIGKILL');
    await workers.get(victim.identity);
    startWorker();

    // The Temporal server restarted on the same database while the restore verification runs.
    await until('the restore verification running', 300_000, () => activityRunning(children.verify).catch(() => undefined));
    const restartedAt = Date.now();
    const { before, after } = await restartTemporalServer();
    expect(after).not.toBe(before);

    const result = await within('the game day finished', 900_000, handle.result() as Promise<GameDayResult>);
    cleanups.push(() => rmSync(join(localReportDir(config.gameDay), result.report.id), { recursive: true, force: true }));
    const entries = result.report.entries.map((e) => ({ name: e.name, passed: e.passed, error: e.error }));
    expect(entries).toEqual([{ name: 'etcd/primary', passed: true, error: undefined }]);
    expect(result.stored.bucket).toBe(bucket);
    const { startTime, closeTime, raw: described } = await handle.describe();
    expect(startTime.getTime()).toBeLessThan(restartedAt);
    expect(closeTime!.getTime()).toBeGreaterThan(restartedAt);
    // Pinned to the version the workers run: the one their workflow bundle names.
    expect(described.workflowExecutionInfo?.versioningInfo?.deploymentVersion).toMatchObject({ deploymentName, buildId });

    // Exactly once: each child started once and completed; each activity scheduled once and completed
    // once; only the activity the killed worker held needed a second attempt.
    const parent = await handle.fetchHistory();
    const started = (parent.events ?? []).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
    expect(started.sort()).toEqual([children.snapshot, children.verify].sort());
    expect((parent.events ?? []).filter((e) => e.childWorkflowExecutionCompletedEventAttributes).length).toBe(2);
    const histories = {
      parent,
      ...Object.fromEntries(
        await Promise.all(
          Object.entries(children).map(async ([k, id]) => [k, await client.workflow.getHandle(id).fetchHistory()] as const),
        ),
      ),
    };
    const retried: [string, number][] = [];
    for (const [name, history] of Object.entries(histories)) {
      const events = history.events ?? [];
      const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes).length;
      const completed = events.filter((e) => e.activityTaskCompletedEventAttributes).length;
      expect([name, completed]).toEqual([name, scheduled]);
      expect([name, events.at(-1)?.workflowExecutionCompletedEventAttributes ? 'completed' : 'not completed']).toEqual([name, 'completed']);
      retried.push(...retriedActivities(history));
    }
    expect(retried).toEqual([[victim.activity, 2]]);
    // One snapshot in the bucket: the one the game day's verification restored.
    const snapshots = new Set(
      ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'etcd/primary/' }))).Contents ?? []).map(
        (o) => o.Key!.split('/')[2],
      ),
    );
    expect([...snapshots]).toEqual([result.report.entries[0]!.backup!.id]);

    // More than one worker did the work: the killed one (or its replacement) and the one that stayed.
    const did = new Set(
      Object.values(histories)
        .flatMap(taskIdentities)
        .filter((id) => workers.has(id)),
    );
    expect(did.size).toBeGreaterThanOrEqual(2);
    const survivor = [...workers.keys()].find((id, i) => i < 2 && id !== victim.identity)!;
    expect(did.has(survivor)).toBe(true);
  }, 1_200_000);
});
