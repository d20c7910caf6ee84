// The object-store client, in a module of its own so code that only streams to S3 does not load
// the Kubernetes client.
import { S3Client } from '@aws-sdk/client-s3';
import type { LifeboatConfig } from './config.js';

export function createS3Client(config: LifeboatConfig): S3Client {
  const store = config.objectStore;
  // The SDK's default chain reads the shared-credentials file at call time.
  if (store.credentialsFile) process.env.AWS_SHARED_CREDENTIALS_FILE = store.credentialsFile;
  const client = new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: store.forcePathStyle,
    maxAttempts: 3,
    // A store that accepts connections but stops answering (a black hole, a hung server) fails the
    // request after 60 s without a byte either way, mid-body too (and the activity attempt, which
    // Temporal retries) instead of hanging until the heartbeat timeout; a slow link that still moves
    // bytes is not cut. (`requestTimeout` bounds a whole request, a large part on a slow link included,
    // and without `throwOnRequestTimeout` only logs.)
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 60_000 },
    // Every upload carries a CRC32 (node:zlib's, native) that the store checks before it accepts the
    // bytes, so a part damaged on the way is refused at upload time, not found at restore time.
    requestChecksumCalculation: 'WHEN_SUPPORTED',
    // Downloads are checked by Lifeboat itself: sha256 of what is stored, a GCM tag per chunk.
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  // Multipart parts go with `x-amz-content-sha256: UNSIGNED-PAYLOAD`, as the AWS SDKs for Go and Rust
  // send streamed uploads. Signing a part's payload costs a sha256 pass over it here and another in the
  // store, and adds nothing Lifeboat lacks: the part's CRC32 catches damage on the way, and a snapshot's
  // bytes are authenticated by their GCM tags and the stored sha256 in its manifest. Everything else
  // (headers, part number, upload id) stays signed.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (context.commandName === 'UploadPartCommand' && request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'lifeboatUnsignedPartPayload' },
  );
  return client;
}
