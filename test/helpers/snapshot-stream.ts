// A snapshot run's stream (its streamEtcdSnapshot activity) as the Temporal server holds it, for the fault
// suites that break something while the stream is in flight.
import type { S3Client } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { StreamHeartbeat } from '../../activities/etcd/snapshot.js';
import { decodePayload } from '../../worker/temporal.js';
import { attemptUploads, snapshotIdOf } from './snapshot-store.js';
import { until } from './waits.js';

/** The stream's latest heartbeat as the server holds it, with the attempt it belongs to and the last failure. */
export async function streamState(handle: WorkflowHandle) {
  const { raw } = await handle.describe();
  const pending = raw.pendingActivities?.find((a) => a.activityType?.name === 'streamEtcdSnapshot');
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  // Failure messages are encrypted like payloads (worker/failure-converter.ts): decoded with the client's converter.
  const failure = await decodeOptionalFailureToOptionalError(handle.client.options.loadedDataConverter, pending?.lastFailure);
  return {
    attempt: pending?.attempt ?? 0,
    beat: payload ? await decodePayload<StreamHeartbeat>(handle.client, payload) : undefined,
    lastFailure: failure,
  };
}

/** Where a run's snapshot is stored: the store and the cluster it is of. */
export interface SnapshotStore {
  s3: S3Client;
  bucket: string;
  cluster: string;
}

export interface StreamingWait {
  /** The stream's attempt to wait for. Default 1. */
  attempt?: number;
  /**
   * What the heartbeat must show besides bytes read and bytes to come, e.g. a part acknowledged, or (a
   * retry's) another member than the failed attempt's: heartbeat details outlive a failed attempt.
   * Default: nothing more.
   */
  accept?: (beat: StreamHeartbeat) => boolean;
}

/**
 * Until attempt `attempt` of a run's stream is in flight: a heartbeat of it shows etcd's bytes coming with
 * more to come (and what `accept` asks), and, for the first attempt, the store holds the attempt's
 * multipart upload, its first part on the way. At most 90 s for the heartbeat, 60 s for the upload.
 * Returns the heartbeat (it names the member streamed).
 */
export async function untilStreaming(
  handle: WorkflowHandle,
  store: SnapshotStore,
  { attempt = 1, accept = () => true }: StreamingWait = {},
): Promise<StreamHeartbeat> {
  const beat = await until(`attempt ${attempt} of the stream heartbeating`, 90_000, async () => {
    const { attempt: now, beat: b } = await streamState(handle);
    return now === attempt && b && b.bytesRead > 0 && b.bytesRemaining > 0 && accept(b) ? b : undefined;
  });
  if (attempt === 1) {
    const snapshotId = await snapshotIdOf(handle);
    await until(`attempt ${attempt}'s multipart upload`, 60_000, async () =>
      (await attemptUploads(store.s3, store.bucket, store.cluster, snapshotId, attempt)) > 0 ? true : undefined,
    );
  }
  return beat;
}
