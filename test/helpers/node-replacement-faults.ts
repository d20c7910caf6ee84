// The node-replacement runbook run by a worker that reaches the primary's API only through a proxy of
// the suite's own (test/faults/nodeReplacement*.network.test.ts): a pool of two kwok Nodes of its own, a
// Deployment of 6 under a budget allowing one disruption, the busiest Node replaced; and what the
// cluster saw meanwhile (read direct): each Pod evicted or deleted, each Node of the pool deleted.
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import type { ParameterValue } from '../../model/runbook/run.js';
import type { runbook } from '../../workflows/runbook.js';
import { watchEvents, type EventWatch } from './kube-watch.js';
import { adminKubeConfig, type TestWorker } from './lab.js';
import { findRunbookIn } from './runbooks.js';
import { createGuardedDeployment, createTestPool, poolLabel, type TestPool } from './test-nodes.js';
import { afterAll, beforeAll } from '@jest/globals';
import { proxyApiServer, startProxiedWorker, until, type ProxiedApiServer } from './apiserver-proxy.js';

export const kc = adminKubeConfig('primary');
export const core = kc.makeApiClient(CoreV1Api);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const replicas = 6;

const isReady = (x: { status?: { conditions?: { type: string; status: string }[] } }) =>
  x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export interface NodeReplacementUnderFault {
  pool: TestPool;
  victim: string;
  victimUid: string;
  /** The Pods on the victim when the run started. */
  onVictim: string[];
  /** UIDs of Pods evicted or deleted, in the order seen. */
  evicted: string[];
  /** Each deletion of a Node of the pool: [name, uid]. */
  nodesDeleted: [string, string][];
  /** Resolves at the first eviction. */
  firstEviction: Promise<void>;
  handle: WorkflowHandle<typeof runbook>;
  stopWatching(): Promise<void>;
}

/** Creates the pool and its Deployment, starts watching, and starts the run (auto-approved) on `w`. */
export async function startNodeReplacement(
  w: TestWorker,
  prefix: string,
  params: Record<string, ParameterValue>,
): Promise<NodeReplacementUnderFault> {
  const pool = await createTestPool(kc, prefix, 2);
  await createGuardedDeployment(kc, pool, 'web', replicas, 1);
  const pods = await until(`${pool.namespace}/web: ${replicas} Ready Pods`, 60, async () => {
    const items = (await core.listNamespacedPod({ namespace: pool.namespace, labelSelector: 'app=web' })).items.filter(
      (x) => !x.metadata?.deletionTimestamp,
    );
    return items.length === replicas && items.every(isReady) ? items : undefined;
  });
  const count = new Map<string, number>();
  for (const x of pods) count.set(x.spec!.nodeName!, (count.get(x.spec!.nodeName!) ?? 0) + 1);
  const victim = [...count.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const victimUid = (await core.readNode({ name: victim })).metadata!.uid!;
  const onVictim = pods.filter((x) => x.spec!.nodeName === victim).map((x) => x.metadata!.uid!);

  const evicted: string[] = [];
  let evictedOne!: () => void;
  const firstEviction = new Promise<void>((r) => (evictedOne = r));
  const watches: EventWatch[] = [];
  watches.push(
    await watchEvents<V1Pod>(kc, `/api/v1/namespaces/${pool.namespace}/pods`, {}, (phase, x) => {
      const uid = x.metadata!.uid!;
      if ((x.metadata?.deletionTimestamp || phase === 'DELETED') && !evicted.includes(uid)) {
        evicted.push(uid);
        evictedOne();
      }
    }),
  );
  const nodesDeleted: [string, string][] = [];
  watches.push(
    await watchEvents<V1Node>(kc, '/api/v1/nodes', { labelSelector: `${poolLabel}=${pool.id}` }, (phase, n) => {
      if (phase === 'DELETED') nodesDeleted.push([n.metadata!.name!, n.metadata!.uid!]);
    }),
  );
  const handle = await w.client.workflow.start<typeof runbook>('runbook', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `node-replacement/primary/${victim}`,
    args: [
      findRunbookIn(runbooksDir, 'node-replacement', {
        cluster: 'primary',
        node: victim,
        reason: `fault ${prefix}`,
        approver: 'alice',
        ...params,
      }),
    ],
    workflowExecutionTimeout: '10 minutes',
  });
  return {
    pool,
    victim,
    victimUid,
    onVictim,
    evicted,
    nodesDeleted,
    firstEviction,
    handle,
    async stopWatching() {
      await Promise.allSettled(watches.map((x) => x.stop()));
    },
  };
}

/** What a suite of node replacement under a fault works with: its proxy to the primary's API, its worker, and its run. */
export interface ProxiedNodeReplacementSuite {
  api: ProxiedApiServer;
  w: TestWorker;
  run?: NodeReplacementUnderFault;
}

/**
 * Sets up the suite's proxy to the primary's API and a worker through it before the tests; after them,
 * removes the run's pool first (direct: it must go whatever else fails), then the worker and the proxy.
 */
export function useProxiedNodeReplacement(): ProxiedNodeReplacementSuite {
  const suite = {} as ProxiedNodeReplacementSuite;
  beforeAll(async () => {
    suite.api = await proxyApiServer('primary');
    suite.w = await startProxiedWorker('primary', suite.api);
  }, 60_000);
  afterAll(async () => {
    await suite.run?.stopWatching();
    await suite.run?.pool.remove();
    await suite.api?.clear().catch(() => undefined);
    await suite.w?.stop();
    await suite.api?.remove();
  }, 90_000);
  return suite;
}
