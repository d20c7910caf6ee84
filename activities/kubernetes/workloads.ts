// Activities of failover and failback: preflight of both sites, fencing (scale to zero, labelled with
// what to restore), bringing the app up on the target, waiting for it to be Available. Every change is
// marked with the run that made it (./marks.ts), so a retry finds its own earlier work and a
// compensation undoes exactly what its run did.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import type { ActivityDeps } from '../deps.js';
import { defaultAppApprovers, type AppConfig, type FailoverConfig } from '../../worker/config.js';
import { clusterClients } from './cluster.js';
import { kubernetesError } from './api.js';
import {
  changeDeployments,
  cpuMilli,
  isDeploymentAvailable,
  memoryBytes,
  podRequests,
  stillServing,
  type DeploymentChange,
  type Workload,
} from './deployments.js';
import { failureTypes } from '../../model/failures.js';
import { failoverAppOf } from '../configuration.js';
import { resolveApprovers, type ApprovalPolicy } from '../../model/approvals.js';
import { mark, markKeys, markOn, markedBy, unmark, type RunRef } from './marks.js';

export { runOwner, type RunRef } from './marks.js';

/** On a warm standby's Deployment, set by its owner: the replicas it runs with when it takes over. */
export const failoverReplicasAnnotation = 'lifeboat.io/failover-replicas';

export interface WorkloadPlan extends Workload {
  /** Replicas the app runs with on the target after the switch. */
  replicas: number;
  /** Where that number came from. */
  replicasFrom: string;
  /** Per-Pod requests (from the Pod template). */
  cpuMilli: number;
  memoryBytes: number;
}

export interface SitePreflight {
  cluster: string;
  reachable: boolean;
  healthy: boolean;
  detail: string;
}

export interface FailoverPreflight {
  app: string;
  from: SitePreflight;
  to: SitePreflight;
  mode: FailoverConfig['mode'];
  namespaces: string[];
  workloads: WorkloadPlan[];
  capacity: {
    neededCpuMilli: number;
    neededMemoryBytes: number;
    freeCpuMilli: number;
    freeMemoryBytes: number;
    ok: boolean;
    detail: string;
  };
  /** Problems that stop the failover before anything is touched. */
  blockers: string[];
  warnings: string[];
  objectives: { rtoSeconds: number; rpoSeconds: number };
  traffic: { provider: string; description: string; attempts: number; timeoutSeconds: number };
  approvalTimeoutSeconds: number;
  availableTimeoutSeconds: number;
  /**
   * Who may approve, from the worker's configuration (apps[].approvers, forceApprovers, groups resolved):
   * the workflow checks every approval against it. Absent in runs from before approvals were authorised.
   */
  approval?: ApprovalPolicy;
  /** The target's Velero: its namespace, and its (ReadOnly) location holding the source's backups. */
  velero: { namespace: string; sourceLocation?: string; timeoutSeconds: number };
}

/** How long a fence waits for the source's Pods to stop serving when the caller fixes no deadline. */
const defaultFenceWaitMs = 120_000;
/** How often the waits poll a cluster: every poll is one LIST of Deployments (and of Pods) per namespace. */
const pollMs = 250;

/** Activates each workload on `cluster` for `run` ({@link activation}); `changed` after each, with whether it patched. */
const activateEach = (
  api: AppsV1Api,
  cluster: string,
  run: RunRef,
  workloads: (Workload & { replicas: number })[],
  changed: (w: Workload & { replicas: number }, patched: boolean) => void,
) => changeDeployments(api, cluster, workloads, 'scaling up', (w, d) => activation(run, w.replicas, d), changed);

/**
 * The change that activates a Deployment for `run` at `replicas`, or undefined when it already is:
 * this run's own mark on it AND the replicas wanted now. It records the replicas it had (for
 * deactivation) and clears a fence a previous switch left there.
 */
function activation(run: RunRef, replicas: number, d: V1Deployment): DeploymentChange | undefined {
  const ours = markedBy(d, 'activated', run);
  if (ours && d.spec?.replicas === replicas) return undefined;
  const before = ours ? (markOn(d, 'activated')?.replicas ?? 0) : (d.spec?.replicas ?? 0);
  return { replicas, ...mark('activated', run, before) };
}

export function createFailoverActivities(deps: Pick<ActivityDeps, 'clusters' | 'apps' | 'approverGroups' | 'gameDay'>) {
  const appConfig = (name: string) => failoverAppOf(deps.apps, name);
  const apps = (cluster: string) => clusterClients(deps, cluster).kubeConfig.makeApiClient(AppsV1Api);

  /** The Deployments that matter: configured, else every Deployment in the app's namespaces on `cluster`. */
  async function workloadsOf(app: AppConfig & { failover: FailoverConfig }, cluster: string): Promise<V1Deployment[]> {
    const api = apps(cluster);
    if (app.failover.workloads) {
      return Promise.all(app.failover.workloads.map((w) => api.readNamespacedDeployment(w)));
    }
    const lists = await Promise.all(app.namespaces.map((namespace) => api.listNamespacedDeployment({ namespace })));
    return lists.flatMap((l) => l.items);
  }

  async function site(cluster: string): Promise<SitePreflight & { kubeConfig: KubeConfig }> {
    const { kubeConfig } = clusterClients(deps, cluster);
    try {
      const nodes = await kubeConfig.makeApiClient(CoreV1Api).listNode();
      const ready = nodes.items.filter(
        (n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      const healthy = ready.length > 0;
      return { cluster, kubeConfig, reachable: true, healthy, detail: `${ready.length}/${nodes.items.length} Nodes Ready and schedulable` };
    } catch (err) {
      const e = kubernetesError(err, `cluster '${cluster}' API`);
      if (e instanceof ApplicationFailure) throw e;
      return { cluster, kubeConfig, reachable: false, healthy: false, detail: e.message };
    }
  }

  /** Free allocatable CPU and memory on the target's Ready Nodes, after the requests of the Pods already there. */
  async function freeCapacity(kubeConfig: KubeConfig): Promise<{ cpu: number; mem: number }> {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const [nodes, pods] = await Promise.all([
      core.listNode(),
      core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
    ]);
    const ready = new Set(
      nodes.items
        .filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((n) => n.metadata!.name),
    );
    let cpu = 0;
    let mem = 0;
    for (const n of nodes.items) {
      if (!ready.has(n.metadata!.name)) continue;
      cpu += cpuMilli(n.status?.allocatable?.cpu);
      mem += memoryBytes(n.status?.allocatable?.memory);
    }
    for (const p of pods.items) {
      if (!p.spec?.nodeName || !ready.has(p.spec.nodeName)) continue;
      for (const c of p.spec.containers) {
        cpu -= cpuMilli(c.resources?.requests?.cpu);
        mem -= memoryBytes(c.resources?.requests?.memory);
      }
    }
    return { cpu, mem };
  }

  /** The workloads' Deployments and the Pods in their namespaces on `cluster`, now: one LIST of each per namespace. */
  async function readServing(cluster: string, workloads: Workload[]): Promise<{ byKey: Map<string, V1Deployment>; pods: V1Pod[] }> {
    const api = apps(cluster);
    const core = clusterClients(deps, cluster).kubeConfig.makeApiClient(CoreV1Api);
    const namespaces = [...new Set(workloads.map((w) => w.namespace))];
    const [deployments, pods] = await Promise.all([
      Promise.all(namespaces.map((namespace) => api.listNamespacedDeployment({ namespace }))).then((ls) => ls.flatMap((l) => l.items)),
      Promise.all(namespaces.map((namespace) => core.listNamespacedPod({ namespace }))).then((ls) => ls.flatMap((l) => l.items)),
    ]);
    return { byKey: new Map(deployments.map((d) => [`${d.metadata!.namespace}/${d.metadata!.name}`, d])), pods };
  }

  /**
   * Waits, heartbeating, until no workload on `cluster` serves (see {@link stillServing}). One list of
   * Deployments and one of Pods per namespace and poll.
   */
  async function waitStopped(cluster: string, workloads: Workload[], deadline: Date): Promise<void> {
    const ctx = Context.current();
    let last = '';
    for (;;) {
      try {
        const { byKey, pods } = await readServing(cluster, workloads);
        const still = workloads.flatMap((w) => {
          const d = byKey.get(`${w.namespace}/${w.name}`);
          const serving = d && stillServing(d, pods);
          return serving ? [`${w.namespace}/${w.name} ${serving}`] : [];
        });
        if (!still.length) return;
        last = `${still.length}/${workloads.length} still serving: ${still.slice(0, 5).join(', ')}`;
        ctx.heartbeat({ serving: still.length, total: workloads.length });
      } catch (err) {
        const e = kubernetesError(err, `listing Deployments and Pods on '${cluster}'`);
        if (e instanceof ApplicationFailure) throw e;
        last = e.message;
        ctx.heartbeat({ problem: last });
      }
      if (Date.now() >= deadline.getTime()) {
        throw ApplicationFailure.nonRetryable(
          `fenced, but the app still serves on '${cluster}' when the fence's time ran out: ${last}`,
          failureTypes.SourceStillServing,
        );
      }
      await ctx.sleep(pollMs);
    }
  }

  return {
    /**
     * Both sites' health, the workloads and the replicas each gets on the target, the target's free
     * capacity for them: everything the plan and the approver need, and the blockers that stop a
     * failover before it touches anything.
     */
    async preflightFailover({ app: appName, from, to }: { app: string; from: string; to: string }): Promise<FailoverPreflight> {
      const app = appConfig(appName);
      const f = app.failover;
      if (from === to)
        throw ApplicationFailure.nonRetryable(`from and to are the same cluster '${from}'`, failureTypes.InvalidFailoverRequest);
      const sites = [app.cluster, f.standby];
      if (!sites.includes(from) || !sites.includes(to)) {
        throw ApplicationFailure.nonRetryable(
          `app '${appName}' fails over between '${app.cluster}' and '${f.standby}', not from '${from}' to '${to}'`,
          failureTypes.InvalidFailoverRequest,
        );
      }
      const [source, target] = await Promise.all([site(from), site(to)]);
      const blockers: string[] = [];
      const warnings: string[] = [];
      if (!target.reachable) blockers.push(`target cluster '${to}' is unreachable: ${target.detail}`);
      else if (!target.healthy) blockers.push(`target cluster '${to}' is unhealthy: ${target.detail}`);
      if (!source.reachable)
        warnings.push(`source cluster '${from}' is unreachable (${source.detail}): it cannot be fenced; the approval must say force`);

      // The reads that follow are independent: made at once, the preflight costs one round trip, not three.
      const [sourceDeployments, targetDeployments, targetFree] = await Promise.all([
        source.reachable
          ? workloadsOf(app, from).catch((err: unknown) => {
              warnings.push(`source workloads unreadable: ${(err as Error).message}`);
              return [];
            })
          : [],
        target.reachable
          ? workloadsOf(app, to).catch((err: unknown) => {
              if (f.mode === 'warm-standby')
                blockers.push(`warm standby workloads unreadable on '${to}': ${kubernetesError(err, 'reading them').message}`);
              return [];
            })
          : [],
        target.reachable ? freeCapacity(target.kubeConfig) : undefined,
      ]);
      const key = (d: V1Deployment) => `${d.metadata!.namespace}/${d.metadata!.name}`;
      const names = [...new Set([...sourceDeployments, ...targetDeployments].map(key))].sort();
      const workloads: WorkloadPlan[] = names.map((k) => {
        const [namespace, name] = k.split('/') as [string, string];
        const src = sourceDeployments.find((d) => key(d) === k);
        const tgt = targetDeployments.find((d) => key(d) === k);
        const template = tgt ?? src!;
        const requests = podRequests(template);
        const failoverReplicas = tgt?.metadata?.annotations?.[failoverReplicasAnnotation];
        // The live count on the source wins (a source at zero, fenced, does not count; one scaled up
        // despite a leftover fence does); a fenced source (failback) remembers its count; a warm
        // standby's annotation says what it runs with when the source is gone.
        const candidates: [number | undefined, string][] = [
          [src?.spec?.replicas, `${from}'s spec.replicas`],
          [markOn(tgt, 'fenced')?.replicas, `${to}'s ${markKeys.fenced.replicas}`],
          [failoverReplicas !== undefined ? Number(failoverReplicas) : undefined, `${to}'s ${failoverReplicasAnnotation}`],
          [markOn(src, 'fenced')?.replicas, `${from}'s ${markKeys.fenced.replicas}`],
        ];
        const chosen = candidates.find(([n]) => n !== undefined && n > 0);
        if (!chosen)
          warnings.push(`${k}: no replica count known (source unreachable and no ${failoverReplicasAnnotation} annotation); using 1`);
        if (f.mode === 'warm-standby' && !tgt && target.reachable) blockers.push(`${k} is not on the warm standby '${to}'`);
        return {
          namespace,
          name,
          replicas: chosen?.[0] ?? 1,
          replicasFrom: chosen?.[1] ?? 'default',
          cpuMilli: requests.cpu,
          memoryBytes: requests.mem,
        };
      });
      if (!workloads.length && target.reachable) blockers.push(`no Deployments found for app '${appName}' in ${app.namespaces.join(', ')}`);
      // A target that serves already: a source a forced failover never fenced, back with its old replicas.
      for (const d of targetDeployments) {
        if ((d.status?.readyReplicas ?? 0) > 0)
          warnings.push(
            `${key(d)} already serves on '${to}' (${d.status!.readyReplicas} ready, never fenced): both sites may be serving now`,
          );
      }

      let capacity: FailoverPreflight['capacity'] = {
        neededCpuMilli: 0,
        neededMemoryBytes: 0,
        freeCpuMilli: 0,
        freeMemoryBytes: 0,
        ok: false,
        detail: 'not measured: target unreachable',
      };
      const free = targetFree;
      if (free) {
        // What the target already runs of this app (a warm standby's Pods, if any) is already counted as used.
        const running = targetDeployments.reduce(
          (acc, d) => {
            const r = podRequests(d);
            const n = d.status?.readyReplicas ?? 0;
            return { cpu: acc.cpu + n * r.cpu, mem: acc.mem + n * r.mem };
          },
          { cpu: 0, mem: 0 },
        );
        const needCpu = workloads.reduce((s, w) => s + w.replicas * w.cpuMilli, 0) - running.cpu;
        const needMem = workloads.reduce((s, w) => s + w.replicas * w.memoryBytes, 0) - running.mem;
        const ok = needCpu <= free.cpu && needMem <= free.mem;
        capacity = {
          neededCpuMilli: needCpu,
          neededMemoryBytes: needMem,
          freeCpuMilli: free.cpu,
          freeMemoryBytes: free.mem,
          ok,
          detail: `needs ${needCpu}m CPU and ${(needMem / 1024 ** 3).toFixed(2)} GiB; ${to} has ${free.cpu}m and ${(free.mem / 1024 ** 3).toFixed(2)} GiB free`,
        };
        if (!ok) blockers.push(`target '${to}' lacks capacity: ${capacity.detail}`);
      }
      const t = f.traffic;
      const targetVelero = clusterClients(deps, to).config.velero;
      const sourceLocation = targetVelero.restoreFrom[from];
      if (f.mode === 'restore' && !sourceLocation)
        blockers.push(`restore mode needs a Velero location on '${to}' for '${from}''s backups (clusters[].velero.restoreFrom.${from})`);
      return {
        velero: { namespace: targetVelero.namespace, sourceLocation, timeoutSeconds: targetVelero.timeout },
        app: appName,
        from: { cluster: from, reachable: source.reachable, healthy: source.healthy, detail: source.detail },
        to: { cluster: to, reachable: target.reachable, healthy: target.healthy, detail: target.detail },
        mode: f.mode,
        namespaces: app.namespaces,
        workloads,
        capacity,
        blockers,
        warnings,
        objectives: { rtoSeconds: app.objectives.rto, rpoSeconds: app.objectives.rpo },
        traffic: {
          provider: t.provider,
          description:
            t.provider === 'externalDNS'
              ? `DNSEndpoint ${t.namespace}/${t.name} on '${t.cluster}': ${t.dnsName} ${t.recordType} → ${(t.targets[to] ?? []).join(', ')}`
              : `POST ${t.url}`,
          attempts: t.provider === 'webhook' ? t.attempts : 5,
          timeoutSeconds: t.provider === 'webhook' ? t.timeout : 20,
        },
        approvalTimeoutSeconds: f.approvalTimeout,
        availableTimeoutSeconds: f.availableTimeout,
        approval: {
          approvers: resolveApprovers(app.approvers ?? defaultAppApprovers, deps.approverGroups),
          forceApprovers: resolveApprovers(app.forceApprovers ?? [], deps.approverGroups),
          fourEyes: true,
          gameDays: deps.gameDay.failover,
        },
      };
    },

    /**
     * Fences the source: scales each workload to zero, recording its replicas in this run's mark, then
     * waits (heartbeating, until `deadline`) until none of them has a Pod that serves.
     * Trusts only what is true now: a Deployment counts as already fenced only when this run's own
     * mark is on it AND it is at zero replicas; anything else (a leftover of another run, a
     * manual scale-up since) is fenced anew, recording the replicas it runs now (or, already at zero,
     * the count a leftover fence recorded). A retry after a worker crash finds its own work and patches
     * nothing twice.
     */
    async fenceWorkloads({
      cluster,
      workloads,
      workflowId,
      runId,
      deadline,
    }: { cluster: string; workloads: Workload[]; deadline?: string } & RunRef): Promise<{
      fenced: (Workload & { previousReplicas: number })[];
    }> {
      const api = apps(cluster);
      const ctx = Context.current();
      const run = { workflowId, runId };
      const started = Date.now();
      const fenced: (Workload & { previousReplicas: number })[] = [];
      const previous = new Map<Workload, number>();
      await changeDeployments(
        api,
        cluster,
        workloads,
        'fencing',
        (w, d) => {
          const live = d.spec?.replicas ?? 1;
          const recorded = markOn(d, 'fenced')?.replicas;
          if (markedBy(d, 'fenced', run) && live === 0) {
            previous.set(w, recorded ?? 0);
            return undefined;
          }
          previous.set(w, live > 0 || recorded === undefined ? live : recorded);
          // A fenced Deployment carries only its fence: an activation an earlier run left is over.
          return { replicas: 0, ...mark('fenced', run, previous.get(w)!) };
        },
        (w, patched) => {
          fenced.push({ ...w, previousReplicas: previous.get(w) ?? 0 });
          if (patched) ctx.heartbeat({ fenced: fenced.length });
        },
      );
      await waitStopped(cluster, workloads, new Date(deadline ?? started + defaultFenceWaitMs));
      return { fenced };
    },

    /** Undoes this run's fencing: the recorded replicas back, the marks gone. Idempotent. */
    async unfenceWorkloads({
      cluster,
      workloads,
      workflowId,
      runId,
    }: { cluster: string; workloads: Workload[] } & RunRef): Promise<{ unfenced: Workload[] }> {
      const api = apps(cluster);
      const run = { workflowId, runId };
      const unfenced: Workload[] = [];
      await changeDeployments(
        api,
        cluster,
        workloads,
        'unfencing',
        (_w, d) => (markedBy(d, 'fenced', run) ? { replicas: markOn(d, 'fenced')?.replicas ?? 0, ...unmark() } : undefined),
        (w, patched) => {
          if (patched) unfenced.push(w);
        },
      );
      return { unfenced };
    },

    /**
     * Scales the app up on the target and clears fence marks a previous switch left there, recording
     * the replicas it had so a compensation can put them back. The same trust rule as
     * fencing: a Deployment counts as done only when this run's own mark is on it AND it runs the
     * replicas wanted now; a leftover of another run is activated anew. Idempotent.
     */
    async activateWorkloads({
      cluster,
      workloads,
      workflowId,
      runId,
    }: { cluster: string; workloads: (Workload & { replicas: number })[] } & RunRef): Promise<{ activated: Workload[] }> {
      const api = apps(cluster);
      const activated: Workload[] = [];
      await activateEach(api, cluster, { workflowId, runId }, workloads, (w, patched) => {
        activated.push({ namespace: w.namespace, name: w.name });
        if (patched) Context.current().heartbeat({ activated: activated.length });
      });
      return { activated };
    },

    /**
     * The bring-up of a warm-standby hand-over, while the fence (running beside it) is still under way:
     * scales each workload up on `cluster` as soon as its Deployment on `source` is fenced by this run
     * (this run's mark, zero replicas) and no longer serves ({@link stillServing}), the others
     * still stopping. So the source's controllers stop the app while the target's start it, and no
     * Deployment serves on both sites at once. Changes each Deployment as {@link activateWorkloads}
     * does (the same trust rule, idempotent); polls the source every {@link pollMs}, heartbeating, until
     * `deadline`, then fails as SourceStillServing naming what still serves.
     */
    async activateAsSourceStops({
      cluster,
      source,
      workloads,
      workflowId,
      runId,
      deadline,
    }: { cluster: string; source: string; workloads: (Workload & { replicas: number })[]; deadline: string } & RunRef): Promise<{
      activated: Workload[];
      firstActivatedAt: string;
    }> {
      const api = apps(cluster);
      const ctx = Context.current();
      const run = { workflowId, runId };
      const activated: Workload[] = [];
      // A retried attempt keeps the first attempt's time of its first scale-up.
      let firstActivatedAt = (ctx.info.heartbeatDetails as { firstActivatedAt?: string } | undefined)?.firstActivatedAt;
      let waiting = workloads;
      let last = '';
      for (;;) {
        try {
          const { byKey, pods } = await readServing(source, waiting);
          const why = new Map<(typeof waiting)[number], string>();
          for (const w of waiting) {
            const d = byKey.get(`${w.namespace}/${w.name}`);
            const state = !d
              ? 'missing on the source'
              : !markedBy(d, 'fenced', run) || d.spec?.replicas !== 0
                ? 'not yet fenced by this run'
                : stillServing(d, pods);
            if (state) why.set(w, state);
          }
          const stopped = waiting.filter((w) => !why.has(w));
          if (stopped.length) {
            await activateEach(api, cluster, run, stopped, (w) => {
              activated.push({ namespace: w.namespace, name: w.name });
              firstActivatedAt ??= new Date().toISOString();
            });
            waiting = waiting.filter((w) => why.has(w));
          }
          if (!waiting.length) return { activated, firstActivatedAt: firstActivatedAt! };
          last = `${waiting.length}/${workloads.length} waiting for '${source}': ${waiting
            .slice(0, 5)
            .map((w) => `${w.namespace}/${w.name} ${why.get(w)}`)
            .join(', ')}`;
          ctx.heartbeat({ activated: activated.length, waiting: waiting.length, firstActivatedAt });
        } catch (err) {
          const e = kubernetesError(err, `handing over to '${cluster}' from '${source}'`);
          if (e instanceof ApplicationFailure) throw e;
          last = e.message;
          ctx.heartbeat({ problem: last, firstActivatedAt });
        }
        if (Date.now() >= Date.parse(deadline)) {
          throw ApplicationFailure.nonRetryable(
            `${activated.length}/${workloads.length} Deployments scaled up on '${cluster}'; the rest still serve on '${source}' when the hand-over's time ran out: ${last}`,
            failureTypes.SourceStillServing,
          );
        }
        await ctx.sleep(pollMs);
      }
    },

    /** Undoes this run's activation: the target back to the replicas it had (a warm standby: zero). */
    async deactivateWorkloads({
      cluster,
      workloads,
      workflowId,
      runId,
    }: { cluster: string; workloads: Workload[] } & RunRef): Promise<{ deactivated: Workload[] }> {
      const api = apps(cluster);
      const run = { workflowId, runId };
      const deactivated: Workload[] = [];
      await changeDeployments(
        api,
        cluster,
        workloads,
        'scaling down',
        (_w, d) => (markedBy(d, 'activated', run) ? { replicas: markOn(d, 'activated')?.replicas ?? 0, ...unmark() } : undefined),
        (w, patched) => {
          if (patched) deactivated.push(w);
        },
      );
      return { deactivated };
    },

    /**
     * Waits until every workload is Available with all replicas ready on `cluster`, heartbeating.
     * Returns when each became so (by this poll) and how long the slowest took since `since`.
     */
    async waitWorkloadsAvailable({
      cluster,
      workloads,
      deadline,
      since,
    }: {
      cluster: string;
      workloads: Workload[];
      deadline: string;
      since: string;
    }): Promise<{ availableAt: string; secondsSinceStart: number; workloads: (Workload & { readyReplicas: number })[] }> {
      const api = apps(cluster);
      const ctx = Context.current();
      const namespaces = [...new Set(workloads.map((w) => w.namespace))];
      let last = '';
      for (;;) {
        try {
          const lists = await Promise.all(namespaces.map((namespace) => api.listNamespacedDeployment({ namespace })));
          const byKey = new Map(lists.flatMap((l) => l.items).map((d) => [`${d.metadata!.namespace}/${d.metadata!.name}`, d]));
          const pending = workloads.filter((w) => {
            const d = byKey.get(`${w.namespace}/${w.name}`);
            return !d || !isDeploymentAvailable(d);
          });
          if (!pending.length) {
            const now = new Date();
            return {
              availableAt: now.toISOString(),
              secondsSinceStart: (now.getTime() - Date.parse(since)) / 1000,
              workloads: workloads.map((w) => ({ ...w, readyReplicas: byKey.get(`${w.namespace}/${w.name}`)!.status?.readyReplicas ?? 0 })),
            };
          }
          last = `${pending.length}/${workloads.length} not yet Available: ${pending
            .slice(0, 5)
            .map((w) => {
              const d = byKey.get(`${w.namespace}/${w.name}`);
              return d
                ? `${w.namespace}/${w.name} ${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0} ready`
                : `${w.namespace}/${w.name} missing`;
            })
            .join(', ')}`;
          ctx.heartbeat({ pending: pending.length, total: workloads.length });
        } catch (err) {
          const e = kubernetesError(err, `listing Deployments on '${cluster}'`);
          if (e instanceof ApplicationFailure) throw e;
          last = e.message;
          ctx.heartbeat({ problem: last });
        }
        if (Date.now() >= Date.parse(deadline)) {
          throw ApplicationFailure.nonRetryable(`app not Available on '${cluster}' by ${deadline}: ${last}`, failureTypes.AppNotAvailable);
        }
        await ctx.sleep(pollMs);
      }
    },
  };
}

export type FailoverActivities = ReturnType<typeof createFailoverActivities>;
