// An object store that asks its clients to slow down. S3 answers `503 SlowDown`; MinIO answers
// `429 TooManyRequests` when a request waited in its queue past `api.requests_deadline`
// (cmd/handler-api.go, maxClients), and `503 SlowDownRead`/`SlowDownWrite` when its drives cannot
// keep up. The S3 client retries all of them with backoff (worker/s3.ts); what still fails after its
// last attempt leaves the activity as ObjectStoreThrottled, retryable, so Temporal's retry policy
// (longer waits, a bounded number of attempts) decides when the run gives up.
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';

/** The fields of an S3 service exception this module reads. */
interface S3ServiceError extends Error {
  $metadata: { httpStatusCode?: number; attempts?: number; totalRetryDelay?: number };
}

/** Error codes stores send for throttling (a HEAD's answer has no body, so only its status is known). */
const throttlingCodes = new Set(['SlowDown', 'SlowDownRead', 'SlowDownWrite', 'TooManyRequests', 'Throttling', 'RequestLimitExceeded']);

const isS3ServiceError = (err: unknown): err is S3ServiceError =>
  err instanceof Error && typeof (err as Partial<S3ServiceError>).$metadata === 'object';

/** The object store's answer was a request to slow down: a throttling code, HTTP 429, or HTTP 503. */
export function isStoreThrottling(err: unknown): boolean {
  if (!isS3ServiceError(err)) return false;
  const status = err.$metadata.httpStatusCode;
  return throttlingCodes.has(err.name) || status === 429 || status === 503;
}

/**
 * An activity's error as it should leave the activity: a throttling answer from the object store as a
 * retryable ObjectStoreThrottled that says which store, what it answered and how often it was tried
 * (the root of the failure chain, so that is what a person is shown); anything else unchanged.
 */
export function objectStoreThrottledFailure(err: unknown, store: { endpoint?: string; bucket: string }): unknown {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure || !isStoreThrottling(err)) return err;
  const e = err as S3ServiceError;
  const { httpStatusCode, attempts, totalRetryDelay } = e.$metadata;
  const code = e.name === 'Unknown' || e.name === 'Error' ? '' : `${e.name} `;
  const tries = attempts
    ? `, ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'} over ${((totalRetryDelay ?? 0) / 1000).toFixed(1)} s of backoff`
    : '';
  return ApplicationFailure.create({
    message: `object store ${store.endpoint ?? 'S3'} (bucket '${store.bucket}') is throttling requests: it answered ${code}(HTTP ${httpStatusCode})${e.message && e.message !== 'UnknownError' ? `: ${e.message}` : ''}${tries}`,
    type: failureTypes.ObjectStoreThrottled,
    nonRetryable: false,
  });
}
