// Integration (lab: Temporal, both clusters' API servers, etcds and Velero servers, MinIO):
// the clusterHealth workflow reaches every component.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { clusterHealth } from '../../workflows/clusterHealth.js';
import type { EtcdHealth } from '../../model/health.js';
import { startTestWorker, type TestWorker } from '../helpers/lab.js';
import { decodeHistoryJSON } from '../../worker/temporal.js';

let w: TestWorker;
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.stop();
});

describe('clusterHealth workflow', () => {
  it('reports every component of both clusters healthy, with etcd member status', async () => {
    const workflowId = `cluster-health/test/${Date.now()}`;
    const report = await w.client.workflow.execute<typeof clusterHealth>('clusterHealth', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId,
      args: [{ clusters: ['primary', 'standby'] }],
    });
    expect(report.components.map((c) => c.component).sort()).toEqual([
      'etcd/primary',
      'etcd/standby',
      'nodes/primary',
      'nodes/standby',
      'object-store',
      'velero/primary',
      'velero/standby',
    ]);
    expect(report.components.filter((c) => !c.healthy)).toEqual([]);
    expect(report.healthy).toBe(true);
    const nodes = report.components.find((c) => c.component === 'nodes/primary')!;
    expect(nodes.detail).toBe('3/3 Nodes Ready');
    expect(nodes.address).toBe('https://127.0.0.1:16443');
    const etcd = report.components.find((c) => c.component === 'etcd/standby') as EtcdHealth;
    expect(etcd.members).toHaveLength(1);
    expect(etcd.members[0]).toMatchObject({ version: '3.5.21', isLeader: true, endpoint: 'https://127.0.0.1:22379' });
    expect(etcd.members[0]!.revision).toBeGreaterThan(1);
    expect(etcd.members[0]!.memberId).toMatch(/^\d{10,}$/);
    expect(report.components.find((c) => c.component === 'velero/primary')!.detail).toMatch(
      /^BackupStorageLocation Available, validated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );

    if (process.env.LIFEBOAT_RECORD_HISTORIES === '1') {
      const history = await w.client.workflow.getHandle(workflowId).fetchHistory();
      await writeFile(
        fileURLToPath(new URL('../../../test/histories/clusterHealth.json', import.meta.url)),
        await decodeHistoryJSON(w.client, historyToJSON(history)),
      );
    }
  });

  it('fails fast, without retrying, for a cluster the worker does not know', async () => {
    const run = w.client.workflow.execute('clusterHealth', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `cluster-health/test-unknown/${Date.now()}`,
      args: [{ clusters: ['nowhere'] }],
      workflowExecutionTimeout: '1 minute',
    });
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as { cause?: { type?: string; message?: string } };
    expect(cause.cause?.type).toBe('UnknownCluster');
    expect(cause.cause?.message).toBe("unknown cluster 'nowhere'; this worker knows primary, standby");
  });
});
