// Every run's lifecycle (workflows/run-lifecycle.ts) on Temporal's time-skipping test server (no lab
// component: the real workflows from the built bundle, stubbed activities): the search attributes that
// make a run findable (runbook, cluster, outcome), the notifications it sends when it starts, fails or
// completes, and that a notification that cannot be delivered never fails the run.
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/common';
import type { pruneEtcdSnapshots } from '../../workflows/etcdSnapshot.js';
import { clusterAttribute, outcomeAttribute, runbookAttribute, awaitingApprovalSinceAttribute } from '../../model/search-attributes.js';
import type { RunNotification } from '../../model/notifications.js';
import { failureTypes } from '../../model/failures.js';
import { fetchHistory } from '../helpers/histories.js';
import { useTimeSkippingEnvironment, recorded, withStubbedWorker } from '../helpers/time-skipping.js';

const env = useTimeSkippingEnvironment();

const retention = { cluster: 'primary', kept: [], deleted: [], dryRun: false };

/** Runs pruneEtcdSnapshots of `primary` with `applyEtcdRetention` and `deliverNotification` as given. */
async function prune(
  id: string,
  applyEtcdRetention: () => Promise<unknown>,
  deliverNotification: (n: RunNotification) => Promise<unknown> = () => Promise.resolve({ delivered: ['team'], undelivered: [] }),
) {
  const { activities, calls } = recorded({ applyEtcdRetention, deliverNotification });
  const outcome = await withStubbedWorker(env, activities, async (taskQueue) => {
    const handle = await env.client.workflow.start<typeof pruneEtcdSnapshots>('pruneEtcdSnapshots', {
      taskQueue,
      workflowId: `etcd-prune/primary/${id}`,
      args: [{ cluster: 'primary', dryRun: false }],
    });
    const result = await handle.result().then(
      () => 'completed',
      (e: unknown) => `failed: ${(e as Error).message}`,
    );
    // The replay fixtures of a run with its lifecycle (LIFEBOAT_RECORD_HISTORIES=1 records them).
    await fetchHistory(env.client, handle.workflowId, `pruneEtcdSnapshots-lifecycle-${id}`);
    return { result, attributes: (await handle.describe()).typedSearchAttributes };
  });
  const notifications = calls.filter((c) => c.activity === 'deliverNotification').map((c) => c.input as unknown as RunNotification);
  return { ...outcome, calls, notifications };
}

describe('run lifecycle (time-skipping test server, stubbed activities)', () => {
  it('a run that completes is searchable by runbook, cluster and outcome, and notifies its start and its completion', async () => {
    const run = await prune('ok', () => Promise.resolve(retention));
    expect(run.result).toBe('completed');
    expect([run.attributes.get(runbookAttribute), run.attributes.get(clusterAttribute), run.attributes.get(outcomeAttribute)]).toEqual([
      'pruneEtcdSnapshots',
      'primary',
      'succeeded',
    ]);
    expect(run.attributes.get(awaitingApprovalSinceAttribute)).toBeUndefined();
    expect(run.notifications.map((n) => n.event).sort()).toEqual(['completed', 'started']);
    const completed = run.notifications.find((n) => n.event === 'completed')!;
    expect(completed).toMatchObject({
      runbook: 'pruneEtcdSnapshots',
      cluster: 'primary',
      workflowId: 'etcd-prune/primary/ok',
      outcome: 'succeeded',
      summary: 'pruneEtcdSnapshots of primary completed',
    });
    expect(completed.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(completed.at)).not.toBeNaN();
  });

  it('a run that fails is recorded as failed and notifies the root cause, type and message', async () => {
    const run = await prune('fails', () =>
      Promise.reject(ApplicationFailure.nonRetryable('bucket lifeboat does not exist', failureTypes.UnknownCluster)),
    );
    expect(run.result).toMatch(/^failed/);
    expect(run.attributes.get(outcomeAttribute)).toBe('failed');
    const failed = run.notifications.find((n) => n.event === 'failed')!;
    expect(failed).toMatchObject({
      outcome: 'failed',
      rootCause: `[${failureTypes.UnknownCluster}] bucket lifeboat does not exist`,
      summary: `pruneEtcdSnapshots of primary failed: [${failureTypes.UnknownCluster}] bucket lifeboat does not exist`,
    });
    expect(run.notifications.map((n) => n.event).sort()).toEqual(['failed', 'started']);
  });

  it('a notification that cannot be delivered is retried a bounded number of times and never fails the run', async () => {
    const run = await prune(
      'unreachable-receiver',
      () => Promise.resolve(retention),
      () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9')),
    );
    expect(run.result).toBe('completed');
    expect(run.attributes.get(outcomeAttribute)).toBe('succeeded');
    const attempts = (event: string) => run.notifications.filter((n) => n.event === event).length;
    // maximumAttempts 5 per notification (workflows/run-lifecycle.ts), then the run goes on.
    expect([attempts('started'), attempts('completed')]).toEqual([5, 5]);
    expect(run.calls.filter((c) => c.activity === 'applyEtcdRetention')).toHaveLength(1);
  });
});
