// Variant L: Lifeboat's pipeline (the code the streamEtcdSnapshot activity runs), in a process of its own.
import { clusterByName, loadConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';
import { loadKeyRing } from '../../worker/keys.js';
import { withEtcdClient } from '../../activities/etcd/client.js';
import { streamSnapshotToStore } from '../../activities/etcd/snapshot-stream.js';

const [clusterName, key] = process.argv.slice(2);
const config = loadConfig();
const keys = loadKeyRing(config.encryption!);
const s3 = createS3Client(config);
// The worker runs this pipeline with its modules long loaded: time it from here (Node's start-up and
// imports take about 0.35 s), and report the resident memory at this point to tell them apart.
const rssBeforeMB = process.memoryUsage.rss() / 1024 / 1024;
const startedAt = performance.now();
const result = await withEtcdClient(clusterByName(config, clusterName!), undefined, (etcd) =>
  streamSnapshotToStore({
    etcd,
    s3,
    bucket: config.objectStore.bucket,
    objectKey: key!,
    key: keys.lookup(keys.currentKeyId)!,
    keyId: keys.currentKeyId,
    // A benchmark object, not a snapshot anything restores: bound to its own key's name.
    binding: { cluster: clusterName!, snapshotId: key!.replace(/\.lbenc$/, '') },
    // For tuning experiments only; the benchmark measures the defaults the activity uses.
    partSize: process.env.BENCH_PART_MIB ? Number(process.env.BENCH_PART_MIB) * 1024 * 1024 : undefined,
    queueSize: process.env.BENCH_QUEUE ? Number(process.env.BENCH_QUEUE) : undefined,
  }),
);
const pipelineSeconds = (performance.now() - startedAt) / 1000;
s3.destroy();
process.stdout.write(`${JSON.stringify({ ...result, pipelineSeconds, rssBeforeMB })}\n`);
