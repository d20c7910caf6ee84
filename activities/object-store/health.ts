// Whether Lifeboat's bucket takes a write, gives it back and deletes it.
import { Context } from '@temporalio/activity';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { ComponentHealth } from '../../model/health.js';
import type { ReachabilityWitness } from '../../model/partition.js';
import type { ActivityDeps } from '../deps.js';
import { describeNetworkError, healthCheckDeadlineMs, withDeadline } from '../network-errors.js';

export const createObjectStoreHealthActivities = (deps: Pick<ActivityDeps, 's3' | 'bucket' | 'objectStoreEndpoint'>) => ({
  /** Writes, reads back and deletes an object named after this activity's workflow run. */
  checkObjectStore: () => checkObjectStore(deps),

  /**
   * Whether the object store answers the worker (a witness of the networkPartition runbook): the health
   * check's write, read and delete; reachable when the store answered at all (a refusal is an answer).
   */
  async probeObjectStore(): Promise<ReachabilityWitness> {
    const started = Date.now();
    const h = await checkObjectStore(deps);
    const silent =
      /timed out|no answer within|connection refused|connection reset|host unreachable|host not found|TimeoutError|ECONN|socket hang up/i;
    return {
      component: 'object-store',
      address: h.address,
      state: h.healthy || !silent.test(h.detail) ? 'reachable' : 'unreachable',
      healthy: h.healthy,
      detail: h.detail,
      tookMs: Date.now() - started,
    };
  },
});

async function checkObjectStore(deps: Pick<ActivityDeps, 's3' | 'bucket' | 'objectStoreEndpoint'>): Promise<ComponentHealth> {
  const { bucket, objectStoreEndpoint: endpoint } = deps;
  const run = Context.current().info.workflowExecution;
  const runId = run?.runId ?? Context.current().info.activityId;
  const key = `health/${run?.workflowId ?? 'standalone'}/${runId}`;
  const address = `${endpoint ?? 's3'}/${bucket}`;
  const body = `lifeboat health check ${runId}`;
  try {
    await withDeadline(healthCheckDeadlineMs, deps.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
    const got = await withDeadline(healthCheckDeadlineMs, deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    const read = await got.Body?.transformToString();
    await withDeadline(healthCheckDeadlineMs, deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
    return read === body
      ? { component: 'object-store', address, healthy: true, detail: 'write, read and delete succeeded' }
      : { component: 'object-store', address, healthy: false, detail: 'object read back differs from what was written' };
  } catch (err) {
    const name = (err as Error).name;
    return {
      component: 'object-store',
      address,
      healthy: false,
      detail: name && name !== 'Error' && name !== 'TypeError' ? `${name}: ${(err as Error).message}` : describeNetworkError(err),
    };
  }
}
