// `npm run bench:kube-api`: where the failover's fence and bring-up time goes, measured against the
// lab's API servers with the requests the activities make, client by client and strategy by strategy.
//
// 1. Round trips: one GET and one PATCH of a Deployment, one after the other, through
//    - @kubernetes/client-node as it comes (a new undici Agent, so a new TCP and TLS connection, for
//      every request),
//    - Lifeboat's loadKubeConfig (worker/clients.ts: one connection pool per cluster),
//    - one shared pool restricted to HTTP/1.1 (which HTTP/2 buys nothing over when requests are few),
//    - kubectl (a process per request), for reference.
// 2. Fence and bring-up of a 50-Deployment warm standby, the bodies Lifeboat sends (replicas and
//    the run's mark labels, conditional on the resourceVersion read), by strategy: GET then PATCH per Deployment
//    or one LIST then a PATCH each; 10 in flight or all at once (up to concurrentChanges, 50: what the
//    activities do now, with one LIST and one pool); each request on its own connection or one pool. Each strategy's fence is followed by the wait until the source's
//    Pods stop serving (what fencing now checks), its bring-up by the wait until all are Available
//    (the Pods Ready time, for scale). The strategies run in a rotating order; the app is put back to
//    its starting state before each. The API server's own histograms give the server's time per PATCH.
//
// The clients and strategies send as Lifeboat does, with the lab configuration's kubeconfigs (the
// ServiceAccount's token, bound in the app's namespace as an operator would bind it; its requests go
// through API Priority and Fairness like any workload's, where system:masters is exempt); kubectl, the
// bench app's set-up and the waits use the lab's admin kubeconfig.
//
// BENCH_REPEATS (default 3), BENCH_DEPLOYMENTS (default 50), BENCH_ROUND_TRIPS (default 30). Prints
// tables, then one JSON line. Figures, not assertions: machines are shared and noisy.
import { readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, bufferFromFileOrString, KubeConfig, type RequestContext, type V1Deployment } from '@kubernetes/client-node';
import { execa } from 'execa';
// undici is @kubernetes/client-node's own HTTP client; imported here only for the HTTP/1.1-only pool.
import { Agent } from 'undici';
import { adminKubeconfigFile } from '../../lab/admin-credentials.js';
import { bin, labConfigFile } from '../../lab/topology.js';
import { concurrentChanges } from '../../activities/kubernetes/deployments.js';
import { mark, type MarkPatch } from '../../activities/kubernetes/marks.js';
import { loadKubeConfig } from '../../worker/clients.js';
import { clusterByName, loadConfig } from '../../worker/config.js';
import { readControllerManagerLimiter, readHistograms, served, servedBy, type HistogramTotals } from './apiserver-metrics.js';
import { allReplicasAvailable, benchApp, mergePatch, say, withRetries, type Site } from './bench-app.js';
import { median } from './history.js';
import { nowMs, traceHttp, windowStats, type HttpTrace, type WindowStats } from './http-trace.js';
import { envCount } from './env.js';

const deploymentCount = envCount('BENCH_DEPLOYMENTS', 50);
const repeats = envCount('BENCH_REPEATS', 3);
const roundTrips = envCount('BENCH_ROUND_TRIPS', 30);
const availableTimeoutSeconds = 300;
const config = loadConfig({ file: labConfigFile, env: {} });
const bench = benchApp({ prefix: 'bench-kapi', deploymentCount, availableTimeoutSeconds });
const { namespace, deployments } = bench;
/** The run the bench's marks name (as a failover's run ID would). */
const run = { workflowId: 'bench-kube-api', runId: '00000000-0000-4000-8000-00000000beef' };
const histogram = 'apiserver_request_duration_seconds';
const etcdHistogram = 'etcd_request_duration_seconds';
const flowControlWait = 'apiserver_flowcontrol_request_wait_duration_seconds';
const histograms = [histogram, etcdHistogram, flowControlWait] as const;
const ms1 = (x: number) => Number(x.toFixed(1));
const percentile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

// ---------------------------------------------------------------------------------------------------
// Clients

type ClientKind = 'per-request' | 'lifeboat' | 'pool-h1';

/** A KubeConfig whose requests all go through `dispatcher`. */
class FixedDispatcherKubeConfig extends KubeConfig {
  constructor(private readonly dispatcher: Agent) {
    super();
  }
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setDispatcher(this.dispatcher);
  }
}

const h1Pools: Agent[] = [];
function kubeConfigFor(kind: ClientKind, site: Site): KubeConfig {
  const cluster = clusterByName(config, site);
  if (kind === 'lifeboat') return loadKubeConfig(cluster);
  if (kind === 'per-request') {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig!);
    if (cluster.context) kc.setCurrentContext(cluster.context);
    return kc;
  }
  const plain = new KubeConfig();
  plain.loadFromFile(cluster.kubeconfig!);
  if (cluster.context) plain.setCurrentContext(cluster.context);
  const [c, u] = [plain.getCurrentCluster()!, plain.getCurrentUser()!];
  const pool = new Agent({
    allowH2: false,
    connect: {
      ca: bufferFromFileOrString(c.caFile, c.caData) ?? undefined,
      cert: bufferFromFileOrString(u.certFile, u.certData) ?? undefined,
      key: bufferFromFileOrString(u.keyFile, u.keyData) ?? undefined,
      keepAlive: true,
    },
  });
  h1Pools.push(pool);
  const kc = new FixedDispatcherKubeConfig(pool);
  kc.loadFromFile(cluster.kubeconfig!);
  if (cluster.context) kc.setCurrentContext(cluster.context);
  return kc;
}
const appsFor = (kind: ClientKind, site: Site) => kubeConfigFor(kind, site).makeApiClient(AppsV1Api);
const originOf = (site: Site) => new URL(bench.kube[site].getCurrentCluster()!.server).origin;

/** Sockets this process holds open now (idle keep-alive connections included). */
function openSockets(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------
// 1. Round trips

interface RoundTrips {
  client: string;
  verb: string;
  medianMs: number;
  p90Ms: number;
  connectionsPerRequest: number;
  protocols: Record<string, number>;
  /** Sockets this process held open right after the requests, over those before: connections left idle behind. */
  socketsLeftOpen: number;
}

async function roundTripsOf(kind: ClientKind | 'kubectl', verb: 'GET' | 'PATCH', trace: HttpTrace): Promise<RoundTrips> {
  const times: number[] = [];
  const socketsBefore = openSockets();
  const from = nowMs();
  const n = kind === 'kubectl' ? Math.min(10, roundTrips) : roundTrips;
  const api = kind === 'kubectl' ? undefined : appsFor(kind, 'primary');
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if (!api) {
      const kubeconfig = adminKubeconfigFile('primary');
      await execa(
        bin.kubectl,
        verb === 'GET'
          ? ['--kubeconfig', kubeconfig, 'get', 'deployment', 'svc-0', '-n', namespace, '-o', 'name']
          : ['--kubeconfig', kubeconfig, 'annotate', '--overwrite', 'deployment', 'svc-0', '-n', namespace, `bench.lifeboat.io/touch=${i}`],
      );
    } else if (verb === 'GET') {
      await api.readNamespacedDeployment({ namespace, name: 'svc-0' });
    } else {
      await api.patchNamespacedDeployment(
        { namespace, name: 'svc-0', body: { metadata: { annotations: { 'bench.lifeboat.io/touch': String(i) } } } },
        mergePatch,
      );
    }
    times.push(performance.now() - t);
  }
  const w = windowStats(trace, from, nowMs(), originOf('primary'));
  const socketsLeftOpen = openSockets() - socketsBefore;
  // Let idle connections time out before the next client is measured.
  await sleep(5000);
  return {
    client: kind,
    verb,
    medianMs: ms1(median(times)),
    p90Ms: ms1(percentile(times, 0.9)),
    connectionsPerRequest: Number((w.connections / n).toFixed(2)),
    protocols: w.protocols,
    socketsLeftOpen,
  };
}

// ---------------------------------------------------------------------------------------------------
// 2. Fence and bring-up strategies

interface Strategy {
  name: string;
  client: ClientKind;
  read: 'get-each' | 'list-once';
  limit: number;
}
const strategies: Strategy[] = [
  { name: 'first: GET+PATCH each, 10 at once, connection per request', client: 'per-request', read: 'get-each', limit: 10 },
  { name: 'GET+PATCH each, 10 at once, one pool', client: 'lifeboat', read: 'get-each', limit: 10 },
  { name: 'GET+PATCH each, all at once, one pool', client: 'lifeboat', read: 'get-each', limit: deploymentCount },
  { name: 'LIST, PATCH each, 10 at once, one pool', client: 'lifeboat', read: 'list-once', limit: 10 },
  {
    name: `Lifeboat: LIST, PATCH each, ${concurrentChanges} at once, one pool`,
    client: 'lifeboat',
    read: 'list-once',
    limit: concurrentChanges,
  },
  { name: 'LIST, PATCH each, all at once, connection per request', client: 'per-request', read: 'list-once', limit: deploymentCount },
];

async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

const httpCode = (err: unknown) => (err as { code?: unknown }).code;

/**
 * Changes every Deployment on `site` as the activity does: replicas and marks in one merge patch,
 * conditional on the resourceVersion read (a conflict re-reads that one Deployment and tries again).
 */
async function changeAll(
  s: Strategy,
  site: Site,
  body: (d: V1Deployment, replicas: number) => MarkPatch & { replicas: number },
): Promise<{ conflicts: number }> {
  const api = appsFor(s.client, site);
  const listed =
    s.read === 'list-once'
      ? new Map((await api.listNamespacedDeployment({ namespace })).items.map((d) => [d.metadata!.name!, d]))
      : undefined;
  let conflicts = 0;
  await eachLimited(deployments, s.limit, async ({ name, replicas }) => {
    let d = listed?.get(name) ?? (await api.readNamespacedDeployment({ namespace, name }));
    for (;;) {
      const b = body(d, replicas);
      try {
        await api.patchNamespacedDeployment(
          {
            namespace,
            name,
            body: {
              metadata: { resourceVersion: d.metadata!.resourceVersion, labels: b.labels, annotations: b.annotations },
              spec: { replicas: b.replicas },
            },
          },
          mergePatch,
        );
        return;
      } catch (err) {
        if (httpCode(err) !== 409) throw err;
        conflicts++;
        d = await api.readNamespacedDeployment({ namespace, name });
      }
    }
  });
  return { conflicts };
}

const fenceBody = (d: V1Deployment) => ({ replicas: 0, ...mark('fenced', run, d.spec?.replicas ?? 1) });
const bringUpBody = (d: V1Deployment, replicas: number) => ({ replicas, ...mark('activated', run, d.spec?.replicas ?? 0) });

/** Polls every 250 ms (as the activities do) until `done`; the seconds it took. */
async function until(done: () => Promise<boolean>): Promise<number> {
  const t = performance.now();
  const deadline = Date.now() + availableTimeoutSeconds * 1000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not done within ${availableTimeoutSeconds} s`);
    await sleep(250);
  }
  return (performance.now() - t) / 1000;
}

/** No Deployment with a ready replica and no Ready, not terminating Pod in the namespace on primary: what fencing now checks. */
async function sourceStopped(): Promise<boolean> {
  const [ds, pods] = await Promise.all([
    bench.appsApi('primary').listNamespacedDeployment({ namespace }),
    bench.coreApi('primary').listNamespacedPod({ namespace }),
  ]);
  return (
    ds.items.every((d) => (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && (d.status?.readyReplicas ?? 0) === 0) &&
    !pods.items.some((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
  );
}
async function targetAvailable(): Promise<boolean> {
  const ds = await bench.appsApi('standby').listNamespacedDeployment({ namespace });
  return ds.items.length === deployments.length && ds.items.every(allReplicasAvailable);
}

interface StrategyRun {
  fenceSeconds: number;
  stoppedSeconds: number;
  bringUpSeconds: number;
  availableSeconds: number;
  conflicts: number;
  fenceWire: WindowStats;
  bringUpWire: WindowStats;
  serverPatchMs: Record<Site, number>;
  /** The API server's etcd calls for Deployments during the run, by operation, and its flow-control queueing, per site. */
  etcd: Record<Site, Record<string, { count: number; meanMs: number }>>;
  flowControlWait: Record<Site, Record<string, { count: number; meanMs: number }>>;
  /**
   * The kube-controller-manager's requests while the source's Pods stopped (primary) and while the
   * target's came up (standby), and the seconds they spent, summed, waiting for its rate limiter.
   */
  controllerManager: Record<'stopping' | 'bringingUp', { requests: number; waitedSeconds: number }>;
}

async function strategyRun(s: Strategy, trace: HttpTrace): Promise<StrategyRun> {
  const before = await Promise.all([readHistograms('primary', histograms), readHistograms('standby', histograms)]);
  const limiter = (site: Site) => readControllerManagerLimiter(site);
  const limiterWait = (b: HistogramTotals, a: HistogramTotals) => {
    const all = servedBy(b, a, 'rest_client_rate_limiter_duration_seconds', {}, 'verb');
    const count = Object.values(all).reduce((n, v) => n + v.count, 0);
    return { requests: count, waitedSeconds: Number((Object.values(all).reduce((n, v) => n + v.count * v.meanMs, 0) / 1000).toFixed(2)) };
  };
  const f0 = nowMs();
  const fence = await changeAll(s, 'primary', fenceBody);
  const f1 = nowMs();
  const primaryLimiter0 = await limiter('primary');
  const stoppedSeconds = await until(sourceStopped);
  const primaryLimiter1 = await limiter('primary');
  const b0 = nowMs();
  const up = await changeAll(s, 'standby', bringUpBody);
  const b1 = nowMs();
  const standbyLimiter0 = await limiter('standby');
  const availableSeconds = await until(targetAvailable);
  const standbyLimiter1 = await limiter('standby');
  const after = await Promise.all([readHistograms('primary', histograms), readHistograms('standby', histograms)]);
  const patchMs = (i: number) =>
    served(before[i]!, after[i]!, histogram, { resource: 'deployments', verb: 'PATCH', scope: 'resource', subresource: '' }).meanMs;
  return {
    controllerManager: {
      stopping: limiterWait(primaryLimiter0, primaryLimiter1),
      bringingUp: limiterWait(standbyLimiter0, standbyLimiter1),
    },
    fenceSeconds: (f1 - f0) / 1000,
    stoppedSeconds,
    bringUpSeconds: (b1 - b0) / 1000,
    availableSeconds,
    conflicts: fence.conflicts + up.conflicts,
    fenceWire: windowStats(trace, f0, f1, originOf('primary')),
    bringUpWire: windowStats(trace, b0, b1, originOf('standby')),
    serverPatchMs: { primary: patchMs(0), standby: patchMs(1) },
    etcd: {
      primary: servedBy(before[0], after[0], etcdHistogram, { type: 'deployments.apps' }, 'operation'),
      standby: servedBy(before[1], after[1], etcdHistogram, { type: 'deployments.apps' }, 'operation'),
    },
    flowControlWait: {
      primary: servedBy(before[0], after[0], flowControlWait, {}, 'priority_level'),
      standby: servedBy(before[1], after[1], flowControlWait, {}, 'priority_level'),
    },
  };
}

// ---------------------------------------------------------------------------------------------------

const trace = traceHttp();
const onSignal = (signal: NodeJS.Signals) => {
  say(`${signal}: removing the bench app`);
  void bench.remove().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
try {
  say(`creating ${deploymentCount} Deployments (${bench.pods} Pods) in namespace ${namespace} on primary, the warm standby on standby`);
  await bench.create();
  await bench.reset();

  const trips: RoundTrips[] = [];
  for (const verb of ['GET', 'PATCH'] as const) {
    for (const kind of ['per-request', 'lifeboat', 'pool-h1', 'kubectl'] as const) {
      const t = await withRetries(
        `${kind} ${verb}`,
        () => Promise.resolve(),
        () => roundTripsOf(kind, verb, trace),
      );
      trips.push(t);
      say(
        `round trips ${kind} ${verb}: median ${t.medianMs} ms, p90 ${t.p90Ms} ms, ${t.connectionsPerRequest} connections per request, ${t.socketsLeftOpen} sockets left open`,
      );
    }
  }

  const runs = new Map<string, StrategyRun[]>(strategies.map((s) => [s.name, []]));
  for (let i = 0; i < repeats; i++) {
    for (let j = 0; j < strategies.length; j++) {
      const s = strategies[(i + j) % strategies.length]!;
      const r = await withRetries(
        s.name,
        () => bench.reset(),
        () => strategyRun(s, trace),
      );
      runs.get(s.name)!.push(r);
      say(
        `run ${i + 1}/${repeats} ${s.name}: fence ${r.fenceSeconds.toFixed(2)} s (${r.fenceWire.requests} requests, ${r.fenceWire.connections} connections), stopped +${r.stoppedSeconds.toFixed(2)} s, ` +
          `bring-up ${r.bringUpSeconds.toFixed(2)} s, Available +${r.availableSeconds.toFixed(2)} s, server PATCH ${r.serverPatchMs.primary}/${r.serverPatchMs.standby} ms`,
      );
    }
  }
  const m = (xs: number[]) => Number(median(xs).toFixed(2));
  const table = strategies.map((s) => {
    const rs = runs.get(s.name)!;
    const wire = (f: (r: StrategyRun) => WindowStats, g: (w: WindowStats) => number) => m(rs.map((r) => g(f(r))));
    return {
      strategy: s.name,
      fenceSeconds: m(rs.map((r) => r.fenceSeconds)),
      stoppedSeconds: m(rs.map((r) => r.stoppedSeconds)),
      bringUpSeconds: m(rs.map((r) => r.bringUpSeconds)),
      availableSeconds: m(rs.map((r) => r.availableSeconds)),
      fenceAndBringUpSeconds: m(rs.map((r) => r.fenceSeconds + r.bringUpSeconds)),
      fenceRequests: wire(
        (r) => r.fenceWire,
        (w) => w.requests,
      ),
      fenceConnections: wire(
        (r) => r.fenceWire,
        (w) => w.connections,
      ),
      bringUpRequests: wire(
        (r) => r.bringUpWire,
        (w) => w.requests,
      ),
      bringUpConnections: wire(
        (r) => r.bringUpWire,
        (w) => w.connections,
      ),
      maxInFlight: wire(
        (r) => r.fenceWire,
        (w) => w.maxInFlight,
      ),
      meanInFlight: wire(
        (r) => r.fenceWire,
        (w) => w.meanInFlight,
      ),
      fenceRequestMs: wire(
        (r) => r.fenceWire,
        (w) => w.requestMs,
      ),
      bringUpRequestMs: wire(
        (r) => r.bringUpWire,
        (w) => w.requestMs,
      ),
      waitForConnectionMs: wire(
        (r) => r.bringUpWire,
        (w) => w.waitForConnectionMs,
      ),
      serverAndNetworkMs: wire(
        (r) => r.bringUpWire,
        (w) => w.serverMs,
      ),
      serverPatchMs: { primary: m(rs.map((r) => r.serverPatchMs.primary)), standby: m(rs.map((r) => r.serverPatchMs.standby)) },
      conflicts: rs.reduce((n, r) => n + r.conflicts, 0),
      etcd: rs.at(-1)!.etcd,
      flowControlWait: rs.at(-1)!.flowControlWait,
      controllerManager: {
        stopping: {
          requests: m(rs.map((r) => r.controllerManager.stopping.requests)),
          waitedSeconds: m(rs.map((r) => r.controllerManager.stopping.waitedSeconds)),
        },
        bringingUp: {
          requests: m(rs.map((r) => r.controllerManager.bringingUp.requests)),
          waitedSeconds: m(rs.map((r) => r.controllerManager.bringingUp.waitedSeconds)),
        },
      },
      runs: rs.map((r) => ({
        fence: Number(r.fenceSeconds.toFixed(2)),
        stopped: Number(r.stoppedSeconds.toFixed(2)),
        bringUp: Number(r.bringUpSeconds.toFixed(2)),
        available: Number(r.availableSeconds.toFixed(2)),
      })),
    };
  });

  let out = `Node.js ${process.version}; ${deploymentCount} Deployments (${bench.pods} Pods); ${repeats} runs per strategy, rotating order\n`;
  out += `\nRound trips to primary's API server, one after the other (ms)\n${'client'.padEnd(14)} ${'verb'.padEnd(6)} ${'median'.padStart(7)} ${'p90'.padStart(7)} ${'conns/req'.padStart(9)} ${'left open'.padStart(9)}  protocols\n`;
  for (const t of trips)
    out += `${t.client.padEnd(14)} ${t.verb.padEnd(6)} ${String(t.medianMs).padStart(7)} ${String(t.p90Ms).padStart(7)} ${String(t.connectionsPerRequest).padStart(9)} ${String(t.socketsLeftOpen).padStart(9)}  ${JSON.stringify(t.protocols)}\n`;
  out += `\nFence (primary) and bring-up (standby) of ${deploymentCount} Deployments, medians (s; ms where named)\n`;
  out += `${'strategy'.padEnd(58)} ${'fence'.padStart(6)} ${'+stopped'.padStart(8)} ${'bring-up'.padStart(8)} ${'+Avail.'.padStart(8)} ${'reqs'.padStart(5)} ${'conns'.padStart(5)} ${'max∥'.padStart(5)} ${'mean∥'.padStart(6)} ${'req ms'.padStart(7)} ${'srv PATCH ms'.padStart(12)}\n`;
  for (const r of table) {
    out +=
      `${r.strategy.padEnd(58)} ${r.fenceSeconds.toFixed(2).padStart(6)} ${r.stoppedSeconds.toFixed(2).padStart(8)} ${r.bringUpSeconds.toFixed(2).padStart(8)} ${r.availableSeconds.toFixed(2).padStart(8)} ` +
      `${String(r.fenceRequests + r.bringUpRequests).padStart(5)} ${String(r.fenceConnections + r.bringUpConnections).padStart(5)} ${String(r.maxInFlight).padStart(5)} ${String(r.meanInFlight).padStart(6)} ` +
      `${String(r.bringUpRequestMs).padStart(7)} ${`${r.serverPatchMs.primary}/${r.serverPatchMs.standby}`.padStart(12)}\n`;
  }
  out += "\nThe API servers' etcd calls for Deployments (last run of each strategy; count × mean ms) and flow-control queueing:\n";
  for (const r of table) {
    const fmt = (x: Record<string, { count: number; meanMs: number }>) =>
      Object.entries(x)
        .map(([k, v]) => `${k} ${v.count}×${v.meanMs}`)
        .join(', ') || 'none';
    out += `${r.strategy.padEnd(58)} primary: ${fmt(r.etcd.primary)}; standby: ${fmt(r.etcd.standby)}; queueing: ${fmt(r.flowControlWait.primary)} / ${fmt(r.flowControlWait.standby)}; conflicts ${r.conflicts}\n`;
  }
  out +=
    "\nThe kube-controller-manager while the source's Pods stopped and the target's came up (medians): its requests, and their summed wait for its client-side rate limiter\n";
  for (const r of table) {
    const c = r.controllerManager;
    const rate = (n: number, secs: number) => (n / Math.max(secs, 0.01)).toFixed(1);
    out +=
      `${r.strategy.padEnd(58)} stopping: ${c.stopping.requests} requests in ${r.stoppedSeconds} s (${rate(c.stopping.requests, r.stoppedSeconds)}/s), ${c.stopping.waitedSeconds} s waited in all; ` +
      `coming up: ${c.bringingUp.requests} in ${r.availableSeconds} s (${rate(c.bringingUp.requests, r.availableSeconds)}/s), ${c.bringingUp.waitedSeconds} s waited\n`;
  }
  process.stdout.write(out);
  process.stdout.write(
    `${JSON.stringify({ node: process.version, deployments: deploymentCount, repeats, roundTrips: trips, strategies: table })}\n`,
  );
} finally {
  trace.stop();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  await bench.remove();
  await Promise.all(h1Pools.map((p) => p.close()));
}
