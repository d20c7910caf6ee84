// Network fault tests (lab: toxiproxy, Temporal, both clusters, MinIO, both Velero servers, the
// DNSEndpoint CRD): a worker whose primary kube-apiserver path goes through a Toxiproxy proxy of this
// suite's own, black-holed (connections open, then nothing arrives: what a partition looks like, unlike a
// stopped process's clean "connection refused"). The shared lab paths are untouched, so the suite runs
// beside the others.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import type { clusterHealth } from '../../workflows/clusterHealth.js';
import type { failover, FailoverReport } from '../../workflows/failover.js';
import { addFault, deleteProxy, ensureProxies } from '../../lab/faults.js';
import { labClusters } from '../../lab/topology.js';
import { failureTypes } from '../../model/failures.js';
import { writeSecretFile } from '../../worker/secret-files.js';
import { createTestApp, testRequester, targets, type TestApp } from '../helpers/failover-app.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';

const id = randomUUID().slice(0, 8);
const proxyName = `test-${id}-apiserver-primary`;
const primary = labClusters.find((c) => c.name === 'primary')!;
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-blackhole-'));
let proxied: string;
let app: TestApp;
let worker: TestWorker;

beforeAll(async () => {
  proxied = (await ensureProxies([{ name: proxyName, listen: '127.0.0.1:0', upstream: `127.0.0.1:${primary.apiserverPort}` }]))[0]!.listen;
  app = await createTestApp(labConfig());
  // The primary's kubeconfig with the proxy's address (same credentials; the serving certificate's IP
  // SAN 127.0.0.1 still matches). etcd, the object store and Temporal stay direct.
  const direct = labConfig();
  const kubeconfig = join(dir, 'primary.kubeconfig');
  const doc = parse(readFileSync(direct.clusters.find((c) => c.name === 'primary')!.kubeconfig!, 'utf8')) as {
    clusters: { cluster: { server: string } }[];
  };
  for (const c of doc.clusters) c.cluster.server = `https://${proxied}`;
  await writeSecretFile(kubeconfig, stringify(doc));
  worker = await startTestWorker((config) =>
    app.addTo({ ...config, clusters: config.clusters.map((c) => (c.name === 'primary' ? { ...c, kubeconfig } : c)) }),
  );
  await addFault(proxyName, { kind: 'blackhole', directions: ['upstream', 'downstream'] });
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await deleteProxy(proxyName);
  await app?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Each side's Deployment replicas, read directly (not through the proxy). A read the lab's etcd answers
 * with a transient 500 ("leader changed", when another suite moves the primary's etcd leader) is read
 * again: at most 5 times, 2 s apart.
 */
async function replicasOnBothSides(): Promise<Record<'primary' | 'standby', Record<string, number>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { primary: await app.replicas('primary'), standby: await app.replicas('standby') };
    } catch (err) {
      if (attempt === 5 || !String((err as Error).message).includes('HTTP-Code: 500')) throw err;
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
}

describe('a black-holed primary API server', () => {
  it('clusterHealth reports the primary API unreachable ("no answer within 10 s") within its deadline; everything else healthy', async () => {
    const t0 = Date.now();
    const report = await worker.client.workflow.execute<typeof clusterHealth>('clusterHealth', {
      taskQueue: worker.config.temporal.taskQueue,
      workflowId: `cluster-health/test-blackhole-${id}`,
      args: [{ clusters: labClusters.map((c) => c.name) }],
      workflowExecutionTimeout: '2 minutes',
    });
    // Each check answers after its own 10 s deadline; all run at once.
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(report.healthy).toBe(false);
    // The components reached through the black-holed path; the others (etcd, the standby, the store)
    // are direct and outside this fault.
    const proxiedComponents = report.components.filter((c) => c.address.includes(`https://${proxied}`));
    expect(proxiedComponents.map((c) => c.component).sort()).toEqual(['nodes/primary', 'velero/primary']);
    for (const c of proxiedComponents) {
      expect(c.healthy).toBe(false);
      expect(c.detail).toMatch(/no answer within 10 s/);
    }
  }, 60_000);

  it('failover without force: preflight finds the source unreachable within its deadline and the run fails as ForceRequired; nothing is changed', async () => {
    const before = await replicasOnBothSides();
    const t0 = Date.now();
    const handle = await worker.client.workflow.start<typeof failover>('failover', {
      taskQueue: worker.config.temporal.taskQueue,
      workflowId: `failover/${app.name}`,
      args: [
        { app: app.name, from: 'primary', to: 'standby', reason: 'test', requestedBy: testRequester, autoApprove: { approver: 'jest' } },
      ],
      workflowExecutionTimeout: '5 minutes',
    });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = err.cause as { type?: string; message?: string; details?: unknown[] };
    expect(cause.type).toBe(failureTypes.ForceRequired);
    expect(cause.message).toBe("'primary' is unreachable and cannot be fenced; auto-approval did not say force");
    expect(Date.now() - t0).toBeLessThan(90_000);
    const report = cause.details?.[0] as FailoverReport;
    expect(report.preflight?.from.reachable).toBe(false);
    // Black-holed, the TLS handshake never completes: a connect timeout, not a refusal.
    expect(report.preflight?.from.detail).toMatch(/CONNECT_TIMEOUT|no answer within/);
    expect(report.steps.find((s) => s.name === 'fence')?.state).toBe('pending');
    // Nothing changed: replicas on both sides as they were (read directly), traffic still on primary.
    expect(await replicasOnBothSides()).toEqual(before);
    expect((await app.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
  }, 120_000);
});
