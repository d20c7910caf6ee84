// Clusters of a test's own. Each is one of the lab's clusters under a name no other test uses: the same
// real etcd, API server and Velero, but its snapshots live under `etcd/<name>/`, a prefix only that test
// lists, verifies, prunes and deletes. Retention, and "the newest snapshot" when none is named, then see
// exactly what the test made: nothing another test (or the lab's schedule) left or is uploading.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectsCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { parse, stringify } from 'yaml';
import { labConfigFile } from '../../lab/topology.js';
import type { ClusterConfig, LifeboatConfig, RetentionConfig } from '../../worker/config.js';
import { snapshotPrefix } from '../../model/snapshot-layout.js';

/** A cluster name no other test uses, e.g. `t-retention-3fa9c1`. */
export const testClusterName = (tag: string) => `t-${tag}-${randomBytes(3).toString('hex')}`;

export interface TestClusterOptions {
  /** Retention policy of the test cluster. Default: the lab cluster's. */
  retention?: RetentionConfig;
  /** Restore-verification objectives of the test cluster, in seconds. Default: the lab cluster's. */
  objectives?: { rto: number; rpo: number };
}

/** `config` with `name` added: lab cluster `of` under another name (for startTestWorker's adjust). */
export function withTestCluster(config: LifeboatConfig, name: string, of: string, options: TestClusterOptions = {}): LifeboatConfig {
  const base = config.clusters.find((c) => c.name === of);
  if (!base) throw new Error(`the lab has no cluster '${of}'`);
  const cluster: ClusterConfig = {
    ...base,
    name,
    etcdSnapshots: { ...base.etcdSnapshots, schedule: undefined, retention: options.retention ?? base.etcdSnapshots.retention },
    restoreVerification: { ...base.restoreVerification, objectives: options.objectives ?? base.restoreVerification.objectives },
  };
  return { ...config, clusters: [...config.clusters, cluster] };
}

/** `config` with each of `names` added as lab cluster `of`. */
export const withTestClusters = (config: LifeboatConfig, names: string[], of: string, options: TestClusterOptions = {}): LifeboatConfig =>
  names.reduce((withOthers, name) => withTestCluster(withOthers, name, of, options), config);

/**
 * The lab's configuration file with test clusters `names` (each lab cluster `of` renamed, without its
 * schedule) added, written into `dir`: what the CLI reads through LIFEBOAT_CONFIG. Returns its path.
 * `retention` is written as the file states it (counts and maxAgeDays). Default: the lab cluster's.
 */
export function writeConfigWithTestCluster(dir: string, names: string[], of: string, retention?: RetentionConfig): string {
  const document = parse(readFileSync(labConfigFile, 'utf8')) as { clusters: { name: string; etcdSnapshots?: Record<string, unknown> }[] };
  const base = document.clusters.find((c) => c.name === of);
  if (!base) throw new Error(`${labConfigFile} has no cluster '${of}'`);
  // No schedule: `schedule apply` with this file must never create one for a test cluster.
  const etcdSnapshots: Record<string, unknown> = { ...base.etcdSnapshots, ...(retention ? { retention } : {}) };
  delete etcdSnapshots.schedule;
  for (const name of names) document.clusters.push({ ...base, name, etcdSnapshots });
  const file = join(dir, `lifeboat-${names.join('-')}.yaml`);
  writeFileSync(file, stringify(document));
  return file;
}

/** Every key under the test cluster's snapshot prefix, sorted. */
export async function snapshotKeysOf(s3: S3Client, bucket: string, cluster: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: snapshotPrefix(cluster) })) {
    for (const o of page.Contents ?? []) keys.push(o.Key!);
  }
  return keys.sort();
}

/** Removes what a test cluster's runs stored (its prefix only); throws if the store refuses any of it. */
export async function deleteSnapshotsOf(s3: S3Client, bucket: string, cluster: string): Promise<void> {
  const keys = await snapshotKeysOf(s3, bucket, cluster);
  for (let i = 0; i < keys.length; i += 1000) {
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }),
    );
    if (out.Errors?.length)
      throw new Error(`cleaning up ${snapshotPrefix(cluster)}: ${out.Errors.map((e) => `${e.Key}: ${e.Code}`).join(', ')}`);
  }
}
