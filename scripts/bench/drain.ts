// `npm run bench:drain` (issue 12's benchmark): draining a Node that carries BENCH_PODS Pods (default 300)
// of Deployments of BENCH_REPLICAS replicas each (default 10: 30 Deployments), each with a
// PodDisruptionBudget of maxUnavailable 1, so every Deployment moves one Pod at a time.
// - L: Lifeboat's node-drain runbook (runbooks/node-drain.yaml of this checkout: preflight, cordon,
//   drainNode), on a worker in this process on a task queue of its own, as `lifeboat node drain --wait`
//   starts it (workflow ID node-drain/<cluster>/<node>), start to report;
// - K: `kubectl drain --ignore-daemonsets --delete-emptydir-data` (the baseline: what a skilled SRE runs;
//   it evicts every Pod at once and retries a budget's refusal every 5 s).
// Each run gets a fresh pool of the lab's primary (lab/nodes.ts, test/helpers/test-nodes.ts: kwok Nodes
// with a pool label and taint of their own): a source Node, and a spare Node created cordoned that is
// uncordoned once every Pod runs on the source; the Deployments are Available and every budget allows
// its one disruption before the clock starts. Afterwards the namespace and Nodes are deleted, so every
// run starts the same. The variants alternate in a rotating order. Per run: wall time; for L the peak
// RSS of this process (the worker's) sampled every 100 ms during the drain; for K kubectl's own peak
// (VmHWM); the Eviction requests each sent, by the code of the answer (Lifeboat's seen on undici's
// diagnostics channels in this process, kubectl's in its -v=6 log), and beside them what the API server
// answered meanwhile (apiserver_request_total: cluster-wide, so other lab users' evictions count too).
//
// Then BENCH_KILLS times (default 1): a pool of three Nodes whose first carries a StatefulSet Pod and a
// Deployment with a budget; its kubelet is killed (lab/nodes.ts killNode) and the nodeHealthWatch
// workflow looks every second (selector scoped to the pool, unhealthyAfter BENCH_UNHEALTHY_AFTER
// seconds, default 5) until it starts the node-replacement runbook; the replacement's report gives the
// rest. Segments, each from the end of the one before: detection (kill → the watch starts the
// replacement: kube-controller-manager's 20 s grace period or the Lease's expiry, plus unhealthyAfter,
// plus up to a second between looks), fencing (preflight, cordon, fence), drain/taint (out-of-service
// taint, volumes detached), provision (Node deleted, replacement created) and Ready; then the
// workloads back (verify), outside the kill → Ready total.
//
// Lifeboat's runbooks and watch run as the lab's configuration has it (the ServiceAccount and its
// node-replacement roles); the pools, workloads, checks, the kubelet kill and `kubectl drain` use the
// lab's admin kubeconfig, as its set-up and a skilled SRE with admin rights would.
//
// BENCH_REPEATS (default 3), BENCH_PODS (default 300), BENCH_REPLICAS (default 10), BENCH_KILLS (default
// 1; 0 skips), BENCH_UNHEALTHY_AFTER (default 5). Prints a table, then one JSON line. Figures, not
// assertions: the lab is shared and noisy.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { AppsV1Api, CoreV1Api, PolicyV1Api, type V1Node } from '@kubernetes/client-node';
import { labVolumeOfLabel } from '../../lab/volumes.js';
import { execa } from 'execa';
import { pino } from 'pino';
import { kwokNodeCapacity } from '../../activities/node-provider/kwok.js';
import { killNode } from '../../lab/nodes.js';
import { adminKubeConfig, adminKubeconfigFile } from '../../lab/admin-credentials.js';
import { bin, labConfigFile } from '../../lab/topology.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { findRunbookIn } from '../../test/helpers/runbooks.js';
import {
  createGuardedDeployment,
  createStatefulSetWithVolumes,
  nodesReady,
  poolLabel,
  poolTaint,
  testNode,
  type TestPool,
} from '../../test/helpers/test-nodes.js';
import { loadConfig } from '../../worker/config.js';
import { createWorker } from '../../worker/worker.js';
import { temporalClient } from '../../worker/temporal.js';
import type { nodeHealthWatch, NodeHealthWatchInput, NodeHealthWatchResult } from '../../workflows/nodeHealthWatch.js';
import type { runbook } from '../../workflows/runbook.js';
import { grewBy, readCounters } from './apiserver-metrics.js';
import { allReplicasAvailable, mergePatch, say } from './bench-app.js';
import { median } from './history.js';
import { traceHttp } from './http-trace.js';
import { envCount } from './env.js';

const repeats = envCount('BENCH_REPEATS', 3);
const podCount = envCount('BENCH_PODS', 300);
const replicasEach = envCount('BENCH_REPLICAS', 10);
const kills = envCount('BENCH_KILLS', 1, 0);
const unhealthyAfterSeconds = envCount('BENCH_UNHEALTHY_AFTER', 5, 0);
const target = { ratio: 0.7 } as const;
const cluster = 'primary';
/** How long Pods may take to be placed and Ready, and a namespace to go. */
const settleTimeoutMs = 300_000;

/** Replicas of each Deployment: `replicasEach`, the last one the remainder. */
const deployments = Array.from({ length: Math.ceil(podCount / replicasEach) }, (_, i) => ({
  name: `svc-${i}`,
  replicas: Math.min(replicasEach, podCount - i * replicasEach),
}));

const base = loadConfig({ file: labConfigFile, env: {} });
const config = { ...base, temporal: { ...base.temporal, taskQueue: `bench-drain-${randomUUID()}` }, metrics: { port: 0 } };
/** The lab's admin credentials: the bench's own Nodes, workloads and checks; Lifeboat's worker has the configuration's. */
const kc = adminKubeConfig(cluster);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const policy = kc.makeApiClient(PolicyV1Api);
/** This checkout's runbooks, not the lab configuration's directory (another checkout's). */
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const kubeconfig = adminKubeconfigFile(cluster);

const round2 = (x: number) => Number(x.toFixed(2));
const since = (t0: number) => (performance.now() - t0) / 1000;
const mib = (bytes: number) => Math.round((bytes / 1024 ** 2) * 10) / 10;
const secondsBetween = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 1000;

// ---------------------------------------------------------------------------------------------------
// Pools: kwok Nodes of the bench's own, with room for every Pod

/** Pools made so far, by id: all removed at the end, or on SIGINT. */
const pools = new Set<string>();

/** A Node of pool `id` with pods capacity for all the bench's Pods; cordoned when `cordoned`. */
function poolNode(name: string, id: string, cordoned = false): V1Node {
  const n = testNode(name, id);
  const capacity = { ...kwokNodeCapacity, pods: String(Math.max(Number(kwokNodeCapacity.pods), podCount + 20)) };
  return { ...n, spec: { ...n.spec, unschedulable: cordoned }, status: { capacity, allocatable: capacity } };
}

function poolOf(id: string, nodes: string[]): TestPool {
  return {
    id,
    nodes,
    namespace: id,
    placement: { nodeSelector: { [poolLabel]: id }, tolerations: [{ key: poolTaint, operator: 'Equal', value: id, effect: 'NoSchedule' }] },
    remove: () => removePool(id),
  };
}

/** `ready` Nodes, then `cordoned` ones, all Ready, and the pool's namespace. */
async function createPool(prefix: string, ready: string[], cordoned: string[]): Promise<TestPool> {
  const id = `${prefix}-${randomBytes(3).toString('hex')}`;
  pools.add(id);
  const names = (xs: string[]) => xs.map((x) => `${id}-${x}`);
  await core.createNamespace({ body: { metadata: { name: id } } });
  await Promise.all([
    ...names(ready).map((name) => core.createNode({ body: poolNode(name, id) })),
    ...names(cordoned).map((name) => core.createNode({ body: poolNode(name, id, true) })),
  ]);
  await nodesReady(kc, [...names(ready), ...names(cordoned)]);
  return poolOf(id, [...names(ready), ...names(cordoned)]);
}

/** Deletes the pool's namespace and waits until it is gone (its Pods with it), then its Nodes. */
async function removePool(id: string): Promise<void> {
  await core.deleteNamespace({ name: id }).catch(() => undefined);
  for (const deadline = Date.now() + settleTimeoutMs; Date.now() < deadline; await sleep(500)) {
    const gone = await core.readNamespace({ name: id }).then(
      () => false,
      (err: unknown) => (err as { code?: unknown }).code === 404,
    );
    if (gone) break;
  }
  const nodes = await core.listNode({ labelSelector: `${poolLabel}=${id}` });
  await Promise.all(nodes.items.map((n) => core.deleteNode({ name: n.metadata!.name! }).catch(() => undefined)));
  const volumes = await core.listPersistentVolume({ labelSelector: `${labVolumeOfLabel}=${id}` });
  await Promise.all(volumes.items.map((v) => core.deletePersistentVolume({ name: v.metadata!.name! }).catch(() => undefined)));
  pools.delete(id);
}

const uncordon = (node: string) => core.patchNode({ name: node, body: { spec: { unschedulable: false } } }, mergePatch);

/** Until every Deployment is Available with all its Pods Ready on `node`, and every budget allows its one disruption. */
async function settled(pool: TestPool, node: string, expected: { name: string; replicas: number }[]): Promise<void> {
  const want = expected.reduce((n, d) => n + d.replicas, 0);
  let last = '';
  for (const deadline = Date.now() + settleTimeoutMs; ; await sleep(500)) {
    const [ds, pods, pdbs] = await Promise.all([
      apps.listNamespacedDeployment({ namespace: pool.namespace }),
      core.listNamespacedPod({ namespace: pool.namespace }),
      policy.listNamespacedPodDisruptionBudget({ namespace: pool.namespace }),
    ]);
    const onNode = pods.items.filter((p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp).length;
    const budgetsOpen = pdbs.items.filter(
      (b) => (b.status?.observedGeneration ?? 0) >= (b.metadata?.generation ?? 1) && (b.status?.disruptionsAllowed ?? 0) === 1,
    ).length;
    const available = ds.items.filter(allReplicasAvailable).length;
    if (available === expected.length && onNode === want && pods.items.length === want && budgetsOpen === pdbs.items.length) return;
    last = `${available}/${expected.length} Deployments Available, ${onNode}/${want} Pods on ${node} (${pods.items.length} in all), ${budgetsOpen}/${pdbs.items.length} budgets allowing one disruption`;
    if (Date.now() > deadline) throw new Error(`pool ${pool.id} did not settle within ${settleTimeoutMs / 1000} s: ${last}`);
  }
}

/** A pool whose source Node carries every Pod, with a Ready spare uncordoned to take them; the budgets all open. */
async function drainPool(): Promise<{ pool: TestPool; source: string; spare: string }> {
  const pool = await createPool('bench-drain', ['source'], ['spare']);
  const [source, spare] = pool.nodes as [string, string];
  for (let i = 0; i < deployments.length; i += 10)
    await Promise.all(deployments.slice(i, i + 10).map((d) => createGuardedDeployment(kc, pool, d.name, d.replicas, 1)));
  await settled(pool, source, deployments);
  await uncordon(spare);
  // Let the scheduler's cache and the controllers' last status writes catch up before the clock starts.
  await sleep(1000);
  return { pool, source, spare };
}

/** Outside the timed part: the drain left no Pod on the source, and every Deployment is Available again. */
async function checkDrained(pool: TestPool, source: string, spare: string, variant: string): Promise<void> {
  const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${source}` });
  if (pods.items.length) throw new Error(`${variant} left ${pods.items.length} Pods on ${source}`);
  await settled(pool, spare, deployments);
}

// ---------------------------------------------------------------------------------------------------
// The variants

interface DrainRun {
  seconds: number;
  /** Peak RSS during the drain: this process's (the worker's) for L, kubectl's own for K. */
  peakRssMiB: number;
  /** L: this process's RSS when the drain started (the worker at rest), for what the drain added. */
  startRssMiB?: number;
  /** Eviction requests the variant itself sent, by the HTTP code of their answer (L: seen on undici's channels; K: kubectl -v=6's log). */
  evictions: Record<string, number>;
  /** Eviction requests the API server answered during the run, by code: cluster-wide, a check on the count above. */
  apiserverEvictions: Record<string, number>;
}

const evictionCounter = 'apiserver_request_total';
const byCode = (codes: number[]) => {
  const out: Record<string, number> = {};
  for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  return out;
};
const evictionsOf = (before: Map<string, number>, after: Map<string, number>) =>
  grewBy(before, after, evictionCounter, { resource: 'pods', subresource: 'eviction' }, 'code');

let running: WorkflowHandle | undefined;

async function lifeboatDrain(client: Client, node: string, warmUp = false): Promise<DrainRun> {
  const input = findRunbookIn(
    runbooksDir,
    'node-drain',
    { cluster, node, reason: warmUp ? 'bench:drain warm-up' : 'bench:drain', allowEmptyDir: true, drainTimeoutSeconds: 600 },
    { startedBy: 'bench:drain' },
  );
  const before = await readCounters(cluster, [evictionCounter]);
  const start = process.memoryUsage().rss;
  let peak = start;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  const trace = traceHttp();
  const t0 = performance.now();
  let report: RunbookReport;
  try {
    running = await client.workflow.start<typeof runbook>('runbook', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `node-drain/${cluster}/${node}`,
      args: [input],
    });
    report = (await running.result()) as RunbookReport;
  } finally {
    clearInterval(sampler);
    trace.stop();
  }
  const seconds = since(t0);
  running = undefined;
  if (report.status !== 'succeeded') throw new Error(`node-drain of ${node} ended ${report.status}: ${report.failure ?? ''}`);
  const after = await readCounters(cluster, [evictionCounter]);
  return {
    seconds,
    peakRssMiB: mib(Math.max(peak, process.memoryUsage().rss)),
    startRssMiB: mib(start),
    evictions: byCode(trace.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/eviction')).map((r) => r.status ?? 0)),
    apiserverEvictions: evictionsOf(before, after),
  };
}

/** A process's peak resident set so far (VmHWM), in bytes; 0 once it is gone. */
function highWaterMark(pid: number): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib ? Number(kib) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function kubectlDrain(node: string): Promise<DrainRun> {
  const before = await readCounters(cluster, [evictionCounter]);
  const t0 = performance.now();
  // -v=6 logs each request and its answer (to stderr), which is how its evictions are counted; it changes nothing it sends.
  const child = execa(bin.kubectl, ['--kubeconfig', kubeconfig, 'drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '-v=6']);
  let peak = 0;
  const sampler = setInterval(() => {
    if (child.pid) peak = Math.max(peak, highWaterMark(child.pid));
  }, 100);
  let stderr: string;
  try {
    stderr = (await child).stderr;
  } finally {
    clearInterval(sampler);
  }
  const seconds = since(t0);
  const after = await readCounters(cluster, [evictionCounter]);
  const answered = [...stderr.matchAll(/verb="POST" url="[^"]*\/eviction[^"]*" status="(\d{3})/g)].map((m) => Number(m[1]));
  return { seconds, peakRssMiB: mib(peak), evictions: byCode(answered), apiserverEvictions: evictionsOf(before, after) };
}

// ---------------------------------------------------------------------------------------------------
// A dead kubelet, noticed by the watch and replaced

interface KillRun {
  /** Segment seconds, each from the end of the one before. */
  detectionSeconds: number;
  fencingSeconds: number;
  drainTaintSeconds: number;
  provisionSeconds: number;
  readySeconds: number;
  /** Kill → the replacement Ready. */
  totalSeconds: number;
  /** Replacement Ready → every workload of the dead Node back elsewhere (verify). */
  workloadsBackSeconds: number;
  /** How many looks the watch took, one a second. */
  looks: number;
  /** Each step of the replacement run, seconds. */
  steps: Record<string, number>;
}

async function killRun(client: Client): Promise<KillRun> {
  const pool = await createPool('bench-kill', ['0'], ['1', '2']);
  const [victim, ...others] = pool.nodes as [string, string, string];
  // db-0 owns a claim on a static volume: the attach/detach controller attaches it to the victim, and detaches it once released.
  await createStatefulSetWithVolumes(kc, pool, 'db', 1);
  const web = { name: 'web', replicas: Math.min(replicasEach, podCount) };
  await createGuardedDeployment(kc, pool, web.name, web.replicas, 1);
  for (const deadline = Date.now() + settleTimeoutMs; ; await sleep(500)) {
    const [pods, d] = await Promise.all([
      core.listNamespacedPod({ namespace: pool.namespace }),
      apps.readNamespacedDeployment({ namespace: pool.namespace, name: web.name }),
    ]);
    const ready = pods.items.filter(
      (p) => p.spec?.nodeName === victim && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    if (ready === web.replicas + 1 && allReplicasAvailable(d)) break;
    if (Date.now() > deadline) throw new Error(`pool ${pool.id}'s workloads not Ready on ${victim} within ${settleTimeoutMs / 1000} s`);
  }
  await Promise.all(others.map(uncordon));
  await sleep(1000);

  const input: NodeHealthWatchInput = {
    cluster,
    policy: { unhealthyAfterSeconds, maxUnhealthy: 1, stormThreshold: '55%', pause: false, selector: `${poolLabel}=${pool.id}` },
    replacement: findRunbookIn(
      runbooksDir,
      'node-replacement',
      { cluster, node: 'placeholder', reason: 'placeholder', nodeStartupTimeoutSeconds: 120 },
      { startedBy: 'bench:drain' },
    ),
  };
  const killedAt = Date.now();
  await killNode(kc, victim);
  let looks = 0;
  let started: NodeHealthWatchResult | undefined;
  for (const deadline = Date.now() + 180_000; !started; await sleep(1000)) {
    const r = await client.workflow.execute<typeof nodeHealthWatch>('nodeHealthWatch', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `node-health/${cluster}/${pool.id}-${Date.now()}`,
      args: [input],
    });
    looks++;
    if (r.started.length) started = r;
    else if (Date.now() > deadline) throw new Error(`the watch started no replacement within 180 s: ${JSON.stringify(r)}`);
  }
  running = client.workflow.getHandle(started.started[0]!);
  const report = (await running.result()) as RunbookReport;
  running = undefined;
  if (report.status !== 'succeeded') throw new Error(`the replacement of ${victim} ended ${report.status}: ${report.failure ?? ''}`);
  const step = (id: string) => report.steps.find((s) => s.id === id && s.state === 'succeeded');
  const endOf = (id: string) => {
    const s = step(id);
    if (!s?.finishedAt) throw new Error(`the replacement's report has no finished step ${id}`);
    return s.finishedAt;
  };
  const killed = new Date(killedAt).toISOString();
  const result: KillRun = {
    detectionSeconds: secondsBetween(killed, report.startedAt),
    fencingSeconds: secondsBetween(report.startedAt, endOf('fence')),
    drainTaintSeconds: secondsBetween(endOf('fence'), endOf('volumes')),
    provisionSeconds: secondsBetween(endOf('volumes'), endOf('provision')),
    readySeconds: secondsBetween(endOf('provision'), endOf('ready')),
    totalSeconds: secondsBetween(killed, endOf('ready')),
    workloadsBackSeconds: secondsBetween(endOf('ready'), endOf('verify')),
    looks,
    steps: Object.fromEntries(
      report.steps.filter((s) => s.startedAt && s.finishedAt).map((s) => [s.id, secondsBetween(s.startedAt!, s.finishedAt!)]),
    ),
  };
  await removePool(pool.id);
  return result;
}

// ---------------------------------------------------------------------------------------------------

type Variant = 'L' | 'K';
const variants: readonly Variant[] = ['L', 'K'];
/** Run `rep`'s order: the variants rotated by one each run. */
const orderOf = (rep: number): Variant[] => variants.map((_, i) => variants[(i + rep) % variants.length]!);

const worker = await createWorker(config, pino({ level: 'warn' }));
const workerRunning = worker.run();
const client = await temporalClient(config);

async function tearDown(): Promise<void> {
  if (running) await running.terminate('bench:drain stopped').catch(() => undefined);
  await Promise.all([...pools].map(removePool));
  worker.worker.shutdown();
  await workerRunning;
  await client.connection.close();
}
const onSignal = (signal: NodeJS.Signals) => {
  say(`${signal}: removing the bench's Nodes and namespaces`);
  void tearDown().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  const l: DrainRun[] = [];
  const k: DrainRun[] = [];
  const orders: string[] = [];
  // A long-running worker has its workflow sandbox and activities warm; this one is new. One drain of an
  // empty Node, not measured, warms it.
  {
    const warm = await createPool('bench-drain-warm', ['0'], []);
    await lifeboatDrain(client, warm.nodes[0]!, true);
    await removePool(warm.id);
  }
  say(`${repeats} runs of each: ${deployments.length} Deployments, ${podCount} Pods on a source Node, budgets maxUnavailable 1`);
  for (let i = 0; i < repeats; i++) {
    const order = orderOf(i);
    orders.push(order.join(''));
    const line: string[] = [];
    for (const variant of order) {
      const { pool, source, spare } = await drainPool();
      const r = variant === 'L' ? await lifeboatDrain(client, source) : await kubectlDrain(source);
      await checkDrained(pool, source, spare, variant);
      await removePool(pool.id);
      (variant === 'L' ? l : k).push(r);
      line.push(
        `${variant === 'L' ? 'Lifeboat' : 'kubectl'} ${r.seconds.toFixed(2)} s (peak RSS ${r.peakRssMiB} MiB, evictions ${JSON.stringify(r.evictions)})`,
      );
    }
    say(`run ${i + 1}/${repeats}, order ${order.join(' ')}: ${line.join('; ')}`);
  }
  const killRuns: KillRun[] = [];
  for (let i = 0; i < kills; i++) {
    const r = await killRun(client);
    killRuns.push(r);
    say(
      `kill ${i + 1}/${kills}: kill → Ready ${r.totalSeconds.toFixed(1)} s (detection ${r.detectionSeconds.toFixed(1)}, fencing ${r.fencingSeconds.toFixed(1)}, drain/taint ${r.drainTaintSeconds.toFixed(1)}, provision ${r.provisionSeconds.toFixed(1)}, Ready ${r.readySeconds.toFixed(1)}); workloads back ${r.workloadsBackSeconds.toFixed(1)} s later; ${r.looks} looks`,
    );
  }

  const m = (xs: number[]) => round2(median(xs));
  const L = median(l.map((r) => r.seconds));
  const K = median(k.map((r) => r.seconds));
  const evictionsMedian = (runs: DrainRun[]) => {
    const codes = [...new Set(runs.flatMap((r) => Object.keys(r.evictions)))].sort();
    return Object.fromEntries(codes.map((c) => [c, median(runs.map((r) => r.evictions[c] ?? 0))]));
  };
  const evictionsTotal = (r: DrainRun) => Object.values(r.evictions).reduce((s, n) => s + n, 0);
  const segments = ['detectionSeconds', 'fencingSeconds', 'drainTaintSeconds', 'provisionSeconds', 'readySeconds'] as const;
  const killSummary = killRuns.length
    ? {
        unhealthyAfterSeconds,
        ...Object.fromEntries(segments.map((s) => [s, m(killRuns.map((r) => r[s]))])),
        totalSeconds: m(killRuns.map((r) => r.totalSeconds)),
        workloadsBackSeconds: m(killRuns.map((r) => r.workloadsBackSeconds)),
        stepSeconds: Object.fromEntries(Object.keys(killRuns[0]!.steps).map((s) => [s, m(killRuns.map((r) => r.steps[s] ?? 0))])),
        runs: killRuns.map((r) => ({
          ...Object.fromEntries(segments.map((s) => [s, round2(r[s])])),
          totalSeconds: round2(r.totalSeconds),
          looks: r.looks,
        })),
      }
    : undefined;
  const result = {
    node: process.version,
    pods: podCount,
    deployments: deployments.length,
    replicasEach,
    repeats,
    orders,
    lifeboatSeconds: round2(L),
    kubectlSeconds: round2(K),
    ratio: Number((L / K).toFixed(3)),
    target,
    met: { ratio: L / K <= target.ratio },
    lifeboatPeakRssMiB: Math.max(...l.map((r) => r.peakRssMiB)),
    lifeboatStartRssMiB: m(l.map((r) => r.startRssMiB ?? 0)),
    kubectlPeakRssMiB: Math.max(...k.map((r) => r.peakRssMiB)),
    lifeboatEvictions: evictionsMedian(l),
    kubectlEvictions: evictionsMedian(k),
    apiserverEvictionsDuringLifeboat: evictionsMedian(l.map((r) => ({ ...r, evictions: r.apiserverEvictions }))),
    apiserverEvictionsDuringKubectl: evictionsMedian(k.map((r) => ({ ...r, evictions: r.apiserverEvictions }))),
    lifeboatRuns: l.map((r) => round2(r.seconds)),
    kubectlRuns: k.map((r) => round2(r.seconds)),
    runs: l.map((r, i) => ({ lifeboat: r, kubectl: k[i] })),
    kill: killSummary,
  };

  const row = (label: string, value: string, runs: string[]) => `${label.padEnd(58)} ${value.padStart(10)}   ${runs.join(' ')}\n`;
  const s2 = (xs: number[]) => xs.map((x) => x.toFixed(2));
  let out = `drain of ${podCount} Pods (${deployments.length} Deployments × ${replicasEach}, each a budget of maxUnavailable 1), ${repeats} runs each, Node.js ${process.version}; orders ${orders.join(', ')}\n`;
  out += `L/K = ${result.ratio} (target <= ${target.ratio}: ${result.met.ratio ? 'met' : 'MISSED'})\n`;
  out += row('figure', 'median', ['runs']);
  out += row('L  Lifeboat node-drain runbook, s (start to report)', L.toFixed(2), s2(l.map((r) => r.seconds)));
  out += row(
    '   peak RSS of the worker process, MiB',
    String(m(l.map((r) => r.peakRssMiB))),
    l.map((r) => String(r.peakRssMiB)),
  );
  out += row(
    '   Eviction requests it sent (all codes; by code)',
    String(median(l.map(evictionsTotal))),
    l.map((r) => JSON.stringify(r.evictions)),
  );
  out += row(
    '   the API server answered meanwhile (cluster-wide)',
    '',
    l.map((r) => JSON.stringify(r.apiserverEvictions)),
  );
  out += row('K  kubectl drain --ignore-daemonsets --delete-emptydir-data, s', K.toFixed(2), s2(k.map((r) => r.seconds)));
  out += row(
    '   peak RSS of kubectl, MiB',
    String(m(k.map((r) => r.peakRssMiB))),
    k.map((r) => String(r.peakRssMiB)),
  );
  out += row(
    '   Eviction requests it sent (all codes; by code)',
    String(median(k.map(evictionsTotal))),
    k.map((r) => JSON.stringify(r.evictions)),
  );
  out += row(
    '   the API server answered meanwhile (cluster-wide)',
    '',
    k.map((r) => JSON.stringify(r.apiserverEvictions)),
  );
  if (killSummary) {
    out += `\nkubelet killed → replacement Ready (unhealthyAfter ${unhealthyAfterSeconds} s; the watch looks every second), ${killRuns.length} runs\n`;
    const labels: Record<(typeof segments)[number], string> = {
      detectionSeconds: 'detection (kill → the watch starts the replacement)',
      fencingSeconds: 'fencing (preflight, cordon, fence)',
      drainTaintSeconds: 'drain/taint (out-of-service taint, volumes detached)',
      provisionSeconds: 'provision (Node deleted, replacement created)',
      readySeconds: 'Ready (the replacement registers and goes Ready)',
    };
    for (const s of segments) out += row(`   ${labels[s]}, s`, median(killRuns.map((r) => r[s])).toFixed(2), s2(killRuns.map((r) => r[s])));
    out += row(
      '   kill → replacement Ready, s',
      median(killRuns.map((r) => r.totalSeconds)).toFixed(2),
      s2(killRuns.map((r) => r.totalSeconds)),
    );
    out += row(
      '   then workloads back elsewhere (verify), s',
      median(killRuns.map((r) => r.workloadsBackSeconds)).toFixed(2),
      s2(killRuns.map((r) => r.workloadsBackSeconds)),
    );
  }
  process.stdout.write(out);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  await tearDown();
}
