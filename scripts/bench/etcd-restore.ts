// `npm run bench:etcd-restore`: restoring the lab primary's 3-member etcd from one snapshot of about
// BENCH_SIZE_MIB (default 1024) MiB of etcd data, by Lifeboat and by hand, alternated in one run.
// - L: the etcd-recovery runbook (runbooks/etcd-recovery.yaml of this checkout), on a worker in this
//   process on a task queue of its own, started as `lifeboat etcd restore --snapshot ID --auto-approve`
//   starts it (workflow ID etcd-restore/primary); wall time from start to report, and from the report
//   (cli/etcd.ts etcdRestoreSummary) the RTO, the API's unavailability and each step's seconds.
// - H: the same restore by hand (scripts/bench/etcd-restore-by-hand.ts: `lifeboat snapshots fetch`,
//   etcdutl, etcdctl, kubectl and the lab's `proc.js stop|start`, the runbook's steps without its
//   safety left out); wall time, each phase, the RTO (first component stopped → Deployments Available) and
//   the API's unavailability (API server stopped → /readyz 200).
// Setup: the primary's etcd filled with scratch data (lab/etcd-fill.ts) to BENCH_SIZE_MIB, ONE snapshot
// taken by the etcdSnapshot workflow into a bucket of the bench's own (removed at the end, so the lab's
// snapshot listings never show it), then BENCH_ROUNDS rounds (default 2), each one L and one H, the
// first of each round alternating (L H, H L, ...). Every restore is from that snapshot, so each starts
// from the same data; the old data dirs each restore moves aside (kept by both) are removed after it.
// At the end the restored cluster stays as it is (the snapshot's data) and the scratch prefix is
// deleted (lab/etcd-fill.ts clearEtcdScratch).
//
// DISRUPTIVE: stops the primary's kube-apiserver, controller-manager, scheduler and etcd members, four
// times by default. Run it only on a lab nobody else is using. Prints each figure as it comes (stderr),
// a table, then one JSON line (stdout). Figures, not assertions.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { pino } from 'pino';
import { etcdRestoreSummary, type EtcdRestoreSummary } from '../../cli/etcd.js';
import { clearEtcdScratch, fillEtcd } from '../../lab/etcd-fill.js';
import { runningPid } from '../../lab/processes.js';
import { etcdMembersOf, labClusters, labConfigFile } from '../../lab/topology.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import type { SnapshotManifest } from '../../model/snapshot-layout.js';
import { etcdRecoveryWorkflowId } from '../../model/workflow-ids.js';
import { findRunbookIn } from '../../test/helpers/runbooks.js';
import { clusterByName, loadConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';
import { temporalClient } from '../../worker/temporal.js';
import { createWorker } from '../../worker/worker.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { runbook } from '../../workflows/runbook.js';
import { say } from './bench-app.js';
import { envCount } from './env.js';
import { median } from './history.js';
import { byHandPhases, restoreByHand, type ByHandResult } from './etcd-restore-by-hand.js';

const sizeMiB = envCount('BENCH_SIZE_MIB', 1024);
const rounds = envCount('BENCH_ROUNDS', 2);
const target = { ratio: 1.1 } as const;
const clusterName = 'primary';

const base = loadConfig({ file: labConfigFile, env: {} });
const bucket = `lifeboat-bench-${randomBytes(4).toString('hex')}`;
const config = {
  ...base,
  objectStore: { ...base.objectStore, bucket },
  temporal: { ...base.temporal, taskQueue: `bench-etcd-restore-${randomUUID()}` },
  metrics: { port: 0 },
};
const cluster = clusterByName(config, clusterName);
const members = etcdMembersOf(labClusters.find((c) => c.name === clusterName)!);
/** This checkout's runbooks, not the lab configuration's directory (another checkout's). */
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
/** Where the by-hand restore fetches the snapshot to. */
const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-bench-restore-'));
/** `lifeboat`'s environment for the by-hand restore: the lab's configuration, the bench's bucket. */
const cliEnv = { LIFEBOAT_CONFIG: labConfigFile, LIFEBOAT_S3_BUCKET: bucket };
const controlPlane = [
  ...members.map((m) => m.daemon),
  ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].map((c) => `${c}/${clusterName}`),
];

const round2 = (x: number) => Number(x.toFixed(2));
const s1 = (x: number) => x.toFixed(1);

// ---------------------------------------------------------------------------------------------------
// Before anything: the control plane runs, and the disk has room for a round

const notRunning = (await Promise.all(controlPlane.map(async (n) => ((await runningPid(n)) ? undefined : n)))).filter(Boolean);
if (notRunning.length) {
  process.stderr.write(`the primary's control plane is not all running (${notRunning.join(', ')}): run \`npx lifeboat lab up\` first\n`);
  process.exit(2);
}
{
  // Per round, at most: three restored members and the fetched or staged file, beside the old data.
  const dirs = [...new Set([dirname(members[0]!.dataDir), scratch])];
  const needed = (members.length + 1) * sizeMiB * 1024 ** 2 * 1.2;
  for (const dir of dirs) {
    const s = statfsSync(dir);
    if (s.bavail * s.bsize < needed) {
      process.stderr.write(
        `${dir} has ${Math.floor((s.bavail * s.bsize) / 1024 ** 3)} GiB free; a round needs about ${Math.ceil(needed / 1024 ** 3)} GiB\n`,
      );
      process.exit(2);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The two ways

interface LifeboatRun {
  wallSeconds: number;
  summary: EtcdRestoreSummary;
}

let running: WorkflowHandle | undefined;
const interrupted = new AbortController();

async function lifeboatRestore(client: Client, snapshotId: string, force: boolean): Promise<LifeboatRun> {
  const input = findRunbookIn(
    runbooksDir,
    'etcd-recovery',
    { cluster: clusterName, snapshotId, force, approver: 'bench', reason: 'bench' },
    // Started by `bench:etcd-restore`, approved by `bench`, the one member of the bench's own approver group: four eyes.
    { startedBy: 'bench:etcd-restore', approverGroups: { sre: ['bench'] } },
  );
  const t0 = performance.now();
  running = await client.workflow.start<typeof runbook>('runbook', {
    taskQueue: config.temporal.taskQueue,
    workflowId: etcdRecoveryWorkflowId(clusterName),
    args: [input],
  });
  const report = (await running.result().catch((err: unknown) => {
    // A runbook that fails ends with its report as the failure's details.
    const r = (err as { cause?: { details?: unknown[] } }).cause?.details?.[0] as RunbookReport | undefined;
    if (!r) throw err;
    return r;
  })) as RunbookReport;
  const wallSeconds = (performance.now() - t0) / 1000;
  running = undefined;
  const summary = etcdRestoreSummary(report);
  // The old data dirs are removed only after a restore that succeeded: after a failure they are the way back.
  if (report.status !== 'succeeded' || !summary || summary.rtoSeconds === undefined)
    throw new Error(
      `the etcd-recovery runbook ended ${report.status}: ${report.failure ?? 'no summary'}${summary ? `; old data dirs (if not put back): ${summary.movedAside.map((m) => m.to).join(', ')}` : ''}`,
    );
  await Promise.all(summary.movedAside.map((m) => rm(m.to, { recursive: true, force: true })));
  return { wallSeconds, summary };
}

async function byHandRestore(manifest: SnapshotManifest, round: number): Promise<ByHandResult> {
  const r = await restoreByHand({
    cluster,
    manifest,
    file: join(scratch, `snapshot-${round}.db`),
    env: cliEnv,
    signal: interrupted.signal,
    onPhase: (phase, seconds) => say(`    by hand: ${phase} ${s1(seconds)} s`),
  });
  await Promise.all(r.movedAside.map((d) => rm(d, { recursive: true, force: true })));
  return r;
}

// ---------------------------------------------------------------------------------------------------

const worker = await createWorker(config, pino({ level: 'warn' }));
const workerRunning = worker.run();
const client = await temporalClient(config);
const s3 = createS3Client(config);

async function removeBucket(): Promise<void> {
  for (;;) {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    if (!listed.Contents?.length) break;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: listed.Contents.map((o) => ({ Key: o.Key! })) } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function tearDown(): Promise<void> {
  // A restore stopped halfway compensates (the runbook) or rolls back (by hand); whatever is still down is started.
  if (running) {
    await running.cancel().catch(() => undefined);
    await running.result().catch(() => undefined);
  }
  const down = (await Promise.all(controlPlane.map(async (n) => ((await runningPid(n)) ? undefined : n)))).filter(Boolean);
  if (down.length) say(`still down: ${down.join(', ')}: \`npx lifeboat lab up\` starts them`);
  else await clearEtcdScratch(cluster).catch((err: Error) => say(`removing the scratch data failed: ${err.message}`));
  await removeBucket().catch((err: Error) => say(`removing bucket ${bucket} failed: ${err.message}`));
  s3.destroy();
  rmSync(scratch, { recursive: true, force: true });
  worker.worker.shutdown();
  await workerRunning;
  await client.connection.close();
}
const onSignal = (signal: NodeJS.Signals) => {
  say(`${signal}: stopping after the current step (a restore under way rolls back or compensates), then cleaning up`);
  interrupted.abort();
  if (running) void running.cancel().catch(() => undefined);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  say(`filling etcd of ${clusterName} to ${sizeMiB} MiB of scratch data`);
  await clearEtcdScratch(cluster);
  await fillEtcd(cluster, sizeMiB, (done) => {
    if (done % 128 === 0) say(`  ${done} MiB`);
  });
  const t0 = performance.now();
  const { manifest } = await client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: config.temporal.taskQueue,
    workflowId: `etcd-snapshot/${clusterName}/bench-restore-${randomUUID()}`,
    args: [{ cluster: clusterName, skipRetention: true }],
  });
  const force = manifest.status !== 'verified';
  say(
    `snapshot ${manifest.snapshotId}: ${s1(manifest.object.plaintextBytes / 1024 ** 2)} MiB at revision ${manifest.etcd.revisionAtStart}, taken in ${s1((performance.now() - t0) / 1000)} s (${manifest.status}${force ? ': restored with force' : ''})`,
  );

  const l: LifeboatRun[] = [];
  const h: ByHandResult[] = [];
  const orders: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? (['L', 'H'] as const) : (['H', 'L'] as const);
    orders.push(order.join(''));
    for (const variant of order) {
      if (interrupted.signal.aborted) throw new Error('interrupted');
      say(`round ${i + 1}/${rounds}: ${variant === 'L' ? 'Lifeboat etcd-recovery runbook' : 'by hand'}`);
      if (variant === 'L') {
        const r = await lifeboatRestore(client, manifest.snapshotId, force);
        l.push(r);
        say(
          `  Lifeboat: ${s1(r.wallSeconds)} s wall, RTO ${s1(r.summary.rtoSeconds!)} s, API unavailable ${s1(r.summary.apiUnavailableSeconds ?? NaN)} s; steps ${r.summary.steps.map((s) => `${s.id} ${s1(s.seconds)}`).join(', ')}`,
        );
      } else {
        const r = await byHandRestore(manifest, i);
        h.push(r);
        say(
          `  by hand: ${s1(r.wallSeconds)} s wall, RTO ${s1(r.rtoSeconds)} s, API unavailable ${s1(r.apiUnavailableSeconds)} s; ${r.deployments} Deployments waited for${r.notInSnapshot.length ? ` (${r.notInSnapshot.length} Available before but not in the snapshot: ${r.notInSnapshot.slice(0, 5).join(', ')})` : ''}`,
        );
      }
    }
  }

  const m = (xs: number[]) => round2(median(xs));
  const stepIds = [...new Set(l.flatMap((r) => r.summary.steps.map((s) => s.id)))];
  const lifeboat = {
    wallSeconds: m(l.map((r) => r.wallSeconds)),
    rtoSeconds: m(l.map((r) => r.summary.rtoSeconds!)),
    apiUnavailableSeconds: m(l.map((r) => r.summary.apiUnavailableSeconds ?? NaN)),
    stepSeconds: Object.fromEntries(stepIds.map((id) => [id, m(l.map((r) => r.summary.steps.find((s) => s.id === id)?.seconds ?? 0))])),
  };
  const byHand = {
    wallSeconds: m(h.map((r) => r.wallSeconds)),
    rtoSeconds: m(h.map((r) => r.rtoSeconds)),
    apiUnavailableSeconds: m(h.map((r) => r.apiUnavailableSeconds)),
    phaseSeconds: Object.fromEntries(byHandPhases.map((p) => [p, m(h.map((r) => r.phases[p]))])),
  };
  const ratio = (x: number, y: number) => Number((x / y).toFixed(3));
  const ratios = {
    wall: ratio(lifeboat.wallSeconds, byHand.wallSeconds),
    rto: ratio(lifeboat.rtoSeconds, byHand.rtoSeconds),
    apiUnavailable: ratio(lifeboat.apiUnavailableSeconds, byHand.apiUnavailableSeconds),
  };
  const result = {
    node: process.version,
    cluster: clusterName,
    sizeMiB,
    snapshot: {
      snapshotId: manifest.snapshotId,
      plaintextMiB: round2(manifest.object.plaintextBytes / 1024 ** 2),
      revision: manifest.etcd.revisionAtStart,
      status: manifest.status,
      force,
    },
    rounds,
    orders,
    lifeboat,
    byHand,
    ratios,
    target,
    met: { wall: ratios.wall <= target.ratio, rto: ratios.rto <= target.ratio, apiUnavailable: ratios.apiUnavailable <= target.ratio },
    runs: {
      lifeboat: l.map((r) => ({
        wallSeconds: round2(r.wallSeconds),
        rtoSeconds: round2(r.summary.rtoSeconds!),
        apiUnavailableSeconds: r.summary.apiUnavailableSeconds === undefined ? null : round2(r.summary.apiUnavailableSeconds),
        restoredRevision: r.summary.restoredRevision ?? null,
        steps: Object.fromEntries(r.summary.steps.map((s) => [s.id, round2(s.seconds)])),
      })),
      byHand: h.map((r) => ({
        wallSeconds: round2(r.wallSeconds),
        rtoSeconds: round2(r.rtoSeconds),
        apiUnavailableSeconds: round2(r.apiUnavailableSeconds),
        restoredRevision: r.restoredRevision,
        deployments: r.deployments,
        notInSnapshot: r.notInSnapshot,
        phases: Object.fromEntries(byHandPhases.map((p) => [p, round2(r.phases[p])])),
      })),
    },
  };

  const row = (label: string, value: number, runs: number[]) =>
    `${label.padEnd(52)} ${value.toFixed(2).padStart(9)}   ${runs.map((x) => x.toFixed(2)).join(' ')}\n`;
  let out = `etcd restore of ${clusterName} (${members.length} members) from a ${result.snapshot.plaintextMiB} MiB snapshot, ${rounds} rounds, orders ${orders.join(', ')}; Node.js ${process.version}\n`;
  out += `Lifeboat/by hand: wall ${ratios.wall}, RTO ${ratios.rto}, API unavailable ${ratios.apiUnavailable} (target <= ${target.ratio}: wall ${result.met.wall ? 'met' : 'MISSED'})\n`;
  out += `${'figure, seconds'.padEnd(52)} ${'median'.padStart(9)}   runs\n`;
  out += row(
    'L  Lifeboat etcd-recovery runbook, wall',
    lifeboat.wallSeconds,
    l.map((r) => r.wallSeconds),
  );
  out += row(
    '   RTO (first component stopped → Deployments Available)',
    lifeboat.rtoSeconds,
    l.map((r) => r.summary.rtoSeconds!),
  );
  out += row(
    '   API unavailable (stopped → /readyz 200)',
    lifeboat.apiUnavailableSeconds,
    l.map((r) => r.summary.apiUnavailableSeconds ?? NaN),
  );
  for (const id of stepIds)
    out += row(
      `     step ${id}`,
      lifeboat.stepSeconds[id]!,
      l.map((r) => r.summary.steps.find((s) => s.id === id)?.seconds ?? 0),
    );
  out += row(
    'H  by hand, wall',
    byHand.wallSeconds,
    h.map((r) => r.wallSeconds),
  );
  out += row(
    '   RTO (first component stopped → Deployments Available)',
    byHand.rtoSeconds,
    h.map((r) => r.rtoSeconds),
  );
  out += row(
    '   API unavailable (stopped → /readyz 200)',
    byHand.apiUnavailableSeconds,
    h.map((r) => r.apiUnavailableSeconds),
  );
  for (const p of byHandPhases)
    out += row(
      `     phase ${p}`,
      byHand.phaseSeconds[p]!,
      h.map((r) => r.phases[p]),
    );
  process.stdout.write(out);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  await tearDown();
}
