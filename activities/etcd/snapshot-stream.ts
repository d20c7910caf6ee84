// The snapshot pipeline: etcd's Maintenance/Snapshot stream -> trailer check and plaintext sha256 ->
// client-side encryption -> stored sha256 -> S3 multipart upload. Nothing touches local disk; memory is
// bounded by the upload's part size x queue size plus a few encryption chunks. Independent of Temporal
// so the benchmark can run exactly this code.
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Etcd3 } from 'etcd3';
import { createEncryptStream, type SnapshotBinding } from '../object-store/envelope.js';
import type { ObjectLockParams } from '../object-store/object-lock.js';

/** Bytes in etcd's sha256 trailer. */
const trailerBytes = 32;

export class SnapshotChecksumError extends Error {
  override readonly name = 'SnapshotChecksumError';
}

interface SnapshotMessage {
  blob: Buffer;
  remaining_bytes: string;
}

/**
 * Passes the snapshot bytes through (trailer included: etcdutl checks it on restore) while hashing
 * them, and on end checks etcd's trailer: the last 32 bytes are the sha256 of everything before.
 */
class EtcdSnapshotVerifier extends Transform {
  // One pass: everything but the held-back tail goes into the hash; at the end a copy of it gives
  // etcd's digest (all but the trailer), and the trailer added to the original gives the plaintext's.
  private readonly hash: Hash = createHash('sha256');
  private tail = Buffer.alloc(0);
  bytes = 0;
  /** Bytes etcd said were still to come after the latest message, for progress. */
  remaining = 0;
  plaintextSha256 = '';

  constructor() {
    super({ writableObjectMode: true });
  }

  override _transform(message: SnapshotMessage, _enc: BufferEncoding, done: TransformCallback): void {
    const blob = message.blob;
    this.bytes += blob.length;
    this.remaining = Number(message.remaining_bytes);
    if (blob.length >= trailerBytes) {
      this.hash.update(this.tail);
      this.hash.update(blob.subarray(0, blob.length - trailerBytes));
      this.tail = Buffer.from(blob.subarray(blob.length - trailerBytes));
    } else {
      const combined = Buffer.concat([this.tail, blob]);
      this.hash.update(combined.subarray(0, combined.length - Math.min(trailerBytes, combined.length)));
      this.tail = combined.subarray(Math.max(0, combined.length - trailerBytes));
    }
    done(null, blob);
  }

  override _flush(done: TransformCallback): void {
    if (this.tail.length !== trailerBytes) {
      done(new SnapshotChecksumError(`snapshot stream ended after ${this.bytes} bytes, too short to hold etcd's sha256 trailer`));
      return;
    }
    const expected = this.hash.copy().digest();
    this.plaintextSha256 = this.hash.update(this.tail).digest('hex');
    if (!expected.equals(this.tail)) {
      done(
        new SnapshotChecksumError(
          `etcd's sha256 trailer ${this.tail.toString('hex')} does not match the ${this.bytes - trailerBytes} bytes received (${expected.toString('hex')})`,
        ),
      );
      return;
    }
    done();
  }
}

/** Passes bytes through, counting and hashing them (sha256). */
export class Sha256Tap extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  /** Hex digest, set when the stream ends. */
  digest = '';
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    done();
  }
}

export interface StreamProgress {
  /** Snapshot bytes read from etcd. */
  bytesRead: number;
  /** Encrypted bytes acknowledged by the object store. */
  bytesUploaded: number;
  /** Snapshot bytes etcd still has to send. */
  bytesRemaining: number;
}

export interface StreamSnapshotOptions {
  etcd: Etcd3;
  s3: S3Client;
  bucket: string;
  objectKey: string;
  key: Buffer;
  keyId: string;
  /** The cluster and snapshot id the envelope binds (its version 2 header). Required. */
  binding: SnapshotBinding;
  /** S3 Object Lock retention for the object (see objectLockParams). Default: none. */
  objectLock?: ObjectLockParams;
  /** Multipart part size. Default: 8 MiB. Memory in flight is about partSize x (queueSize + 1). */
  partSize?: number;
  /** Parts uploaded concurrently. Default: 3. */
  queueSize?: number;
  /** Encryption chunk size. Default: 1 MiB (fewer cipher set-ups than the envelope's 64 KiB default; memory stays ~2 chunks). */
  chunkSize?: number;
  onProgress?: (progress: StreamProgress) => void;
  /** Aborting it aborts the multipart upload and the etcd stream. */
  signal?: AbortSignal;
}

export interface StreamSnapshotResult {
  plaintextBytes: number;
  plaintextSha256: string;
  storedBytes: number;
  storedSha256: string;
}

/** How often progress is reported while parts are in flight, besides at each part's completion. */
const progressIntervalMs = 5_000;

export const streamDefaults = { partSize: 8 * 1024 * 1024, queueSize: 3, chunkSize: 1024 * 1024 } as const;

export async function streamSnapshotToStore(options: StreamSnapshotOptions): Promise<StreamSnapshotResult> {
  const partSize = options.partSize ?? streamDefaults.partSize;
  // The response stream is a gRPC call: destroying the stream does not end it, and an unfinished call
  // keeps etcd's bbolt read transaction open (blocking defragmentation, and writes that grow the
  // database). Every way out but success cancels it.
  const snapshot = (await options.etcd.maintenance.snapshot()) as unknown as Readable & { cancel(): void };
  const verifier = new EtcdSnapshotVerifier();
  const encrypt = createEncryptStream({
    key: options.key,
    keyId: options.keyId,
    binding: options.binding,
    chunkSize: options.chunkSize ?? streamDefaults.chunkSize,
  });
  const stored = new Sha256Tap();
  const body = new PassThrough();
  const upload = new Upload({
    client: options.s3,
    params: {
      Bucket: options.bucket,
      Key: options.objectKey,
      Body: body,
      ContentType: 'application/vnd.lifeboat.snapshot',
      ...options.objectLock,
    },
    partSize,
    queueSize: options.queueSize ?? streamDefaults.queueSize,
    leavePartsOnError: false,
  });
  let bytesUploaded = 0;
  const report = () => options.onProgress?.({ bytesRead: verifier.bytes, bytesUploaded, bytesRemaining: verifier.remaining });
  upload.on('httpUploadProgress', (p) => {
    bytesUploaded = p.loaded ?? bytesUploaded;
    report();
  });
  // Parts report progress only when they complete: a part on a slow link can take longer than the
  // heartbeat timeout. Report on a timer too; a link that stalls is still caught by the S3 client's
  // 60 s socket timeout (worker/s3.ts), not by the heartbeat.
  const ticker = setInterval(report, progressIntervalMs);
  const abort = () => {
    void upload.abort();
    snapshot.cancel();
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  const streaming = pipeline(snapshot, verifier, encrypt, stored, body, { signal: options.signal });
  try {
    // A failure on either side stops the other: a broken stream must never complete the upload.
    await Promise.all([
      streaming.catch(async (err: unknown) => {
        await upload.abort();
        throw err;
      }),
      upload.done().catch((err: unknown) => {
        body.destroy(err as Error);
        throw err;
      }),
    ]);
  } catch (err) {
    snapshot.cancel();
    throw err;
  } finally {
    clearInterval(ticker);
    options.signal?.removeEventListener('abort', abort);
  }
  report();
  return {
    plaintextBytes: verifier.bytes,
    plaintextSha256: verifier.plaintextSha256,
    storedBytes: stored.bytes,
    storedSha256: stored.digest,
  };
}
