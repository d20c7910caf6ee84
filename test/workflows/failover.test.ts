// failover and failback (lab: Temporal, both clusters' API servers, schedulers, controller managers and
// kwok; the DNSEndpoint CRD on standby). Each test moves a throwaway app of its own (test/helpers/failover-app.ts).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { failback, failover, FailoverInput, FailoverReport } from '../../workflows/failover.js';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import { approveUpdate, reportQuery } from '../../workflows/failover.js';
import { labUp } from '../../lab/lab.js';
import { stopDaemon } from '../../lab/processes.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createTestApp, targets, type TestApp } from '../helpers/failover-app.js';
import { fetchHistory } from '../helpers/histories.js';

const apps: TestApp[] = [];
const workers: TestWorker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.remove()));
});

async function setup(options: Parameters<typeof createTestApp>[1] = {}): Promise<{ app: TestApp; w: TestWorker }> {
  const app = await createTestApp(labConfig(), options);
  apps.push(app);
  const w = await startTestWorker((c) => app.addTo(c));
  workers.push(w);
  return { app, w };
}

const input = (app: TestApp, extra: Partial<FailoverInput> = {}): FailoverInput => ({ app: app.name, from: 'primary', to: 'standby', reason: 'test', autoApprove: { approver: 'jest' }, ...extra });
const run = (w: TestWorker, kind: 'failover' | 'failback', i: FailoverInput) =>
  w.client.workflow.start<typeof failover | typeof failback>(kind, { taskQueue: w.config.temporal.taskQueue, workflowId: `failover/${i.app}`, args: [i] });
const reportOf = (err: unknown) => ((err as WorkflowFailedError).cause as { details?: unknown[] }).details![0] as FailoverReport;
const dnsTargets = async (app: TestApp) => (await app.dnsEndpoint()).spec.endpoints[0]!.targets;

describe('failover (warm standby)', () => {
  it('moves the app to the standby and back: fenced, Available, record switched; failback restores it', async () => {
    const { app, w } = await setup();
    const handle = await run(w, 'failover', input(app));
    const r = await handle.result();
    expect(r.status).toBe('completed');
    await fetchHistory(w.client, handle.workflowId, 'failover');
    expect(r.steps.map((s) => [s.name, s.state])).toEqual(['preflight', 'plan', 'approval', 'fence', 'bring-up', 'available', 'traffic', 'verify', 'report'].map((n) => [n, 'done']));
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    const fenced = await app.deployment('primary', 'svc-0');
    expect(fenced.metadata!.annotations).toMatchObject({ 'lifeboat.io/fenced-by': `failover/${app.name}`, 'lifeboat.io/fenced-replicas': '2' });
    const standby = await app.deployment('standby', 'svc-0');
    expect(standby.status!.readyReplicas).toBe(2);
    expect(await dnsTargets(app)).toEqual(targets.standby);
    expect(r.rtoSeconds).toBeGreaterThan(0);
    expect(r.rpoSeconds).toBe(0);
    expect(r.plan.filter((p) => p.step === 'fence').map((p) => p.cluster)).toEqual(['primary', 'primary']);

    const back = await (await run(w, 'failback', input(app, { from: 'standby', to: 'primary', reason: 'primary repaired' }))).result();
    expect(back.status).toBe('completed');
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await dnsTargets(app)).toEqual(targets.primary);
    // The primary carries no fencing left over; the standby is fenced, ready for the next failover.
    expect((await app.deployment('primary', 'svc-0')).metadata!.annotations?.['lifeboat.io/fenced-by']).toBeUndefined();
    expect((await app.deployment('standby', 'svc-0')).metadata!.annotations).toMatchObject({ 'lifeboat.io/fenced-by': `failover/${app.name}`, 'lifeboat.io/fenced-replicas': '2' });
  }, 240_000);

  it('waits for an approval it can see the plan for, validates it, and refuses a second failover of the same app', async () => {
    const { app, w } = await setup();
    const handle = await run(w, 'failover', input(app, { autoApprove: undefined }));
    let report: FailoverReport;
    for (;;) {
      report = await handle.query(reportQuery);
      if (report.status === 'awaiting-approval') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(report.plan.map((p) => p.step)).toEqual(['fence', 'fence', 'bring-up', 'bring-up', 'available', 'traffic', 'verify']);
    expect(report.preflight!.capacity.ok).toBe(true);
    // Nothing is touched before the approval.
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });

    const second = await run(w, 'failover', input(app)).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

    await expect(handle.executeUpdate(approveUpdate, { args: [{ approver: ' ' }] })).rejects.toMatchObject({ cause: { message: "approve needs the approver's name" } });
    const approval = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', comment: 'go' }] });
    expect(approval).toMatchObject({ approver: 'alice', force: false, auto: false });
    const done = await handle.result();
    expect(done.approval).toMatchObject({ approver: 'alice', comment: 'go' });
    expect(done.status).toBe('completed');
  }, 240_000);

  it('aborted while waiting for approval: nothing changes', async () => {
    const { app, w } = await setup();
    const handle = await run(w, 'failover', input(app, { autoApprove: undefined }));
    while ((await handle.query(reportQuery)).status !== 'awaiting-approval') await new Promise((r) => setTimeout(r, 100));
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await dnsTargets(app)).toEqual(targets.primary);
  }, 120_000);

  it('dryRun plans and changes nothing', async () => {
    const { app, w } = await setup();
    const r = await w.client.workflow.execute<typeof failover>('failover', { taskQueue: w.config.temporal.taskQueue, workflowId: `failover-plan/${app.name}`, args: [input(app, { dryRun: true })] });
    expect(r.status).toBe('planned');
    expect(r.plan.length).toBeGreaterThan(0);
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
  }, 120_000);

  it('the standby unhealthy at preflight (every Node cordoned): stops before touching the primary', async () => {
    const { app, w } = await setup();
    const core = app.kube.standby.makeApiClient(CoreV1Api);
    const nodes = (await core.listNode()).items.map((n) => n.metadata!.name!);
    const cordon = (unschedulable: boolean) => Promise.all(nodes.map((name) => core.patchNode({ name, body: [{ op: 'replace', path: '/spec/unschedulable', value: unschedulable }] })));
    await cordon(true);
    try {
      const err = await (await run(w, 'failover', input(app))).result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const r = reportOf(err);
      expect(r.status).toBe('failed');
      expect(r.failure).toMatch(/^preflight: target cluster 'standby' is unhealthy: 0\/\d+ Nodes Ready and schedulable/);
      expect(r.steps.find((s) => s.name === 'fence')!.state).toBe('skipped');
    } finally {
      await cordon(false);
    }
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await app.deployment('primary', 'svc-0')).metadata!.annotations?.['lifeboat.io/fenced-by']).toBeUndefined();
    expect(await dnsTargets(app)).toEqual(targets.primary);
  }, 120_000);

  it('a traffic webhook answering 500 beyond its retries after fencing: rolled back, primary unfenced, traffic restored', async () => {
    const decisions: { to: string; key: string | undefined }[] = [];
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        const d = JSON.parse(body) as { to: string };
        decisions.push({ to: d.to, key: req.headers['idempotency-key'] as string | undefined });
        res.statusCode = d.to === 'standby' ? 500 : 200;
        res.end(d.to === 'standby' ? 'load balancer API down' : '{"ok":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/switch`;
    try {
      const { app, w } = await setup({ traffic: { provider: 'webhook', url, timeout: 5, attempts: 3 } });
      const err = await (await run(w, 'failover', input(app))).result().catch((e: unknown) => e);
      const r = reportOf(err);
      expect(r.status).toBe('rolled-back');
      expect(r.failure).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/switch answered 500: load balancer API down$/);
      expect(r.rolledBack).toEqual([
        "traffic switched back to 'primary'",
        "scaled 2 Deployments on 'standby' back down",
        "unfenced 2 Deployments on 'primary'",
      ]);
      // Three attempts at the switch, with one idempotency key, then the switch back.
      expect(decisions.map((d) => d.to)).toEqual(['standby', 'standby', 'standby', 'primary']);
      expect(new Set(decisions.slice(0, 3).map((d) => d.key)).size).toBe(1);
      expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
      expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
      expect((await app.deployment('primary', 'svc-0')).metadata!.annotations?.['lifeboat.io/fenced-by']).toBeUndefined();
    } finally {
      server.close();
    }
  }, 240_000);
});

describe('failover (restore mode)', () => {
  it('restores the newest Velero backup into the standby, brings it up, switches the record; failback carries state home', async () => {
    const { app, w } = await setup({ mode: 'restore' });
    // The backup a restore-mode failover restores: taken on primary, seen by standby through its location for primary.
    const backup = await w.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
      taskQueue: w.config.temporal.taskQueue, workflowId: `velero-backup/${app.name}/test`, args: [{ app: app.name }],
    });
    expect(backup.phase).toBe('Completed');
    const standbyVelero = app.kube.standby.makeApiClient(CustomObjectsApi);
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      const synced = await standbyVelero.getNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: 'velero', plural: 'backups', name: backup.name }).then(() => true, () => false);
      if (synced) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(await app.replicas('standby')).toEqual({});

    const r = await (await run(w, 'failover', input(app))).result();
    expect(r.status).toBe('completed');
    expect(r.backup).toMatchObject({ name: backup.name });
    expect(r.rpoSeconds).toBeGreaterThan(0);
    expect(r.rpoSeconds).toBe(r.backup!.ageSeconds);
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await app.deployment('standby', 'svc-0')).status!.readyReplicas).toBe(2);
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await dnsTargets(app)).toEqual(targets.standby);
    // One Restore, named after the run.
    const restores = await standbyVelero.listNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: 'velero', plural: 'restores' }) as { items: { spec: { backupName: string } }[] };
    expect(restores.items.filter((x) => x.spec.backupName === backup.name)).toHaveLength(1);

    // State written on the standby while it served goes home with the failback.
    await app.kube.standby.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: app.namespace, body: { metadata: { name: 'orders' }, data: { last: '4711' } } });
    const back = await (await run(w, 'failback', input(app, { from: 'standby', to: 'primary', reason: 'primary repaired' }))).result();
    expect(back.status).toBe('completed');
    expect(back.steps.find((s) => s.name === 'bring-up')!.state).toBe('done');
    expect((await app.kube.primary.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: app.namespace, name: 'orders' })).data).toEqual({ last: '4711' });
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await dnsTargets(app)).toEqual(targets.primary);
  }, 300_000);
});

describe('failover when the primary is down (the disaster)', () => {
  let app: TestApp;
  let w: TestWorker;
  let handle: WorkflowHandle | undefined;
  beforeAll(async () => {
    app = await createTestApp(labConfig());
    apps.push(app);
  }, 60_000);
  afterAll(async () => {
    await labUp();
  }, 300_000);

  it('refuses to proceed without force, and with a forced approval fails over without fencing', async () => {
    w = await startTestWorker((c) => app.addTo(c));
    workers.push(w);
    expect(await stopDaemon('kube-apiserver/primary')).toBe(true);
    const unforced = await (await run(w, 'failover', input(app))).result().catch((e: unknown) => e);
    expect(reportOf(unforced)).toMatchObject({ status: 'failed' });
    expect((unforced as WorkflowFailedError).cause).toMatchObject({ type: 'ForceRequired' });

    handle = await run(w, 'failover', input(app, { autoApprove: undefined }));
    while ((await handle.query(reportQuery)).status !== 'awaiting-approval') await new Promise((r) => setTimeout(r, 100));
    const plan = await handle.query(reportQuery);
    expect(plan.plan[0]).toMatchObject({ step: 'fence', cluster: 'primary', change: expect.stringMatching(/^cannot fence: the API of 'primary' is unreachable/) });
    await expect(handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob' }] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/approve with force to proceed anyway$/) } });
    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob', force: true }] });
    const r = await handle.result() as FailoverReport;
    expect(r.status).toBe('completed');
    expect(r.steps.find((s) => s.name === 'fence')).toMatchObject({ state: 'skipped', detail: expect.stringMatching(/'primary' unreachable; proceeding on the forced approval of bob/) });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await dnsTargets(app)).toEqual(targets.standby);
  }, 300_000);
});
