// Fault tests (lab: Temporal, standby etcd, MinIO; a worker process of its own): kill -9 of the worker
// mid-upload, and MinIO gone for 30 s mid-run. The standby etcd is filled with scratch data first, so
// the upload lasts long enough to be interrupted; the data is removed afterwards.
// lab: disruptive (stops MinIO for 30 s): runs alone, after the other suites (test/run.sh).
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa, type ResultPromise } from 'execa';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { fetchSnapshot } from '../../activities/object-store/snapshot-fetch.js';
import { maxStreamAttempts, snapshotIdFor, snapshotObjectKey } from '../../model/snapshot-layout.js';
import { clearEtcdScratch, fillEtcd } from '../../lab/etcd-fill.js';
import { labComponents } from '../../lab/components.js';
import { labUp } from '../../lab/lab.js';
import { runningPid, startDaemon, stopDaemon } from '../../lab/processes.js';
import { labConfigFile } from '../../lab/topology.js';
import { createClients } from '../../worker/clients.js';
import { loadKeyRing } from '../../worker/keys.js';
import { retriedActivities } from '../helpers/activity-attempts.js';
import { cliPath, labConfig, startTestWorker } from '../helpers/lab.js';
import { untilStreaming } from '../helpers/snapshot-stream.js';

const config = labConfig();
const clients = createClients(config);
const keyRing = loadKeyRing(config.encryption!);
const bucket = config.objectStore.bucket;
const standby = config.clusters.find((c) => c.name === 'standby')!;
const scratchMiB = 384;

let client: LifeboatClient;
beforeAll(async () => {
  await fillEtcd(standby, scratchMiB);
  client = await temporalClient(config);
}, 300_000);
afterAll(async () => {
  await client?.connection.close();
  clients.s3.destroy();
  await clearEtcdScratch(standby);
}, 300_000);

/** Resolves once the stream is in flight and the object store has acknowledged a part; returns the bytes read by then. */
const untilPartUploaded = async (handle: WorkflowHandle): Promise<number> =>
  (await untilStreaming(handle, { s3: clients.s3, bucket, cluster: 'standby' }, { accept: (beat) => beat.bytesUploaded > 0 })).bytesRead;

async function snapshotObjects(snapshotId: string): Promise<string[]> {
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `etcd/standby/${snapshotId}/` }));
  return (listed.Contents ?? []).map((o) => o.Key!.split('/').pop()!).sort();
}

/** Incomplete multipart uploads of the run's snapshot objects, every attempt's (MinIO lists them by exact key only). */
async function incompleteUploads(handle: WorkflowHandle): Promise<number> {
  const { startTime, runId } = await handle.describe();
  let count = 0;
  for (let attempt = 1; attempt <= maxStreamAttempts; attempt++) {
    const Prefix = snapshotObjectKey('standby', snapshotIdFor(startTime, runId), attempt);
    count += (await clients.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix }))).Uploads?.length ?? 0;
  }
  return count;
}

const decryptsToManifest = async (manifest: Awaited<ReturnType<typeof etcdSnapshot>>['manifest']) =>
  (
    await fetchSnapshot({
      s3: clients.s3,
      bucket,
      manifest,
      keyRing,
      destination: new Writable({
        write(_c, _e, done) {
          done();
        },
      }),
    })
  ).plaintextSha256;

describe('etcdSnapshot under faults', () => {
  it('kill -9 of the worker mid-upload: a restarted worker completes it, one manifest, no incomplete uploads', async () => {
    const taskQueue = `test-kill-${randomUUID()}`;
    const startWorker = (): ResultPromise =>
      execa(process.execPath, [cliPath, 'worker'], {
        env: { LIFEBOAT_CONFIG: labConfigFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_METRICS_PORT: '0' },
        reject: false,
      });
    let worker = startWorker();
    const handle = await client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
      taskQueue,
      workflowId: `etcd-snapshot/standby/test-kill-${Date.now()}`,
      args: [{ cluster: 'standby', skipRetention: true }],
      workflowExecutionTimeout: '10 minutes',
    });
    const bytesAtKill = await untilPartUploaded(handle);
    worker.kill('SIGKILL');
    await worker;
    // Killed mid-upload: parts are there, the object is not.
    expect(await incompleteUploads(handle)).toBe(1);

    worker = startWorker();
    try {
      const { manifest } = await handle.result();
      expect(bytesAtKill).toBeLessThan(manifest.object.plaintextBytes);
      // The killed stream ran once more, and nothing else was retried.
      expect(retriedActivities(await handle.fetchHistory())).toEqual([['streamEtcdSnapshot', 2]]);
      // The manifest names the attempt that completed; the killed attempt left no object.
      expect(manifest.object.objectKey).toBe(snapshotObjectKey('standby', manifest.snapshotId, 2));
      expect(await snapshotObjects(manifest.snapshotId)).toEqual(['manifest.json', manifest.object.objectKey.split('/').pop()]);
      expect(await incompleteUploads(handle)).toBe(0);
      expect(manifest.object.plaintextBytes).toBeGreaterThan(scratchMiB * 1024 * 1024);
      expect(await decryptsToManifest(manifest)).toBe(manifest.object.plaintextSha256);
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  }, 300_000);

  it('MinIO stopped for 30 s mid-run: the run completes after it returns', async () => {
    const w = await startTestWorker();
    const minio = labComponents.find((c) => c.name === 'minio')!;
    try {
      const handle = await w.client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
        taskQueue: w.config.temporal.taskQueue,
        workflowId: `etcd-snapshot/standby/test-minio-${Date.now()}`,
        args: [{ cluster: 'standby', skipRetention: true }],
        workflowExecutionTimeout: '10 minutes',
      });
      await untilPartUploaded(handle);
      expect(await stopDaemon('minio')).toBe(true);
      await new Promise((r) => setTimeout(r, 30_000));
      await startDaemon(minio.daemon);
      expect(await runningPid('minio')).toBeDefined();
      const { manifest } = await handle.result();
      // How many attempts 30 s without the store takes depends on the retry backoff; the stream is the
      // only activity retried, and the object the manifest names is the attempt that completed.
      const retried = retriedActivities(await handle.fetchHistory());
      expect(retried.map(([type]) => type)).toEqual(['streamEtcdSnapshot']);
      expect(manifest.object.objectKey).toBe(snapshotObjectKey('standby', manifest.snapshotId, retried[0]![1]));
      expect(await snapshotObjects(manifest.snapshotId)).toEqual(['manifest.json', manifest.object.objectKey.split('/').pop()]);
      expect(await incompleteUploads(handle)).toBe(0);
      expect(await decryptsToManifest(manifest)).toBe(manifest.object.plaintextSha256);
    } finally {
      await w.stop();
      // Back to a healthy lab: MinIO up, and both Velero servers' storage locations revalidated.
      await labUp();
    }
  }, 300_000);
});
