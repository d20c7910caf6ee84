// Baseline B's second half: upload a local snapshot file to the object store with lib-storage.
import { createReadStream } from 'node:fs';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client } from '../../worker/s3.js';
import { loadConfig } from '../../worker/config.js';
import { streamDefaults } from '../../activities/snapshot-stream.js';

const [file, key] = process.argv.slice(2);
const config = loadConfig();
const s3 = createS3Client(config);
await new Upload({
  client: s3, params: { Bucket: config.objectStore.bucket, Key: key!, Body: createReadStream(file!) },
  partSize: streamDefaults.partSize, queueSize: streamDefaults.queueSize,
}).done();
s3.destroy();
