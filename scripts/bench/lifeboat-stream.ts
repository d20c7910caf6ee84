// Variant L: Lifeboat's pipeline (the code the streamEtcdSnapshot activity runs), in a process of its own.
import { clusterByName, loadConfig } from '../../worker/config.js';
import { createS3Client } from '../../worker/s3.js';
import { loadKeyRing } from '../../worker/keys.js';
import { withEtcdClient } from '../../activities/etcd-client.js';
import { streamSnapshotToStore } from '../../activities/snapshot-stream.js';

const [clusterName, key] = process.argv.slice(2);
const config = loadConfig();
const keys = loadKeyRing(config.encryption!);
const s3 = createS3Client(config);
const result = await withEtcdClient(clusterByName(config, clusterName!), (etcd) => streamSnapshotToStore({
  etcd, s3, bucket: config.objectStore.bucket, objectKey: key!, key: keys.lookup(keys.currentKeyId)!, keyId: keys.currentKeyId,
}));
s3.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
