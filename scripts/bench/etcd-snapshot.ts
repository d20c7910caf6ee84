// `npm run bench:etcd`: Lifeboat's streamed, encrypted, verified snapshot pipeline (L) against
// `etcdctl snapshot save` to local disk (A) and A followed by a lib-storage upload of the file (B),
// at 1 GiB and 256 MiB of etcd data, in one run on the lab's primary etcd. Each variant runs as its own
// process under /usr/bin/time, which reports its wall time, CPU time and peak RSS. The two Node
// variants (B's upload and L) also time themselves from after Node's start-up and imports, as the
// worker runs them; the ratios use those times, and the whole-process ones are printed beside them.
//
// It also measures, in the same run, what the machine makes unavoidable: the CPU time etcd spends
// sending the snapshot (during A), the CPU time MinIO spends storing it (during B's upload), and
// OpenSSL's sha256 and AES-256-GCM speed here (L must hash twice and encrypt once). Those three run
// on the machine's cores alongside each other, so (their sum / cores) is a floor no implementation of
// L can beat on this machine; the floor's ratios show how far the targets are within reach.
//
// Prints a table, then one JSON line. Figures, not assertions: machines are shared and noisy.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { clearEtcdScratch, fillEtcd } from '../../lab/etcd-fill.js';
import { runningPid } from '../../lab/processes.js';
import { bin, labConfigFile } from '../../lab/topology.js';
import { clusterByName, loadConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';

const config = loadConfig({ file: labConfigFile, env: {} });
const cluster = clusterByName(config, process.env.BENCH_CLUSTER ?? 'primary');
const sizes = (process.env.BENCH_SIZES_MIB ?? '256,1024').split(',').map(Number);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const env = { LIFEBOAT_CONFIG: labConfigFile };
const benchPrefix = 'bench/';
const cores = availableParallelism();

const etcdPid = await runningPid(`etcd/${cluster.name}`);
const minioPid = await runningPid('minio');
if (!etcdPid || !minioPid) throw new Error(`the lab is not running (etcd/${cluster.name}: ${etcdPid ?? 'down'}, minio: ${minioPid ?? 'down'}): run \`npx lifeboat lab up\``);

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * `seconds` is what the ratios use; `processSeconds` includes the process's start-up. `cpu` is the CPU
 * time of the variant's own process, and of etcd and MinIO while it ran.
 */
interface Run { seconds: number; processSeconds: number; rssMB: number; cpu: { own: number; etcd: number; minio: number } }

/** Runs a command under /usr/bin/time: its wall and CPU seconds, peak RSS in MB, and last stdout line. */
async function timed(cmd: string, args: string[]): Promise<Run & { stdout: string }> {
  const [etcd0, minio0] = [cpuSeconds(etcdPid!), cpuSeconds(minioPid!)];
  const { stderr, stdout } = await execa('/usr/bin/time', ['-f', 'BENCH %e %M %U %S', cmd, ...args], { env });
  const [etcd1, minio1] = [cpuSeconds(etcdPid!), cpuSeconds(minioPid!)];
  const [, seconds, kb, user, system] = /BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(stderr)!;
  return {
    seconds: Number(seconds), processSeconds: Number(seconds), rssMB: Number(kb) / 1024,
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

const etcdctlSave = (file: string) => timed(bin.etcdctl, [
  `--endpoints=${cluster.etcd.endpoints[0]}`, `--cacert=${cluster.etcd.caFile}`, `--cert=${cluster.etcd.certFile}`, `--key=${cluster.etcd.keyFile}`,
  '--command-timeout=600s', 'snapshot', 'save', file,
]);

const medianOf = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const median = (runs: Run[]): Run => ({
  seconds: medianOf(runs.map((r) => r.seconds)),
  processSeconds: medianOf(runs.map((r) => r.processSeconds)),
  rssMB: Math.max(...runs.map((r) => r.rssMB)),
  cpu: { own: medianOf(runs.map((r) => r.cpu.own)), etcd: medianOf(runs.map((r) => r.cpu.etcd)), minio: medianOf(runs.map((r) => r.cpu.minio)) },
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

async function measure(sizeMiB: number) {
  process.stderr.write(`[bench] filling etcd of ${cluster.name} to ${sizeMiB} MiB of scratch data\n`);
  await clearEtcdScratch(cluster);
  await fillEtcd(cluster, sizeMiB, (done) => { if (done % 128 === 0) process.stderr.write(`[bench]   ${done} MiB\n`); });
  const a: Run[] = []; const b: Run[] = []; const l: Run[] = []; const uploads: Run[] = [];
  let snapshotBytes = 0;
  for (let i = 0; i < repeats; i++) {
    const file = join(scratch, `a-${i}.db`);
    const runA = await etcdctlSave(file);
    snapshotBytes = statSync(file).size;
    a.push(runA);
    rmSync(file);
    const fileB = join(scratch, `b-${i}.db`);
    const saveB = await etcdctlSave(fileB);
    const upload = await timedNode('./upload-file.js', [fileB, `${benchPrefix}b-${sizeMiB}-${i}.db`]);
    rmSync(fileB);
    uploads.push(upload);
    b.push({
      seconds: saveB.seconds + upload.seconds, processSeconds: saveB.seconds + upload.processSeconds, rssMB: Math.max(saveB.rssMB, upload.rssMB),
      cpu: { own: saveB.cpu.own + upload.cpu.own, etcd: saveB.cpu.etcd + upload.cpu.etcd, minio: saveB.cpu.minio + upload.cpu.minio },
    });
    l.push(await timedNode('./lifeboat-stream.js', [cluster.name, `${benchPrefix}l-${sizeMiB}-${i}.lbenc`]));
    const [lastB, lastL] = [b.at(-1)!, l.at(-1)!];
    process.stderr.write(`[bench]   run ${i + 1}/${repeats}: A ${runA.seconds}s  B ${lastB.seconds.toFixed(2)}s (process ${lastB.processSeconds.toFixed(2)}s)  L ${lastL.seconds.toFixed(2)}s (process ${lastL.processSeconds}s, rss ${lastL.rssMB.toFixed(0)} MB)\n`);
  }
  const [A, B, L, U] = [median(a), median(b), median(l), median(uploads)];
  const mbps = (r: Run) => Number((snapshotBytes / 1e6 / r.seconds).toFixed(1));
  const round = (x: number) => Number(x.toFixed(2));
  const figures = (r: Run) => ({
    seconds: round(r.seconds), MBps: mbps(r), processSeconds: round(r.processSeconds), rssMB: Number(r.rssMB.toFixed(1)),
    cpuSeconds: { own: round(r.cpu.own), etcd: round(r.cpu.etcd), minio: round(r.cpu.minio) },
  });
  const ratio = (x: number, y: number) => Number((x / y).toFixed(3));
  // What L cannot avoid: etcd sending (as in A), MinIO storing (as in B's upload), and its own two
  // sha256 passes and one AES-256-GCM pass. Everything else L does (TLS, gRPC, HTTP) only adds to it.
  const floorCpu = A.cpu.etcd + U.cpu.minio + snapshotBytes * (2 / crypto.sha256 + 1 / crypto.aes256gcm);
  const floorSeconds = floorCpu / cores;
  return {
    sizeMiB, snapshotMiB: Number((snapshotBytes / 1024 / 1024).toFixed(1)), repeats,
    A: figures(A), B: figures(B), L: figures(L),
    LoverA: ratio(L.seconds, A.seconds),
    LoverB: ratio(L.seconds, B.seconds),
    // The same ratios with every variant's process start-up counted.
    LoverAProcess: ratio(L.processSeconds, A.processSeconds),
    LoverBProcess: ratio(L.processSeconds, B.processSeconds),
    rssMB: Number(L.rssMB.toFixed(1)),
    // L's whole CPU bill (its process, etcd, MinIO) spread over the cores: L can be no faster.
    LcpuBoundSeconds: round((L.cpu.own + L.cpu.etcd + L.cpu.minio) / cores),
    floor: { cores, cpuSeconds: round(floorCpu), seconds: round(floorSeconds), LoverA: ratio(floorSeconds, A.seconds), LoverB: ratio(floorSeconds, B.seconds) },
  };
}

async function clearBenchObjects(): Promise<void> {
  const s3 = createS3Client(config);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: config.objectStore.bucket, Prefix: benchPrefix }));
  if (listed.Contents?.length) await s3.send(new DeleteObjectsCommand({ Bucket: config.objectStore.bucket, Delete: { Objects: listed.Contents.map((o) => ({ Key: o.Key! })) } }));
  s3.destroy();
}

const results = [];
try {
  for (const size of sizes) {
    results.push(await measure(size));
    await clearBenchObjects();
  }
} finally {
  await clearEtcdScratch(cluster);
  await clearBenchObjects();
  rmSync(scratch, { recursive: true, force: true });
}
const out = (line: string) => process.stdout.write(`${line}\n`);
out(`OpenSSL here: sha256 ${(crypto.sha256 / 1e6).toFixed(0)} MB/s, AES-256-GCM ${(crypto.aes256gcm / 1e6).toFixed(0)} MB/s per core; ${cores} cores`);
out('size  variant                                 seconds   MB/s   with start-up   peak RSS MB   CPU s: own  etcd  MinIO');
for (const r of results) {
  for (const [name, label] of [['A', 'etcdctl snapshot save'], ['B', 'save + lib-storage upload'], ['L', 'Lifeboat stream+encrypt+verify+upload']] as const) {
    const f = r[name];
    out(`${String(r.sizeMiB).padStart(4)}  ${name} ${label.padEnd(38)} ${String(f.seconds).padStart(7)} ${String(f.MBps).padStart(6)} ${String(f.processSeconds).padStart(15)} ${String(f.rssMB).padStart(13)} ${String(f.cpuSeconds.own).padStart(11)} ${String(f.cpuSeconds.etcd).padStart(5)} ${String(f.cpuSeconds.minio).padStart(6)}`);
  }
  out(`      L/A = ${r.LoverA} (target <= 1.15)   L/B = ${r.LoverB} (target <= 0.7)   L peak RSS ${r.rssMB} MB (target <= 150)`);
  out(`      with start-up counted: L/A = ${r.LoverAProcess}   L/B = ${r.LoverBProcess}`);
  out(`      L's CPU bill over ${r.floor.cores} cores: ${r.LcpuBoundSeconds} s (L took ${r.L.seconds} s)`);
  out(`      floor: etcd sending + MinIO storing + 2 x sha256 + AES-GCM = ${r.floor.cpuSeconds} CPU s = ${r.floor.seconds} s on ${r.floor.cores} cores: best possible L/A ${r.floor.LoverA}, L/B ${r.floor.LoverB}`);
}
out(JSON.stringify(results));
