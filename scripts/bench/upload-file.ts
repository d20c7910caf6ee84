// Baseline B's second half: upload a local snapshot file to the object store with lib-storage.
import { createReadStream } from 'node:fs';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client } from '../../worker/s3.js';
import { loadConfig } from '../../worker/config.js';
import { streamDefaults } from '../../activities/etcd/snapshot-stream.js';

const [file, key] = process.argv.slice(2);
const config = loadConfig();
const s3 = createS3Client(config);
// Timed in the process, after start-up and imports, as variant L is.
const startedAt = performance.now();
await new Upload({
  client: s3,
  params: { Bucket: config.objectStore.bucket, Key: key!, Body: createReadStream(file!) },
  partSize: streamDefaults.partSize,
  queueSize: streamDefaults.queueSize,
}).done();
const seconds = (performance.now() - startedAt) / 1000;
s3.destroy();
process.stdout.write(`${JSON.stringify({ seconds })}\n`);
