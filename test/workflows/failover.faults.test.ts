// failover under faults (lab: Temporal, both clusters, the DNSEndpoint CRD; a worker process of its
// own): kill -9 of the worker at each step boundary in turn. Every run completes exactly once, and no
// side effect is repeated: one fence, one scale-up, one traffic switch (object generations tell).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import { execa, type ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import type { failover } from '../../workflows/failover.js';
import type { Step } from '../../workflows/steps.js';
import { labConfigFile } from '../../lab/topology.js';
import { cliPath, labConfig } from '../helpers/lab.js';
import { createTestApp, targets, type TestApp } from '../helpers/failover-app.js';

const boundaries = ['preflight', 'plan', 'approval', 'fence', 'bring-up', 'available', 'traffic', 'verify'] as const;
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-failover-kill-'));
const configFile = join(dir, 'lifeboat.yaml');
const apps = new Map<string, TestApp>();
let connection: Connection;
let client: Client;
beforeAll(async () => {
  const raw = parse(readFileSync(labConfigFile, 'utf8')) as { apps: object[] };
  for (const b of boundaries) {
    const app = await createTestApp(labConfig(), { deployments: 1, replicas: 2 });
    apps.set(b, app);
    raw.apps.push({
      name: app.name, cluster: 'primary', namespaces: [app.namespace], verify: { cluster: 'standby' },
      failover: { standby: 'standby', mode: 'warm-standby', traffic: app.config.failover!.traffic, approvalTimeout: '10m', availableTimeout: '2m' },
    });
  }
  writeFileSync(configFile, stringify(raw));
  connection = await Connection.connect({ address: labConfig().temporal.address });
  client = new Client({ connection });
}, 120_000);
afterAll(async () => {
  await connection?.close();
  await Promise.all([...apps.values()].map((a) => a.remove()));
  rmSync(dir, { recursive: true, force: true });
});

describe('failover under faults', () => {
  it.each(boundaries)('kill -9 of the worker once %s is done: completes exactly once, no side effect repeated', async (boundary) => {
    const app = apps.get(boundary)!;
    const taskQueue = `test-failover-kill-${randomUUID()}`;
    const startWorker = (): ResultPromise => execa(process.execPath, [cliPath, 'worker'], {
      env: { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_METRICS_PORT: '0' }, reject: false,
    });
    let worker = startWorker();
    try {
      const handle = await client.workflow.start<typeof failover>('failover', {
        taskQueue, workflowId: `failover/${app.name}`, args: [{ app: app.name, from: 'primary', to: 'standby', reason: `kill after ${boundary}`, autoApprove: { approver: 'jest' } }],
      });
      for (;;) {
        const steps = await handle.query<Step[]>('progress').catch(() => [] as Step[]);
        if (steps.find((s) => s.name === boundary)?.state === 'done') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      worker.kill('SIGKILL');
      await worker;
      worker = startWorker();
      const r = await handle.result();
      expect(r.status).toBe('completed');

      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      expect(events.filter((e) => e.workflowExecutionCompletedEventAttributes)).toHaveLength(1);
      const scheduled = (type: string) => events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
      expect([scheduled('fenceWorkloads'), scheduled('activateWorkloads'), scheduled('switchTraffic')]).toEqual([1, 1, 1]);
      // Each object changed its spec exactly once (generation 1 at creation).
      expect((await app.deployment('primary', 'svc-0')).metadata!.generation).toBe(2);
      expect((await app.deployment('standby', 'svc-0')).metadata!.generation).toBe(2);
      const record = await app.dnsEndpoint();
      expect(record.metadata.generation).toBe(2);
      expect(record.spec.endpoints[0]!.targets).toEqual(targets.standby);
      expect(await app.replicas('standby')).toEqual({ 'svc-0': 2 });
      expect(await app.replicas('primary')).toEqual({ 'svc-0': 0 });
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  }, 180_000);
});
