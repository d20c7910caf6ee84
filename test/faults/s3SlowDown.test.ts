// Fault tests (lab: Temporal, the primary's etcd and kube-apiserver; a MinIO of this suite's own): an
// object store that asks Lifeboat to slow down. The suite starts the lab's MinIO binary on free ports
// with a temporary data dir and MinIO's own request throttling on (MINIO_API_REQUESTS_MAX=1: one S3
// request at a time; MINIO_API_REQUESTS_DEADLINE=100ms: a request that waited that long for the slot
// is refused), so the lab's shared store is untouched and the suite runs beside the others. This MinIO
// refuses with `429 TooManyRequests` "Please reduce your request rate" (cmd/handler-api.go, maxClients):
// its form of S3's `503 SlowDown`, and the same throttling error to the AWS SDK's retry strategy.
//
// Load comes from Lifeboat itself (the upload's parallel parts) and from a busy neighbour: the suite's
// own client holding the request slot with a GET of a 64 MiB object whose body it does not read, so
// MinIO's handler blocks on the full socket until the neighbour lets go.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CreateBucketCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { failureTypes } from '../../model/failures.js';
import { rootFailure } from '../../model/failure-chain.js';
import { snapshotIdFor, type SnapshotManifest } from '../../model/snapshot-layout.js';
import type { TestWorker } from '../helpers/lab.js';
import { startPrivateMinio, type PrivateMinio } from '../helpers/private-minio.js';
import { incompleteUploads as uploadsLeft, snapshotIdOf, snapshotObjects as objectsOfSnapshot } from '../helpers/snapshot-store.js';
import { processesNaming } from '../helpers/processes.js';
import { answerTo, countsSince, errorsByApi, startWorkerOnStore, storeRuns } from '../helpers/s3-faults.js';

const id = randomUUID().slice(0, 8);
const bucket = `slowdown-${id}`;
const neighbourKey = 'neighbour/large';
const scratchDir = mkdtempSync(join(tmpdir(), 'lifeboat-slowdown-'));
let minio: PrivateMinio;
let s3: S3Client;
let worker: TestWorker;

beforeAll(async () => {
  minio = await startPrivateMinio({
    MINIO_API_REQUESTS_MAX: '1',
    MINIO_API_REQUESTS_DEADLINE: '100ms',
    // MinIO applies its idle timeout (default 30 s) to each write on a connection: a held GET would let
    // go after 30 s. Longer than the longest test here.
    MINIO_IDLE_TIMEOUT: '30m',
    MINIO_PROMETHEUS_AUTH_TYPE: 'public',
  });
  s3 = minio.client();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: neighbourKey, Body: Buffer.alloc(64 * 1024 * 1024, 1) }));
  worker = await startWorkerOnStore(minio, bucket, scratchDir);
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  s3?.destroy();
  await minio?.stop();
  rmSync(scratchDir, { recursive: true, force: true });
});

/** The neighbour's hold on MinIO's only request slot: a GET whose body it has not read. */
async function holdSlot(): Promise<{ release(): void; throttled: number }> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: neighbourKey }));
  // Every retry of the neighbour's own GET was MinIO refusing it: the slot was Lifeboat's.
  return { release: () => (got.Body as Readable).destroy(), throttled: (got.$metadata.attempts ?? 1) - 1 };
}

/**
 * A neighbour that holds the slot for `firstMs` (so Lifeboat's first requests are refused for sure),
 * then for `holdMs` of every `holdMs + gapMs`, until stopped. Resolves once the first hold is in place.
 */
async function busyNeighbour(firstMs: number, holdMs: number, gapMs: number) {
  let running = true;
  let throttled = 0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const first = await holdSlot();
  const loop = (async () => {
    await sleep(firstMs);
    first.release();
    while (running) {
      await sleep(gapMs);
      const hold = await holdSlot();
      throttled += hold.throttled;
      await sleep(holdMs);
      hold.release();
    }
  })();
  return {
    /** Stops; returns how often MinIO refused the neighbour's own requests. */
    async stop(): Promise<number> {
      running = false;
      await loop;
      return throttled + first.throttled;
    },
  };
}

const { startSnapshot, startVerification } = storeRuns(() => worker, 'test-slowdown', id);

const snapshotObjects = (snapshotId: string) => objectsOfSnapshot(s3, bucket, 'primary', snapshotId);
const incompleteUploads = async (handle: WorkflowHandle) => uploadsLeft(s3, bucket, 'primary', await snapshotIdOf(handle));

/** Pids and programs of processes whose command line names the scratch directory. */
const scratchProcesses = () => processesNaming(scratchDir);

let manifest: SnapshotManifest;

describe('an object store that throttles, then lets requests through', () => {
  it('etcdSnapshot: the multipart upload meets TooManyRequests and completes; one manifest, one object, no upload left', async () => {
    const before = await errorsByApi(minio, '4xx');
    const neighbour = await busyNeighbour(3_000, 200, 400);
    let handle: WorkflowHandle<typeof etcdSnapshot>;
    try {
      handle = await startSnapshot('upload');
      ({ manifest } = await handle.result());
    } finally {
      await neighbour.stop();
    }
    const refused = countsSince(before, await errorsByApi(minio, '4xx'));
    // MinIO refused Lifeboat's multipart requests (the neighbour only GETs).
    const multipart = ['listmultipartuploads', 'newmultipartupload', 'putobjectpart', 'completemultipartupload'];
    expect(multipart.reduce((n, api) => n + (refused[api] ?? 0), 0)).toBeGreaterThan(0);

    expect(await snapshotObjects(manifest.snapshotId)).toEqual(['manifest.json', manifest.object.objectKey.split('/').pop()].sort());
    expect(await incompleteUploads(handle!)).toBe(0);
    expect(manifest.object.plaintextBytes).toBeGreaterThan(8 * 1024 * 1024);
  }, 600_000);

  it('restoreVerification: the download meets TooManyRequests and the snapshot verifies; no scratch process or directory left', async () => {
    const before = await errorsByApi(minio, '4xx');
    const neighbour = await busyNeighbour(3_000, 200, 400);
    let passed: boolean;
    let neighbourRefused: number;
    try {
      const handle = await startVerification('download', manifest.snapshotId);
      ({ passed } = await handle.result());
    } finally {
      neighbourRefused = await neighbour.stop();
    }
    expect(passed).toBe(true);
    // Refusals of Lifeboat's GETs: all of them, less those of the neighbour's own GETs.
    const refused = countsSince(before, await errorsByApi(minio, '4xx'));
    expect((refused.getobject ?? 0) - neighbourRefused).toBeGreaterThan(0);
    expect(scratchProcesses()).toEqual([]);
    expect(readdirSync(scratchDir)).toEqual([]);
  }, 600_000);
});

describe('an object store that throttles everything', () => {
  it('both runbooks end in ObjectStoreThrottled once their retries are spent, with nothing left behind', async () => {
    const hold = await holdSlot();
    const t0 = Date.now();
    let verifyFailure: unknown;
    let snapshotFailure: unknown;
    let snapshot: WorkflowHandle<typeof etcdSnapshot>;
    try {
      snapshot = await startSnapshot('refused');
      const verification = await startVerification('refused', manifest.snapshotId);
      verifyFailure = await verification.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      const verifySeconds = (Date.now() - t0) / 1000;
      snapshotFailure = await snapshot.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      const snapshotSeconds = (Date.now() - t0) / 1000;
      // The slot was held throughout: MinIO still refuses.
      const once = minio.client(1);
      const still = await answerTo(() => once.send(new HeadBucketCommand({ Bucket: bucket })));
      once.destroy();
      expect(still.status).toBe(429);
      // Bounded by the retry policies: the verification's plan (5 attempts from 2 s, doubling), the
      // snapshot's stream (8 attempts from 5 s, doubling to 1 min), each attempt ~10-25 s of the S3
      // client's own retries (MinIO's Retry-After adds up to 5 s to each).
      expect(verifySeconds).toBeLessThan(150);
      expect(snapshotSeconds).toBeLessThan(540);
    } finally {
      hold.release();
    }
    for (const failure of [verifyFailure, snapshotFailure]) {
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const root = rootFailure(failure);
      expect(root.type).toBe(failureTypes.ObjectStoreThrottled);
      expect(root.message).toMatch(
        new RegExp(
          `^object store ${minio.endpoint} \\(bucket '${bucket}'\\) is throttling requests: it answered (TooManyRequests )?\\(HTTP 429\\)`,
        ),
      );
    }
    expect(scratchProcesses()).toEqual([]);
    expect(readdirSync(scratchDir)).toEqual([]);
    expect(await incompleteUploads(snapshot!)).toBe(0);
    const { startTime, runId } = await snapshot!.describe();
    expect(await snapshotObjects(snapshotIdFor(startTime, runId))).toEqual([]);
  }, 700_000);
});
