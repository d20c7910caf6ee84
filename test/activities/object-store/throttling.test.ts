// Which object-store answers are throttling, and the failure they become (pure; the store's real answers
// are tested in test/faults/s3SlowDown.test.ts). The errors are the SDK's own exception class, as its
// deserializer builds them from S3's and MinIO's answers.
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/activity';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { isStoreThrottling, objectStoreThrottledFailure } from '../../../activities/object-store/throttling.js';
import { failureTypes } from '../../../model/failures.js';

const answer = (name: string, httpStatusCode: number, message: string) =>
  new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    message,
    $metadata: { httpStatusCode, attempts: 3, totalRetryDelay: 2_400 },
  });
const store = { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'backups' };

describe('object-store throttling', () => {
  it("S3's 503 SlowDown, MinIO's 429 TooManyRequests and 503 SlowDownWrite, and a bodiless 429 are throttling; 403 and 404 are not", () => {
    expect(isStoreThrottling(answer('SlowDown', 503, 'Please reduce your request rate.'))).toBe(true);
    expect(isStoreThrottling(answer('TooManyRequests', 429, 'Please reduce your request rate'))).toBe(true);
    expect(isStoreThrottling(answer('SlowDownWrite', 503, 'Resource requested is unwritable, please reduce your request rate'))).toBe(true);
    expect(isStoreThrottling(answer('Unknown', 429, 'UnknownError'))).toBe(true);
    expect(isStoreThrottling(answer('AccessDenied', 403, 'Access Denied'))).toBe(false);
    expect(isStoreThrottling(answer('NoSuchKey', 404, 'The specified key does not exist.'))).toBe(false);
    // Not an answer of the store: a Kubernetes 429 or a plain error.
    expect(isStoreThrottling(Object.assign(new Error('Too Many Requests'), { code: 429 }))).toBe(false);
  });

  it('becomes a retryable ObjectStoreThrottled naming the store, its answer and the attempts; anything else is left as it is', () => {
    const failure = objectStoreThrottledFailure(answer('SlowDown', 503, 'Please reduce your request rate.'), store) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(failureTypes.ObjectStoreThrottled);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe(
      "object store https://s3.eu-west-1.amazonaws.com (bucket 'backups') is throttling requests: it answered SlowDown (HTTP 503): Please reduce your request rate., 3 attempts over 2.4 s of backoff",
    );
    const head = objectStoreThrottledFailure(answer('Unknown', 429, 'UnknownError'), store) as ApplicationFailure;
    expect(head.message).toBe(
      "object store https://s3.eu-west-1.amazonaws.com (bucket 'backups') is throttling requests: it answered (HTTP 429), 3 attempts over 2.4 s of backoff",
    );
    const denied = answer('AccessDenied', 403, 'Access Denied');
    expect(objectStoreThrottledFailure(denied, store)).toBe(denied);
    const typed = ApplicationFailure.nonRetryable('refused', failureTypes.ObjectStoreAccessDenied);
    expect(objectStoreThrottledFailure(typed, store)).toBe(typed);
  });
});
