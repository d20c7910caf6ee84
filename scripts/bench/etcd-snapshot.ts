// `npm run bench:etcd`: Lifeboat's streamed, encrypted, verified snapshot pipeline against
// `etcdctl snapshot save` to local disk (A) and A followed by a lib-storage upload of the file (B),
// at 1 GiB and 256 MiB of etcd data, in one run on the lab's primary etcd. Lifeboat is measured twice:
// L, the pipeline alone in a process of its own, and W, the whole `streamEtcdSnapshot` activity in a
// real worker (this process, on a task queue of its own) running the real `etcdSnapshot` workflow
// (retention skipped), timed from the workflow's history: ActivityTaskStarted (and Scheduled) to
// ActivityTaskCompleted. W includes what the activity does besides the stream (etcd member status,
// the sweep of an earlier attempt's uploads) and Temporal's dispatch of the task.
//
// A, B and L each run as their own process under /usr/bin/time, which reports wall time, CPU time and
// peak RSS. The two Node processes (B's upload and L) also time themselves from after Node's start-up
// and imports, as the worker runs them; the ratios use those times, and the whole-process ones are
// printed beside them. W's CPU bill and peak RSS are sampled every 100 ms from /proc during its run.
//
// The variants run in a balanced Latin square (Williams design): over 4 repetitions each variant runs
// once in each position and follows each other variant once, so neither a warm or cold start nor the
// previous variant's leftovers (etcd's page cache, MinIO's, V8's heap) favour one of them. The order of
// each repetition is printed. Every variant writes to a bucket of the bench's own, removed at the end,
// so the workflow's snapshot and manifest never show up among the cluster's real snapshots.
//
// It also measures, in the same run, what the machine makes unavoidable: the CPU time etcd spends
// sending the snapshot (during A), the CPU time MinIO spends storing it (during B's upload), and
// OpenSSL's sha256 and AES-256-GCM speed here (L must hash twice and encrypt once). Those three run
// on the machine's cores alongside each other, so (their sum / cores) is a floor no implementation of
// L can beat on this machine; the floor's ratios show how far the targets are within reach.
//
// BENCH_SIZES_MIB (default 256,1024), BENCH_REPEATS (default 4: one whole square), BENCH_CLUSTER
// (default primary). Prints a table, then one JSON line. Figures, not assertions: machines are shared
// and noisy.
import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { pino } from 'pino';
import { clearEtcdScratch, fillEtcd } from '../../lab/etcd-fill.js';
import { runningPid } from '../../lab/processes.js';
import { bin, labConfigFile } from '../../lab/topology.js';
import { clusterByName, loadConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';
import { temporalClient } from '../../worker/temporal.js';
import { createWorker } from '../../worker/worker.js';
import type { SnapshotUpload } from '../../model/snapshot-layout.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import { historyTimings, median as medianOf } from './history.js';
import { envCount, envCounts } from './env.js';

const base = loadConfig({ file: labConfigFile, env: {} });
const bucket = `lifeboat-bench-${randomBytes(4).toString('hex')}`;
const config = {
  ...base,
  objectStore: { ...base.objectStore, bucket },
  temporal: { ...base.temporal, taskQueue: `bench-etcd-${randomUUID()}` },
  metrics: { port: 0 },
};
const cluster = clusterByName(config, process.env.BENCH_CLUSTER ?? 'primary');
const sizes = envCounts('BENCH_SIZES_MIB', [256, 1024]);
const repeats = envCount('BENCH_REPEATS', 4);
const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const env = { LIFEBOAT_CONFIG: labConfigFile, LIFEBOAT_S3_BUCKET: bucket };
const cores = availableParallelism();
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** etcd's and MinIO's pids, whose CPU time each run is billed; read again before each attempt. */
let etcdPid = 0;
let minioPid = 0;
/** Waits up to two minutes for both (other lab users stop and restart them). */
async function labPids(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const [e, m] = [await runningPid(`etcd/${cluster.name}`), await runningPid('minio')];
    if (e && m) {
      [etcdPid, minioPid] = [e, m];
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`the lab is not running (etcd/${cluster.name}: ${e ?? 'down'}, minio: ${m ?? 'down'}): run \`npx lifeboat lab up\``);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
await labPids();

/**
 * Runs one variant, again when etcd or MinIO was restarted under it (other lab users' fault tests do
 * that: its CPU bill and time would mean nothing), at most three times. Says why it retried.
 */
async function undisturbed<T>(variant: string, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    await labPids();
    const pids = [etcdPid, minioPid];
    let result: T | Error;
    try {
      result = await run();
    } catch (err) {
      result = err as Error;
    }
    await labPids();
    const restarted = pids[0] !== etcdPid || pids[1] !== minioPid;
    if (!restarted && !(result instanceof Error)) return result;
    if (attempt >= 3) throw result instanceof Error ? result : new Error(`${variant}: etcd or MinIO restarted during each of 3 attempts`);
    say(
      `  ${variant} disturbed (${restarted ? 'etcd or MinIO restarted meanwhile' : (result as Error).message.split('\n')[0]}); measuring it again`,
    );
    await clearBenchObjects();
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

type Variant = 'A' | 'B' | 'L' | 'W';
const variants: readonly Variant[] = ['A', 'B', 'L', 'W'];
const labels: Record<Variant, string> = {
  A: 'etcdctl snapshot save',
  B: 'save + lib-storage upload',
  L: 'Lifeboat pipeline, own process',
  W: 'Lifeboat activity in a worker',
};

/**
 * Repetition `rep`'s order: row `rep` of a Williams square (first row 0, 1, n-1, 2, n-2, ..., each
 * next row shifted by one), for an even number of variants.
 */
function balancedOrder(rep: number): Variant[] {
  const n = variants.length;
  const first = [0];
  for (let k = 1; first.length < n; k++) {
    first.push(k);
    if (first.length < n) first.push(n - k);
  }
  return first.map((j) => variants[(j + rep) % n]!);
}

/**
 * `seconds` is what the ratios use; `processSeconds` includes the process's start-up (for W: from the
 * activity's scheduling, Temporal's dispatch included). `cpu` is the CPU time of the variant's own
 * process, and of etcd and MinIO while it ran.
 */
interface Run {
  seconds: number;
  processSeconds: number;
  rssMB: number;
  cpu: { own: number; etcd: number; minio: number };
}
interface WorkerRun extends Run {
  /** The pipeline inside the activity (its streamStartedAt to streamFinishedAt). */
  streamSeconds: number;
  /** ActivityTaskScheduled to ActivityTaskStarted: the worker picking the task up. */
  scheduleToStartSeconds: number;
  /** The whole workflow, start to result (preflight, inventory, HEAD check and manifest included). */
  workflowSeconds: number;
}

/** Runs a command under /usr/bin/time: its wall and CPU seconds, peak RSS in MB, and last stdout line. */
async function timed(cmd: string, args: string[]): Promise<Run & { stdout: string }> {
  const [etcd0, minio0] = [cpuSeconds(etcdPid), cpuSeconds(minioPid)];
  const { stderr, stdout } = await execa('/usr/bin/time', ['-f', 'BENCH %e %M %U %S', cmd, ...args], { env });
  const [etcd1, minio1] = [cpuSeconds(etcdPid), cpuSeconds(minioPid)];
  const [, seconds, kb, user, system] = /BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(stderr)!;
  return {
    seconds: Number(seconds),
    processSeconds: Number(seconds),
    rssMB: Number(kb) / 1024,
    cpu: { own: Number(user) + Number(system), etcd: etcd1 - etcd0, minio: minio1 - minio0 },
    stdout: stdout.split('\n').at(-1) ?? '',
  };
}

/** A Node variant: its own in-process time (after start-up and imports) is the one the ratios use. */
async function timedNode(script: string, args: string[]): Promise<Run> {
  const run = await timed(process.execPath, [here(script), ...args]);
  const { seconds, pipelineSeconds } = JSON.parse(run.stdout) as { seconds?: number; pipelineSeconds?: number };
  return { ...run, seconds: (pipelineSeconds ?? seconds)! };
}

const etcdctlSave = (file: string) =>
  timed(bin.etcdctl, [
    `--endpoints=${cluster.etcd.endpoints[0]}`,
    `--cacert=${cluster.etcd.caFile}`,
    `--cert=${cluster.etcd.certFile}`,
    `--key=${cluster.etcd.keyFile}`,
    '--command-timeout=600s',
    'snapshot',
    'save',
    file,
  ]);

// ---------------------------------------------------------------------------------------------------
// W: the real worker

const worker = await createWorker(config, pino({ level: 'warn' }));
const workerRunning = worker.run();
const client = await temporalClient(config);

interface Sample {
  at: number;
  own: number;
  etcd: number;
  minio: number;
  rssMB: number;
}

/** Samples this process's (the worker's) CPU and RSS and etcd's and MinIO's CPU every 100 ms until stopped. */
function sampler(): { stop(): Sample[] } {
  const samples: Sample[] = [];
  const take = () => {
    const own = process.cpuUsage();
    // A process gone (restarted by another lab user) ends the sampling; the run is measured again.
    try {
      samples.push({
        at: Date.now(),
        own: (own.user + own.system) / 1e6,
        etcd: cpuSeconds(etcdPid),
        minio: cpuSeconds(minioPid),
        rssMB: process.memoryUsage.rss() / 1024 / 1024,
      });
    } catch {
      /* undisturbed() sees the new pid */
    }
  };
  take();
  const timer = setInterval(take, 100);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** A sampled counter's value at time `at`, interpolated between the samples around it. */
function valueAt(samples: Sample[], at: number, field: 'own' | 'etcd' | 'minio'): number {
  const after = samples.findIndex((s) => s.at >= at);
  if (after <= 0) return samples[after === 0 ? 0 : samples.length - 1]![field];
  const [p, q] = [samples[after - 1]!, samples[after]!];
  return p[field] + ((q[field] - p[field]) * (at - p.at)) / Math.max(1, q.at - p.at);
}

async function workerRun(): Promise<WorkerRun> {
  const sampling = sampler();
  const t0 = performance.now();
  const handle = await client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: config.temporal.taskQueue,
    workflowId: `bench-etcd/${cluster.name}/${randomUUID()}`,
    args: [{ cluster: cluster.name, skipRetention: true }],
  });
  await handle.result();
  const workflowSeconds = (performance.now() - t0) / 1000;
  const samples = sampling.stop();
  const history = await historyTimings(handle);
  const stream = history.activities.find((a) => a.name === 'streamEtcdSnapshot' && a.status === 'completed');
  if (!stream) throw new Error(`workflow ${handle.workflowId} has no completed streamEtcdSnapshot activity`);
  if (stream.attempt !== 1) throw new Error(`streamEtcdSnapshot completed only on attempt ${stream.attempt}`);
  const upload = stream.result as SnapshotUpload;
  const window = samples.filter((s) => s.at >= stream.startedMs && s.at <= stream.closedMs);
  const delta = (field: 'own' | 'etcd' | 'minio') => valueAt(samples, stream.closedMs, field) - valueAt(samples, stream.startedMs, field);
  return {
    seconds: (stream.closedMs - stream.startedMs) / 1000,
    processSeconds: (stream.closedMs - stream.scheduledMs) / 1000,
    scheduleToStartSeconds: (stream.startedMs - stream.scheduledMs) / 1000,
    streamSeconds: (Date.parse(upload.streamFinishedAt) - Date.parse(upload.streamStartedAt)) / 1000,
    workflowSeconds,
    rssMB: Math.max(...(window.length ? window : samples).map((s) => s.rssMB)),
    cpu: { own: delta('own'), etcd: delta('etcd'), minio: delta('minio') },
  };
}

// ---------------------------------------------------------------------------------------------------

const median = (runs: Run[]): Run => ({
  seconds: medianOf(runs.map((r) => r.seconds)),
  processSeconds: medianOf(runs.map((r) => r.processSeconds)),
  rssMB: Math.max(...runs.map((r) => r.rssMB)),
  cpu: {
    own: medianOf(runs.map((r) => r.cpu.own)),
    etcd: medianOf(runs.map((r) => r.cpu.etcd)),
    minio: medianOf(runs.map((r) => r.cpu.minio)),
  },
});

/** OpenSSL's throughput here, in bytes per CPU second, for the two things L must do to every byte. */
function cryptoSpeed(): { sha256: number; aes256gcm: number } {
  const block = randomBytes(1024 * 1024);
  const blocks = 256;
  const rate = (work: () => void) => {
    const started = process.cpuUsage();
    work();
    const used = process.cpuUsage(started);
    return (blocks * block.length) / ((used.user + used.system) / 1e6);
  };
  const sha256 = rate(() => {
    const hash = createHash('sha256');
    for (let i = 0; i < blocks; i++) hash.update(block);
    hash.digest();
  });
  const aes256gcm = rate(() => {
    const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
    for (let i = 0; i < blocks; i++) cipher.update(block);
    cipher.final();
  });
  return { sha256, aes256gcm };
}

const crypto = cryptoSpeed();
const round = (x: number) => Number(x.toFixed(2));
const ratio = (x: number, y: number) => Number((x / y).toFixed(3));

async function measure(sizeMiB: number, warmUp: boolean) {
  say(`filling etcd of ${cluster.name} to ${sizeMiB} MiB of scratch data`);
  await clearEtcdScratch(cluster);
  await fillEtcd(cluster, sizeMiB, (done) => {
    if (done % 128 === 0) say(`  ${done} MiB`);
  });
  if (warmUp) {
    // A long-running worker has its workflow sandbox and the pipeline's code warm; this one is new.
    // One run, not measured, warms it.
    const w = await undisturbed('warm-up W', workerRun);
    say(`  warm-up W (not counted): ${w.seconds.toFixed(2)}s`);
    await clearBenchObjects();
  }
  const a: Run[] = [];
  const b: Run[] = [];
  const l: Run[] = [];
  const uploads: Run[] = [];
  const w: WorkerRun[] = [];
  const orders: string[] = [];
  let snapshotBytes = 0;
  for (let i = 0; i < repeats; i++) {
    const order = balancedOrder(i);
    orders.push(order.join(''));
    const line: string[] = [];
    for (const variant of order) {
      if (variant === 'A') {
        const file = join(scratch, `a-${i}.db`);
        const runA = await undisturbed('A', async () => {
          const r = await etcdctlSave(file);
          snapshotBytes = statSync(file).size;
          rmSync(file);
          return r;
        });
        a.push(runA);
        line.push(`A ${runA.seconds.toFixed(2)}s`);
      } else if (variant === 'B') {
        const fileB = join(scratch, `b-${i}.db`);
        const [saveB, upload] = await undisturbed('B', async () => {
          const save = await etcdctlSave(fileB);
          const up = await timedNode('./upload-file.js', [fileB, `b-${sizeMiB}-${i}.db`]);
          rmSync(fileB);
          return [save, up] as const;
        });
        uploads.push(upload);
        const runB = {
          seconds: saveB.seconds + upload.seconds,
          processSeconds: saveB.seconds + upload.processSeconds,
          rssMB: Math.max(saveB.rssMB, upload.rssMB),
          cpu: { own: saveB.cpu.own + upload.cpu.own, etcd: saveB.cpu.etcd + upload.cpu.etcd, minio: saveB.cpu.minio + upload.cpu.minio },
        };
        b.push(runB);
        line.push(`B ${runB.seconds.toFixed(2)}s (process ${runB.processSeconds.toFixed(2)}s)`);
      } else if (variant === 'L') {
        const runL = await undisturbed('L', () => timedNode('./lifeboat-stream.js', [cluster.name, `l-${sizeMiB}-${i}.lbenc`]));
        l.push(runL);
        line.push(`L ${runL.seconds.toFixed(2)}s (process ${runL.processSeconds.toFixed(2)}s, rss ${runL.rssMB.toFixed(0)} MB)`);
      } else {
        const runW = await undisturbed('W', workerRun);
        w.push(runW);
        line.push(
          `W ${runW.seconds.toFixed(2)}s (scheduled→completed ${runW.processSeconds.toFixed(2)}s, stream ${runW.streamSeconds.toFixed(2)}s, workflow ${runW.workflowSeconds.toFixed(2)}s)`,
        );
      }
      await clearBenchObjects();
    }
    say(`  run ${i + 1}/${repeats}, order ${order.join(' ')}: ${line.join('  ')}`);
  }
  const [A, B, L, U, W] = [median(a), median(b), median(l), median(uploads), median(w)];
  const mbps = (r: Run) => Number((snapshotBytes / 1e6 / r.seconds).toFixed(1));
  const figures = (r: Run) => ({
    seconds: round(r.seconds),
    MBps: mbps(r),
    processSeconds: round(r.processSeconds),
    rssMB: Number(r.rssMB.toFixed(1)),
    cpuSeconds: { own: round(r.cpu.own), etcd: round(r.cpu.etcd), minio: round(r.cpu.minio) },
  });
  // What L cannot avoid: etcd sending (as in A), MinIO storing (as in B's upload), and its own two
  // sha256 passes and one AES-256-GCM pass. Everything else L does (TLS, gRPC, HTTP) only adds to it.
  const floorCpu = A.cpu.etcd + U.cpu.minio + snapshotBytes * (2 / crypto.sha256 + 1 / crypto.aes256gcm);
  const floorSeconds = floorCpu / cores;
  const m = (xs: number[]) => round(medianOf(xs));
  return {
    sizeMiB,
    snapshotMiB: Number((snapshotBytes / 1024 / 1024).toFixed(1)),
    repeats,
    orders,
    A: figures(A),
    B: figures(B),
    L: figures(L),
    W: {
      ...figures(W),
      scheduledToCompletedSeconds: round(W.processSeconds),
      scheduleToStartSeconds: m(w.map((r) => r.scheduleToStartSeconds)),
      streamSeconds: m(w.map((r) => r.streamSeconds)),
      workflowSeconds: m(w.map((r) => r.workflowSeconds)),
    },
    LoverA: ratio(L.seconds, A.seconds),
    LoverB: ratio(L.seconds, B.seconds),
    // The same ratios with every variant's process start-up counted.
    LoverAProcess: ratio(L.processSeconds, A.processSeconds),
    LoverBProcess: ratio(L.processSeconds, B.processSeconds),
    // The activity in the worker, started→completed (and scheduled→completed).
    WoverA: ratio(W.seconds, A.seconds),
    WoverB: ratio(W.seconds, B.seconds),
    WoverAScheduled: ratio(W.processSeconds, A.processSeconds),
    WoverBScheduled: ratio(W.processSeconds, B.processSeconds),
    WoverL: ratio(W.seconds, L.seconds),
    rssMB: Number(L.rssMB.toFixed(1)),
    // L's whole CPU bill (its process, etcd, MinIO) spread over the cores: L can be no faster.
    LcpuBoundSeconds: round((L.cpu.own + L.cpu.etcd + L.cpu.minio) / cores),
    WcpuBoundSeconds: round((W.cpu.own + W.cpu.etcd + W.cpu.minio) / cores),
    floor: {
      cores,
      cpuSeconds: round(floorCpu),
      seconds: round(floorSeconds),
      LoverA: ratio(floorSeconds, A.seconds),
      LoverB: ratio(floorSeconds, B.seconds),
    },
    runs: {
      A: a.map((r) => round(r.seconds)),
      B: b.map((r) => round(r.seconds)),
      BProcess: b.map((r) => round(r.processSeconds)),
      L: l.map((r) => round(r.seconds)),
      LProcess: l.map((r) => round(r.processSeconds)),
      W: w.map((r) => round(r.seconds)),
      WScheduled: w.map((r) => round(r.processSeconds)),
      WStream: w.map((r) => round(r.streamSeconds)),
      WScheduleToStart: w.map((r) => Number(r.scheduleToStartSeconds.toFixed(3))),
      WWorkflow: w.map((r) => round(r.workflowSeconds)),
    },
  };
}

async function clearBenchObjects(): Promise<void> {
  const s3 = createS3Client(config);
  try {
    for (;;) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      if (!listed.Contents?.length) return;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: listed.Contents.map((o) => ({ Key: o.Key! })) } }));
    }
  } finally {
    s3.destroy();
  }
}

const results = [];
const s3 = createS3Client(config);
await s3.send(new CreateBucketCommand({ Bucket: bucket }));
try {
  for (const [i, size] of sizes.entries()) results.push(await measure(size, i === 0));
} finally {
  await clearEtcdScratch(cluster);
  await clearBenchObjects();
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  s3.destroy();
  rmSync(scratch, { recursive: true, force: true });
  worker.worker.shutdown();
  await workerRunning;
  await client.connection.close();
}
const out = (line: string) => process.stdout.write(`${line}\n`);
out(
  `Node.js ${process.version}; OpenSSL here: sha256 ${(crypto.sha256 / 1e6).toFixed(0)} MB/s, AES-256-GCM ${(crypto.aes256gcm / 1e6).toFixed(0)} MB/s per core; ${cores} cores`,
);
out('size  variant                                 seconds   MB/s   with start-up   peak RSS MB   CPU s: own  etcd  MinIO   runs');
for (const r of results) {
  out(`      orders: ${r.orders.join(', ')}`);
  for (const name of variants) {
    const f = r[name];
    const runs = r.runs[name].join(' ');
    out(
      `${String(r.sizeMiB).padStart(4)}  ${name} ${labels[name].padEnd(38)} ${String(f.seconds).padStart(7)} ${String(f.MBps).padStart(6)} ${String(f.processSeconds).padStart(15)} ${String(f.rssMB).padStart(13)} ${String(f.cpuSeconds.own).padStart(11)} ${String(f.cpuSeconds.etcd).padStart(5)} ${String(f.cpuSeconds.minio).padStart(6)}   ${runs}`,
    );
  }
  out(
    `      W is ActivityTaskStarted→Completed; "with start-up" for W is Scheduled→Completed (runs ${r.runs.WScheduled.join(' ')}); schedule-to-start ${r.W.scheduleToStartSeconds} s;` +
      ` the stream inside it ${r.W.streamSeconds} s (runs ${r.runs.WStream.join(' ')}); whole workflow ${r.W.workflowSeconds} s`,
  );
  out(`      L/A = ${r.LoverA} (target <= 1.15)   L/B = ${r.LoverB} (target <= 0.7)   L peak RSS ${r.rssMB} MB (target <= 150)`);
  out(`      with start-up counted: L/A = ${r.LoverAProcess}   L/B = ${r.LoverBProcess}`);
  out(
    `      worker activity: W/A = ${r.WoverA}   W/B = ${r.WoverB}   (scheduled→completed: W/A = ${r.WoverAScheduled}   W/B = ${r.WoverBScheduled})   W/L = ${r.WoverL}`,
  );
  out(
    `      CPU bill over ${r.floor.cores} cores: L ${r.LcpuBoundSeconds} s (L took ${r.L.seconds} s), W ${r.WcpuBoundSeconds} s (W took ${r.W.seconds} s)`,
  );
  out(
    `      floor: etcd sending + MinIO storing + 2 x sha256 + AES-GCM = ${r.floor.cpuSeconds} CPU s = ${r.floor.seconds} s on ${r.floor.cores} cores: best possible L/A ${r.floor.LoverA}, L/B ${r.floor.LoverB}`,
  );
}
out(JSON.stringify({ node: process.version, results }));
