// `npm run bench:failover`: a warm-standby failover of an app of 50 Deployments from the lab's primary to
// its standby. Lifeboat's `failover` workflow (L, auto-approved, in-process worker on its own task queue)
// against a kubectl script doing the same steps (read the replicas, scale to zero on primary, scale up on
// standby, wait until every replica is available, patch the DNSEndpoint): straight-line (H, the
// baseline the issue names) and with its commands split within kubectl's client-side rate limit and run
// at once (P, the clusters' own pace). Alternated in one run; before every run the app is put back to
// its starting state through the API, so each run starts the same. BENCH_REPEATS (default 3),
// BENCH_DEPLOYMENTS (default 50). Prints a table, then one JSON line. Figures, not assertions: machines
// are shared and noisy.
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { pino } from 'pino';
import { bin, clusterPaths, labConfigFile } from '../../lab/topology.js';
import { warmStandbyDeployment } from '../../lab/warm-standby.js';
import { loadKubeConfig } from '../../worker/clients.js';
import { clusterByName, loadConfig, type AppConfig, type TrafficConfig } from '../../worker/config.js';
import { createWorker } from '../../worker/worker.js';
import { temporalConnectionOptions } from '../../worker/temporal.js';
import type { failover, FailoverReport } from '../../workflows/failover.js';

const deploymentCount = Number(process.env.BENCH_DEPLOYMENTS ?? 50);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
/** How long the app may take to become Available (both variants) or to settle after a reset. */
const availableTimeoutSeconds = 300;
const target = { ratio: 1.2, overheadSeconds: 5 } as const;

type Site = 'primary' | 'standby';
const sites: readonly Site[] = ['primary', 'standby'];
const namespace = `bench-fo-${randomBytes(4).toString('hex')}`;
/** 1 or 2 replicas each, alternating: 50 Deployments run 75 Pods. */
const deployments = Array.from({ length: deploymentCount }, (_, i) => ({ name: `svc-${i}`, replicas: i % 2 === 0 ? 2 : 1 }));
const pods = deployments.reduce((n, d) => n + d.replicas, 0);
const targets: Record<Site, string[]> = { primary: ['192.0.2.80'], standby: ['198.51.100.80'] };
const dnsName = `${namespace}.lab.example`;
const record = (site: Site) => ({ dnsName, recordType: 'A', recordTTL: 30, targets: targets[site] });

const base = loadConfig({ file: labConfigFile, env: {} });
const traffic: TrafficConfig = { provider: 'externalDNS', cluster: 'standby', namespace, name: namespace, dnsName, recordType: 'A', recordTTL: 30, targets };
const app: AppConfig = {
  name: namespace, cluster: 'primary', namespaces: [namespace], backup: { ttl: '720h' },
  verify: { cluster: 'standby', checks: [], availableTimeout: availableTimeoutSeconds }, objectives: { rto: 600, rpo: 86400 },
  failover: { standby: 'standby', mode: 'warm-standby', traffic, approvalTimeout: 600, availableTimeout: availableTimeoutSeconds },
};
const config = { ...base, temporal: { ...base.temporal, taskQueue: `bench-failover-${randomUUID()}` }, metrics: { port: 0 }, apps: [...base.apps, app] };
const kube: Record<Site, KubeConfig> = { primary: loadKubeConfig(clusterByName(config, 'primary')), standby: loadKubeConfig(clusterByName(config, 'standby')) };
const appsApi = (site: Site) => kube[site].makeApiClient(AppsV1Api);
const dnsEndpointApi = { group: 'externaldns.k8s.io', version: 'v1alpha1', plural: 'dnsendpoints', namespace, name: namespace } as const;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round2 = (x: number) => Number(x.toFixed(2));
const since = (t0: number) => (performance.now() - t0) / 1000;

/** kubectl as the baseline script runs it: the lab's admin kubeconfig of the site; throws on a non-zero exit. */
const kubectl = (site: Site, args: string[]) => execa(bin.kubectl, ['--kubeconfig', clusterPaths(site).kubeconfig('admin'), ...args]);

/** Ready as Lifeboat's waitWorkloadsAvailable counts it: Available, every replica updated, ready and available. */
function allReplicasAvailable(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  return d.status?.conditions?.find((c) => c.type === 'Available')?.status === 'True'
    && (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0)
    && (d.status?.updatedReplicas ?? 0) === want && (d.status?.readyReplicas ?? 0) === want && (d.status?.availableReplicas ?? 0) === want;
}

// ---------------------------------------------------------------------------------------------------
// The bench app and its starting state

/** Namespace with the Deployments running on primary, the warm standby copy at zero on standby, the DNSEndpoint on standby pointing at primary. */
async function createBenchApp(): Promise<void> {
  for (const site of sites) {
    await kube[site].makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    await Promise.all(deployments.map(({ name, replicas }) => appsApi(site).createNamespacedDeployment({ namespace, body: warmStandbyDeployment(name, replicas, site) })));
  }
  await kube.standby.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...dnsEndpointApi,
    body: { apiVersion: 'externaldns.k8s.io/v1alpha1', kind: 'DNSEndpoint', metadata: { name: namespace }, spec: { endpoints: [record('primary')] } },
  });
}

/** Deletes the namespace on both sites, retrying for a minute while an API server is away (other lab users restart them). */
async function removeBenchApp(): Promise<void> {
  await Promise.all(sites.map(async (site) => {
    const core = kube[site].makeApiClient(CoreV1Api);
    for (let attempt = 1; ; attempt++) {
      try {
        await core.deleteNamespace({ name: namespace });
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return;
        if (attempt >= 60) {
          say(`could not delete namespace ${namespace} on ${site}: ${(err as Error).message}; delete it by hand`);
          return;
        }
        await sleep(1000);
      }
    }
  }));
}

/** Annotations a failover leaves on Deployments (fencing on the source, activation on the target) and on the DNSEndpoint. */
const failoverAnnotations = [
  'lifeboat.io/fenced-by', 'lifeboat.io/fenced-replicas', 'lifeboat.io/fenced-at', 'lifeboat.io/activated-by', 'lifeboat.io/pre-activation-replicas',
  'lifeboat.io/active-cluster', 'lifeboat.io/switched-by', 'lifeboat.io/switch-reason', 'lifeboat.io/workflow-id',
];
const clearedAnnotations = Object.fromEntries(failoverAnnotations.map((a) => [a, null]));

/** Back to the starting state: primary at its replicas and Available, standby at zero with no Pods left, the record on primary, no failover annotations. */
async function resetApp(): Promise<void> {
  await Promise.all(sites.flatMap((site) => deployments.map(({ name, replicas }) => appsApi(site).patchNamespacedDeployment({
    namespace, name, body: { metadata: { annotations: clearedAnnotations }, spec: { replicas: site === 'primary' ? replicas : 0 } },
  }, mergePatch))));
  await kube.standby.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject({
    ...dnsEndpointApi, body: { metadata: { annotations: clearedAnnotations }, spec: { endpoints: [record('primary')] } },
  }, mergePatch);
  const deadline = Date.now() + availableTimeoutSeconds * 1000;
  let last = '';
  for (;;) {
    try {
      const [primary, standby, standbyPods, primaryPods] = await Promise.all([
        appsApi('primary').listNamespacedDeployment({ namespace }), appsApi('standby').listNamespacedDeployment({ namespace }),
        kube.standby.makeApiClient(CoreV1Api).listNamespacedPod({ namespace }), kube.primary.makeApiClient(CoreV1Api).listNamespacedPod({ namespace }),
      ]);
      const settled = primary.items.length === deployments.length && primary.items.every(allReplicasAvailable) && primaryPods.items.length === pods
        && standby.items.every((d) => (d.status?.replicas ?? 0) === 0) && standbyPods.items.length === 0;
      if (settled) break;
      last = `primary ${primary.items.filter(allReplicasAvailable).length}/${deployments.length} Available, ${primaryPods.items.length}/${pods} Pods; standby ${standbyPods.items.length} Pods left`;
    } catch (err) {
      // Other lab users restart API servers; the app settles once they are back.
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`the bench app did not settle into its starting state within ${availableTimeoutSeconds} s: ${last}`);
    await sleep(250);
  }
  // Let the controllers' last status writes land before the next run starts.
  await sleep(1000);
}

/** Checks, outside the timed part, that a run really failed the app over. */
async function checkFailedOver(variant: string): Promise<void> {
  const [primary, standby, dns] = await Promise.all([
    appsApi('primary').listNamespacedDeployment({ namespace }), appsApi('standby').listNamespacedDeployment({ namespace }),
    kube.standby.makeApiClient(CustomObjectsApi).getNamespacedCustomObject(dnsEndpointApi) as Promise<{ spec: { endpoints: { targets: string[] }[] } }>,
  ]);
  const problems = [
    ...primary.items.filter((d) => d.spec?.replicas !== 0).map((d) => `primary ${d.metadata!.name} at ${d.spec?.replicas}`),
    ...deployments.filter(({ name, replicas }) => standby.items.find((d) => d.metadata!.name === name)?.status?.readyReplicas !== replicas).map(({ name }) => `standby ${name} not ready`),
    ...(JSON.stringify(dns.spec.endpoints[0]?.targets) === JSON.stringify(targets.standby) ? [] : [`record points at ${dns.spec.endpoints[0]?.targets.join(',')}`]),
  ];
  if (problems.length) throw new Error(`${variant} run left the app not failed over: ${problems.slice(0, 5).join('; ')}`);
}

// ---------------------------------------------------------------------------------------------------
// The two variants

interface LifeboatRun {
  seconds: number;
  rtoSeconds: number;
  podsReadySeconds: number;
  overheadSeconds: number;
  /** Each step's duration in the report, by name. */
  steps: Record<string, number>;
  /** Request to the first step, plus any time between steps (workflow tasks). */
  betweenStepsSeconds: number;
}

const stepSeconds = (s: FailoverReport['steps'][number]) => (s.startedAt && s.finishedAt ? (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000 : 0);

let running: WorkflowHandle<typeof failover> | undefined;

async function lifeboatRun(client: Client): Promise<LifeboatRun> {
  const t0 = performance.now();
  running = await client.workflow.start<typeof failover>('failover', {
    taskQueue: config.temporal.taskQueue, workflowId: `failover/${app.name}`,
    args: [{ app: app.name, from: 'primary', to: 'standby', reason: 'bench:failover', autoApprove: { approver: 'bench' } }],
  });
  const report = await running.result();
  const seconds = since(t0);
  running = undefined;
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
  return {
    seconds, rtoSeconds: report.rtoSeconds, podsReadySeconds: report.podsReadySeconds, overheadSeconds: report.rtoSeconds - report.podsReadySeconds,
    steps: Object.fromEntries(report.steps.map((s) => [s.name, stepSeconds(s)])), betweenStepsSeconds: between,
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
const inChunks = (names: string[], size: number) => Array.from({ length: Math.ceil(names.length / size) }, (_, i) => names.slice(i * size, (i + 1) * size));

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
async function baselineRun(mode: 'straight' | 'parallel'): Promise<BaselineRun> {
  const commands: Record<string, number> = {};
  const step = async (name: string, site: Site, argsList: string[][]) => {
    const t = performance.now();
    if (mode === 'parallel') await Promise.all(argsList.map((args) => kubectl(site, args)));
    else for (const args of argsList) await kubectl(site, args);
    commands[name] = since(t);
  };
  const split = (names: string[], kind: keyof typeof namesPerCommand) => (mode === 'parallel' ? inChunks(names, namesPerCommand[kind]) : [names]);
  const t0 = performance.now();
  const listed = await kubectl('primary', ['get', 'deployments', '-n', namespace, '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{"\\n"}{end}']);
  commands['get replicas'] = since(t0);
  const byReplicas = new Map<number, string[]>();
  for (const line of listed.stdout.split('\n').filter(Boolean)) {
    const [name, replicas] = line.split('=') as [string, string];
    byReplicas.set(Number(replicas), [...byReplicas.get(Number(replicas)) ?? [], name]);
  }
  const groups = [...byReplicas];
  await step('scale down', 'primary', mode === 'parallel'
    ? split(groups.flatMap(([, names]) => names), 'scale').map((names) => ['scale', 'deployment', ...names, '--replicas=0', '-n', namespace])
    : [['scale', 'deployment', '--all', '--replicas=0', '-n', namespace]]);
  const up = performance.now();
  await step('scale up', 'standby', groups.flatMap(([replicas, names]) => split(names, 'scale').map((chunk) => ['scale', 'deployment', ...chunk, `--replicas=${replicas}`, '-n', namespace])));
  await step('wait', 'standby', groups.flatMap(([replicas, names]) => split(names, 'wait').map((chunk) => [
    'wait', 'deployment', ...chunk, `--for=jsonpath={.status.availableReplicas}=${replicas}`, '-n', namespace, `--timeout=${availableTimeoutSeconds}s`,
  ])));
  const podsReadySeconds = since(up);
  await step('patch record', 'standby', [['patch', 'dnsendpoint', namespace, '-n', namespace, '--type', 'merge', '-p', JSON.stringify({ spec: { endpoints: [record('standby')] } })]]);
  return { seconds: since(t0), podsReadySeconds, commands };
}

// ---------------------------------------------------------------------------------------------------

const worker = await createWorker(config, pino({ level: 'warn' }));
const workerRunning = worker.run();
const connection = await Connection.connect(temporalConnectionOptions(config));
const client = new Client({ connection, namespace: config.temporal.namespace });

async function tearDown(): Promise<void> {
  if (running) await running.terminate('bench:failover stopped').catch(() => undefined);
  await removeBenchApp();
  worker.worker.shutdown();
  await workerRunning;
  await connection.close();
}
const onSignal = (signal: NodeJS.Signals) => {
  say(`${signal}: removing the bench app`);
  void tearDown().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  say(`creating ${deploymentCount} Deployments (${pods} Pods) in namespace ${namespace} on primary, the warm standby on standby`);
  await createBenchApp();
  const l: LifeboatRun[] = []; const h: BaselineRun[] = []; const p: BaselineRun[] = [];
  for (let i = 0; i < repeats; i++) {
    await resetApp();
    l.push(await lifeboatRun(client));
    await checkFailedOver('Lifeboat');
    await resetApp();
    h.push(await baselineRun('straight'));
    await checkFailedOver('baseline');
    await resetApp();
    p.push(await baselineRun('parallel'));
    await checkFailedOver('parallel baseline');
    const x = l.at(-1)!; const y = h.at(-1)!; const z = p.at(-1)!;
    say(`run ${i + 1}/${repeats}: Lifeboat ${x.seconds.toFixed(2)} s (RTO ${x.rtoSeconds} s, Pods Ready ${x.podsReadySeconds.toFixed(2)} s, overhead ${x.overheadSeconds.toFixed(2)} s)`
      + `  baseline ${y.seconds.toFixed(2)} s (Pods Ready ${y.podsReadySeconds.toFixed(2)} s)  parallel baseline ${z.seconds.toFixed(2)} s (Pods Ready ${z.podsReadySeconds.toFixed(2)} s)`);
  }
  const stepNames = Object.keys(l[0]!.steps);
  const commandNames = Object.keys(h[0]!.commands);
  const m = (xs: number[]) => round2(median(xs));
  const L = median(l.map((r) => r.seconds)); const H = median(h.map((r) => r.seconds)); const P = median(p.map((r) => r.seconds));
  const overhead = median(l.map((r) => r.overheadSeconds));
  const commandsOf = (runs: BaselineRun[]) => Object.fromEntries(commandNames.map((n) => [n, m(runs.map((r) => r.commands[n]!))]));
  const result = {
    deployments: deploymentCount, pods, repeats,
    lifeboatSeconds: round2(L), baselineSeconds: round2(H), ratio: Number((L / H).toFixed(3)),
    rtoSeconds: median(l.map((r) => r.rtoSeconds)), podsReadySeconds: m(l.map((r) => r.podsReadySeconds)), overheadSeconds: round2(overhead),
    /** RTO minus the available step alone: everything Lifeboat did besides waiting for Pods (its bring-up patches included). */
    notWaitingSeconds: m(l.map((r) => r.rtoSeconds - r.steps.available!)),
    stepSeconds: Object.fromEntries(stepNames.map((n) => [n, m(l.map((r) => r.steps[n]!))])),
    betweenStepsSeconds: m(l.map((r) => r.betweenStepsSeconds)),
    baselinePodsReadySeconds: m(h.map((r) => r.podsReadySeconds)), baselineCommandSeconds: commandsOf(h),
    parallelBaselineSeconds: round2(P), ratioVsParallel: Number((L / P).toFixed(3)),
    parallelBaselinePodsReadySeconds: m(p.map((r) => r.podsReadySeconds)), parallelBaselineCommandSeconds: commandsOf(p),
    target, met: { ratio: L / H <= target.ratio, ratioVsParallel: L / P <= target.ratio, overhead: overhead <= target.overheadSeconds },
    runs: l.map((x, i) => ({
      lifeboatSeconds: round2(x.seconds), rtoSeconds: x.rtoSeconds, podsReadySeconds: round2(x.podsReadySeconds), overheadSeconds: round2(x.overheadSeconds),
      steps: Object.fromEntries(Object.entries(x.steps).map(([n, s]) => [n, round2(s)])),
      baselineSeconds: round2(h[i]!.seconds), baselinePodsReadySeconds: round2(h[i]!.podsReadySeconds),
      baselineCommands: Object.fromEntries(Object.entries(h[i]!.commands).map(([n, s]) => [n, round2(s)])),
      parallelBaselineSeconds: round2(p[i]!.seconds), parallelBaselinePodsReadySeconds: round2(p[i]!.podsReadySeconds),
      parallelBaselineCommands: Object.fromEntries(Object.entries(p[i]!.commands).map(([n, s]) => [n, round2(s)])),
    })),
    lifeboatRuns: l.map((x) => round2(x.seconds)), baselineRuns: h.map((x) => round2(x.seconds)), parallelBaselineRuns: p.map((x) => round2(x.seconds)),
  };
  const row = (label: string, value: number, runs: number[]) => `${label.padEnd(60)} ${value.toFixed(2).padStart(8)}   ${runs.map((x) => x.toFixed(2)).join(' ')}\n`;
  const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
  let out = `${deploymentCount} Deployments, ${pods} Pods, primary → standby, ${repeats} runs each\n`;
  out += `${'figure'.padEnd(60)} ${'median s'.padStart(8)}   runs\n`;
  out += row('L  Lifeboat failover workflow (start to result)', result.lifeboatSeconds, l.map((x) => x.seconds));
  out += row('   RTO (request to verified, from its report)', result.rtoSeconds, l.map((x) => x.rtoSeconds));
  out += row('   Pods Ready (bring-up start to all Available, report)', result.podsReadySeconds, l.map((x) => x.podsReadySeconds));
  out += row('   orchestration overhead (RTO - Pods Ready)', result.overheadSeconds, l.map((x) => x.overheadSeconds));
  out += row('   not waiting for Pods (RTO - available step)', result.notWaitingSeconds, l.map((x) => x.rtoSeconds - x.steps.available!));
  for (const n of stepNames) out += row(`     step ${n}`, result.stepSeconds[n]!, l.map((x) => x.steps[n]!));
  out += row('     between steps (workflow tasks)', result.betweenStepsSeconds, l.map((x) => x.betweenStepsSeconds));
  for (const [label, runs, total, ready] of [
    ['H  kubectl, straight-line (get, scale, scale, wait, patch)', h, result.baselineSeconds, result.baselinePodsReadySeconds],
    ['P  kubectl, chunks within its burst run at once', p, result.parallelBaselineSeconds, result.parallelBaselinePodsReadySeconds],
  ] as const) {
    out += row(label, total, runs.map((x) => x.seconds));
    out += row('   Pods Ready (first scale-up to wait returning)', ready, runs.map((x) => x.podsReadySeconds));
    for (const n of commandNames) out += row(`     kubectl ${n}`, median(runs.map((x) => x.commands[n]!)), runs.map((x) => x.commands[n]!));
  }
  out += `L/H = ${result.ratio} (target <= ${target.ratio}: ${verdict(result.met.ratio)}); L/P = ${result.ratioVsParallel} (${verdict(result.met.ratioVsParallel)}); `
    + `overhead ${result.overheadSeconds} s (target <= ${target.overheadSeconds} s: ${verdict(result.met.overhead)})\n`;
  process.stdout.write(out);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  await tearDown();
}
