// `npm run bench:failover`: a warm-standby failover of an app of 50 Deployments from the lab's primary to
// its standby. Lifeboat's `failover` workflow (L, auto-approved, in-process worker on its own task queue)
// against a kubectl script doing the same steps (read the replicas, scale to zero on primary, scale up on
// standby, wait until every replica is available, patch the DNSEndpoint): with its commands split within
// kubectl's client-side rate limit and run at once (P, the clusters' own pace: the headline baseline,
// though it lets both sites serve at once for as long as the primary takes to stop); the same chunks,
// each handed over on its own: scaled down, its Pods gone, scaled up, Available (Q: Lifeboat's
// warm-standby hand-over by hand, the same guarantee that no Deployment serves on both sites); P
// waiting, after the whole scale-down, until the source's Pods are gone (S); and straight-line (H, the
// baseline the first issue named). They alternate in a rotating order (printed); before every run the app is put back to its
// starting state through the API, so each run starts the same. The worker gets one unmeasured dry run
// first, as a long-running worker is warm. Lifeboat runs as the lab's configuration has it (the
// ServiceAccount, bound in the app's namespace as an operator would bind it); the kubectl scripts, like
// the app's set-up, resets and checks, use the lab's admin kubeconfig: a skilled SRE with admin rights.
//
// Where Lifeboat's orchestration overhead goes, without touching the activities: the worker runs in
// this process, so every Kubernetes request it makes is seen on undici's diagnostics channels
// (requests per method, connections and TLS handshakes opened, HTTP version, requests in flight, the
// wait for a connection and the server's time); the workflow's history gives each activity's
// schedule-to-start and start-to-close and each workflow task's time; and each API server's own
// request histograms (read before and after each Lifeboat run) give the server-side time of its GETs
// and PATCHes of Deployments.
//
// BENCH_REPEATS (default 3), BENCH_DEPLOYMENTS (default 50), BENCH_VARIANTS (default LPQSH; a subset
// such as `LQ` for looking into one, which prints no figures). Prints a table, then one JSON line.
// Figures, not assertions: machines are shared and noisy.
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { pino } from 'pino';
import { adminKubeconfigFile } from '../../lab/admin-credentials.js';
import { bin, labConfigFile } from '../../lab/topology.js';
import { appSchema, loadConfig, type AppConfig } from '../../worker/config.js';
import { createWorker } from '../../worker/worker.js';
import { temporalClient } from '../../worker/temporal.js';
import type { failover, FailoverReport } from '../../workflows/failover.js';
import { readHistograms, served } from './apiserver-metrics.js';
import { benchApp, say, sites, withRetries, type Site } from './bench-app.js';
import { historyTimings, median, type HistoryTimings } from './history.js';
import { traceHttp, windowStats, type WindowStats } from './http-trace.js';
import { envCount, envLetters } from './env.js';

const deploymentCount = envCount('BENCH_DEPLOYMENTS', 50);
const repeats = envCount('BENCH_REPEATS', 3);
type Variant = 'L' | 'P' | 'Q' | 'S' | 'H';
/** BENCH_VARIANTS (e.g. `LQ`) runs only those, for looking into one; the figures need all five. */
const variants = envLetters<Variant>('BENCH_VARIANTS', ['L', 'P', 'Q', 'S', 'H']);
/** How long the app may take to become Available (both variants) or to settle after a reset. */
const availableTimeoutSeconds = 300;
const target = { ratio: 1.2, overheadSeconds: 1 } as const;

const base = loadConfig({ file: labConfigFile, env: {} });
const bench = benchApp({ prefix: 'bench-fo', deploymentCount, availableTimeoutSeconds });
const { namespace, targets, dnsName, record } = bench;
// Through the schema, so every default a later field gets is filled in as the worker's own loader does.
const app: AppConfig = appSchema.parse({
  name: namespace,
  cluster: 'primary',
  namespaces: [namespace],
  backup: { ttl: '720h' },
  verify: { cluster: 'standby', checks: [], availableTimeout: `${availableTimeoutSeconds}s` },
  objectives: { rto: '600s', rpo: '86400s' },
  failover: {
    standby: 'standby',
    mode: 'warm-standby',
    approvalTimeout: '600s',
    availableTimeout: `${availableTimeoutSeconds}s`,
    traffic: { provider: 'externalDNS', cluster: 'standby', namespace, name: namespace, dnsName, recordType: 'A', recordTTL: 30, targets },
  },
  // Runs are requested by `bench:failover` and auto-approved by `bench`: two names, as four eyes needs.
  approvers: ['bench'],
});
const config = {
  ...base,
  temporal: { ...base.temporal, taskQueue: `bench-failover-${randomUUID()}` },
  metrics: { port: 0 },
  apps: [...base.apps, app],
};
const origins: Record<Site, string> = {
  primary: new URL(bench.kube.primary.getCurrentCluster()!.server).origin,
  standby: new URL(bench.kube.standby.getCurrentCluster()!.server).origin,
};

const round2 = (x: number) => Number(x.toFixed(2));
const since = (t0: number) => (performance.now() - t0) / 1000;

/** kubectl as the baseline script runs it: the lab's admin kubeconfig of the site; throws on a non-zero exit. */
const kubectl = (site: Site, args: string[]) => execa(bin.kubectl, ['--kubeconfig', adminKubeconfigFile(site), ...args]);

// ---------------------------------------------------------------------------------------------------
// The three variants

/** One activity of a run, from its history and the requests it made. */
interface ActivityRecord {
  name: string;
  scheduleToStartMs: number;
  startToCloseMs: number;
  /** Its Kubernetes traffic, to the cluster it changes (fence: source; bring-up: target), or to both. */
  wire: WindowStats;
  /** From its last PATCH answered to its close: for the fence, the wait for the source's Pods to stop serving. */
  afterLastPatchMs: number;
}

interface LifeboatRun {
  seconds: number;
  rtoSeconds: number;
  podsReadySeconds: number;
  overheadSeconds: number;
  /** Each step's duration in the report, by name. */
  steps: Record<string, number>;
  /** From the fence's start: the first, the middle and the last scale-up PATCH sent to the standby (the hand-over's pace). */
  scaleUps: { first: number; median: number; last: number };
  /** Request to the first step, plus any time between steps (workflow tasks). */
  betweenStepsSeconds: number;
  activities: ActivityRecord[];
  /** Workflow tasks: how many, their summed schedule-to-start and start-to-complete. */
  workflowTasks: {
    count: number;
    scheduleToStartMs: number;
    startToCompleteMs: number;
    each: { after: string; scheduleToStartMs: number; startToCompleteMs: number }[];
  };
  /** Server-side Deployment GETs and PATCHes during the run, per site, from the API server's histograms. */
  server: Record<
    Site,
    { get: { count: number; meanMs: number }; patch: { count: number; meanMs: number }; list: { count: number; meanMs: number } }
  >;
}

const stepSeconds = (s: FailoverReport['steps'][number]) =>
  s.startedAt && s.finishedAt ? (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000 : 0;
/** Which cluster's traffic counts for an activity: the one it changes, or both. */
const activitySite: Record<string, Site | undefined> = {
  fenceWorkloads: 'primary',
  activateWorkloads: 'standby',
  waitWorkloadsAvailable: 'standby',
};
const histogram = 'apiserver_request_duration_seconds';

let running: WorkflowHandle<typeof failover> | undefined;

async function lifeboatRun(client: Client): Promise<LifeboatRun> {
  const before = await Promise.all(sites.map((s) => readHistograms(s, [histogram])));
  const trace = traceHttp();
  const t0 = performance.now();
  let report: FailoverReport;
  try {
    running = await client.workflow.start<typeof failover>('failover', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `failover/${app.name}`,
      args: [
        {
          app: app.name,
          from: 'primary',
          to: 'standby',
          reason: 'bench:failover',
          autoApprove: { approver: 'bench' },
          requestedBy: 'bench:failover',
        },
      ],
    });
    report = await running.result();
  } finally {
    trace.stop();
  }
  const seconds = since(t0);
  const history: HistoryTimings = await historyTimings(running);
  running = undefined;
  const after = await Promise.all(sites.map((s) => readHistograms(s, [histogram])));
  if (report.status !== 'completed' || report.rtoSeconds === undefined || report.podsReadySeconds === undefined) {
    throw new Error(`failover ended ${report.status}: ${report.failure ?? 'no RTO in its report'}`);
  }
  let previous = report.requestedAt;
  let between = 0;
  for (const s of report.steps) {
    if (!s.startedAt) continue;
    between += (Date.parse(s.startedAt) - Date.parse(previous)) / 1000;
    previous = s.finishedAt ?? s.startedAt;
  }
  const serverOf = (i: number) => {
    const [b, a] = [before[i]!, after[i]!];
    const of = (verb: string, scope: string) => served(b, a, histogram, { resource: 'deployments', verb, scope, subresource: '' });
    return { get: of('GET', 'resource'), patch: of('PATCH', 'resource'), list: of('LIST', 'namespace') };
  };
  return {
    seconds,
    rtoSeconds: report.rtoSeconds,
    podsReadySeconds: report.podsReadySeconds,
    overheadSeconds: report.rtoSeconds - report.podsReadySeconds,
    steps: Object.fromEntries(report.steps.map((s) => [s.name, stepSeconds(s)])),
    scaleUps: (() => {
      const fence = history.activities.find((a) => a.name === 'fenceWorkloads')!.startedMs;
      const ups = trace.requests
        .filter((r) => r.method === 'PATCH' && r.origin === origins.standby && r.path.includes('/deployments/'))
        .map((r) => (r.createdMs - fence) / 1000)
        .sort((a, b) => a - b);
      return { first: ups[0] ?? 0, median: median(ups), last: ups.at(-1) ?? 0 };
    })(),
    betweenStepsSeconds: between,
    activities: history.activities.map((a) => ({
      name: a.name,
      scheduleToStartMs: a.startedMs - a.scheduledMs,
      startToCloseMs: a.closedMs - a.startedMs,
      wire: windowStats(trace, a.startedMs, a.closedMs, activitySite[a.name] ? origins[activitySite[a.name]!] : undefined),
      afterLastPatchMs: (() => {
        const ends = trace.requests
          .filter((r) => r.method === 'PATCH' && r.createdMs >= a.startedMs && r.createdMs <= a.closedMs && r.endMs)
          .map((r) => r.endMs!);
        return ends.length ? a.closedMs - Math.max(...ends) : 0;
      })(),
    })),
    workflowTasks: {
      count: history.workflowTasks.length,
      scheduleToStartMs: history.workflowTasks.reduce((s, t) => s + t.startedMs - t.scheduledMs, 0),
      startToCompleteMs: history.workflowTasks.reduce((s, t) => s + t.completedMs - t.startedMs, 0),
      // Each task by what woke it: the activity that closed last before it was scheduled.
      each: history.workflowTasks.map((t) => ({
        after:
          history.activities.filter((a) => a.closedMs && a.closedMs <= t.scheduledMs).sort((a, b) => b.closedMs - a.closedMs)[0]?.name ??
          'workflow start',
        scheduleToStartMs: t.startedMs - t.scheduledMs,
        startToCompleteMs: t.completedMs - t.startedMs,
      })),
    },
    server: { primary: serverOf(0), standby: serverOf(1) },
  };
}

interface BaselineRun {
  seconds: number;
  /** From the first scale-up command to the wait returning: the clusters getting Pods Ready, as the script sees it. */
  podsReadySeconds: number;
  /** Each command group's wall time, by name. */
  commands: Record<string, number>;
}

/**
 * kubectl's API client allows a burst of 10 requests, then 5 a second (client-go's defaults; kubectl has
 * no flag for them): names per command that stay within the burst. scale: a GET and a PATCH per name;
 * wait: a GET, a list and a watch per name.
 */
const namesPerCommand = { scale: 5, wait: 3 } as const;
const inChunks = (names: string[], size: number) =>
  Array.from({ length: Math.ceil(names.length / size) }, (_, i) => names.slice(i * size, (i + 1) * size));

/** The script's last command: the DNSEndpoint's record to the standby. */
const switchRecord = [
  'patch',
  'dnsendpoint',
  namespace,
  '-n',
  namespace,
  '--type',
  'merge',
  '-p',
  JSON.stringify({ spec: { endpoints: [record('standby')] } }),
];

/** The script's first command: the primary's Deployments and their replicas, grouped by replica count. */
async function replicaGroups(): Promise<[number, string[]][]> {
  const listed = await kubectl('primary', [
    'get',
    'deployments',
    '-n',
    namespace,
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{"\\n"}{end}',
  ]);
  const byReplicas = new Map<number, string[]>();
  for (const line of listed.stdout.split('\n').filter(Boolean)) {
    const [name, replicas] = line.split('=') as [string, string];
    byReplicas.set(Number(replicas), [...(byReplicas.get(Number(replicas)) ?? []), name]);
  }
  return [...byReplicas];
}

/**
 * What an SRE would script without Lifeboat: read the replicas on primary, scale it to zero, scale the
 * standby up to them, wait, patch the record. straight: one command per step (per replica count), one
 * after the other, as the issue describes; kubectl's client-side rate limit paces its requests.
 * parallel: the same commands split into chunks within kubectl's burst, each step's chunks run at once
 * (`xargs -P`), which takes the rate limit out.
 * The wait is `kubectl wait --for=jsonpath={.status.availableReplicas}=N` rather than
 * `--for=condition=Available`, which can pass right after a scale-up while replicas are still starting
 * (maxUnavailable). availableReplicas equal to spec.replicas on a scale-up (no template change, no old
 * Pods) implies every replica updated and ready and the Available condition: what Lifeboat's
 * waitWorkloadsAvailable waits for.
 */
async function baselineRun(mode: 'straight' | 'parallel' | 'pipelined', waitSourceStopped = false): Promise<BaselineRun> {
  if (mode === 'pipelined') return pipelinedRun();
  const commands: Record<string, number> = {};
  const step = async (name: string, site: Site, argsList: string[][]) => {
    const t = performance.now();
    if (mode === 'parallel') await Promise.all(argsList.map((args) => kubectl(site, args)));
    else for (const args of argsList) await kubectl(site, args);
    commands[name] = since(t);
  };
  const split = (names: string[], kind: keyof typeof namesPerCommand) =>
    mode === 'parallel' ? inChunks(names, namesPerCommand[kind]) : [names];
  const t0 = performance.now();
  const groups = await replicaGroups();
  commands['get replicas'] = since(t0);
  await step(
    'scale down',
    'primary',
    mode === 'parallel'
      ? split(
          groups.flatMap(([, names]) => names),
          'scale',
        ).map((names) => ['scale', 'deployment', ...names, '--replicas=0', '-n', namespace])
      : [['scale', 'deployment', '--all', '--replicas=0', '-n', namespace]],
  );
  // What Lifeboat's fence now makes sure of before the standby comes up: the source serves no more.
  if (waitSourceStopped)
    await step('wait source stopped', 'primary', [
      ['wait', 'pod', '--all', '--for=delete', '-n', namespace, `--timeout=${availableTimeoutSeconds}s`],
    ]);
  const up = performance.now();
  await step(
    'scale up',
    'standby',
    groups.flatMap(([replicas, names]) =>
      split(names, 'scale').map((chunk) => ['scale', 'deployment', ...chunk, `--replicas=${replicas}`, '-n', namespace]),
    ),
  );
  await step(
    'wait',
    'standby',
    groups.flatMap(([replicas, names]) =>
      split(names, 'wait').map((chunk) => [
        'wait',
        'deployment',
        ...chunk,
        `--for=jsonpath={.status.availableReplicas}=${replicas}`,
        '-n',
        namespace,
        `--timeout=${availableTimeoutSeconds}s`,
      ]),
    ),
  );
  const podsReadySeconds = since(up);
  await step('patch record', 'standby', [switchRecord]);
  return { seconds: since(t0), podsReadySeconds, commands };
}

/**
 * The hand-over Lifeboat makes, as a skilled SRE would script it with kubectl: the Deployments in
 * chunks within kubectl's burst, every chunk at once, each chunk on its own: scale it to zero on primary,
 * wait until its Pods are gone there, scale it up on standby, wait until it is Available; then patch the
 * record. Each chunk comes up on the standby as soon as its own copy has stopped, as in Lifeboat's
 * warm-standby hand-over, so no Deployment serves on both sites at once.
 */
async function pipelinedRun(): Promise<BaselineRun> {
  const commands: Record<string, number> = {};
  const t0 = performance.now();
  const groups = await replicaGroups();
  commands['get replicas'] = since(t0);
  const chunks = groups.flatMap(([replicas, names]) => inChunks(names, namesPerCommand.scale).map((chunk) => ({ replicas, chunk })));
  const handOver = performance.now();
  let firstUp: number | undefined;
  await Promise.all(
    chunks.map(async ({ replicas, chunk }) => {
      await kubectl('primary', ['scale', 'deployment', ...chunk, '--replicas=0', '-n', namespace]);
      // Its Pods may all be gone before the wait starts: kubectl then finds nothing to wait for.
      const gone = await execa(
        bin.kubectl,
        [
          '--kubeconfig',
          adminKubeconfigFile('primary'),
          'wait',
          'pod',
          '-l',
          `app in (${chunk.join(',')})`,
          '--for=delete',
          '-n',
          namespace,
          `--timeout=${availableTimeoutSeconds}s`,
        ],
        { reject: false },
      );
      if (gone.exitCode !== 0 && !/no matching resources found/.test(gone.stderr))
        throw new Error(`kubectl wait --for=delete: ${gone.stderr}`);
      firstUp ??= performance.now();
      await kubectl('standby', ['scale', 'deployment', ...chunk, `--replicas=${replicas}`, '-n', namespace]);
      await Promise.all(
        inChunks(chunk, namesPerCommand.wait).map((names) =>
          kubectl('standby', [
            'wait',
            'deployment',
            ...names,
            `--for=jsonpath={.status.availableReplicas}=${replicas}`,
            '-n',
            namespace,
            `--timeout=${availableTimeoutSeconds}s`,
          ]),
        ),
      );
    }),
  );
  commands['hand-over'] = since(handOver);
  const podsReadySeconds = since(firstUp!);
  const t = performance.now();
  await kubectl('standby', switchRecord);
  commands['patch record'] = since(t);
  return { seconds: since(t0), podsReadySeconds, commands };
}

// ---------------------------------------------------------------------------------------------------

const worker = await createWorker(config, pino({ level: 'warn' }));
const workerRunning = worker.run();
const client = await temporalClient(config);

async function tearDown(): Promise<void> {
  if (running) await running.terminate('bench:failover stopped').catch(() => undefined);
  await bench.remove();
  worker.worker.shutdown();
  await workerRunning;
  await client.connection.close();
}
const onSignal = (signal: NodeJS.Signals) => {
  say(`${signal}: removing the bench app`);
  void tearDown().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

/** Run `rep`'s order: the variants rotated by one each run, so each runs first, in the middle and last equally often. */
const orderOf = (rep: number): Variant[] => variants.map((_, i) => variants[(i + rep) % variants.length]!);

/** Activities by name, numbered when one runs twice (waitWorkloadsAvailable: the available step, then verify). */
function activityKeys(run: LifeboatRun): string[] {
  const seen = new Map<string, number>();
  return run.activities.map((a) => {
    const n = (seen.get(a.name) ?? 0) + 1;
    seen.set(a.name, n);
    return n === 1 ? a.name : `${a.name}#${n}`;
  });
}

try {
  say(`creating ${deploymentCount} Deployments (${bench.pods} Pods) in namespace ${namespace} on primary, the warm standby on standby`);
  await bench.create();
  // A long-running worker has its workflow sandbox and activity code warm; this one is new. One dry run
  // (preflight and plan, nothing changed), not measured, warms it.
  const warmUp = await client.workflow.start<typeof failover>('failover', {
    taskQueue: config.temporal.taskQueue,
    workflowId: `failover/${app.name}`,
    args: [{ app: app.name, from: 'primary', to: 'standby', reason: 'bench:failover warm-up', dryRun: true }],
  });
  await warmUp.result();
  const l: LifeboatRun[] = [];
  const h: BaselineRun[] = [];
  const p: BaselineRun[] = [];
  const q: BaselineRun[] = [];
  const ps: BaselineRun[] = [];
  const orders: string[] = [];
  for (let i = 0; i < repeats; i++) {
    const order = orderOf(i);
    orders.push(order.join(''));
    for (const variant of order) {
      const checked = async <T>(name: string, run: () => Promise<T>) => {
        const r = await run();
        await bench.checkFailedOver(name);
        return r;
      };
      if (variant === 'L')
        l.push(
          await withRetries(
            'Lifeboat',
            () => bench.reset(),
            () => checked('Lifeboat', () => lifeboatRun(client)),
          ),
        );
      else if (variant === 'H')
        h.push(
          await withRetries(
            'baseline',
            () => bench.reset(),
            () => checked('baseline', () => baselineRun('straight')),
          ),
        );
      else if (variant === 'Q')
        q.push(
          await withRetries(
            'pipelined baseline',
            () => bench.reset(),
            () => checked('pipelined baseline', () => baselineRun('pipelined')),
          ),
        );
      else if (variant === 'P')
        p.push(
          await withRetries(
            'parallel baseline',
            () => bench.reset(),
            () => checked('parallel baseline', () => baselineRun('parallel')),
          ),
        );
      else
        ps.push(
          await withRetries(
            'parallel baseline waiting for the source',
            () => bench.reset(),
            () => checked('parallel baseline waiting for the source', () => baselineRun('parallel', true)),
          ),
        );
    }
    const last = (label: string, runs: BaselineRun[]) => {
      const r = runs.at(-1);
      return r ? `  ${label} ${r.seconds.toFixed(2)} s (Pods Ready ${r.podsReadySeconds.toFixed(2)} s)` : '';
    };
    const x = l.at(-1);
    say(
      `run ${i + 1}/${repeats}, order ${order.join(' ')}:` +
        (x
          ? ` Lifeboat ${x.seconds.toFixed(2)} s (RTO ${x.rtoSeconds} s, Pods Ready ${x.podsReadySeconds.toFixed(2)} s, overhead ${x.overheadSeconds.toFixed(2)} s;` +
            ` scale-ups sent ${x.scaleUps.first.toFixed(2)}/${x.scaleUps.median.toFixed(2)}/${x.scaleUps.last.toFixed(2)} s after the fence began)`
          : '') +
        last('parallel kubectl', p) +
        last('pipelined kubectl', q) +
        last('parallel kubectl waiting for the source', ps) +
        last('straight kubectl', h),
    );
  }
  if (variants.length < 5) say(`BENCH_VARIANTS=${variants.join('')}: no figures without all five variants`);
  else summarize();

  /** The table and the JSON line: medians and ratios over the runs of all five variants. */
  function summarize(): void {
    const stepNames = Object.keys(l[0]!.steps);
    const m = (xs: number[]) => round2(median(xs));
    const L = median(l.map((r) => r.seconds));
    const H = median(h.map((r) => r.seconds));
    const P = median(p.map((r) => r.seconds));
    const PS = median(ps.map((r) => r.seconds));
    const Q = median(q.map((r) => r.seconds));
    const overhead = median(l.map((r) => r.overheadSeconds));
    const stopWait = (r: LifeboatRun) => (r.activities.find((a) => a.name === 'fenceWorkloads')?.afterLastPatchMs ?? 0) / 1000;
    const commandsOf = (runs: BaselineRun[]) =>
      Object.fromEntries(Object.keys(runs[0]!.commands).map((n) => [n, m(runs.map((r) => r.commands[n]!))]));

    // Per activity, medians over the runs (activities matched by name and order).
    const keys = activityKeys(l[0]!);
    const byKey = (run: LifeboatRun, key: string) => run.activities[activityKeys(run).indexOf(key)];
    const activityTable = keys.map((key) => {
      const rows = l.map((run) => byKey(run, key)).filter((a): a is ActivityRecord => a !== undefined);
      const w = (f: (s: WindowStats) => number) => Number(median(rows.map((a) => f(a.wire))).toFixed(1));
      return {
        activity: key,
        site: activitySite[key.split('#')[0]!] ?? 'both',
        scheduleToStartMs: Number(median(rows.map((a) => a.scheduleToStartMs)).toFixed(1)),
        startToCloseMs: Number(median(rows.map((a) => a.startToCloseMs)).toFixed(1)),
        requests: w((s) => s.requests),
        get: w((s) => s.byMethod.GET ?? 0),
        patch: w((s) => s.byMethod.PATCH ?? 0),
        connections: w((s) => s.connections),
        protocols: rows[0]!.wire.protocols,
        maxInFlight: w((s) => s.maxInFlight),
        meanInFlight: w((s) => s.meanInFlight),
        busyMs: w((s) => s.busyMs),
        requestMs: w((s) => s.requestMs),
        waitForConnectionMs: w((s) => s.waitForConnectionMs),
        serverMs: w((s) => s.serverMs),
        connectMs: w((s) => s.connectMs),
      };
    });
    const serverSide = Object.fromEntries(
      sites.map((s) => [
        s,
        Object.fromEntries(
          (['get', 'patch', 'list'] as const).map((v) => [
            v,
            {
              count: median(l.map((r) => r.server[s][v].count)),
              meanMs: m(l.map((r) => r.server[s][v].meanMs)),
            },
          ]),
        ),
      ]),
    );
    const temporal = {
      activities: l[0]!.activities.length,
      scheduleToStartMsTotal: m(l.map((r) => r.activities.reduce((s, a) => s + a.scheduleToStartMs, 0))),
      workflowTasks: l[0]!.workflowTasks.count,
      workflowTaskScheduleToStartMsTotal: m(l.map((r) => r.workflowTasks.scheduleToStartMs)),
      workflowTaskStartToCompleteMsTotal: m(l.map((r) => r.workflowTasks.startToCompleteMs)),
      workflowTaskEach: l[0]!.workflowTasks.each.map((t, i) => ({
        after: t.after,
        scheduleToStartMs: Number(median(l.map((r) => r.workflowTasks.each[i]?.scheduleToStartMs ?? 0)).toFixed(1)),
        startToCompleteMs: Number(median(l.map((r) => r.workflowTasks.each[i]?.startToCompleteMs ?? 0)).toFixed(1)),
      })),
    };
    const result = {
      node: process.version,
      deployments: deploymentCount,
      pods: bench.pods,
      repeats,
      orders,
      lifeboatSeconds: round2(L),
      parallelBaselineSeconds: round2(P),
      ratioVsParallel: Number((L / P).toFixed(3)),
      baselineSeconds: round2(H),
      ratio: Number((L / H).toFixed(3)),
      /** P that also waits, after scaling the source down, until its Pods are gone, as Lifeboat's fence makes sure they no longer serve. */
      parallelWaitingBaselineSeconds: round2(PS),
      ratioVsParallelWaiting: Number((L / PS).toFixed(3)),
      /** Q: kubectl in chunks, each chunk handed over on its own (scaled down, its Pods gone, scaled up, Available): Lifeboat's hand-over by hand. */
      pipelinedBaselineSeconds: round2(Q),
      ratioVsPipelined: Number((L / Q).toFixed(3)),
      pipelinedBaselineCommandSeconds: commandsOf(q),
      parallelWaitingBaselineCommandSeconds: commandsOf(ps),
      rtoSeconds: median(l.map((r) => r.rtoSeconds)),
      podsReadySeconds: m(l.map((r) => r.podsReadySeconds)),
      overheadSeconds: round2(overhead),
      /** The fence's wait, after its last patch, until the source's Pods stopped serving: the source's controllers' time. */
      sourceStopWaitSeconds: m(l.map(stopWait)),
      /** The overhead without that wait: Lifeboat's own requests, activities and workflow tasks. */
      ownOverheadSeconds: m(l.map((r) => r.overheadSeconds - stopWait(r))),
      /** RTO minus the available step alone: everything Lifeboat did besides waiting for Pods (its bring-up patches included). */
      notWaitingSeconds: m(l.map((r) => r.rtoSeconds - r.steps.available!)),
      stepSeconds: Object.fromEntries(stepNames.map((n) => [n, m(l.map((r) => r.steps[n]!))])),
      betweenStepsSeconds: m(l.map((r) => r.betweenStepsSeconds)),
      activities: activityTable,
      serverSide,
      temporal,
      parallelBaselinePodsReadySeconds: m(p.map((r) => r.podsReadySeconds)),
      parallelBaselineCommandSeconds: commandsOf(p),
      baselinePodsReadySeconds: m(h.map((r) => r.podsReadySeconds)),
      baselineCommandSeconds: commandsOf(h),
      target,
      met: {
        ratioVsParallel: L / P <= target.ratio,
        ratioVsParallelWaiting: L / PS <= target.ratio,
        ratioVsPipelined: L / Q <= target.ratio,
        ratio: L / H <= target.ratio,
        overhead: overhead <= target.overheadSeconds,
      },
      runs: l.map((x, i) => ({
        lifeboatSeconds: round2(x.seconds),
        rtoSeconds: x.rtoSeconds,
        podsReadySeconds: round2(x.podsReadySeconds),
        overheadSeconds: round2(x.overheadSeconds),
        steps: Object.fromEntries(Object.entries(x.steps).map(([n, s]) => [n, round2(s)])),
        parallelBaselineSeconds: round2(p[i]!.seconds),
        parallelBaselinePodsReadySeconds: round2(p[i]!.podsReadySeconds),
        parallelBaselineCommands: Object.fromEntries(Object.entries(p[i]!.commands).map(([n, s]) => [n, round2(s)])),
        baselineSeconds: round2(h[i]!.seconds),
        baselinePodsReadySeconds: round2(h[i]!.podsReadySeconds),
        baselineCommands: Object.fromEntries(Object.entries(h[i]!.commands).map(([n, s]) => [n, round2(s)])),
      })),
      lifeboatRuns: l.map((x) => round2(x.seconds)),
      parallelBaselineRuns: p.map((x) => round2(x.seconds)),
      parallelWaitingBaselineRuns: ps.map((x) => round2(x.seconds)),
      pipelinedBaselineRuns: q.map((x) => round2(x.seconds)),
      baselineRuns: h.map((x) => round2(x.seconds)),
    };
    const row = (label: string, value: number, runs: number[]) =>
      `${label.padEnd(60)} ${value.toFixed(2).padStart(8)}   ${runs.map((x) => x.toFixed(2)).join(' ')}\n`;
    const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
    let out = `${deploymentCount} Deployments, ${bench.pods} Pods, primary → standby, ${repeats} runs each, Node.js ${process.version}; orders ${orders.join(', ')}\n`;
    out += `L/P = ${result.ratioVsParallel} (Lifeboat against kubectl in parallel chunks; target <= ${target.ratio}: ${verdict(result.met.ratioVsParallel)})\n`;
    out += `L/Q = ${result.ratioVsPipelined} (against kubectl handing over chunk by chunk, each up on the standby once its Pods are gone from the primary: the same guarantee as Lifeboat's: ${verdict(result.met.ratioVsPipelined)})\n`;
    out += `L/S = ${result.ratioVsParallelWaiting} (against kubectl in parallel chunks that also waits for the source's Pods to go, as Lifeboat's fence does: ${verdict(result.met.ratioVsParallelWaiting)})\n`;
    out += `L/H = ${result.ratio} (against straight-line kubectl: ${verdict(result.met.ratio)}); overhead ${result.overheadSeconds} s (target <= ${target.overheadSeconds} s: ${verdict(result.met.overhead)})\n`;
    out += `${'figure'.padEnd(60)} ${'median s'.padStart(8)}   runs\n`;
    out += row(
      'L  Lifeboat failover workflow (start to result)',
      result.lifeboatSeconds,
      l.map((x) => x.seconds),
    );
    out += row(
      '   RTO (request to verified, from its report)',
      result.rtoSeconds,
      l.map((x) => x.rtoSeconds),
    );
    out += row(
      '   Pods Ready (bring-up start to all Available, report)',
      result.podsReadySeconds,
      l.map((x) => x.podsReadySeconds),
    );
    out += row(
      '   orchestration overhead (RTO - Pods Ready)',
      result.overheadSeconds,
      l.map((x) => x.overheadSeconds),
    );
    out += row("     of which the source's Pods stopping (fence, after its last patch)", result.sourceStopWaitSeconds, l.map(stopWait));
    out += row(
      "     Lifeboat's own (overhead - the source stopping)",
      result.ownOverheadSeconds,
      l.map((x) => x.overheadSeconds - stopWait(x)),
    );
    out += row(
      '   not waiting for Pods (RTO - available step)',
      result.notWaitingSeconds,
      l.map((x) => x.rtoSeconds - x.steps.available!),
    );
    for (const n of stepNames)
      out += row(
        `     step ${n}`,
        result.stepSeconds[n]!,
        l.map((x) => x.steps[n]!),
      );
    out += row(
      '     between steps (workflow tasks)',
      result.betweenStepsSeconds,
      l.map((x) => x.betweenStepsSeconds),
    );
    for (const [label, runs, total, ready] of [
      ['P  kubectl, chunks within its burst run at once', p, result.parallelBaselineSeconds, result.parallelBaselinePodsReadySeconds],
      [
        'Q  kubectl chunks at once, each: down, Pods gone, up, Available',
        q,
        result.pipelinedBaselineSeconds,
        m(q.map((r) => r.podsReadySeconds)),
      ],
      [
        "S  P, waiting for the source's Pods to go before the scale-up",
        ps,
        result.parallelWaitingBaselineSeconds,
        m(ps.map((r) => r.podsReadySeconds)),
      ],
      ['H  kubectl, straight-line (get, scale, scale, wait, patch)', h, result.baselineSeconds, result.baselinePodsReadySeconds],
    ] as const) {
      out += row(
        label,
        total,
        runs.map((x) => x.seconds),
      );
      out += row(
        '   Pods Ready (first scale-up to wait returning)',
        ready,
        runs.map((x) => x.podsReadySeconds),
      );
      for (const n of Object.keys(runs[0]!.commands))
        out += row(
          `     kubectl ${n}`,
          median(runs.map((x) => x.commands[n]!)),
          runs.map((x) => x.commands[n]!),
        );
    }
    out +=
      "\nWhere L's time goes, per activity (medians; ms; wire = the activity's own Kubernetes requests, to the cluster it changes;" +
      ' busy = time with a request in flight; req = created to body read; wait conn = created to headers sent; server = sent to response headers)\n';
    out += `${'activity'.padEnd(26)} ${'sched→start'.padStart(11)} ${'start→close'.padStart(11)} ${'reqs'.padStart(5)} ${'GET'.padStart(4)} ${'PATCH'.padStart(5)} ${'conns'.padStart(5)} ${'proto'.padStart(10)} ${'max∥'.padStart(5)} ${'mean∥'.padStart(6)} ${'busy'.padStart(7)} ${'req'.padStart(6)} ${'wait conn'.padStart(9)} ${'server'.padStart(7)} ${'connect'.padStart(7)}\n`;
    for (const a of activityTable) {
      const proto =
        Object.entries(a.protocols)
          .map(([k, v]) => `${k}×${v}`)
          .join(',') || '-';
      out += `${a.activity.padEnd(26)} ${a.scheduleToStartMs.toFixed(1).padStart(11)} ${a.startToCloseMs.toFixed(1).padStart(11)} ${String(a.requests).padStart(5)} ${String(a.get).padStart(4)} ${String(a.patch).padStart(5)} ${String(a.connections).padStart(5)} ${proto.padStart(10)} ${String(a.maxInFlight).padStart(5)} ${String(a.meanInFlight).padStart(6)} ${String(a.busyMs).padStart(7)} ${String(a.requestMs).padStart(6)} ${String(a.waitForConnectionMs).padStart(9)} ${String(a.serverMs).padStart(7)} ${String(a.connectMs).padStart(7)}\n`;
    }
    out +=
      `Temporal: ${temporal.activities} activities, schedule-to-start ${temporal.scheduleToStartMsTotal} ms in all; ${temporal.workflowTasks} workflow tasks, ` +
      `schedule-to-start ${temporal.workflowTaskScheduleToStartMsTotal} ms and start-to-complete ${temporal.workflowTaskStartToCompleteMsTotal} ms in all\n` +
      `  workflow tasks (after → sched→start / start→complete ms): ${temporal.workflowTaskEach.map((t) => `${t.after} ${t.scheduleToStartMs}/${t.startToCompleteMs}`).join('; ')}\n`;
    for (const s of sites) {
      const v = serverSide[s]!;
      out += `API server ${s}, server side during L (medians per run): Deployment GET ${v.get!.count} × ${v.get!.meanMs} ms, PATCH ${v.patch!.count} × ${v.patch!.meanMs} ms, LIST ${v.list!.count} × ${v.list!.meanMs} ms\n`;
    }
    process.stdout.write(out);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
} finally {
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  await tearDown();
}
