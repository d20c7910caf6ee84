// What the S3 throttling fault suites (test/faults/s3Degraded.test.ts, s3SlowDown.test.ts) share: a test
// worker on a MinIO of the suite's own (private-minio.ts), runs of the two runbooks that use the store,
// the store's answer to a request of the test's own, and MinIO's own count of the requests it refused.
import type { WorkflowHandle } from '@temporalio/client';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { restoreVerification } from '../../workflows/restoreVerification.js';
import { startTestWorker, type TestWorker } from './lab.js';
import type { PrivateMinio } from './private-minio.js';

/** A worker with the lab's configuration, but this store and bucket (no object lock: the lab's has none) and a scratch dir of its own. */
export const startWorkerOnStore = (minio: PrivateMinio, bucket: string, scratchDir: string): Promise<TestWorker> =>
  startTestWorker((config) => ({
    ...config,
    objectStore: { ...config.objectStore, endpoint: minio.endpoint, bucket },
    verification: { ...config.verification, scratchDir },
  }));

/** The store's answer to one request of the test's own: HTTP status and S3 error code (`OK` when it succeeded). */
export async function answerTo(send: () => Promise<unknown>): Promise<{ status: number; code: string }> {
  return send().then(
    () => ({ status: 200, code: 'OK' }),
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => ({ status: e.$metadata?.httpStatusCode ?? 0, code: e.name }),
  );
}

/**
 * MinIO's count of its `statusClass` answers, by S3 API (MinIO's names: putobjectpart, getobject, ...):
 * 4xx from the node's metrics, 5xx from the cluster's (PrivateMinio.metrics says which counts what).
 */
export async function errorsByApi(minio: PrivateMinio, statusClass: '4xx' | '5xx'): Promise<Map<string, number>> {
  const byApi = new Map<string, number>();
  const series = new RegExp(`^minio_s3_requests_${statusClass}_errors_total\\{api="(\\w+)"`);
  for (const [name, value] of await minio.metrics(statusClass === '5xx' ? 'cluster' : 'node')) {
    const m = series.exec(name);
    if (m) byApi.set(m[1]!, (byApi.get(m[1]!) ?? 0) + value);
  }
  return byApi;
}

/** The APIs whose count grew from `before` to `after`, by how much. */
export const countsSince = (before: Map<string, number>, after: Map<string, number>): Record<string, number> =>
  Object.fromEntries([...after].map(([api, n]) => [api, n - (before.get(api) ?? 0)] as const).filter(([, n]) => n > 0));

export interface StoreRuns {
  /** Starts etcdSnapshot of the primary (no retention), id `etcd-snapshot/primary/<prefix>-<name>-<id>`. */
  startSnapshot: (name: string) => Promise<WorkflowHandle<typeof etcdSnapshot>>;
  /**
   * Starts restoreVerification of `snapshotId`, or without one of the newest snapshot, as scheduled
   * verification does (it lists the manifests); id `verify-etcd/primary/<prefix>-<name>-<id>`.
   */
  startVerification: (name: string, snapshotId?: string) => Promise<WorkflowHandle<typeof restoreVerification>>;
}

/**
 * Runs on a suite's worker, read when a run starts (a suite starts it in beforeAll); `prefix` and `id`
 * name the suite's runs so they never meet another suite's.
 */
export function storeRuns(worker: () => TestWorker, prefix: string, id: string): StoreRuns {
  return {
    startSnapshot: (name) =>
      worker().client.workflow.start<typeof etcdSnapshot>('etcdSnapshot', {
        taskQueue: worker().config.temporal.taskQueue,
        workflowId: `etcd-snapshot/primary/${prefix}-${name}-${id}`,
        args: [{ cluster: 'primary', skipRetention: true }],
        workflowExecutionTimeout: '15 minutes',
      }),
    startVerification: (name, snapshotId) =>
      worker().client.workflow.start<typeof restoreVerification>('restoreVerification', {
        taskQueue: worker().config.temporal.taskQueue,
        workflowId: `verify-etcd/primary/${prefix}-${name}-${id}`,
        args: [{ kind: 'etcd', cluster: 'primary', ...(snapshotId ? { snapshotId } : {}) }],
        workflowExecutionTimeout: '15 minutes',
      }),
  };
}
