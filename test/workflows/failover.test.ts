// failover and failback (lab: Temporal, both clusters' API servers, schedulers, controller managers and
// kwok; the DNSEndpoint CRD on standby). Each test moves a throwaway app of its own (test/helpers/failover-app.ts).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import type { failback, failover, FailoverInput, FailoverReport } from '../../workflows/failover.js';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import { approveUpdate, reportQuery } from '../../workflows/failover.js';
import { backupNameFor, failbackBackupWorkflowIdFor, runRestoreNameFor, veleroAgeSeconds } from '../../model/velero-layout.js';
import { firstWatched, watchFor } from '../helpers/kube-watch.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createTestApp, lifeboatMarks, owner, targets, testRequester, type TestApp } from '../helpers/failover-app.js';
import { fetchHistory } from '../helpers/histories.js';
import { parseLabelTime } from '../../activities/kubernetes/marks.js';

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

const input = (app: TestApp, extra: Partial<FailoverInput> = {}): FailoverInput => ({
  app: app.name,
  from: 'primary',
  to: 'standby',
  reason: 'test',
  autoApprove: { approver: 'jest' },
  requestedBy: testRequester,
  ...extra,
});
const run = (w: TestWorker, kind: 'failover' | 'failback', i: FailoverInput) =>
  w.client.workflow.start<typeof failover | typeof failback>(kind, {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `failover/${i.app}`,
    args: [i],
  });
const reportOf = (err: unknown) => ((err as WorkflowFailedError).cause as { details?: unknown[] }).details![0] as FailoverReport;
const dnsTargets = async (app: TestApp) => (await app.dnsEndpoint()).spec.endpoints[0]!.targets;
/** Seconds from `from` to `to`, to a tenth: how the report counts RTO and a failover's backup age. */
const tenths = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;
const stepOf = (r: FailoverReport, name: string) => r.steps.find((s) => s.name === name)!;
/** The fence labels `r` leaves (and no other mark), its fenced-at within its fence step. */
function expectFencedBy(d: V1Deployment, r: FailoverReport, replicas: string): void {
  const a = lifeboatMarks(d);
  expect(a).toEqual({
    'lifeboat.io/fenced-by': owner(r),
    'lifeboat.io/fenced-replicas': replicas,
    'lifeboat.io/fenced-at': a['lifeboat.io/fenced-at'],
  });
  const at = parseLabelTime(a['lifeboat.io/fenced-at']!);
  expect([at >= Date.parse(stepOf(r, 'fence').startedAt!), at <= Date.parse(stepOf(r, 'fence').finishedAt!)]).toEqual([true, true]);
}
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('failover (warm standby)', () => {
  it('moves the app to the standby and back: fenced, Available, record switched; failback restores it', async () => {
    const { app, w } = await setup();
    const handle = await run(w, 'failover', input(app));
    const r = await handle.result();
    expect(r.status).toBe('completed');
    await fetchHistory(w.client, handle.workflowId, 'failover');
    expect(r.steps.map((s) => [s.name, s.state])).toEqual(
      ['preflight', 'plan', 'approval', 'fence', 'bring-up', 'available', 'traffic', 'verify', 'report'].map((n) => [n, 'done']),
    );
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    for (const name of app.deployments) {
      const fenced = await app.deployment('primary', name);
      expectFencedBy(fenced, r, '2');
      // Judged from the Pods, as the fence judges: the Deployment's readyReplicas is its controller's later word.
      const pods = await app.kube.primary
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: app.namespace, labelSelector: `app=${name}` });
      expect(pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name)).toEqual([]);
      const standby = await app.deployment('standby', name);
      expect(standby.status!.readyReplicas).toBe(2);
      expect(lifeboatMarks(standby)).toEqual({ 'lifeboat.io/activated-by': owner(r), 'lifeboat.io/pre-activation-replicas': '0' });
    }
    expect(await dnsTargets(app)).toEqual(targets.standby);
    expect(r.rtoSeconds).toBe(tenths(r.requestedAt, stepOf(r, 'verify').finishedAt!));
    expect(r.rpoSeconds).toBe(0);
    expect(r.plan.filter((p) => p.step === 'fence').map((p) => p.cluster)).toEqual(['primary', 'primary']);

    const back = await (await run(w, 'failback', input(app, { from: 'standby', to: 'primary', reason: 'primary repaired' }))).result();
    expect(back.status).toBe('completed');
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await dnsTargets(app)).toEqual(targets.primary);
    // The primary carries no fencing left over, only the failback's activation; the standby is fenced by the failback.
    for (const name of app.deployments) {
      expect(lifeboatMarks(await app.deployment('primary', name))).toEqual({
        'lifeboat.io/activated-by': owner(back),
        'lifeboat.io/pre-activation-replicas': '0',
      });
      expectFencedBy(await app.deployment('standby', name), back, '2');
    }
  }, 240_000);

  it('a leftover fence of other runs on a source scaled up by hand is not trusted: each Deployment is fenced on the source (0 replicas, observed, no live Pod) before its standby copy comes up', async () => {
    const { app, w } = await setup();
    // What failed compensations leave: fence marks of earlier runs (an annotation from before marks
    // were labels and before run-scoped ownership, naming the bare workflow ID; a label of another
    // run), and a standby activation label of another run; then the source scaled back up by hand, so
    // it serves.
    const leftoverRun = '00000000-0000-4000-8000-000000000000';
    const fence = { 'lifeboat.io/fenced-replicas': '2' };
    const leftovers = {
      'svc-0': {
        annotations: { ...fence, 'lifeboat.io/fenced-by': `failover/${app.name}`, 'lifeboat.io/fenced-at': '2026-01-01T00:00:00.000Z' },
      },
      'svc-1': { labels: { ...fence, 'lifeboat.io/fenced-by': leftoverRun, 'lifeboat.io/fenced-at': '20260101T000000.000Z' } },
    };
    const primaryApps = app.kube.primary.makeApiClient(AppsV1Api);
    for (const [name, metadata] of Object.entries(leftovers)) {
      await primaryApps.patchNamespacedDeployment(
        { namespace: app.namespace, name, body: { metadata, spec: { replicas: 2 } } },
        mergePatch,
      );
    }
    await app.kube.standby.makeApiClient(AppsV1Api).patchNamespacedDeployment(
      {
        namespace: app.namespace,
        name: 'svc-1',
        body: { metadata: { labels: { 'lifeboat.io/activated-by': leftoverRun, 'lifeboat.io/pre-activation-replicas': '0' } } },
      },
      mergePatch,
    );
    // The source serves: both Deployments have all their replicas ready under the leftover marks.
    for (const name of app.deployments) {
      await firstWatched<V1Deployment>(
        app.kube.primary,
        `/apis/apps/v1/namespaces/${app.namespace}/deployments?fieldSelector=metadata.name%3D${name}`,
        (d) => (d.status?.observedGeneration ?? 0) >= d.metadata!.generation! && d.status?.readyReplicas === 2,
      );
    }

    // The moment each standby Deployment is scaled up: what its copy on the primary runs then.
    const core = app.kube.primary.makeApiClient(CoreV1Api);
    const primaryAtBringUp = Promise.all(
      app.deployments.map(async (name) => {
        const up = await watchFor<V1Deployment>(
          app.kube.standby,
          `/apis/apps/v1/namespaces/${app.namespace}/deployments?fieldSelector=metadata.name%3D${name}`,
          (d) => (d.spec?.replicas ?? 0) > 0,
        );
        return up.match.then(async () => {
          const [d, pods] = await Promise.all([
            primaryApps.readNamespacedDeployment({ namespace: app.namespace, name }),
            core.listNamespacedPod({ namespace: app.namespace, labelSelector: `app=${name}` }),
          ]);
          // Judged from the Pods, as the fence judges: the Deployment's own readyReplicas is updated by
          // its controller some time later, so it may still count Pods that are already terminating.
          return {
            name,
            replicas: d.spec!.replicas,
            observed: (d.status?.observedGeneration ?? 0) >= d.metadata!.generation!,
            livePods: pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name),
          };
        });
      }),
    );
    const r = await (await run(w, 'failover', input(app))).result();
    expect(r.status).toBe('completed');
    expect(await primaryAtBringUp).toEqual(app.deployments.map((name) => ({ name, replicas: 0, observed: true, livePods: [] })));
    // Fenced anew by this run, recording the replicas the source ran, the legacy annotations gone; activated by this run.
    for (const name of app.deployments) {
      expectFencedBy(await app.deployment('primary', name), r, '2');
      expect(lifeboatMarks(await app.deployment('standby', name))).toEqual({
        'lifeboat.io/activated-by': owner(r),
        'lifeboat.io/pre-activation-replicas': '0',
      });
    }
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await dnsTargets(app)).toEqual(targets.standby);
  }, 240_000);

  it('a source Pod still serving after the scale-down (one no ReplicaSet owns): the other Deployment is handed over, this one never comes up on the standby; when the fence runs out of time, all is rolled back', async () => {
    const { app, w } = await setup({ availableTimeout: 15 });
    const core = app.kube.primary.makeApiClient(CoreV1Api);
    // Picked by svc-0's selector, but not by its ReplicaSet's (no pod-template-hash): scaling to zero leaves it Ready.
    await core.createNamespacedPod({
      namespace: app.namespace,
      body: {
        metadata: { name: 'svc-0-by-hand', labels: { app: 'svc-0' } },
        spec: { nodeSelector: { type: 'kwok' }, containers: [{ name: 'svc-0', image: 'registry.example/svc-0:1' }] },
      },
    });
    await firstWatched<{ status?: { conditions?: { type: string; status: string }[] } }>(
      app.kube.primary,
      `/api/v1/namespaces/${app.namespace}/pods?fieldSelector=metadata.name%3Dsvc-0-by-hand`,
      (p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
    );
    // svc-1, whose source stops, comes up on the standby while svc-0 still serves on the primary.
    const svc1Up = await watchFor<V1Deployment>(
      app.kube.standby,
      `/apis/apps/v1/namespaces/${app.namespace}/deployments?fieldSelector=metadata.name%3Dsvc-1`,
      (d) => (d.status?.readyReplicas ?? 0) === 2,
    );
    const primaryWhenSvc1Up = svc1Up.match.then(() => app.deployment('primary', 'svc-0').then((d) => d.spec!.replicas));
    const err = await (await run(w, 'failover', input(app))).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const r = reportOf(err);
    expect(r.status).toBe('rolled-back');
    const failure = `fenced, but the app still serves on 'primary' when the fence's time ran out: 1/2 still serving: ${app.namespace}/svc-0 1 ready`;
    expect(r.failure).toBe(failure);
    expect(r.failureType).toBe('SourceStillServing');
    // The standby scaled back down before the primary was unfenced.
    expect(r.rolledBack).toEqual(["scaled 2 Deployments on 'standby' back down", "unfenced 2 Deployments on 'primary'"]);
    expect(r.steps.map((s) => [s.name, s.state])).toEqual([
      ['preflight', 'done'],
      ['plan', 'done'],
      ['approval', 'done'],
      ['fence', 'failed'],
      ['bring-up', 'failed'],
      ['available', 'skipped'],
      ['traffic', 'skipped'],
      ['verify', 'skipped'],
      ['report', 'skipped'],
    ]);
    expect(stepOf(r, 'bring-up').detail).toBe(`stopped: the fence failed (${failure})`);
    expect(await primaryWhenSvc1Up).toBe(0);
    // svc-0 was never changed on the standby (generation 1: as created); svc-1 was scaled up once and down once.
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    const standby = await Promise.all(app.deployments.map((name) => app.deployment('standby', name)));
    expect(standby.map((d) => [d.metadata!.name, d.metadata!.generation, lifeboatMarks(d)])).toEqual([
      ['svc-0', 1, {}],
      ['svc-1', 3, {}],
    ]);
    for (const name of app.deployments) expect(lifeboatMarks(await app.deployment('primary', name))).toEqual({});
    expect(await dnsTargets(app)).toEqual(targets.primary);
    expect((await app.dnsEndpoint()).metadata.generation).toBe(1);
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

    await expect(handle.executeUpdate(approveUpdate, { args: [{ approver: ' ' }] })).rejects.toMatchObject({
      cause: { message: "approve needs the approver's name" },
    });
    const approval = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', comment: 'go' }] });
    expect(approval).toEqual({ approver: 'alice', comment: 'go', force: false, auto: false, at: approval.at });
    expect(Number.isNaN(Date.parse(approval.at))).toBe(false);
    const done = await handle.result();
    expect(done.approval).toEqual(approval);
    expect(done.status).toBe('completed');
  }, 240_000);

  it('aborted while waiting for approval: nothing changes', async () => {
    const { app, w } = await setup();
    const handle = await run(w, 'failover', input(app, { autoApprove: undefined }));
    while ((await handle.query(reportQuery)).status !== 'awaiting-approval') await new Promise((r) => setTimeout(r, 100));
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'FailoverAborted' });
    expect(reportOf(err).status).toBe('aborted');
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await dnsTargets(app)).toEqual(targets.primary);
  }, 120_000);

  it('dryRun plans and changes nothing', async () => {
    const { app, w } = await setup();
    const r = await w.client.workflow.execute<typeof failover>('failover', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `failover-plan/${app.name}`,
      args: [input(app, { dryRun: true })],
    });
    expect(r.status).toBe('planned');
    expect(r.plan.map((p) => [p.step, p.cluster])).toEqual([
      ['fence', 'primary'],
      ['fence', 'primary'],
      ['bring-up', 'standby'],
      ['bring-up', 'standby'],
      ['available', 'standby'],
      ['traffic', 'standby'],
      ['verify', 'standby'],
    ]);
    expect(r.steps.filter((s) => s.state !== 'skipped').map((s) => s.name)).toEqual(['preflight', 'plan']);
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
  }, 120_000);

  it('a traffic webhook answering 500 beyond its retries after fencing: rolled back, primary unfenced, traffic restored', async () => {
    const decisions: { to: string; key: string | undefined }[] = [];
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
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
      expect(r.failure).toBe(`POST ${url} answered 500: load balancer API down`);
      expect(r.rolledBack).toEqual([
        "traffic switched back to 'primary'",
        "scaled 2 Deployments on 'standby' back down",
        "unfenced 2 Deployments on 'primary'",
      ]);
      // Three attempts at the switch, with one idempotency key, then the switch back.
      expect(decisions.map((d) => d.to)).toEqual(['standby', 'standby', 'standby', 'primary']);
      expect(decisions.map((d) => d.key)).toEqual([
        ...Array<string>(3).fill(`${r.workflowId}/${r.runId}/standby`),
        `${r.workflowId}/${r.runId}/primary`,
      ]);
      expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
      expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
      for (const name of app.deployments) {
        expect(lifeboatMarks(await app.deployment('primary', name))).toEqual({});
        expect(lifeboatMarks(await app.deployment('standby', name))).toEqual({});
      }
    } finally {
      server.close();
    }
  }, 240_000);
});

describe('failover (restore mode)', () => {
  it('two failovers and failbacks: each run restores a backup of its own with a Restore of its own, carries the newest state, reports its RPO', async () => {
    const { app, w } = await setup({ mode: 'restore' });
    const velero = { group: 'velero.io', version: 'v1', namespace: 'velero' } as const;
    type VeleroObject = {
      metadata: { name: string; creationTimestamp: string; annotations?: Record<string, string> };
      spec: { backupName?: string; includedNamespaces?: string[] };
      status?: { phase?: string; startTimestamp?: string };
    };
    const veleroApi = (c: 'primary' | 'standby') => app.kube[c].makeApiClient(CustomObjectsApi);
    const core = (c: 'primary' | 'standby') => app.kube[c].makeApiClient(CoreV1Api);
    // The app's state: one ConfigMap, written where the app serves.
    const write = async (c: 'primary' | 'standby', value: string) => {
      const body = { metadata: { name: 'orders' }, data: { last: value } };
      await core(c)
        .replaceNamespacedConfigMap({ namespace: app.namespace, name: 'orders', body })
        .catch((err: unknown) => {
          if ((err as { code?: number }).code !== 404) throw err;
          return core(c).createNamespacedConfigMap({ namespace: app.namespace, body });
        });
    };
    const state = async (c: 'primary' | 'standby') =>
      (await core(c).readNamespacedConfigMap({ namespace: app.namespace, name: 'orders' })).data;
    const restoresOf = async (c: 'primary' | 'standby') =>
      ((await veleroApi(c).listNamespacedCustomObject({ ...velero, plural: 'restores' })) as { items: VeleroObject[] }).items
        .filter((x) => x.spec.includedNamespaces?.includes(app.namespace))
        .sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp))
        .map((x) => ({ name: x.metadata.name, backupName: x.spec.backupName, phase: x.status?.phase }));

    const seen: unknown[] = [];
    const expected: unknown[] = [];
    const runs: FailoverReport[] = [];
    for (const cycle of [1, 2]) {
      await write('primary', `primary-${cycle}`);
      // The backup a restore-mode failover restores: taken on primary, seen by standby through its location for primary.
      const backup = await w.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
        taskQueue: w.config.temporal.taskQueue,
        workflowId: `velero-backup/${app.name}/${cycle}`,
        args: [{ app: app.name }],
      });
      expect(backup.phase).toBe('Completed');
      for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
        if (
          await veleroApi('standby')
            .getNamespacedCustomObject({ ...velero, plural: 'backups', name: backup.name })
            .then(
              () => true,
              () => false,
            )
        )
          break;
        await new Promise((r) => setTimeout(r, 1_000));
      }

      const over = await (await run(w, 'failover', input(app))).result();
      runs.push(over);
      seen.push({ kind: over.kind, status: over.status, state: await state('standby'), backup: over.backup, rpoSeconds: over.rpoSeconds });
      const age = tenths(backup.startTimestamp!, over.requestedAt);
      expected.push({
        kind: 'failover',
        status: 'completed',
        state: { last: `primary-${cycle}` },
        backup: { name: backup.name, startedAt: backup.startTimestamp, ageSeconds: age },
        rpoSeconds: age,
      });

      await write('standby', `standby-${cycle}`);
      const back = await (await run(w, 'failback', input(app, { from: 'standby', to: 'primary', reason: 'primary repaired' }))).result();
      runs.push(back);
      // The failback's backup: taken on standby by this run's own child, after this run fenced the standby.
      const taken = (await veleroApi('standby').getNamespacedCustomObject({
        ...velero,
        plural: 'backups',
        name: back.backup!.name,
      })) as VeleroObject;
      seen.push({
        kind: back.kind,
        status: back.status,
        state: await state('primary'),
        backup: back.backup,
        backupBy: taken.metadata.annotations?.['lifeboat.io/workflow-id'],
        rpoSeconds: back.rpoSeconds,
      });
      const child = failbackBackupWorkflowIdFor(back.workflowId, back.runId);
      // Its age when the failback was asked for, to Velero's second.
      const backAge = veleroAgeSeconds(taken.status!.startTimestamp!, back.requestedAt);
      expected.push({
        kind: 'failback',
        status: 'completed',
        state: { last: `standby-${cycle}` },
        backup: { name: backupNameFor(child), startedAt: taken.status!.startTimestamp, ageSeconds: backAge },
        backupBy: child,
        rpoSeconds: backAge,
      });
    }
    expect(seen).toEqual(expected);
    // A failback's own backup starts after it fenced the standby: nothing written there is lost.
    expect(runs.filter((r) => r.kind === 'failback').map((r) => r.rpoSeconds)).toEqual([0, 0]);
    // Each run restored with a Restore of its own, named from the run: the failovers' on standby, the failbacks' on primary.
    const restoresBy = (kind: FailoverReport['kind']) =>
      runs
        .filter((r) => r.kind === kind)
        .map((r) => ({ name: runRestoreNameFor(r.workflowId, r.runId), backupName: r.backup!.name, phase: 'Completed' }));
    expect(await restoresOf('standby')).toEqual(restoresBy('failover'));
    expect(await restoresOf('primary')).toEqual(restoresBy('failback'));
    expect(new Set(runs.map((r) => r.backup!.name)).size).toBe(4);

    expect(runs.map((r) => r.steps.find((s) => s.name === 'bring-up')!.state)).toEqual(['done', 'done', 'done', 'done']);
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect((await app.deployment('primary', 'svc-0')).status!.readyReplicas).toBe(2);
    expect(await dnsTargets(app)).toEqual(targets.primary);
  }, 900_000);
});
