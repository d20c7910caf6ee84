// Fault tests (lab: Temporal, the primary's etcd and kube-apiserver; a MinIO of this suite's own): an
// object store that answers S3's `503 SlowDown`. The suite starts the lab's MinIO binary on free ports in
// erasure mode, one set of 4 drive directories (2 data and 2 parity shards: writes need 3 drives, reads
// 2), and takes drives away the way a failed disk goes: MinIO then refuses what it cannot do with
// `503 SlowDownWrite` "Resource requested is unwritable, please reduce your request rate" (2 drives
// away) and `503 SlowDownRead` "... unreadable ..." (3 away). The lab's shared store is untouched, so
// the suite runs beside the others. (s3SlowDown.test.ts meets MinIO's other refusal, `429 TooManyRequests`.)
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { failureTypes } from '../../model/failures.js';
import { rootFailure } from '../../model/failure-chain.js';
import { snapshotIdFor, snapshotManifestKey, snapshotObjectKey, type SnapshotManifest } from '../../model/snapshot-layout.js';
import type { TestWorker } from '../helpers/lab.js';
import { startPrivateMinio, type PrivateMinio } from '../helpers/private-minio.js';
import { processesNaming } from '../helpers/processes.js';
import { answerTo, countsSince, errorsByApi, startWorkerOnStore, storeRuns } from '../helpers/s3-faults.js';
import { incompleteUploads as uploadsLeft, snapshotObjects as objectsOfSnapshot } from '../helpers/snapshot-store.js';

const id = randomUUID().slice(0, 8);
const bucket = `degraded-${id}`;
const scratchDir = mkdtempSync(join(tmpdir(), 'lifeboat-degraded-'));
let minio: PrivateMinio;
let s3: S3Client;
/** One try per request, so a probe sees the store's own answer. */
let probe: S3Client;
let worker: TestWorker;

beforeAll(async () => {
  minio = await startPrivateMinio({ MINIO_PROMETHEUS_AUTH_TYPE: 'public' }, { drives: 4 });
  s3 = minio.client();
  probe = minio.client(1);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  worker = await startWorkerOnStore(minio, bucket, scratchDir);
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  s3?.destroy();
  probe?.destroy();
  await minio?.stop();
  rmSync(scratchDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a value; fails after `withinMs`, naming `what`. */
async function until<T>(what: string, withinMs: number, everyMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs / 1000} s`);
    await sleep(everyMs);
  }
}

const probeWrite = () => answerTo(() => probe.send(new PutObjectCommand({ Bucket: bucket, Key: `probe/${randomUUID()}`, Body: 'probe' })));
const probeRead = (key: string) =>
  answerTo(async () => (await probe.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());

const { startSnapshot, startVerification } = storeRuns(() => worker, 'test-degraded', id);

const snapshotObjects = (snapshotId: string) => objectsOfSnapshot(s3, bucket, 'primary', snapshotId);
const incompleteUploads = (snapshotId: string) => uploadsLeft(s3, bucket, 'primary', snapshotId);

let manifest: SnapshotManifest;

describe('an object store that loses write quorum mid-upload, then gets its drives back', () => {
  it('etcdSnapshot: the upload meets 503 SlowDownWrite for 30 s and the run completes after; one manifest, one object, no upload left', async () => {
    const before = await errorsByApi(minio, '5xx');
    const handle: WorkflowHandle<typeof etcdSnapshot> = await startSnapshot('upload');
    const { startTime, runId } = await handle.describe();
    const snapshotId = snapshotIdFor(startTime, runId);
    const firstAttemptKey = snapshotObjectKey('primary', snapshotId, 1);
    // The first attempt's multipart upload has started: two of the four drives go.
    await until('the first attempt starting its multipart upload', 60_000, 20, async () => {
      const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: firstAttemptKey }));
      return listed.Uploads?.length ? true : undefined;
    });
    minio.takeDrivesAway(2);
    let during: { status: number; code: string };
    try {
      during = await probeWrite();
      await sleep(30_000);
    } finally {
      minio.giveDrivesBack();
    }
    // What the store answered a write of the test's own while its drives were away.
    expect(during).toEqual({ status: 503, code: 'SlowDownWrite' });

    ({ manifest } = await handle.result());
    // MinIO refused Lifeboat's multipart requests with 5xx (the test's probe is a plain putobject).
    const refused = countsSince(before, await errorsByApi(minio, '5xx'));
    const multipart = ['newmultipartupload', 'putobjectpart', 'completemultipartupload'];
    expect(multipart.reduce((n, api) => n + (refused[api] ?? 0), 0)).toBeGreaterThan(0);
    // The interrupted first attempt's object is not the snapshot's: a later attempt uploaded it whole.
    expect(manifest.snapshotId).toBe(snapshotId);
    expect(manifest.object.objectKey).not.toBe(firstAttemptKey);
    expect(await snapshotObjects(snapshotId)).toEqual(['manifest.json', manifest.object.objectKey.split('/').pop()].sort());
    expect(await incompleteUploads(snapshotId)).toBe(0);
    expect(manifest.object.plaintextBytes).toBeGreaterThan(8 * 1024 * 1024);
  }, 600_000);
});

describe('an object store that has lost read quorum for longer than the runbook waits', () => {
  it('restoreVerification, of a named snapshot (reads its manifest) and of the newest (lists them), ends in ObjectStoreThrottled (503 SlowDownRead) once its retries are spent, with nothing left behind; the store serves again once its drives are back', async () => {
    const manifestKey = snapshotManifestKey('primary', manifest.snapshotId);
    minio.takeDrivesAway(3);
    let failures: unknown[];
    let seconds: number;
    let after: { status: number; code: string };
    try {
      // MinIO marks a drive offline when it next uses it; a read in that moment (under a second) answers 404
      // NoSuchKey for an object that exists. The runs start once the store answers as a degraded one does.
      const first = await until('a 503 from the store without read quorum', 10_000, 200, async () => {
        const answer = await probeRead(manifestKey);
        return answer.status === 404 ? undefined : answer;
      });
      expect(first).toEqual({ status: 503, code: 'SlowDownRead' });
      const t0 = Date.now();
      const runs = await Promise.all([startVerification('named', manifest.snapshotId), startVerification('newest')]);
      failures = await Promise.all(
        runs.map((r) =>
          r.result().then(
            () => undefined,
            (e: unknown) => e,
          ),
        ),
      );
      seconds = (Date.now() - t0) / 1000;
      // Degraded throughout: it still refuses.
      after = await probeRead(manifestKey);
    } finally {
      minio.giveDrivesBack();
    }
    expect(after).toEqual({ status: 503, code: 'SlowDownRead' });
    // Bounded by the plan's retry policy (5 attempts from 2 s, doubling), each attempt a few seconds of the S3 client's retries.
    expect(seconds).toBeLessThan(150);
    for (const failure of failures) expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failures.map((f) => rootFailure(f).type)).toEqual([failureTypes.ObjectStoreThrottled, failureTypes.ObjectStoreThrottled]);
    for (const failure of failures)
      expect(rootFailure(failure).message).toMatch(
        new RegExp(
          `^object store ${minio.endpoint} \\(bucket '${bucket}'\\) is throttling requests: it answered SlowDownRead \\(HTTP 503\\): Resource requested is unreadable, please reduce your request rate`,
        ),
      );
    expect(processesNaming(scratchDir)).toEqual([]);
    expect(readdirSync(scratchDir)).toEqual([]);
    // Drives back: MinIO brings them online within seconds and the snapshot reads again.
    await until('the store serving reads again', 15_000, 200, async () => {
      const answer = await probeRead(manifestKey);
      return answer.status === 200 ? answer : undefined;
    });
  }, 600_000);
});
