// `npm run bench:verify`: etcd restore verification of a 1 GiB snapshot, Lifeboat's restoreVerification
// workflow (L) against the same steps done by hand (H: download, decrypt, `etcdutl snapshot restore`,
// start etcd and kube-apiserver, list objects with kubectl, tear down), alternated in one run on the
// lab's primary. Prints a table, then one JSON line. Figures, not assertions: machines are shared and noisy.
import { generateKeyPairSync } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa, type ResultPromise } from 'execa';
import { pino } from 'pino';
import { clearEtcdScratch, fillEtcd } from '../../lab/etcd-fill.js';
import { bin, labConfigFile } from '../../lab/topology.js';
import { createDecryptStream } from '../../activities/object-store/envelope.js';
import { freePort } from '../../activities/scratch/processes.js';
import { clusterByName, loadConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';
import { loadKeyRing } from '../../worker/keys.js';
import { createWorker } from '../../worker/worker.js';
import { temporalClient } from '../../worker/temporal.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { restoreVerification } from '../../workflows/restoreVerification.js';
import { snapshotPrefix } from '../../model/snapshot-layout.js';
import { etcdutlRestoreArgs, scratchApiserverArgs, scratchEtcdArgs } from '../../activities/scratch/command-lines.js';
import { makeScratchPki, writeScratchPki } from '../../activities/scratch/pki.js';
import { envCount } from './env.js';

const sizeMiB = envCount('BENCH_SIZE_MIB', 1024);
const repeats = envCount('BENCH_REPEATS', 3);
const base = loadConfig({ file: labConfigFile, env: {} });
const config = { ...base, temporal: { ...base.temporal, taskQueue: `bench-verify-${randomUUID()}` }, metrics: { port: 0 } };
const cluster = clusterByName(config, 'primary');
const s3 = createS3Client(config);
const keyRing = loadKeyRing(config.encryption!);
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The same verification by hand: what an SRE would script without Lifeboat. */
async function byHand(clusterName: string, snapshotId: string, objectKey: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-hand-'));
  const procs: ResultPromise[] = [];
  const t0 = performance.now();
  try {
    const enc = join(dir, 'snapshot.db.lbenc');
    const db = join(dir, 'snapshot.db');
    const got = await s3.send(new GetObjectCommand({ Bucket: config.objectStore.bucket, Key: objectKey }));
    await pipeline(got.Body as Readable, createWriteStream(enc));
    await pipeline(
      createReadStream(enc),
      createDecryptStream({ lookupKey: keyRing.lookup, expected: { cluster: clusterName, snapshotId }, configuredKeyIds: keyRing.ids }),
      createWriteStream(db),
    );
    rmSync(enc);
    const [clientPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const clientUrl = `https://127.0.0.1:${clientPort}`;
    const peerUrl = `https://127.0.0.1:${peerPort}`;
    // TLS as Lifeboat's scratch restore has it, so the two do the same work.
    const pki = await makeScratchPki('bench');
    const files = await writeScratchPki(dir, pki);
    const verifierCert = join(dir, 'verifier.crt');
    const verifierKey = join(dir, 'verifier.key');
    writeFileSync(verifierCert, pki.verifier.cert);
    writeFileSync(verifierKey, pki.verifier.key, { mode: 0o600 });
    const member = {
      name: 'h',
      dataDir: join(dir, 'data'),
      clientUrl,
      peerUrl,
      tls: { caFile: files.caCert, certFile: files.etcdCert, keyFile: files.etcdKey },
    };
    await execa(bin.etcdutl, etcdutlRestoreArgs(db, member));
    rmSync(db);
    procs.push(execa(bin.etcd, scratchEtcdArgs(member), { reject: false }));
    const etcdctlTls = ['--cacert', files.caCert, '--cert', verifierCert, '--key', verifierKey];
    while ((await execa(bin.etcdctl, ['--endpoints', clientUrl, ...etcdctlTls, 'endpoint', 'health'], { reject: false })).exitCode !== 0)
      await sleep(250);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const rv = cluster.restoreVerification;
    procs.push(
      execa(
        bin.kubeApiserver,
        scratchApiserverArgs({
          etcdUrl: clientUrl,
          etcdTls: { caFile: files.caCert, certFile: files.apiserverEtcdClientCert, keyFile: files.apiserverEtcdClientKey },
          port: apiPort,
          servingCertFile: files.apiserverCert,
          servingKeyFile: files.apiserverKey,
          clientCaFile: files.caCert,
          serviceAccountPublicKeyFile: join(dir, 'sa.pub'),
          serviceAccountSigningKeyFile: join(dir, 'sa.key'),
          issuer: 'https://bench.invalid',
          serviceClusterIPRange: rv.serviceClusterIPRange,
          encryptionConfigFile: rv.encryptionConfigFile,
        }),
        { reject: false },
      ),
    );
    const kubectl = (args: string[]) =>
      execa(
        bin.kubectl,
        [
          '--server',
          `https://127.0.0.1:${apiPort}`,
          '--certificate-authority',
          files.caCert,
          '--client-certificate',
          verifierCert,
          '--client-key',
          verifierKey,
          ...args,
        ],
        {
          reject: false,
        },
      );
    while ((await kubectl(['get', '--raw', '/readyz'])).exitCode !== 0) await sleep(250);
    for (const resource of ['namespaces', 'secrets', 'configmaps', 'deployments', 'serviceaccounts']) {
      const listed = await kubectl(['get', resource, '-A', '--no-headers']);
      if (listed.exitCode !== 0) throw new Error(`kubectl get ${resource}: ${listed.stderr}`);
    }
    for (const o of rv.objects) {
      const got = await kubectl(['get', o.resource, ...(o.namespace ? ['-n', o.namespace] : []), o.name, '-o', 'name']);
      if (got.exitCode !== 0) throw new Error(`kubectl get ${o.resource} ${o.name}: ${got.stderr}`);
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs);
    rmSync(dir, { recursive: true, force: true });
  }
  return (performance.now() - t0) / 1000;
}

async function deleteSnapshot(snapshotId: string): Promise<void> {
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: config.objectStore.bucket, Prefix: `${snapshotPrefix('primary')}${snapshotId}/` }),
  );
  if (listed.Contents?.length)
    await s3.send(
      new DeleteObjectsCommand({ Bucket: config.objectStore.bucket, Delete: { Objects: listed.Contents.map((o) => ({ Key: o.Key! })) } }),
    );
}

const worker = await createWorker(config, pino({ level: 'warn' }));
const running = worker.run();
const client = await temporalClient(config);
let snapshotId: string | undefined;
try {
  say(`filling etcd of primary to ${sizeMiB} MiB of scratch data`);
  await clearEtcdScratch(cluster);
  await fillEtcd(cluster, sizeMiB, (done) => {
    if (done % 256 === 0) say(`  ${done} MiB`);
  });
  const { manifest } = await client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
    taskQueue: config.temporal.taskQueue,
    workflowId: `etcd-snapshot/primary/bench-verify-${Date.now()}`,
    args: [{ cluster: 'primary', skipRetention: true }],
  });
  snapshotId = manifest.snapshotId;
  say(`snapshot ${snapshotId}: ${(manifest.object.plaintextBytes / 1024 / 1024).toFixed(0)} MiB`);
  const l: number[] = [];
  const h: number[] = [];
  const rto: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const r = await client.workflow.execute<typeof restoreVerification>('restoreVerification', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `verify-etcd/primary/bench-${Date.now()}`,
      args: [{ kind: 'etcd', cluster: 'primary', snapshotId }],
    });
    l.push((performance.now() - t0) / 1000);
    rto.push(r.rtoSeconds);
    h.push(await byHand(manifest.cluster, manifest.snapshotId, manifest.object.objectKey));
    say(
      `  run ${i + 1}/${repeats}: Lifeboat ${l.at(-1)!.toFixed(2)} s (RTO ${r.rtoSeconds} s, ${r.checks.length} checks ${r.passed ? 'passed' : 'FAILED'})  by hand ${h.at(-1)!.toFixed(2)} s`,
    );
  }
  const L = median(l);
  const H = median(h);
  const result = {
    sizeMiB,
    snapshotMiB: Number((manifest.object.plaintextBytes / 1024 / 1024).toFixed(1)),
    repeats,
    lifeboatSeconds: Number(L.toFixed(2)),
    baselineSeconds: Number(H.toFixed(2)),
    ratio: Number((L / H).toFixed(3)),
    lifeboatRtoSeconds: median(rto),
    lifeboatRuns: l.map((x) => Number(x.toFixed(2))),
    baselineRuns: h.map((x) => Number(x.toFixed(2))),
  };
  process.stdout.write(`variant                                              median s   runs\n`);
  process.stdout.write(
    `L  Lifeboat restoreVerification (workflow, all checks) ${String(result.lifeboatSeconds).padStart(8)}   ${result.lifeboatRuns.join(' ')}\n`,
  );
  process.stdout.write(
    `H  by hand (download, decrypt, restore, etcd, apiserver, kubectl) ${String(result.baselineSeconds).padStart(8)}   ${result.baselineRuns.join(' ')}\n`,
  );
  process.stdout.write(`L/H = ${result.ratio} (target <= 1.2)\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  if (snapshotId) await deleteSnapshot(snapshotId);
  await clearEtcdScratch(cluster);
  worker.worker.shutdown();
  await running;
  await client.connection.close();
  s3.destroy();
}
