// Real refusals from the lab's MinIO, for tests of how Lifeboat handles them. MinIO's STS AssumeRole
// gives temporary credentials of the lab's user narrowed by a session policy; MinIO checks the policy
// for each key of a DeleteObjects request and answers a denied key with a per-object AccessDenied in
// the response's Errors, while the other keys are deleted (cmd/bucket-handlers.go,
// DeleteMultipleObjectsHandler). No mock: the store itself refuses.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { objectStore } from '../../lab/topology.js';
import type { LifeboatConfig } from '../../worker/config.js';

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** node:crypto's sha256 and HMAC-sha256 in the shape the SigV4 signer takes. */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: SourceData) {
    this.hash.update(bytes(data));
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset() {
    this.hash = this.fresh();
  }
}

/**
 * An S3 client of the lab's store whose credentials may do everything the lab's user may, except
 * s3:DeleteObject on `keys` (which MinIO then refuses per object). Valid for 15 minutes.
 */
export async function s3ClientDenyingDelete(config: LifeboatConfig, keys: string[]): Promise<S3Client> {
  const { endpoint, region, bucket, forcePathStyle } = config.objectStore;
  const url = new URL(endpoint!);
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::*'] },
      { Effect: 'Deny', Action: ['s3:DeleteObject'], Resource: keys.map((k) => `arn:aws:s3:::${bucket}/${k}`) },
    ],
  };
  const body = new URLSearchParams({
    Action: 'AssumeRole',
    Version: '2011-06-15',
    DurationSeconds: '900',
    Policy: JSON.stringify(policy),
  }).toString();
  const signer = new SignatureV4({
    service: 'sts',
    region,
    sha256: NodeSha256,
    credentials: { accessKeyId: objectStore.accessKeyId, secretAccessKey: objectStore.secretAccessKey },
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    query: {},
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const response = await fetch(new URL('/', url), { method: 'POST', headers: signed.headers, body });
  const xml = await response.text();
  const field = (name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];
  const [accessKeyId, secretAccessKey, sessionToken] = [field('AccessKeyId'), field('SecretAccessKey'), field('SessionToken')];
  if (!response.ok || !accessKeyId || !secretAccessKey || !sessionToken)
    throw new Error(`MinIO STS AssumeRole: HTTP ${response.status}: ${xml}`);
  return new S3Client({ endpoint, region, forcePathStyle, maxAttempts: 1, credentials: { accessKeyId, secretAccessKey, sessionToken } });
}

/**
 * Empties `bucket` (every object version and delete marker, and any incomplete multipart upload) and
 * deletes it. `bypassGovernance` removes versions under GOVERNANCE retention, as a test's own locks are.
 */
export async function deleteBucket(s3: S3Client, bucket: string, { bypassGovernance = false } = {}): Promise<void> {
  // Each round removes what the first page lists, so the next round starts from the beginning again.
  for (let round = 0; ; round++) {
    if (round === 1000) throw new Error(`emptying ${bucket}: still not empty after 1000 rounds`);
    const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
    for (const u of uploads) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
    if (!objects.length && !uploads.length) break;
    if (!objects.length) continue;
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, BypassGovernanceRetention: bypassGovernance || undefined, Delete: { Objects: objects } }),
    );
    if (out.Errors?.length) throw new Error(`emptying ${bucket}: ${out.Errors.map((e) => `${e.Key}: ${e.Code}`).join(', ')}`);
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
