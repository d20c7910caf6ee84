// Integration (lab: both API servers, etcd, MinIO, Temporal; a worker of its own, test cluster names and
// a test app): each row of the network-partition decision table, for real. The standby's view is a real
// `lifeboat witness` process writing a real Lease on the standby; what nobody can reach is a real black
// hole (a loopback listener that accepts and never answers, test/helpers/tcp-fault.ts), so every client
// meets silence until its own deadline, as in a partition, not a clean refusal.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import type { WorkflowHandle } from '@temporalio/client';
import { runbookWorkflowId, type RunbookReport } from '../../model/runbook/run.js';
import { siteWitnessAnnotations, siteWitnessLeaseName, siteWitnessNamespace } from '../../model/partition.js';
import type { LifeboatConfig } from '../../worker/config.js';
import { bin, clusterPaths } from '../../lab/topology.js';
import type { runbook } from '../../workflows/runbook.js';
import { reportQuery, type FailoverReport } from '../../workflows/failover.js';
import { createTestApp, targets, type TestApp } from '../helpers/failover-app.js';
import { adminKubeConfig, cliPath, labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import { testClusterName, withTestCluster } from '../helpers/test-cluster.js';
import { startTcpFault, type TcpFault } from '../helpers/tcp-fault.js';

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const deployDir = fileURLToPath(new URL('../../../deploy/kubernetes/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-partition-'));
// The sources: seen by both (A), seen by the worker only (B), seen by nobody (C); and for the isolated worker, D and its standby.
const [srcA, srcB, srcC, dst, srcD, dstD] = ['np-a', 'np-b', 'np-c', 'np-dst', 'np-d', 'np-dstd'].map(testClusterName) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const lab = labConfig();
const primaryServer = (
  parse(readFileSync(lab.clusters.find((c) => c.name === 'primary')!.kubeconfig!, 'utf8')) as {
    clusters: { cluster: { server: string } }[];
  }
).clusters[0]!.cluster.server;
const primaryApi = new URL(primaryServer);

let hole: TcpFault; // silence, always
let sourceApi: TcpFault; // C's API as the worker reaches it: silence, then healed
let app: TestApp;
let w: TestWorker;
const witnesses: ResultPromise[] = [];
const standbyLeases = adminKubeConfig('standby').makeApiClient(CoordinationV1Api);

/** A copy of `kubeconfig` whose server is `server`: the same credentials, another path to the API. */
function rerouted(kubeconfig: string, server: string, name: string): string {
  const doc = parse(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  for (const c of doc.clusters) c.cluster.server = server;
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  return file;
}

/** Lab cluster `of` under `name`, its API (and etcd) reached through `fault` when given. */
function cluster(config: LifeboatConfig, name: string, of: 'primary' | 'standby', fault?: { api: TcpFault; etcd: TcpFault }) {
  const withIt = withTestCluster(config, name, of);
  if (!fault) return withIt;
  return {
    ...withIt,
    clusters: withIt.clusters.map((c) =>
      c.name === name
        ? { ...c, kubeconfig: rerouted(c.kubeconfig!, fault.api.url, name), etcd: { ...c.etcd, endpoints: [fault.etcd.url] } }
        : c,
    ),
  };
}

const kubectl = (cluster: string, args: string[], input?: string) =>
  execa(bin.kubectl, ['--kubeconfig', clusterPaths(cluster).kubeconfig('admin'), ...args], input === undefined ? {} : { input });

/** A `lifeboat witness` on the standby watching `peer` at `peerUrl`, as deploy/kubernetes/witness runs it, with its own ServiceAccount's token. */
function startWitness(peer: string, peerUrl: string, kubeconfig: string): void {
  const witness = execa(
    process.execPath,
    [
      cliPath,
      'witness',
      ...['--cluster', dst, '--peer', peer, '--peer-url', peerUrl, '--peer-ca-file', clusterPaths('primary').caCert],
      ...['--kubeconfig', kubeconfig, '--interval', '2', '--timeout', '1'],
    ],
    { reject: false, env: { LIFEBOAT_LOG_LEVEL: 'warn' }, all: true },
  );
  witnesses.push(witness);
}

/** Waits (at most 30 s) until the standby's witness of `peer` has recorded `state`. */
async function witnessSays(peer: string, state: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const lease = await standbyLeases
      .readNamespacedLease({ name: siteWitnessLeaseName(peer), namespace: siteWitnessNamespace })
      .catch(() => undefined);
    if (lease?.metadata?.annotations?.[siteWitnessAnnotations.state] === state) return;
    if (Date.now() > until)
      throw new Error(`the witness of ${peer} never recorded ${state}: ${JSON.stringify(lease?.metadata?.annotations)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  [hole, sourceApi] = await Promise.all([startTcpFault(), startTcpFault()]);
  // What an operator applies on each site for this runbook: its roles, the witness's ServiceAccount, the bindings.
  for (const c of ['primary', 'standby'])
    await kubectl(c, [
      ...['apply', '--server-side', '--force-conflicts', '--field-manager', 'lifeboat-partition-test'],
      ...['-f', join(deployDir, 'roles/network-partition.yaml'), '-f', join(deployDir, 'witness/serviceaccount.yaml')],
      ...['-f', join(deployDir, 'components/network-partition/bindings.yaml')],
    ]);
  const token = (
    await kubectl('standby', ['create', 'token', 'lifeboat-witness', '-n', 'lifeboat-system', '--duration', '1h'])
  ).stdout.trim();
  const admin = parse(readFileSync(clusterPaths('standby').kubeconfig('admin'), 'utf8')) as { clusters: { cluster: object }[] };
  const witnessKubeconfig = join(dir, 'witness.kubeconfig');
  writeFileSync(
    witnessKubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'standby', cluster: admin.clusters[0]!.cluster }],
      users: [{ name: 'witness', user: { token } }],
      contexts: [{ name: 'standby', context: { cluster: 'standby', user: 'witness' } }],
      'current-context': 'standby',
    }),
    { mode: 0o600 },
  );
  // The standby sees A's API (the primary's, directly); B's and C's addresses are black holes from the standby.
  startWitness(srcA, primaryServer, witnessKubeconfig);
  startWitness(srcB, hole.url, witnessKubeconfig);
  startWitness(srcC, hole.url, witnessKubeconfig);
  app = await createTestApp(lab);
  w = await startTestWorker((c) => {
    let config = cluster(cluster(cluster(cluster(c, srcA, 'primary'), srcB, 'primary'), dst, 'standby'), srcC, 'primary', {
      api: sourceApi,
      etcd: hole,
    });
    const f = app.config.failover!;
    config = {
      ...config,
      apps: [
        ...config.apps,
        {
          ...app.config,
          cluster: srcC,
          // The same record and addresses, keyed by the names this worker gives the two sites.
          failover: {
            ...f,
            standby: dst,
            traffic: { ...f.traffic, cluster: dst, targets: { [srcC]: targets.primary, [dst]: targets.standby } } as typeof f.traffic,
          },
        },
      ],
    };
    return config;
  });
  await Promise.all([witnessSays(srcA, 'reachable'), witnessSays(srcB, 'unreachable'), witnessSays(srcC, 'unreachable')]);
}, 180_000);

afterAll(async () => {
  for (const p of witnesses) p.kill('SIGTERM');
  await Promise.all(witnesses);
  // A run a failed assertion left behind (a failover watching its source) ends with the test.
  if (w && app)
    await w.client.workflow
      .getHandle(`failover/${app.name}`)
      .terminate('test cleanup')
      .catch(() => undefined);
  await w?.stop();
  await app?.remove();
  await Promise.all(
    [srcA, srcB, srcC].map((peer) =>
      standbyLeases.deleteNamespacedLease({ name: siteWitnessLeaseName(peer), namespace: siteWitnessNamespace }).catch(() => undefined),
    ),
  );
  await Promise.all([hole?.close(), sourceApi?.close()]);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

function start(worker: TestWorker, from: string, to: string, approver = ''): Promise<WorkflowHandle<typeof runbook>> {
  const input = findRunbookIn(
    runbooksDir,
    'network-partition',
    { app: app.name, from, to, approver },
    { startedBy: 'requester', approverGroups: { sre: ['alice', 'bob'] } },
  );
  return worker.client.workflow.start<typeof runbook>('runbook', {
    taskQueue: worker.config.temporal.taskQueue,
    workflowId: runbookWorkflowId('network-partition', new Date(), randomBytes(3).toString('hex')),
    args: [input],
    workflowExecutionTimeout: '15 minutes',
  });
}

const states = (r: RunbookReport) => Object.fromEntries(r.steps.map((s) => [s.path, s.state]));
const step = (r: RunbookReport, path: string) => r.steps.find((s) => s.path === path)!;
const unchanged = { approve: 'skipped', again: 'skipped', confirm: 'skipped', failover: 'skipped' };

describe('network-partition on the lab, row by row', () => {
  it('source reachable by the worker and by the standby: healthy, nothing done', async () => {
    const report = await (await start(w, srcA, dst)).result();
    expect(report.status).toBe('succeeded');
    expect(step(report, 'decide').outputs).toMatchObject({ row: 'source-healthy', failover: false });
    expect(states(report)).toMatchObject({ decide: 'succeeded', 'witnesses.standbyview': 'succeeded', ...unchanged });
    expect(step(report, 'decide').outputs!.witnesses).toContainEqual(
      expect.stringMatching(new RegExp(`^'${dst}' witness of '${srcA}': reachable`)),
    );
  }, 120_000);

  it('source reachable by the worker, not by the standby: a partition between sites, reported, nothing fenced', async () => {
    const report = await (await start(w, srcB, dst)).result();
    expect(report.status).toBe('succeeded');
    const decision = step(report, 'decide').outputs!;
    expect(decision).toMatchObject({ row: 'partition-between-sites', failover: false });
    expect(decision.detail).toMatch(/^PARTITION between sites/);
    expect(decision.witnesses).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^api/${srcB} from the worker: reachable`)),
        expect.stringMatching(new RegExp(`^'${dst}' witness of '${srcB}': unreachable`)),
      ]),
    );
    expect(states(report)).toMatchObject(unchanged);
    // Nothing fenced, nothing brought up: the app serves where it did.
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
  }, 120_000);

  it('source reachable from nowhere: dead; approved, checked again, failed over with force, and fenced the moment it answers', async () => {
    const handle = await start(w, srcC, dst, 'bob');
    const failover = w.client.workflow.getHandle(`failover/${app.name}`);
    // Heal C's path once the failover has switched and watches the unfenced source (at most 5 minutes).
    const until = Date.now() + 300_000;
    for (;;) {
      const r = await failover.query(reportQuery).catch(() => undefined);
      if (r?.status === 'watching-source') break;
      const run = await handle.query<RunbookReport>('report');
      if (run.status !== 'running' && run.status !== 'waiting-approval') throw new Error(`the run ended: ${run.failure}`);
      if (Date.now() > until) throw new Error(`the failover never watched the source: ${JSON.stringify(await handle.query('report'))}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // While it watches, the app serves on the standby and the traffic record points there; the source was never fenced.
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    sourceApi.forward(primaryApi.hostname, Number(primaryApi.port));
    const report = await handle.result();
    expect(report.status).toBe('succeeded');
    expect(step(report, 'decide').outputs).toMatchObject({ row: 'source-dead', failover: true });
    expect(states(report)).toMatchObject({ approve: 'succeeded', again: 'succeeded', confirm: 'succeeded', failover: 'succeeded' });
    expect(report.approvals).toEqual([expect.objectContaining({ step: 'approve', approver: 'bob', auto: true })]);
    const done = (await failover.result()) as FailoverReport;
    expect(done).toMatchObject({ status: 'completed', approval: { approver: 'bob', force: true }, sourceWatch: { state: 'fenced' } });
    expect(step(report, 'failover').outputs).toMatchObject({ status: 'completed' });
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await app.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.standby);
  }, 420_000);

  it("the standby's witness stopped: its record goes stale, and the run says the witness itself is down", async () => {
    // A's witness is the first started: stop it, and wait past its Lease duration (3 intervals of 2 s).
    const a = witnesses[0]!;
    a.kill('SIGTERM');
    expect((await a).exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 7_000));
    const report = await (await start(w, srcA, dst)).result();
    const decision = step(report, 'decide').outputs!;
    expect(decision).toMatchObject({ row: 'standby-view-unknown', failover: false });
    expect(decision.detail).toMatch(/the witness itself is down/);
    expect(states(report)).toMatchObject(unchanged);
  }, 120_000);

  it('lifeboat witness refuses a timeout not shorter than its interval, and an address that is not https (exit 2)', async () => {
    const common = ['witness', '--cluster', dst, '--peer', srcA, '--kubeconfig', join(dir, 'witness.kubeconfig')];
    const slow = await lifeboat([...common, '--peer-url', primaryServer, '--interval', '2', '--timeout', '2']);
    expect([slow.exitCode, slow.stderr]).toEqual([2, 'lifeboat: --timeout 2 must be less than --interval 2']);
    const plain = await lifeboat([...common, '--peer-url', 'http://127.0.0.1:1']);
    expect([plain.exitCode, plain.stderr]).toEqual([2, "lifeboat: --peer-url 'http://127.0.0.1:1': expected https"]);
  });

  it('the worker reaching nothing (neither API nor etcd nor the object store): it is the one isolated; nothing done', async () => {
    const isolated = await startTestWorker((c) => {
      const config = cluster(cluster(c, srcD, 'primary', { api: hole, etcd: hole }), dstD, 'standby', { api: hole, etcd: hole });
      return { ...config, objectStore: { ...config.objectStore, endpoint: `http://127.0.0.1:${hole.port}` } };
    });
    try {
      const report = await (await start(isolated, srcD, dstD)).result();
      expect(report.status).toBe('succeeded');
      const decision = step(report, 'decide').outputs!;
      expect(decision).toMatchObject({ row: 'worker-isolated', failover: false });
      expect(decision.detail).toMatch(/the worker reaches nothing/);
      for (const id of ['sourceapi', 'sourceetcd', 'targetapi', 'targetetcd', 'store'])
        expect(report.steps.find((s) => s.path === `witnesses.${id}`)!.state).toBe('succeeded');
      expect((decision.witnesses as string[]).slice(0, 5).every((l) => / from the worker: unreachable /.test(l))).toBe(true);
      expect(decision.witnesses).toContainEqual(expect.stringMatching(new RegExp(`^'${dstD}' witness of '${srcD}': unreadable`)));
      expect(states(report)).toMatchObject(unchanged);
    } finally {
      await isolated.stop();
    }
  }, 180_000);
});
