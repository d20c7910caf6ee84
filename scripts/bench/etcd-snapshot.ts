// `npm run bench:etcd`: Lifeboat's streamed, encrypted, verified snapshot pipeline (L) against
// `etcdctl snapshot save` to local disk (A) and A followed by a lib-storage upload of the file (B),
// at 1 GiB and 256 MiB of etcd data, in one run on the lab's primary etcd. Each variant runs as its own
// process under /usr/bin/time, which reports its wall time and peak RSS. Prints a table, then one JSON
// line. Figures, not assertions: machines are shared and noisy.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { clearEtcdScratch, fillEtcd } from '../../lab/etcd-fill.js';
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

interface Run { seconds: number; rssMB: number }

/** Runs a command under /usr/bin/time; returns wall seconds and peak RSS in MB. */
async function timed(cmd: string, args: string[]): Promise<Run> {
  const { stderr } = await execa('/usr/bin/time', ['-f', 'BENCH %e %M', cmd, ...args], { env });
  const [, seconds, kb] = /BENCH ([\d.]+) (\d+)/.exec(stderr)!;
  return { seconds: Number(seconds), rssMB: Number(kb) / 1024 };
}

const etcdctlSave = (file: string) => timed(bin.etcdctl, [
  `--endpoints=${cluster.etcd.endpoints[0]}`, `--cacert=${cluster.etcd.caFile}`, `--cert=${cluster.etcd.certFile}`, `--key=${cluster.etcd.keyFile}`,
  '--command-timeout=600s', 'snapshot', 'save', file,
]);

const median = (runs: Run[]): Run => {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return { seconds: sorted[Math.floor(sorted.length / 2)]!.seconds, rssMB: Math.max(...runs.map((r) => r.rssMB)) };
};

async function measure(sizeMiB: number) {
  process.stderr.write(`[bench] filling etcd of ${cluster.name} to ${sizeMiB} MiB of scratch data\n`);
  await clearEtcdScratch(cluster);
  await fillEtcd(cluster, sizeMiB, (done) => { if (done % 128 === 0) process.stderr.write(`[bench]   ${done} MiB\n`); });
  const a: Run[] = []; const b: Run[] = []; const l: Run[] = [];
  let snapshotBytes = 0;
  for (let i = 0; i < repeats; i++) {
    const file = join(scratch, `a-${i}.db`);
    const runA = await etcdctlSave(file);
    snapshotBytes = statSync(file).size;
    a.push(runA);
    rmSync(file);
    const fileB = join(scratch, `b-${i}.db`);
    const saveB = await etcdctlSave(fileB);
    const upload = await timed(process.execPath, [here('./upload-file.js'), fileB, `${benchPrefix}b-${sizeMiB}-${i}.db`]);
    rmSync(fileB);
    b.push({ seconds: saveB.seconds + upload.seconds, rssMB: Math.max(saveB.rssMB, upload.rssMB) });
    l.push(await timed(process.execPath, [here('./lifeboat-stream.js'), cluster.name, `${benchPrefix}l-${sizeMiB}-${i}.lbenc`]));
    process.stderr.write(`[bench]   run ${i + 1}/${repeats}: A ${runA.seconds}s  B ${b.at(-1)!.seconds.toFixed(2)}s  L ${l.at(-1)!.seconds}s (L rss ${l.at(-1)!.rssMB.toFixed(0)} MB)\n`);
  }
  const [A, B, L] = [median(a), median(b), median(l)];
  const mbps = (r: Run) => Number((snapshotBytes / 1e6 / r.seconds).toFixed(1));
  return {
    sizeMiB, snapshotMiB: Number((snapshotBytes / 1024 / 1024).toFixed(1)), repeats,
    A: { seconds: A.seconds, MBps: mbps(A), rssMB: Number(A.rssMB.toFixed(1)) },
    B: { seconds: Number(B.seconds.toFixed(2)), MBps: mbps(B), rssMB: Number(B.rssMB.toFixed(1)) },
    L: { seconds: L.seconds, MBps: mbps(L), rssMB: Number(L.rssMB.toFixed(1)) },
    LoverA: Number((L.seconds / A.seconds).toFixed(3)),
    LoverB: Number((L.seconds / B.seconds).toFixed(3)),
    rssMB: Number(L.rssMB.toFixed(1)),
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
process.stdout.write('size  variant                                 seconds   MB/s   peak RSS MB\n');
for (const r of results) {
  for (const [name, label] of [['A', 'etcdctl snapshot save'], ['B', 'save + lib-storage upload'], ['L', 'Lifeboat stream+encrypt+verify+upload']] as const) {
    process.stdout.write(`${String(r.sizeMiB).padStart(4)}  ${name} ${label.padEnd(38)} ${String(r[name].seconds).padStart(7)} ${String(r[name].MBps).padStart(6)} ${String(r[name].rssMB).padStart(12)}\n`);
  }
  process.stdout.write(`      L/A = ${r.LoverA} (target <= 1.15)   L/B = ${r.LoverB} (target <= 0.7)   L peak RSS ${r.rssMB} MB (target <= 150)\n`);
}
process.stdout.write(`${JSON.stringify(results)}\n`);
