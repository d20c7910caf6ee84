// Network fault tests (lab: toxiproxy, Temporal, MinIO, primary etcd and kube-apiserver): restore
// verification by a worker whose object-store path goes through a Toxiproxy proxy of this suite's own
// (the shared lab paths are untouched, so the suite runs beside the others), with a scratch directory
// of its own. A full scratch disk: a second worker whose scratch directory is a 16 MiB tmpfs the suite
// mounts (and unmounts) for itself: the primary's snapshot needs more than that.
import { mkdtempSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { restoreVerification } from '../../workflows/restoreVerification.js';
import { failureTypes } from '../../model/failures.js';
import { addFault, clearFaults, deleteProxy, ensureProxies } from '../../lab/faults.js';
import { retriedActivities } from '../helpers/activity-attempts.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { processesNaming } from '../helpers/processes.js';

const id = randomUUID().slice(0, 8);
const proxyName = `test-${id}-verify-s3`;
const scratchDir = mkdtempSync(join(tmpdir(), 'lifeboat-verify-net-'));
let worker: TestWorker;
let snapshotId: string;

beforeAll(async () => {
  const upstream = new URL(labConfig().objectStore.endpoint!).host;
  const proxied = (await ensureProxies([{ name: proxyName, listen: '127.0.0.1:0', upstream }]))[0]!.listen;
  worker = await startTestWorker((config) => ({
    ...config,
    objectStore: { ...config.objectStore, endpoint: `http://${proxied}` },
    verification: { ...config.verification, scratchDir },
  }));
  ({
    manifest: { snapshotId },
  } = await worker.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: worker.config.temporal.taskQueue,
    workflowId: `etcd-snapshot/primary/test-verify-net-${id}`,
    args: [{ cluster: 'primary', skipRetention: true }],
    workflowExecutionTimeout: '5 minutes',
  }));
}, 300_000);
afterEach(async () => {
  await clearFaults(proxyName);
});
afterAll(async () => {
  await worker?.stop();
  await deleteProxy(proxyName);
  rmSync(scratchDir, { recursive: true, force: true });
});

/** Pids and programs of processes whose command line names `dir` (the scratch directory by default). */
const scratchProcesses = (dir = scratchDir) => processesNaming(dir);

/** Waits (at most `ms`) until `activity` has failed an attempt; returns that failure's message. */
async function untilFailed(handle: WorkflowHandle, activity: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const { raw } = await handle.describe();
    const pending = raw.pendingActivities?.find((a) => a.activityType?.name === activity);
    if (pending?.lastFailure) return pending.lastFailure.message ?? '';
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${activity} did not fail within ${ms / 1000} s of the fault`);
}

describe('restoreVerification with faults on the path to the object store', () => {
  it('the connection cut after 2 MiB of the snapshot download: the restore fails, is retried once the cut is gone, and passes; no scratch process or directory left', async () => {
    await addFault(proxyName, { kind: 'cut', afterBytes: 2 * 1024 * 1024, directions: ['downstream'] });
    const handle = await worker.client.workflow.start<typeof restoreVerification>('restoreVerification', {
      taskQueue: worker.config.temporal.taskQueue,
      workflowId: `verify-etcd/primary/test-net-cut-${id}`,
      args: [{ kind: 'etcd', cluster: 'primary', snapshotId }],
      workflowExecutionTimeout: '10 minutes',
    });
    expect(await untilFailed(handle, 'restoreSnapshotInScratch', 60_000)).not.toBe('');
    await clearFaults(proxyName);

    const r = await handle.result();
    expect(r.passed).toBe(true);
    const retried = retriedActivities(await handle.fetchHistory());
    expect(retried.map(([type]) => type)).toEqual(['restoreSnapshotInScratch']);
    expect(scratchProcesses()).toEqual([]);
    expect(readdirSync(scratchDir)).toEqual([]);
  }, 300_000);
});

describe('restoreVerification with a full scratch disk', () => {
  const small = mkdtempSync(join(tmpdir(), 'lifeboat-verify-small-'));
  let smallWorker: TestWorker | undefined;
  beforeAll(async () => {
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', small]);
    smallWorker = await startTestWorker((config) => ({ ...config, verification: { ...config.verification, scratchDir: small } }));
  }, 60_000);
  afterAll(async () => {
    await smallWorker?.stop();
    await execa('umount', [small], { reject: false });
    rmSync(small, { recursive: true, force: true });
  });

  it('a 16 MiB scratch filesystem: the verification fails at once as ScratchDiskFull, naming the directory and the space needed; nothing left behind', async () => {
    const t0 = Date.now();
    const handle = await smallWorker!.client.workflow.start<typeof restoreVerification>('restoreVerification', {
      taskQueue: smallWorker!.config.temporal.taskQueue,
      workflowId: `verify-etcd/primary/test-disk-full-${id}`,
      args: [{ kind: 'etcd', cluster: 'primary', snapshotId }],
      workflowExecutionTimeout: '5 minutes',
    });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    let root = err.cause as { type?: string; message: string; cause?: unknown } | undefined;
    for (let depth = 0; depth < 5 && root?.cause; depth++) root = root.cause as typeof root;
    expect(root?.type).toBe(failureTypes.ScratchDiskFull);
    expect(root?.message).toMatch(
      new RegExp(`^scratch directory ${small} has 16\\.0 MiB free; restoring snapshot ${snapshotId} needs about \\d+\\.\\d MiB`),
    );
    // Not retried: a retry would find the same disk.
    expect(retriedActivities(await handle.fetchHistory())).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(scratchProcesses(small)).toEqual([]);
    expect(readdirSync(small)).toEqual([]);
    const fs = statfsSync(small);
    expect(fs.bfree).toBe(fs.blocks);
  }, 120_000);
});
