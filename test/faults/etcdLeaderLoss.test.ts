// Fault suite (lab: Temporal, the drill cluster's 3-member etcd, MinIO, Toxiproxy; a worker of its own): etcd
// leader loss during a snapshot of the drill cluster. The worker reaches each etcd member through a proxy of
// this suite's own, limited so etcd's snapshot stream lasts about 30 s whatever the database's size
// (a slow object store would not do: the upload buffers three 8 MiB parts, so etcd's side would be over
// in a second). The drill cluster's etcd is filled with 32 MiB of scratch data first (removed after), so
// the upload is a multipart one with parts to come. While a member streams (a heartbeat names it and
// shows bytes to come, and the first part's multipart upload exists):
// (a) the leader is killed -9 while a follower streams: the stream goes on and the run completes on its
//     first attempt, nothing retried;
// (b) the streamed member, made leader first (etcdctl move-leader), is killed -9: leader loss and stream
//     loss at once; the attempt fails as EtcdStreamInterrupted naming the member, its multipart upload is
//     aborted, and the retry streams from another member;
// (c) as (b), but the member is frozen (SIGSTOP: a hung host, its connections open and silent): gRPC
//     keepalive gives the stream up within seconds (it used to wait forever, heartbeating), then as (b).
// Each ends with one manifest naming the attempt's object, no other object and no incomplete upload
// under the run's snapshot, the stored bytes decrypting to the manifest's sha256. The member is started
// again as soon as the run has moved past it (afterEach too, whatever happened), and each test ends with
// the three members healthy and agreeing on a leader.
// lab: drill (kills or freezes one member of the drill cluster's etcd, up to ~30 s at a time): runs in the drill lane, one suite at a time, beside the other suites (test/run.sh).
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { activityDeps } from '../../activities/deps.js';
import { createEtcdHealthActivities, etcdctl, etcdEndpointAnswers } from '../../activities/etcd/health.js';
import { fetchSnapshot } from '../../activities/object-store/snapshot-fetch.js';
import { labComponents } from '../../lab/components.js';
import { clearEtcdScratch, fillEtcd } from '../../lab/etcd-fill.js';
import { addFault, deleteProxy, ensureProxies } from '../../lab/faults.js';
import { runningPid, startDaemon } from '../../lab/processes.js';
import { etcdMembersOf, drillCluster, type LabEtcdMember } from '../../lab/topology.js';
import { maxStreamAttempts, snapshotIdFor, snapshotObjectKey } from '../../model/snapshot-layout.js';
import { createClients } from '../../worker/clients.js';
import { loadKeyRing } from '../../worker/keys.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { retriedActivities } from '../helpers/activity-attempts.js';
import { drillConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { killLabProcess } from '../helpers/processes.js';
import { streamState, untilStreaming } from '../helpers/snapshot-stream.js';

const id = randomUUID().slice(0, 8);
const direct = drillConfig();
const clients = createClients(direct);
const deps = activityDeps(clients, undefined);
const health = createEtcdHealthActivities(deps);
const keyRing = loadKeyRing(direct.encryption!);
const bucket = direct.objectStore.bucket;
const snapshotStore = { s3: clients.s3, bucket, cluster: 'drill' };
const members = etcdMembersOf(drillCluster);
const drill = direct.clusters.find((c) => c.name === drillCluster.name)!;
/** Scratch data in the drill cluster's etcd: its snapshot is then several 8 MiB parts. */
const scratchMiB = 32;
const proxyNames = members.map((m) => `test-${id}-etcd-${m.name}`);
/** The worker's endpoint of each member (its proxy), in the members' order. */
let proxied: string[] = [];
let worker: TestWorker;
/** The members this suite killed or froze and has not restarted yet: afterEach restarts them whatever happened. */
const down = new Set<LabEtcdMember>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 200 ms until it returns a value, at most `ms`; `what` names the wait in the error. */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + ms; ; await sleep(200)) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
  }
}

/** Each member's status as the lab's direct endpoints answer it (a dead member is left out). */
async function statuses() {
  const answers = await etcdEndpointAnswers(deps, 'drill');
  return answers.flatMap((a) => ('status' in a ? [{ member: members.find((m) => m.clientUrl === a.endpoint)!, ...a.status }] : []));
}

/** The leader the members that answer agree on (none while they elect one). */
async function agreedLeader(): Promise<LabEtcdMember | undefined> {
  const answered = await statuses();
  const leaders = new Set(answered.map((s) => s.leaderId));
  const [leaderId] = leaders;
  if (leaders.size !== 1 || leaderId === '0') return undefined;
  return answered.find((s) => s.memberId === leaderId)?.member;
}

/** Until all three members run, answer and follow one leader (the health check says healthy). */
const untilHealthy = () =>
  until("the drill cluster's etcd healthy with 3 members", 90_000, async () => {
    const checked = await health.checkEtcd({ cluster: 'drill' });
    return checked.healthy && checked.members.length === 3 && (await agreedLeader()) ? checked : undefined;
  });

/** Starts a killed member again as the lab starts it, and waits until the cluster is whole. */
async function restart(m: LabEtcdMember): Promise<void> {
  const component = labComponents.find((c) => c.name === m.daemon)!;
  await startDaemon(component.daemon);
  down.delete(m);
  await until(`${m.daemon} serving`, 60_000, async () => ((await component.probe()).ok ? true : undefined));
  await untilHealthy();
}

/** SIGSTOPs a member: it holds its sockets open and answers nothing. afterEach kills and restarts it if a test did not. */
async function freeze(m: LabEtcdMember): Promise<number> {
  const pid = await runningPid(m.daemon);
  if (!pid) throw new Error(`lab process ${m.daemon} is not running`);
  down.add(m);
  process.kill(pid, 'SIGSTOP');
  return Date.now();
}

async function kill(m: LabEtcdMember): Promise<number> {
  down.add(m);
  await killLabProcess(m.daemon);
  return Date.now();
}

beforeAll(async () => {
  const listening = await ensureProxies(
    members.map((m, i) => ({ name: proxyNames[i]!, listen: '127.0.0.1:0', upstream: new URL(m.clientUrl).host })),
  );
  proxied = listening.map((p) => `https://${p.listen}`);
  await fillEtcd(drill, scratchMiB);
  // About 30 s for the whole snapshot (its size is the database's); TLS still verifies (IP SAN 127.0.0.1).
  const dbSize = Math.max(...(await statuses()).map((s) => s.dbSizeBytes));
  const kbps = Math.max(64, Math.ceil(dbSize / 1024 / 30));
  for (const name of proxyNames) await addFault(name, { kind: 'bandwidth', kbps, directions: ['downstream'] });
  // Only the worker's etcd path goes through the proxies; Kubernetes, MinIO and Temporal stay direct.
  worker = await startTestWorker(
    (config) => ({
      ...config,
      clusters: config.clusters.map((c) => (c.name === 'drill' ? { ...c, etcd: { ...c.etcd, endpoints: proxied } } : c)),
    }),
    drillConfig,
  );
}, 120_000);
// Whatever a test left, the member it killed or froze runs again before the next test starts.
afterEach(async () => {
  for (const m of [...down]) {
    // A frozen member is killed first (SIGKILL ends a stopped process too).
    if (await runningPid(m.daemon)) await killLabProcess(m.daemon);
    await restart(m);
  }
  await untilHealthy();
}, 180_000);
afterAll(async () => {
  try {
    await untilHealthy();
  } finally {
    await worker?.stop();
    for (const name of proxyNames) await deleteProxy(name);
    clients.s3.destroy();
    await clearEtcdScratch(drill);
  }
}, 300_000);

const startSnapshot = (name: string) =>
  worker.client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: worker.config.temporal.taskQueue,
    workflowId: `etcd-snapshot/drill/test-leader-${name}-${id}`,
    args: [{ cluster: 'drill', skipRetention: true }],
    workflowExecutionTimeout: '10 minutes',
  });

/** The lab member an endpoint of the worker's (a proxy) leads to. */
const memberAt = (endpoint: string) => members[proxied.indexOf(endpoint)]!;

/** Incomplete multipart uploads of one attempt's object key (MinIO lists them by exact key only). */
async function uploadsOf(handle: WorkflowHandle, attempt: number): Promise<number> {
  const { startTime, runId } = await handle.describe();
  const Prefix = snapshotObjectKey('drill', snapshotIdFor(startTime, runId), attempt);
  return (await clients.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix }))).Uploads?.length ?? 0;
}

async function incompleteUploads(handle: WorkflowHandle): Promise<number> {
  let count = 0;
  for (let attempt = 1; attempt <= maxStreamAttempts; attempt++) count += await uploadsOf(handle, attempt);
  return count;
}

/**
 * Until the stream of `attempt` is in flight (untilStreaming), for a retry from another member than
 * `notFrom` (heartbeat details outlive a failed attempt); its heartbeat names the member by its id too.
 * Returns the member it streams from.
 */
async function streamingMember(handle: WorkflowHandle, attempt: number, notFrom?: LabEtcdMember): Promise<LabEtcdMember> {
  const beat = await untilStreaming(handle, snapshotStore, { attempt, accept: (b) => !notFrom || memberAt(b.endpoint) !== notFrom });
  const from = memberAt(beat.endpoint);
  expect(beat.memberId).toBe((await statuses()).find((s) => s.member === from)?.memberId);
  return from;
}

/** Hands the leadership to `m` (etcdctl move-leader, sent to the leader) and waits until all agree; returns its member id. */
async function makeLeader(m: LabEtcdMember): Promise<string> {
  const leader = (await agreedLeader())!;
  const memberId = (await statuses()).find((s) => s.member === m)!.memberId;
  if (leader !== m) await etcdctl(deps, 'drill', ['move-leader', BigInt(memberId).toString(16)], undefined, [leader.clientUrl]);
  await until(`${m.name} leading`, 15_000, async () => ((await agreedLeader()) === m ? true : undefined));
  return memberId;
}

/** The failed attempt's failure: retryable, typed, naming the member and how far the stream got. */
function expectInterrupted(failure: Error & { type?: string; nonRetryable?: boolean }, source: LabEtcdMember, sourceId: string): void {
  expect([failure.type, failure.nonRetryable]).toEqual(['EtcdStreamInterrupted', false]);
  const endpoint = proxied[members.indexOf(source)]!;
  expect(failure.message).toMatch(
    new RegExp(
      `^the snapshot stream from etcd member ${BigInt(sourceId).toString(16)} at ${endpoint.replace(/[.]/g, '\\.')} of cluster 'drill' broke after \\d+ of \\d+ bytes \\(its last progress report\\): 14 UNAVAILABLE: .+; a retry streams from a member that answers$`,
    ),
  );
}

/** The objects under the run's snapshot prefix, by name. */
async function snapshotObjects(snapshotId: string): Promise<string[]> {
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `etcd/drill/${snapshotId}/` }));
  return (listed.Contents ?? []).map((o) => o.Key!.split('/').pop()!).sort();
}

const decryptedSha256 = async (manifest: Awaited<ReturnType<typeof etcdSnapshot>>['manifest']) =>
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

/** What every outcome shares: one manifest naming the attempt's object, nothing else stored, no upload left, the bytes whole. */
async function expectCleanSnapshot(
  handle: WorkflowHandle,
  manifest: Awaited<ReturnType<typeof etcdSnapshot>>['manifest'],
  attempt: number,
) {
  expect(manifest.status).toBe('uploaded');
  expect(manifest.object.objectKey).toBe(snapshotObjectKey('drill', manifest.snapshotId, attempt));
  expect(await snapshotObjects(manifest.snapshotId)).toEqual(['manifest.json', `snapshot.a${attempt}.db.lbenc`]);
  expect(await incompleteUploads(handle)).toBe(0);
  expect(manifest.etcd.revisionAtStart).toBeGreaterThan(0);
  expect(manifest.inventory.totalKeys).toBeGreaterThan(0);
  expect(await decryptedSha256(manifest)).toBe(manifest.object.plaintextSha256);
}

/** How cases (b) and (c) take the streamed member down and bring it back. */
interface StreamedMemberFault {
  /** The case's word in the workflow ID. */
  name: string;
  /** Takes the member down; returns when. */
  takeDown: (m: LabEtcdMember) => Promise<number>;
  /** How long to wait for the first attempt's failure, and how soon after the fault it must have come (ms). */
  failWaitMs: number;
  failsWithinMs: number;
  /** Brings the member back once the retry streams from another. */
  bringBack: (m: LabEtcdMember) => Promise<void>;
}

/**
 * Cases (b) and (c): the streamed member, made leader, is taken down mid-stream; the attempt fails as
 * EtcdStreamInterrupted naming it, the retry streams from another member, and the run completes clean.
 */
async function expectStreamedLeaderLost(fault: StreamedMemberFault): Promise<void> {
  await untilHealthy();
  const handle = await startSnapshot(fault.name);
  const source = await streamingMember(handle, 1);
  const sourceId = await makeLeader(source);

  const downAt = await fault.takeDown(source);
  const failure = await until('the first attempt failed', fault.failWaitMs, async () => (await streamState(handle)).lastFailure);
  expect(Date.now() - downAt).toBeLessThan(fault.failsWithinMs);
  expectInterrupted(failure, source, sourceId);
  // The retry streams from a member that answers; the member taken down stays down until then.
  const retriedFrom = await streamingMember(handle, 2, source);
  await fault.bringBack(source);

  const { manifest } = await handle.result();
  expect(retriedActivities(await handle.fetchHistory())).toEqual([['streamEtcdSnapshot', 2]]);
  expect(memberAt(manifest.etcd.endpoint)).toBe(retriedFrom);
  expect(manifest.etcd.memberId).not.toBe(sourceId);
  await expectCleanSnapshot(handle, manifest, 2);
}

describe("etcd leader loss during a snapshot of the drill cluster's 3-member etcd", () => {
  it('the leader killed while a follower streams: the stream goes on, the run completes on its first attempt from that follower', async () => {
    await untilHealthy();
    const handle = await startSnapshot('follower');
    const source = await streamingMember(handle, 1);
    const leader = (await agreedLeader())!;
    // The design: a follower before the leader.
    expect(source).not.toBe(leader);

    const killedAt = await kill(leader);
    const successor = await until('a new leader', 30_000, agreedLeader);
    expect(successor).not.toBe(leader);
    await restart(leader);

    const { manifest, steps } = await handle.result();
    // etcd's side was still streaming when the leader died: the stream step ended well after.
    const stream = steps.find((s) => s.name === 'stream')!;
    expect(Date.parse(stream.finishedAt!) - killedAt).toBeGreaterThan(3_000);
    expect(retriedActivities(await handle.fetchHistory())).toEqual([]);
    expect(memberAt(manifest.etcd.endpoint)).toBe(source);
    await expectCleanSnapshot(handle, manifest, 1);
  }, 300_000);

  it(
    'the streamed member, made leader, killed mid-stream: the attempt fails retryably, its upload is aborted, and the retry streams from another member',
    () => expectStreamedLeaderLost({ name: 'streamed', takeDown: kill, failWaitMs: 60_000, failsWithinMs: 15_000, bringBack: restart }),
    300_000,
  );

  it(
    'the streamed member, made leader, hangs (SIGSTOP: a frozen host, its connections open and silent): the stream is given up within seconds, and the retry streams from another member',
    () =>
      expectStreamedLeaderLost({
        name: 'hung',
        // Nothing closes the worker's connection: the process neither answers nor dies. The others elect a leader.
        takeDown: freeze,
        failWaitMs: 90_000,
        failsWithinMs: 45_000,
        // The frozen host is power-cycled.
        bringBack: async (m) => {
          await kill(m);
          await restart(m);
        },
      }),
    300_000,
  );
});
