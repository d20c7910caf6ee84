// Throughput of each stage of the snapshot pipeline on its own, to find the bottleneck.
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Upload } from '@aws-sdk/lib-storage';
import { clusterByName, loadConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';
import { withEtcdClient } from '../../activities/etcd-client.js';
import { createEncryptStream } from '../../activities/envelope.js';
import { streamDefaults } from '../../activities/snapshot-stream.js';
import { labConfigFile } from '../../lab/topology.js';

process.stdout.write(`rss at start ${(process.memoryUsage.rss() / 1e6).toFixed(0)} MB\n`);
const config = loadConfig({ file: labConfigFile, env: {} });
const cluster = clusterByName(config, process.argv[2] ?? 'primary');
const sink = () => new Writable({ write(_c, _e, done) { done(); } });
const time = async (label: string, bytes: number, work: () => Promise<unknown>) => {
  const t0 = performance.now();
  await work();
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`${label.padEnd(40)} ${s.toFixed(2)} s  ${(bytes / 1e6 / s).toFixed(0)} MB/s  rss ${(process.memoryUsage.rss() / 1e6).toFixed(0)} MB\n`);
};
let size = 0;
await time('etcd grpc stream only', 0, () => withEtcdClient(cluster, async (etcd) => {
  const s = (await etcd.maintenance.snapshot()) as unknown as Readable;
  for await (const m of s) size += (m as { blob: Buffer }).blob.length;
}));
process.stdout.write(`  (${size} bytes)\n`);
const data = randomBytes(size);
const chunks = () => Readable.from((function* () { for (let i = 0; i < data.length; i += 32768) yield data.subarray(i, i + 32768); })());
const h = createHash('sha256');
await time('sha256 x1', size, () => pipeline(chunks(), new Transform({ transform(c, _e, d) { h.update(c); d(); } }), sink()));
for (const chunkSize of [65536, 1048576]) {
  await time(`encrypt chunk ${chunkSize}`, size, () => pipeline(chunks(), createEncryptStream({ key: randomBytes(32), keyId: 'k', chunkSize }), sink()));
}
const s3 = createS3Client(config);
for (const [partSize, queueSize] of [[streamDefaults.partSize, streamDefaults.queueSize], [8 * 1024 * 1024, 4]] as const) {
  await time(`upload part ${partSize / 1048576} MiB x${queueSize}`, size, async () => {
    const body = new PassThrough();
    const up = new Upload({ client: s3, params: { Bucket: config.objectStore.bucket, Key: 'bench/profile', Body: body }, partSize, queueSize });
    await Promise.all([pipeline(chunks(), body), up.done()]);
  });
}
s3.destroy();
