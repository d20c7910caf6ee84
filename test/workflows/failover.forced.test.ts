// A forced failover and the primary that comes back (lab: Temporal, both clusters, the DNSEndpoint CRD;
// a worker process of its own, killed once during the watch). Lifeboat reaches the primary through a
// kube-apiserver of the test's own (a second API server of the primary cluster: the lab's binary and
// flags on another port, over the same etcd), started, stopped and started again through the lab's
// process manager. Stopping the lab's own API server instead would be undone by any `lab up` another
// test run starts meanwhile, and would take the primary's kwok Nodes NotReady under every other test;
// this way the primary's control plane is gone only for Lifeboat, while its Pods keep serving, as in
// the disaster. The primary's API is down, so the run cannot fence it and goes ahead on a forced
// approval; after the switch it watches the primary and fences it when its API answers. A second app
// with a short watch limit ends saying both sites may serve, and its failback copes with the primary
// that was never fenced. A third app asks a person: the run refuses to go ahead without force, shows
// a plan that says the primary cannot be fenced, and takes only a forced approval.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { decodePayload, temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { execa, type ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import type { failback, failover, FailoverReport } from '../../workflows/failover.js';
import { approveUpdate, endedStatuses, reportQuery } from '../../workflows/failover.js';
import { labConfigFile } from '../../lab/topology.js';
import { labComponents } from '../../lab/components.js';
import { startDaemon, stopDaemon, type DaemonSpec } from '../../lab/processes.js';
import { httpProbe } from '../../lab/probes.js';
import { cliPath, labConfig, lifeboat } from '../helpers/lab.js';
import { createTestApp, lifeboatMarks, targets, testRequester, type TestApp } from '../helpers/failover-app.js';
import { fetchHistory } from '../helpers/histories.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-failover-forced-'));
const configFile = join(dir, 'lifeboat.yaml');
const kubeconfigFile = join(dir, 'primary.kubeconfig');
const taskQueue = `test-failover-forced-${randomUUID()}`;
let watched: TestApp;
let limited: TestApp;
let asked: TestApp;
let client: LifeboatClient;
let worker: ResultPromise | undefined;
let apiserver: DaemonSpec;
let apiserverUrl: string;
// The primary is the test's own API server, also when the shell has the lab's environment
// (`eval "$(lifeboat lab env)"`), whose cluster variables would otherwise overlay the file.
const env = { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_CLUSTER_PRIMARY_KUBECONFIG: kubeconfigFile };
const startWorker = (): ResultPromise =>
  execa(process.execPath, [cliPath, 'worker'], { env: { ...env, LIFEBOAT_METRICS_PORT: '0' }, reject: false });

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
  });

/** Starts the test's own API server of the primary (again) and waits until it is ready. */
async function startPrimaryApiserver(): Promise<void> {
  await startDaemon(apiserver);
  const primary = labConfig().clusters.find((c) => c.name === 'primary')!;
  const pki = join(primary.kubeconfig!, '..', 'pki');
  const tls = { caFile: join(pki, 'ca.crt'), certFile: join(pki, 'user-admin.crt'), keyFile: join(pki, 'user-admin.key') };
  for (const deadline = Date.now() + 120_000; !(await httpProbe(`${apiserverUrl}/readyz`, tls)).ok;) {
    if (Date.now() > deadline) throw new Error(`the test's primary kube-apiserver did not become ready at ${apiserverUrl}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  watched = await createTestApp(labConfig(), { deployments: 2, replicas: 2 });
  limited = await createTestApp(labConfig(), { deployments: 1, replicas: 2 });
  asked = await createTestApp(labConfig(), { deployments: 2, replicas: 2 });
  // The lab's API server of the primary, on a port of the test's own.
  const lab = labComponents.find((c) => c.name === 'kube-apiserver/primary')!.daemon;
  const port = await freePort();
  const args = [...lab.args];
  args[args.indexOf('--secure-port') + 1] = String(port);
  apiserver = { ...lab, name: `kube-apiserver/primary-test-${randomBytes(4).toString('hex')}`, args };
  apiserverUrl = `https://127.0.0.1:${port}`;
  await startPrimaryApiserver();
  const raw = parse(readFileSync(labConfigFile, 'utf8')) as { clusters: { name: string; kubeconfig: string }[]; apps: object[] };
  const primary = raw.clusters.find((c) => c.name === 'primary')!;
  const kubeconfig = parse(readFileSync(primary.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  for (const c of kubeconfig.clusters) c.cluster.server = apiserverUrl;
  writeFileSync(kubeconfigFile, stringify(kubeconfig), { mode: 0o600 });
  primary.kubeconfig = kubeconfigFile;
  for (const [app, returnWatch] of [
    [watched, '10m'],
    [limited, '10s'],
    [asked, '10m'],
  ] as const) {
    raw.apps.push({
      name: app.name,
      cluster: 'primary',
      namespaces: [app.namespace],
      verify: { cluster: 'standby' },
      failover: {
        standby: 'standby',
        mode: 'warm-standby',
        traffic: app.config.failover!.traffic,
        approvalTimeout: '10m',
        availableTimeout: '2m',
        returnWatch,
      },
      approvers: app.config.approvers,
      forceApprovers: app.config.forceApprovers,
    });
  }
  writeFileSync(configFile, stringify(raw));
  client = await temporalClient(labConfig());
  worker = startWorker();
}, 180_000);
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker;
  if (apiserver) await stopDaemon(apiserver.name);
  await client?.connection.close();
  await Promise.all([watched, limited, asked].map((a) => a?.remove()));
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

/** Polls the run's report until `done` says so (or two minutes pass), and returns the last one seen. */
async function reportWhen(handle: WorkflowHandle, done: (r: FailoverReport) => boolean): Promise<FailoverReport> {
  let r = await handle.query(reportQuery);
  for (const deadline = Date.now() + 120_000; !done(r) && Date.now() < deadline; r = await handle.query(reportQuery))
    await new Promise((res) => setTimeout(res, 200));
  return r;
}

/** The watch activity's pending attempt and its last heartbeat. */
async function pendingWatch(handle: WorkflowHandle): Promise<{ attempt: number; checks?: number } | undefined> {
  const { raw } = await handle.describe();
  const a = raw.pendingActivities?.find((p) => p.activityType?.name === 'watchForSourceApi');
  if (!a) return undefined;
  const payload = a.heartbeatDetails?.payloads?.[0];
  return { attempt: a.attempt ?? 0, ...(payload ? await decodePayload<{ checks: number }>(client, payload) : {}) };
}

const lines = (out: string) => out.split('\n');

describe('forced failover with the primary down', () => {
  it('watches the unfenced primary after the switch (in status, across a worker kill) and fences it when its API answers; a short limit ends saying both sites may serve; failback copes with the never-fenced primary', async () => {
    const fenceCommand = (app: TestApp) =>
      `kubectl --kubeconfig ${kubeconfigFile} --namespace ${app.namespace} scale deployment ${app.deployments.join(' ')} --replicas=0`;
    expect(await stopDaemon(apiserver.name)).toBe(true);
    const start = (app: TestApp) =>
      client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: `failover/${app.name}`,
        args: [
          {
            app: app.name,
            from: 'primary',
            to: 'standby',
            reason: 'primary region down',
            autoApprove: { approver: 'jest', force: true },
            requestedBy: testRequester,
          },
        ],
      });
    const [long, short] = await Promise.all([start(watched), start(limited)]);

    // Switched, and watching: the report says so, and so does `failover status`.
    const switched = await reportWhen(long, (r) => r.sourceWatch !== undefined || endedStatuses.includes(r.status));
    expect(switched.status).toBe('watching-source');
    expect(switched.steps.map((s) => [s.name, s.state])).toEqual([
      ['preflight', 'done'],
      ['plan', 'done'],
      ['approval', 'done'],
      ['fence', 'skipped'],
      ['bring-up', 'done'],
      ['available', 'done'],
      ['traffic', 'done'],
      ['verify', 'done'],
      ['report', 'done'],
      ['watch', 'running'],
    ]);
    const sw = switched.sourceWatch!;
    expect(sw).toEqual({
      cluster: 'primary',
      state: 'watching',
      since: sw.since,
      until: new Date(Date.parse(sw.since) + 600_000).toISOString(),
      limitSeconds: 600,
      workloads: 2,
      fenceCommand: fenceCommand(watched),
    });
    expect(await watched.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await watched.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.standby);

    const running = await lifeboat(['failover', 'status', '--app', watched.name], env);
    expect(running.exitCode).toBe(0);
    const { startTime } = await long.describe();
    const shown = lines(running.stdout);
    expect(shown[0]).toMatch(
      new RegExp(
        `^failover/${watched.name} \\(run ${long.firstExecutionRunId}\\) running since ${startTime.toISOString().replaceAll('.', '\\.')} \\(\\d+ (s|min)\\): WATCHING-SOURCE$`,
      ),
    );
    expect(shown.slice(1, 6)).toEqual([
      `Preflight and plan are as of the run's start. What is true now: \`lifeboat failover plan --app ${watched.name}\` and the source watch below`,
      '',
      `failover of ${watched.name} from primary to standby: WATCHING-SOURCE`,
      'reason: primary region down; requested by requester; auto-approved by jest (force)',
      `preflight at start (${switched.steps[0]!.finishedAt}): standby: ${switched.preflight!.to.detail}; primary: UNREACHABLE (${switched.preflight!.from.detail}); capacity: ${switched.preflight!.capacity.detail}`,
    ]);
    expect(shown).toContain(
      `source watch: 'primary' was unreachable and is NOT fenced; watching its API since ${sw.since}, until ${sw.until} (limit 10 min), to fence its 2 Deployments as soon as it answers`,
    );
    expect(shown).toContain(`  should it serve before then, fence it by hand: ${fenceCommand(watched)}`);

    // kill -9 of the worker mid-watch: the next attempt resumes from the last heartbeat, counting on.
    let beat = await pendingWatch(long);
    for (const deadline = Date.now() + 60_000; (beat?.checks ?? 0) < 2 && Date.now() < deadline; beat = await pendingWatch(long))
      await new Promise((r) => setTimeout(r, 200));
    worker!.kill('SIGKILL');
    await worker;
    const before = (await pendingWatch(long))!;
    expect(before.attempt).toBe(1);
    expect(before.checks).toBeGreaterThanOrEqual(2);
    worker = startWorker();
    let resumed = await pendingWatch(long);
    for (
      const deadline = Date.now() + 90_000;
      !(resumed && resumed.attempt >= 2 && resumed.checks !== before.checks) && Date.now() < deadline;
      resumed = await pendingWatch(long)
    )
      await new Promise((r) => setTimeout(r, 100));
    expect(resumed!.attempt).toBe(2);
    // A fresh start would count from 1.
    expect(resumed!.checks).toBeGreaterThan(before.checks!);

    // The short limit passes with the primary still down: the run ends saying both sites may serve.
    const gaveUp = await short.result().catch((e: unknown) => e);
    expect(gaveUp).toBeInstanceOf(WorkflowFailedError);
    const cause = (gaveUp as WorkflowFailedError).cause as { type?: string; message: string; details?: unknown[] };
    const unfenced = cause.details![0] as FailoverReport;
    expect(unfenced.status).toBe('source-unfenced');
    const limit = unfenced.sourceWatch!;
    expect(limit).toMatchObject({
      cluster: 'primary',
      state: 'limit-passed',
      limitSeconds: 10,
      workloads: 1,
      fenceCommand: fenceCommand(limited),
    });
    expect(limit.detail).toMatch(
      new RegExp(
        `^its API did not answer within 10 s \\(\\d+ checks since ${limit.since.replaceAll('.', '\\.')}; last: cluster 'primary' API: connection refused\\)$`,
      ),
    );
    expect({ type: cause.type, message: cause.message }).toEqual({
      type: 'SourceNotFenced',
      message: `failover of ${limited.name} switched to standby, but 'primary' was never fenced: ${limit.detail}. Both sites may serve. Fence it as soon as its API answers: ${fenceCommand(limited)}`,
    });

    // The primary comes back: the watching run fences it at once, with this run's annotations.
    await startPrimaryApiserver();
    const record = await lifeboat(['failover', 'status', '--app', limited.name], env);
    const { closeTime } = await short.describe();
    const recorded = lines(record.stdout);
    expect(recorded[0]).toMatch(
      new RegExp(
        `^failover/${limited.name} \\(run ${short.firstExecutionRunId}\\) finished ${closeTime!.toISOString().replaceAll('.', '\\.')} \\(\\d+ (s|min) ago\\): SOURCE-UNFENCED$`,
      ),
    );
    expect(recorded[1]).toBe(`This is the run's record. What is true now: \`lifeboat failover plan --app ${limited.name}\``);
    expect(recorded).toContain(`DANGER: 'primary' was never fenced: ${limit.detail}. Both sites may serve`);
    expect(recorded).toContain(`  fence it as soon as its API answers: ${fenceCommand(limited)}`);
    const done = await long.result();
    expect(done.status).toBe('completed');
    expect(done.sourceWatch).toEqual({
      ...sw,
      state: 'fenced',
      answeredAt: done.sourceWatch!.answeredAt,
      fencedAt: done.sourceWatch!.fencedAt,
    });
    expect(done.steps.find((s) => s.name === 'watch')).toMatchObject({
      state: 'done',
      detail: `'primary' answered at ${done.sourceWatch!.answeredAt}; its 2 Deployments fenced by this run, no Pod serving`,
    });
    expect(await watched.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(lifeboatMarks(await watched.deployment('primary', 'svc-0'))).toMatchObject({
      'lifeboat.io/fenced-by': long.firstExecutionRunId,
      'lifeboat.io/fenced-replicas': '2',
    });
    const finished = lines((await lifeboat(['failover', 'status', '--app', watched.name], env)).stdout);
    expect(finished[0]).toMatch(
      new RegExp(`^failover/${watched.name} \\(run ${long.firstExecutionRunId}\\) finished \\S+ \\(\\d+ (s|min) ago\\): COMPLETED$`),
    );
    expect(finished).toContain(
      `source watch: 'primary' answered at ${done.sourceWatch!.answeredAt}; its 2 Deployments were fenced by this run (no Pod serving at ${done.sourceWatch!.fencedAt})`,
    );
    await fetchHistory(client, long.workflowId, 'failover-forced');

    // The other app's primary came back unfenced and serves beside the standby; failback takes it home.
    const back = await (
      await client.workflow.start<typeof failback>('failback', {
        taskQueue,
        workflowId: `failover/${limited.name}`,
        args: [
          {
            app: limited.name,
            from: 'standby',
            to: 'primary',
            reason: 'primary back',
            autoApprove: { approver: 'jest' },
            requestedBy: testRequester,
          },
        ],
      })
    ).result();
    expect(back.status).toBe('completed');
    expect(back.preflight!.warnings).toEqual([
      `${limited.namespace}/svc-0 already serves on 'primary' (2 ready, never fenced): both sites may be serving now`,
    ]);
    expect(await limited.replicas('primary')).toEqual({ 'svc-0': 2 });
    expect(await limited.replicas('standby')).toEqual({ 'svc-0': 0 });
    expect((await limited.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
  }, 420_000);
});

describe('failover with the primary down, approved by a person', () => {
  it('refuses to proceed without force, and with a forced approval fails over without fencing, then fences the primary when it is back', async () => {
    await stopDaemon(apiserver.name);
    const start = (autoApprove?: { approver: string }) =>
      client.workflow.start<typeof failover>('failover', {
        taskQueue,
        workflowId: `failover/${asked.name}`,
        args: [{ app: asked.name, from: 'primary', to: 'standby', reason: 'primary region down', autoApprove, requestedBy: testRequester }],
      });
    const unforced = await (await start({ approver: 'jest' })).result().catch((e: unknown) => e);
    expect(unforced).toBeInstanceOf(WorkflowFailedError);
    const cause = (unforced as WorkflowFailedError).cause as { type?: string; details?: unknown[] };
    expect(cause.type).toBe('ForceRequired');
    expect((cause.details![0] as FailoverReport).status).toBe('failed');

    const handle = await start();
    const plan = await reportWhen(handle, (r) => r.status === 'awaiting-approval' || endedStatuses.includes(r.status));
    expect(plan.status).toBe('awaiting-approval');
    expect(plan.plan[0]).toEqual({
      step: 'fence',
      cluster: 'primary',
      change: `cannot fence: the API of 'primary' is unreachable (${plan.preflight!.from.detail}); proceeds only with a forced approval`,
    });
    await expect(handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob' }] })).rejects.toMatchObject({
      cause: { message: "'primary' is unreachable and cannot be fenced: approve with force to proceed anyway" },
    });
    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'bob', force: true }] });
    // Switched: the run then watches the unfenced primary until its API answers.
    const switched = await reportWhen(handle, (r) => r.status === 'watching-source' || endedStatuses.includes(r.status));
    expect(switched.status).toBe('watching-source');
    expect(switched.steps.find((s) => s.name === 'fence')).toEqual({
      name: 'fence',
      state: 'skipped',
      detail: "'primary' unreachable; proceeding on the forced approval of bob",
    });
    expect(await asked.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await asked.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.standby);
    // The primary back: the watch fences it and the run completes.
    await startPrimaryApiserver();
    expect((await handle.result()).sourceWatch!.state).toBe('fenced');
    expect(await asked.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
  }, 300_000);
});
