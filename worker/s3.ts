// The object-store client, in a module of its own so code that only streams to S3 does not load
// the Kubernetes client.
import { S3Client } from '@aws-sdk/client-s3';
import type { LifeboatConfig } from './config.js';

export function createS3Client(config: LifeboatConfig): S3Client {
  const store = config.objectStore;
  // The SDK's default chain reads the shared-credentials file at call time.
  if (store.credentialsFile) process.env.AWS_SHARED_CREDENTIALS_FILE = store.credentialsFile;
  return new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: store.forcePathStyle,
    maxAttempts: 3,
    // A store that accepts connections but stops answering fails the request (and the activity
    // attempt, which Temporal retries) instead of hanging until the heartbeat timeout.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    // Lifeboat checks integrity itself (sha256 of what is stored, an authentication tag per chunk);
    // the SDK's own CRC32, computed in JavaScript, would cost a second pass over every byte uploaded.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

