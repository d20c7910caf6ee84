// failover under faults (lab: Temporal, both clusters, the DNSEndpoint CRD, both Velero servers for
// restore mode; a worker process of its own): kill -9 of the worker at each step boundary in turn, and
// inside the destructive activities (fence, bring-up, the traffic switch, a Velero restore). Every run
// completes exactly once, and no side effect is repeated: each object changes once, traffic switches
// once (object generations, this run's annotations and the webhook's idempotency keys tell).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { CoreV1Api, CustomObjectsApi, type V1Deployment } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import type { failover, FailoverReport } from '../../workflows/failover.js';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import type { Step } from '../../model/steps.js';
import { runRestoreNameFor } from '../../model/velero-layout.js';
import { labConfigFile } from '../../lab/topology.js';
import { cliPath, labConfig } from '../helpers/lab.js';
import { createTestApp, lifeboatMarks, owner, targets, testRequester, type TestApp } from '../helpers/failover-app.js';
import { parseLabelTime } from '../../activities/kubernetes/marks.js';
import { activityRunning, firstWatched, watchFor } from '../helpers/kube-watch.js';
import { activityAttempts } from '../helpers/activity-attempts.js';

const boundaries = ['preflight', 'plan', 'approval', 'fence', 'bring-up', 'available', 'traffic', 'verify'] as const;
/** Enough Deployments that fencing or scaling them up takes several rounds of concurrent patches. */
const manyDeployments = 30;
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-failover-kill-'));
const configFile = join(dir, 'lifeboat.yaml');
const apps = new Map<string, TestApp>();
let client: LifeboatClient;

/** The webhook of the traffic kill: records each POST; `onFirst` runs at the first, which then gets no answer. */
const webhook: { server?: Server; url: string; posts: { to: string; key: string | undefined }[]; onFirst?: () => void } = {
  url: '',
  posts: [],
};

beforeAll(async () => {
  webhook.server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      webhook.posts.push({ to: (JSON.parse(body) as { to: string }).to, key: req.headers['idempotency-key'] as string | undefined });
      if (webhook.posts.length === 1 && webhook.onFirst) {
        // The switch has happened at the load balancer; the worker dies before it hears so.
        webhook.onFirst();
        req.socket.destroy();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => webhook.server!.listen(0, '127.0.0.1', r));
  webhook.url = `http://127.0.0.1:${(webhook.server.address() as { port: number }).port}/switch`;

  const raw = parse(readFileSync(labConfigFile, 'utf8')) as { apps: object[] };
  const add = async (key: string, options: NonNullable<Parameters<typeof createTestApp>[1]>) => {
    const app = await createTestApp(labConfig(), options);
    apps.set(key, app);
    const t = app.config.failover!.traffic;
    raw.apps.push({
      name: app.name,
      cluster: 'primary',
      namespaces: [app.namespace],
      verify: { cluster: 'standby' },
      failover: {
        standby: 'standby',
        mode: options.mode ?? 'warm-standby',
        approvalTimeout: '10m',
        availableTimeout: '2m',
        traffic: t.provider === 'webhook' ? { provider: 'webhook', url: t.url, timeout: `${t.timeout}s`, attempts: t.attempts } : t,
      },
      approvers: app.config.approvers,
    });
  };
  for (const b of boundaries) await add(b, { deployments: 1, replicas: 2 });
  await add('inside fence', { deployments: manyDeployments, replicas: 1 });
  await add('inside bring-up', { deployments: manyDeployments, replicas: 1 });
  await add('inside traffic', { deployments: 2, replicas: 1, traffic: { provider: 'webhook', url: webhook.url, timeout: 5, attempts: 3 } });
  await add('inside restore', { deployments: 2, replicas: 1, mode: 'restore' });
  writeFileSync(configFile, stringify(raw));
  client = await temporalClient(labConfig());
}, 180_000);
afterAll(async () => {
  await client?.connection.close();
  webhook.server?.close();
  await Promise.all([...apps.values()].map((a) => a.remove()));
  rmSync(dir, { recursive: true, force: true });
});

/** A worker process of the lab's CLI on the test's own task queue. */
const startWorker = (taskQueue: string): ResultPromise =>
  execa(process.execPath, [cliPath, 'worker'], {
    env: { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_METRICS_PORT: '0' },
    reject: false,
  });

const startFailover = (app: TestApp, taskQueue: string, reason: string) =>
  client.workflow.start<typeof failover>('failover', {
    taskQueue,
    workflowId: `failover/${app.name}`,
    args: [{ app: app.name, from: 'primary', to: 'standby', reason, autoApprove: { approver: 'jest' }, requestedBy: testRequester }],
  });

const deploymentsOf = (app: TestApp, cluster: 'primary' | 'standby') =>
  Promise.all(app.deployments.map((name) => app.deployment(cluster, name)));
const byName = <T>(ds: V1Deployment[], value: (d: V1Deployment) => T) => Object.fromEntries(ds.map((d) => [d.metadata!.name!, value(d)]));
const each = <T>(app: TestApp, value: T) => Object.fromEntries(app.deployments.map((n) => [n, value]));

describe('failover under faults', () => {
  it.each(boundaries)(
    'kill -9 of the worker once %s is done: completes exactly once, no side effect repeated',
    async (boundary) => {
      const app = apps.get(boundary)!;
      const taskQueue = `test-failover-kill-${randomUUID()}`;
      let worker = startWorker(taskQueue);
      try {
        const handle = await startFailover(app, taskQueue, `kill after ${boundary}`);
        for (;;) {
          const steps = await handle.query<Step[]>('progress').catch(() => [] as Step[]);
          if (steps.find((s) => s.name === boundary)?.state === 'done') break;
          await new Promise((r) => setTimeout(r, 20));
        }
        worker.kill('SIGKILL');
        await worker;
        worker = startWorker(taskQueue);
        const r = await handle.result();
        expect(r.status).toBe('completed');

        const history = await handle.fetchHistory();
        const events = history.events ?? [];
        expect(events.filter((e) => e.workflowExecutionCompletedEventAttributes)).toHaveLength(1);
        const scheduled = (type: string) =>
          events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
        expect([scheduled('fenceWorkloads'), scheduled('activateAsSourceStops'), scheduled('switchTraffic')]).toEqual([1, 1, 1]);
        // Each object was patched exactly once (generation 1 at creation; a Deployment's moves with its spec and its annotations).
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
    },
    180_000,
  );
});

describe('failover with the worker killed inside a destructive activity', () => {
  /**
   * Runs a failover of `app` and kills its worker with SIGKILL once the trigger `arm` set up (before the
   * run starts) fires for the run; starts a new worker and returns the finished run, what the trigger
   * saw, and each activity's attempts.
   */
  async function killedOnce<T>(
    app: TestApp,
    what: string,
    arm: (kill: () => void) => Promise<(handle: WorkflowHandle<typeof failover>) => Promise<T>>,
  ) {
    const taskQueue = `test-failover-kill-${randomUUID()}`;
    let worker = startWorker(taskQueue);
    try {
      const started = Date.now();
      const fired = await arm(() => worker.kill('SIGKILL'));
      const handle = await startFailover(app, taskQueue, `kill inside ${what}`);
      const seen = await fired(handle);
      worker.kill('SIGKILL');
      await worker;
      worker = startWorker(taskQueue);
      const report: FailoverReport = await handle.result();
      const history = await handle.fetchHistory();
      const attempts = activityAttempts(history);
      const events = history.events ?? [];
      process.stderr.write(
        `[kill inside ${what}] run took ${(Date.now() - started) / 1000} s; steps ${report.steps.map((s) => `${s.name} ${s.startedAt && s.finishedAt ? (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000 : '-'} s`).join(', ')}\n`,
      );
      return { report, seen, attempts, completions: events.filter((e) => e.workflowExecutionCompletedEventAttributes).length };
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  }

  /**
   * A warm-standby failover's activities in the order they were scheduled (fence and bring-up at once,
   * in that order), each with the attempt that finished it: 1 but where `retried` says.
   */
  const warmStandbyActivities = (retried: Record<string, number>) =>
    [
      'preflightFailover',
      'fenceWorkloads',
      'activateAsSourceStops',
      'waitWorkloadsAvailable',
      'switchTraffic',
      'waitWorkloadsAvailable',
      'trafficStatus',
    ].map((type) => [type, retried[type] ?? 1]);

  it('mid-fence, once the first of 30 Deployments is scaled to 0: the retries fence the rest and scale them up, none twice', async () => {
    const app = apps.get('inside fence')!;
    const { report, seen, attempts, completions } = await killedOnce(app, 'fence', async () => {
      const { match } = await watchFor<V1Deployment>(
        app.kube.primary,
        `/apis/apps/v1/namespaces/${app.namespace}/deployments`,
        (d) => d.metadata?.labels?.['lifeboat.io/fenced-by'] !== undefined,
      );
      return () => match;
    });
    expect(report.status).toBe('completed');
    expect(completions).toBe(1);
    // The fence was interrupted and retried once, and so was the bring-up beside it (it cannot end before
    // every Deployment has stopped on the primary); nothing else ran twice.
    expect(attempts).toEqual(warmStandbyActivities({ fenceWorkloads: 2, activateAsSourceStops: 2 }));
    const primary = await deploymentsOf(app, 'primary');
    expect(byName(primary, (d) => d.metadata!.generation)).toEqual(each(app, 2));
    expect(byName(primary, (d) => d.spec!.replicas)).toEqual(each(app, 0));
    const fence = report.steps.find((s) => s.name === 'fence')!;
    for (const d of primary) {
      const a = lifeboatMarks(d);
      expect(a).toEqual({
        'lifeboat.io/fenced-by': owner(report),
        'lifeboat.io/fenced-replicas': '1',
        'lifeboat.io/fenced-at': a['lifeboat.io/fenced-at'],
      });
      expect(parseLabelTime(a['lifeboat.io/fenced-at']!)).toBeGreaterThanOrEqual(Date.parse(fence.startedAt!));
      expect(parseLabelTime(a['lifeboat.io/fenced-at']!)).toBeLessThanOrEqual(Date.parse(fence.finishedAt!));
    }
    // The Deployment fenced before the kill was not fenced again: its mark is the one seen then.
    expect(lifeboatMarks(primary.find((d) => d.metadata!.name === seen.metadata!.name)!)).toEqual(lifeboatMarks(seen));
    expect(byName(await deploymentsOf(app, 'standby'), (d) => d.metadata!.generation)).toEqual(each(app, 2));
    expect((await app.dnsEndpoint()).metadata.generation).toBe(2);
    expect(await app.replicas('standby')).toEqual(each(app, 1));
  }, 300_000);

  it('mid-bring-up, once the first of 30 Deployments is scaled up on the standby: the retries scale up and fence the rest, none twice', async () => {
    const app = apps.get('inside bring-up')!;
    const { report, seen, attempts, completions } = await killedOnce(app, 'bring-up', async () => {
      const { match } = await watchFor<V1Deployment>(
        app.kube.standby,
        `/apis/apps/v1/namespaces/${app.namespace}/deployments`,
        (d) => d.metadata?.labels?.['lifeboat.io/activated-by'] !== undefined,
      );
      return () => match;
    });
    expect(report.status).toBe('completed');
    expect(completions).toBe(1);
    // The first scale-up comes as soon as the first Deployment has stopped on the primary, the fence
    // ends when the last has: both were under way at the kill.
    expect(attempts).toEqual(warmStandbyActivities({ fenceWorkloads: 2, activateAsSourceStops: 2 }));
    const standby = await deploymentsOf(app, 'standby');
    expect(byName(standby, (d) => d.metadata!.generation)).toEqual(each(app, 2));
    expect(byName(standby, (d) => d.spec!.replicas)).toEqual(each(app, 1));
    expect(byName(standby, lifeboatMarks)).toEqual(
      each(app, { 'lifeboat.io/activated-by': owner(report), 'lifeboat.io/pre-activation-replicas': '0' }),
    );
    expect(seen.metadata!.labels!['lifeboat.io/activated-by']).toBe(owner(report));
    expect(byName(await deploymentsOf(app, 'primary'), (d) => d.metadata!.generation)).toEqual(each(app, 2));
    expect((await app.dnsEndpoint()).metadata.generation).toBe(2);
  }, 300_000);

  it('mid-switch, once the traffic webhook has the decision but before it answers: the retry sends the same decision, one idempotency key', async () => {
    const app = apps.get('inside traffic')!;
    webhook.posts.length = 0;
    const { report, attempts, completions } = await killedOnce(app, 'traffic', (kill) => {
      const first = new Promise<void>((resolve) => {
        webhook.onFirst = () => {
          kill();
          resolve();
        };
      });
      return Promise.resolve(() => first);
    });
    webhook.onFirst = undefined;
    expect(report.status).toBe('completed');
    expect(completions).toBe(1);
    expect(attempts).toEqual(warmStandbyActivities({ switchTraffic: 2 }));
    // The decision reached the load balancer twice, under one key: an idempotent receiver switches once.
    const key = `${report.workflowId}/${report.runId}/standby`;
    expect(webhook.posts).toEqual([
      { to: 'standby', key },
      { to: 'standby', key },
    ]);
    expect(byName(await deploymentsOf(app, 'primary'), (d) => d.metadata!.generation)).toEqual(each(app, 2));
    expect(byName(await deploymentsOf(app, 'standby'), (d) => d.metadata!.generation)).toEqual(each(app, 2));
  }, 300_000);

  it('restore mode, mid-restore (Velero restoring, Lifeboat waiting): the retry waits for the same Restore; one Restore, objects restored once', async () => {
    const app = apps.get('inside restore')!;
    // Enough objects that Velero takes a while restoring them.
    const core = app.kube.primary.makeApiClient(CoreV1Api);
    for (let i = 0; i < 100; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          core.createNamespacedConfigMap({
            namespace: app.namespace,
            body: { metadata: { name: `data-${i + j}` }, data: { n: String(i + j) } },
          }),
        ),
      );
    }
    const taskQueue = `test-failover-backup-${randomUUID()}`;
    const backupWorker = startWorker(taskQueue);
    let backup;
    try {
      backup = await client.workflow.execute<typeof veleroBackup>('veleroBackup', {
        taskQueue,
        workflowId: `velero-backup/${app.name}/kill`,
        args: [{ app: app.name }],
      });
    } finally {
      backupWorker.kill('SIGTERM');
      await backupWorker;
    }
    expect(backup.phase).toBe('Completed');
    const standbyVelero = app.kube.standby.makeApiClient(CustomObjectsApi);
    const velero = { group: 'velero.io', version: 'v1', namespace: 'velero' } as const;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      if (
        await standbyVelero.getNamespacedCustomObject({ ...velero, plural: 'backups', name: backup.name }).then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 1_000));
    }

    type Restore = { metadata: { name: string }; spec: { backupName: string; includedNamespaces?: string[] }; status?: { phase?: string } };
    // Killed once Lifeboat waits for the Restore and Velero is at work on it (or has finished: then the test fails, saying so).
    const { report, seen, attempts, completions } = await killedOnce(app, 'restore', () =>
      Promise.resolve(async (handle) => {
        await activityRunning(handle, 'waitForVeleroRestore');
        const restore = await firstWatched<Restore>(
          app.kube.standby,
          '/apis/velero.io/v1/namespaces/velero/restores',
          (x) => x.spec.backupName === backup.name && ![undefined, '', 'New'].includes(x.status?.phase),
        );
        return restore.status!.phase;
      }),
    );
    expect(report.status).toBe('completed');
    expect(completions).toBe(1);
    expect(seen).toBe('InProgress');
    expect(attempts).toEqual([
      ['preflightFailover', 1],
      ['findVeleroBackup', 1],
      ['fenceWorkloads', 1],
      ['createVeleroRestore', 1],
      ['waitForVeleroRestore', 2],
      ['activateWorkloads', 1],
      ['waitWorkloadsAvailable', 1],
      ['switchTraffic', 1],
      ['waitWorkloadsAvailable', 1],
      ['trafficStatus', 1],
    ]);
    const restores = (await standbyVelero.listNamespacedCustomObject({ ...velero, plural: 'restores' })) as { items: Restore[] };
    expect(
      restores.items
        .filter((x) => x.spec.includedNamespaces?.includes(app.namespace))
        .map((x) => [x.metadata.name, x.spec.backupName, x.status?.phase]),
    ).toEqual([[runRestoreNameFor(report.workflowId, report.runId), backup.name, 'Completed']]);
    // Created once by the restore (generation 1) with the replicas it runs; the activation only labelled
    // them (a Deployment's generation moves with its spec and its annotations, not its labels).
    const standby = await deploymentsOf(app, 'standby');
    expect(byName(standby, (d) => d.metadata!.generation)).toEqual(each(app, 1));
    expect(byName(standby, (d) => d.spec!.replicas)).toEqual(each(app, 1));
    expect(byName(standby, lifeboatMarks)).toEqual(
      each(app, { 'lifeboat.io/activated-by': owner(report), 'lifeboat.io/pre-activation-replicas': '1' }),
    );
    expect(byName(await deploymentsOf(app, 'primary'), (d) => d.metadata!.generation)).toEqual(each(app, 2));
    expect(
      (await app.kube.standby.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: app.namespace })).items.filter((c) =>
        c.metadata!.name!.startsWith('data-'),
      ),
    ).toHaveLength(100);
    expect((await app.dnsEndpoint()).metadata.generation).toBe(2);
  }, 420_000);
});
