// Network fault tests (lab: toxiproxy, Temporal, primary etcd, MinIO): an etcd snapshot run by a worker
// whose object-store path goes through a Toxiproxy proxy of this suite's own (lab/faults.ts, port 0), so
// the faults touch no shared lab path and the suite runs beside the others. The primary's snapshot is
// about 18 MB (its Kubernetes objects): three multipart parts (8, 8 MiB and the rest), uploaded at once.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { addFault, clearFaults, deleteProxy, ensureProxies } from '../../lab/faults.js';
import { snapshotObjectKey } from '../../model/snapshot-layout.js';
import { createClients } from '../../worker/clients.js';
import { retriedActivities } from '../helpers/activity-attempts.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { incompleteUploads as uploadsLeft, snapshotIdOf, snapshotObjects as objectsOfSnapshot } from '../helpers/snapshot-store.js';

const id = randomUUID().slice(0, 8);
const proxyName = `test-${id}-snapshot-s3`;
const direct = labConfig();
const clients = createClients(direct);
const bucket = direct.objectStore.bucket;
let proxied: string;
let worker: TestWorker;

beforeAll(async () => {
  const upstream = new URL(direct.objectStore.endpoint!).host;
  proxied = (await ensureProxies([{ name: proxyName, listen: '127.0.0.1:0', upstream }]))[0]!.listen;
  // The worker's S3 client goes through the proxy; etcd, Kubernetes and Temporal stay direct.
  worker = await startTestWorker((config) => ({ ...config, objectStore: { ...config.objectStore, endpoint: `http://${proxied}` } }));
}, 60_000);
afterEach(async () => {
  await clearFaults(proxyName);
});
afterAll(async () => {
  await worker?.stop();
  await deleteProxy(proxyName);
  clients.s3.destroy();
});

const startSnapshot = (name: string) =>
  worker.client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: worker.config.temporal.taskQueue,
    workflowId: `etcd-snapshot/primary/test-${name}-${id}`,
    args: [{ cluster: 'primary', skipRetention: true }],
    workflowExecutionTimeout: '10 minutes',
  });

/** Waits (at most `ms`) until the stream activity has failed an attempt; returns that failure's message. */
async function untilStreamFailed(handle: WorkflowHandle, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const { raw } = await handle.describe();
    const stream = raw.pendingActivities?.find((a) => a.activityType?.name === 'streamEtcdSnapshot');
    if (stream?.lastFailure) return stream.lastFailure.message ?? '';
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the stream did not fail within ${ms / 1000} s of the fault`);
}

const snapshotObjects = (snapshotId: string) => objectsOfSnapshot(clients.s3, bucket, 'primary', snapshotId);
const incompleteUploads = async (handle: WorkflowHandle) => uploadsLeft(clients.s3, bucket, 'primary', await snapshotIdOf(handle));

describe('etcdSnapshot with faults on the path to the object store', () => {
  it('the connection cut after 2 MiB of an upload: the stream fails, is retried once the cut is gone, and completes; one manifest, no upload left', async () => {
    await addFault(proxyName, { kind: 'cut', afterBytes: 2 * 1024 * 1024, directions: ['upstream'] });
    const handle = await startSnapshot('cut');
    const failure = await untilStreamFailed(handle, 60_000);
    expect(failure).not.toBe('');
    await clearFaults(proxyName);

    const { manifest } = await handle.result();
    const retried = retriedActivities(await handle.fetchHistory());
    expect(retried.map(([type]) => type)).toEqual(['streamEtcdSnapshot']);
    // The object the manifest names is the attempt that completed; the cut attempts left no object.
    expect(manifest.object.objectKey).toBe(snapshotObjectKey('primary', manifest.snapshotId, retried[0]![1]));
    expect(await snapshotObjects(manifest.snapshotId)).toEqual(['manifest.json', manifest.object.objectKey.split('/').pop()]);
    expect(await incompleteUploads(handle)).toBe(0);
    expect(manifest.object.plaintextBytes).toBeGreaterThan(8 * 1024 * 1024);
  }, 240_000);

  it('a slow store (100 ms latency, 160 KB/s per connection): the 8 MiB part takes ~50 s, longer than the 30 s heartbeat timeout; the stream heartbeats throughout and completes on its first attempt', async () => {
    await addFault(proxyName, { kind: 'latency', ms: 100, jitterMs: 0, directions: ['upstream', 'downstream'] });
    await addFault(proxyName, { kind: 'bandwidth', kbps: 160, directions: ['upstream'] });
    const t0 = Date.now();
    const handle = await startSnapshot('slow');
    // The server's record of the stream's heartbeats while it runs (the worker sends them at most every
    // 24 s: 0.8 of the heartbeat timeout), sampled every 2 s until the run ends.
    let settled = false;
    const result = handle.result().finally(() => (settled = true));
    const beats = new Set<string>();
    for (const deadline = Date.now() + 180_000; !settled && Date.now() < deadline; await new Promise((r) => setTimeout(r, 2_000))) {
      const { raw } = await handle.describe();
      const at = raw.pendingActivities?.find((a) => a.activityType?.name === 'streamEtcdSnapshot')?.lastHeartbeatTime?.seconds;
      if (at) beats.add(String(at));
    }
    const { manifest } = await result;
    expect(Date.now() - t0).toBeGreaterThan(45_000);
    expect(beats.size).toBeGreaterThanOrEqual(2);
    // No heartbeat timeout, no retry of anything.
    expect(retriedActivities(await handle.fetchHistory())).toEqual([]);
    expect(manifest.object.objectKey).toBe(snapshotObjectKey('primary', manifest.snapshotId, 1));
    expect(await snapshotObjects(manifest.snapshotId)).toEqual(['manifest.json', manifest.object.objectKey.split('/').pop()]);
    expect(await incompleteUploads(handle)).toBe(0);
  }, 240_000);
});
