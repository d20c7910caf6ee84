// What an etcd snapshot run left in the object store, for tests that check nothing is left behind.
import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import { maxStreamAttempts, snapshotIdFor, snapshotObjectKey } from '../../model/snapshot-layout.js';

/** The snapshot a run of etcdSnapshot stores (named from its start time and run ID). */
export async function snapshotIdOf(handle: WorkflowHandle): Promise<string> {
  const { startTime, runId } = await handle.describe();
  return snapshotIdFor(startTime, runId);
}

/** The objects under a snapshot's prefix, by name (the object and its manifest once it completed). */
export async function snapshotObjects(s3: S3Client, bucket: string, cluster: string, snapshotId: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `etcd/${cluster}/${snapshotId}/` }));
  return (listed.Contents ?? []).map((o) => o.Key!.split('/').pop()!).sort();
}

/** Incomplete multipart uploads of one attempt's object key of a snapshot (MinIO lists them by exact key only). */
export async function attemptUploads(s3: S3Client, bucket: string, cluster: string, snapshotId: string, attempt: number): Promise<number> {
  const Prefix = snapshotObjectKey(cluster, snapshotId, attempt);
  return (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix }))).Uploads?.length ?? 0;
}

/** Incomplete multipart uploads of every attempt's object key of a snapshot. */
export async function incompleteUploads(s3: S3Client, bucket: string, cluster: string, snapshotId: string): Promise<number> {
  let count = 0;
  for (let attempt = 1; attempt <= maxStreamAttempts; attempt++) count += await attemptUploads(s3, bucket, cluster, snapshotId, attempt);
  return count;
}
