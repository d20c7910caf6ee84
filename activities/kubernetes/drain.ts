// The Kubernetes side of node failure and replacement (issue 12): the plan of a Node's drain, the drain
// itself through the Eviction API (retried the moment a PodDisruptionBudget allows, never a Pod twice),
// the approved deletion of what a budget still refuses, the out-of-service taint, the wait for volumes
// to detach, the Node's deletion and the proof that its workloads came back elsewhere. Cordon and
// uncordon are ./actions.ts's.
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  AppsV1Api,
  CoreV1Api,
  PolicyV1Api,
  StorageV1Api,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1Taint,
} from '@kubernetes/client-node';
import type { ActivityDeps } from '../deps.js';
import { failureTypes } from '../../model/failures.js';
import { deadlineMsOf, failingAtDeadline, pastDeadlineFailure, type DeadlineInput } from '../deadline.js';
import { withDeadline } from '../network-errors.js';
import {
  controlPlaneLabelOf,
  outOfServiceTaint,
  poolOf,
  type BlockedPod,
  type BudgetState,
  type DrainPod,
  type DrainResult,
  type NodePreflight,
  type PodRef,
} from '../../model/node-replacement.js';
import { clusterClients } from './cluster.js';
import { apiMessageOf, httpStatusOf, kubernetesError } from './api.js';
import { cpuMilli, isDeploymentAvailable, isServing, maxWriteRounds, memoryBytes, mergePatch, selects } from './deployments.js';

export interface PreflightNodeInput {
  cluster: string;
  node: string;
  /** Whether Pods with an emptyDir volume may be evicted (their emptyDir data is lost). Default: false. */
  allowEmptyDir?: boolean;
  /** Fail as PreflightFailed (carrying the preflight) when something blocks, as a runbook's preflight step does. Default: false. */
  failOnBlockers?: boolean;
}

/** Past its deadline (DeadlineInput), the drain returns what a budget still refuses instead of waiting. */
export interface DrainNodeInput extends PreflightNodeInput, DeadlineInput {
  /** Evictions in flight at once. Default: {@link defaultDrainConcurrency}. */
  concurrency?: number;
}

export interface NodeRef {
  cluster: string;
  node: string;
}

export interface AffectedWorkload {
  kind: 'Deployment' | 'StatefulSet';
  namespace: string;
  name: string;
  ready: number;
  replicas: number;
}

/** Evictions in flight at once when the caller does not say. */
export const defaultDrainConcurrency = 10;
/** How often the waits read the cluster: a blocked eviction is retried within this of its budget allowing it. */
const pollMs = 250;
/** How long an eviction that failed otherwise than by a budget waits before it is tried again. */
const retryAfterErrorMs = 1_000;
/** How long one request of the drain (a read of the Pods and budgets, an eviction) may take: a silent API must not stop its heartbeat. */
const requestTimeoutMs = 10_000;
const mirrorAnnotation = 'kubernetes.io/config.mirror';

const podKey = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
const refOf = (p: PodRef): PodRef => ({ namespace: p.namespace, name: p.name, uid: p.uid });
const isNodeReady = (n: V1Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const podsOnNode = (core: CoreV1Api, node: string) => core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
const sameTaint = (a: { key: string; effect: string }, b: { key: string; effect: string }) => a.key === b.key && a.effect === b.effect;

/** What a Pod's containers request (the scheduler's sum; init containers run before, not beside them). */
function requestsOf(p: V1Pod): { cpu: number; mem: number } {
  return (p.spec?.containers ?? []).reduce(
    (acc, c) => ({ cpu: acc.cpu + cpuMilli(c.resources?.requests?.cpu), mem: acc.mem + memoryBytes(c.resources?.requests?.memory) }),
    { cpu: 0, mem: 0 },
  );
}

/** The words of a 429 from the Eviction API, and the budget it names (its DisruptionBudget cause), if it names one. */
function budgetRefusal(err: unknown): { pdb?: string; message: string } {
  const body = (err as { body?: unknown }).body;
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as
      { message?: string; details?: { causes?: { reason?: string; type?: string; message?: string }[] } } | undefined;
    const cause = status?.details?.causes?.find((c) => (c.reason ?? c.type) === 'DisruptionBudget');
    const named = cause?.message && /disruption budget (\S+)/.exec(cause.message)?.[1];
    return { pdb: named || undefined, message: cause?.message ?? status?.message ?? apiMessageOf(err) };
  } catch {
    return { message: apiMessageOf(err) };
  }
}

export function createDrainActivities(deps: Pick<ActivityDeps, 'clusters'>) {
  const kube = (cluster: string) => clusterClients(deps, cluster).kubeConfig;

  async function readNode(core: CoreV1Api, cluster: string, node: string, doing: string): Promise<V1Node> {
    return core.readNode({ name: node }).catch((err: unknown) => {
      throw kubernetesError(err, `${doing} Node ${node} on '${cluster}'`, { notFound: failureTypes.NodeNotFound });
    });
  }

  function refuseControlPlane(cluster: string, n: V1Node): void {
    const label = controlPlaneLabelOf(n.metadata?.labels);
    if (label)
      throw ApplicationFailure.nonRetryable(
        `Node ${n.metadata!.name} on '${cluster}' is a control-plane Node (${label}): replace it with the etcd member replacement runbook (etcdMemberReplace), not a drain`,
        failureTypes.ControlPlaneNode,
      );
  }

  /**
   * Every Pod on the Node as the drain treats it, and the budgets that cover them: one LIST of the
   * Node's Pods, one of PodDisruptionBudgets per namespace, one GET per ReplicaSet (for its Deployment).
   */
  async function planPods(
    cluster: string,
    node: string,
    allowEmptyDir: boolean,
  ): Promise<{ pods: DrainPod[]; raw: Map<string, V1Pod>; budgets: Map<string, V1PodDisruptionBudget> }> {
    const config = kube(cluster);
    const core = config.makeApiClient(CoreV1Api);
    const apps = config.makeApiClient(AppsV1Api);
    const policy = config.makeApiClient(PolicyV1Api);
    const listed = await podsOnNode(core, node).catch((err: unknown) => {
      throw kubernetesError(err, `listing the Pods of Node ${node} on '${cluster}'`);
    });
    const namespaces = [...new Set(listed.items.map((p) => p.metadata!.namespace!))];
    const pdbLists = await Promise.all(
      namespaces.map((namespace) =>
        policy.listNamespacedPodDisruptionBudget({ namespace }).catch((err: unknown) => {
          throw kubernetesError(err, `listing PodDisruptionBudgets in ${namespace} on '${cluster}'`);
        }),
      ),
    );
    const budgets = new Map(pdbLists.flatMap((l) => l.items).map((b) => [`${b.metadata!.namespace}/${b.metadata!.name}`, b]));
    const replicaSetKeys = [
      ...new Set(
        listed.items.flatMap((p) => {
          const c = p.metadata?.ownerReferences?.find((o) => o.controller);
          return c?.kind === 'ReplicaSet' ? [`${p.metadata!.namespace}/${c.name}`] : [];
        }),
      ),
    ];
    const deploymentOf = new Map(
      await Promise.all(
        replicaSetKeys.map(async (k): Promise<[string, string | undefined]> => {
          const [namespace, name] = k.split('/') as [string, string];
          try {
            const rs = await apps.readNamespacedReplicaSet({ namespace, name });
            return [k, rs.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment')?.name];
          } catch (err) {
            if (httpStatusOf(err) === 404) return [k, undefined];
            throw kubernetesError(err, `reading ReplicaSet ${k} on '${cluster}'`);
          }
        }),
      ),
    );
    const pods = listed.items.map((p): DrainPod => {
      const namespace = p.metadata!.namespace!;
      const controller = p.metadata?.ownerReferences?.find((o) => o.controller);
      const deployment = controller?.kind === 'ReplicaSet' ? deploymentOf.get(`${namespace}/${controller.name}`) : undefined;
      const workload: DrainPod['workload'] = deployment
        ? { kind: 'Deployment', namespace, name: deployment }
        : controller?.kind === 'StatefulSet'
          ? { kind: 'StatefulSet', namespace, name: controller.name }
          : undefined;
      const { cpu, mem } = requestsOf(p);
      const pdbs = [...budgets.entries()]
        .filter(([k, b]) => k.startsWith(`${namespace}/`) && selects(b.spec?.selector, p.metadata?.labels))
        .map(([k]) => k);
      const why: DrainPod['why'] =
        controller?.kind === 'DaemonSet'
          ? 'daemonset'
          : p.metadata?.annotations?.[mirrorAnnotation] !== undefined
            ? 'mirror'
            : p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed'
              ? 'finished'
              : !allowEmptyDir && p.spec?.volumes?.some((v) => v.emptyDir)
                ? 'emptydir'
                : !controller
                  ? 'unmanaged'
                  : undefined;
      return {
        namespace,
        name: p.metadata!.name!,
        uid: p.metadata!.uid!,
        ...(controller ? { owner: `${controller.kind}/${controller.name}` } : {}),
        ...(workload ? { workload } : {}),
        action: !why ? 'evict' : why === 'emptydir' || why === 'unmanaged' ? 'blocked' : 'skip',
        ...(why ? { why } : {}),
        pdbs,
        cpuMilli: cpu,
        memoryBytes: mem,
      };
    });
    return { pods, raw: new Map(listed.items.map((p) => [p.metadata!.uid!, p])), budgets };
  }

  const budgetState = (b: V1PodDisruptionBudget): BudgetState => ({
    namespace: b.metadata!.namespace!,
    name: b.metadata!.name!,
    disruptionsAllowed: b.status?.disruptionsAllowed ?? 0,
    currentHealthy: b.status?.currentHealthy ?? 0,
    desiredHealthy: b.status?.desiredHealthy ?? 0,
    expectedPods: b.status?.expectedPods ?? 0,
  });

  /**
   * Takes `outOfServiceTaint` on or off, in a merge patch conditional on the resourceVersion it decided
   * from (a 409 reads again); nothing when the Node already is as asked.
   */
  async function setOutOfService({ cluster, node }: NodeRef, on: boolean): Promise<{ node: string; changed: boolean }> {
    const core = kube(cluster).makeApiClient(CoreV1Api);
    const doing = on ? 'tainting' : 'untainting';
    for (let round = 1; ; round++) {
      let n: V1Node;
      try {
        n = await core.readNode({ name: node });
      } catch (err) {
        // A Node that is gone carries no taint: nothing to remove.
        if (!on && httpStatusOf(err) === 404) return { node, changed: false };
        throw kubernetesError(err, `${doing} Node ${node} on '${cluster}'`, { notFound: failureTypes.NodeNotFound });
      }
      const taints = n.spec?.taints ?? [];
      const has = taints.some((t) => sameTaint(t, outOfServiceTaint));
      if (has === on) return { node, changed: false };
      const wanted: V1Taint[] = on ? [...taints, { ...outOfServiceTaint }] : taints.filter((t) => !sameTaint(t, outOfServiceTaint));
      try {
        await core.patchNode(
          { name: node, body: { metadata: { resourceVersion: n.metadata!.resourceVersion }, spec: { taints: wanted } } },
          mergePatch,
        );
        return { node, changed: true };
      } catch (err) {
        if (httpStatusOf(err) === 409 && round < maxWriteRounds) continue;
        if (!on && httpStatusOf(err) === 404) return { node, changed: false };
        throw kubernetesError(err, `${doing} Node ${node} on '${cluster}'`, { notFound: failureTypes.NodeNotFound });
      }
    }
  }

  const activities = {
    /**
     * The plan of a Node's drain, touching nothing: every Pod on it with what the drain does with it
     * (and why not), its workload and budgets; the budgets' state; whether the other Ready,
     * schedulable Nodes have room for what moves; the cluster's Nodes; the pool a replacement joins;
     * what stops the run (a control-plane Node, no room, Pods the drain may not evict) and what slows
     * it (a budget allowing no disruption now, a Node already cordoned). NodeNotFound when absent.
     */
    async preflightNode({ cluster, node, allowEmptyDir = false, failOnBlockers = false }: PreflightNodeInput): Promise<NodePreflight> {
      const core = kube(cluster).makeApiClient(CoreV1Api);
      const [target, nodes, running, plan] = await Promise.all([
        readNode(core, cluster, node, 'reading'),
        core.listNode().catch((err: unknown) => {
          throw kubernetesError(err, `listing Nodes on '${cluster}'`);
        }),
        core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }).catch((err: unknown) => {
          throw kubernetesError(err, `listing Pods on '${cluster}'`);
        }),
        planPods(cluster, node, allowEmptyDir),
      ]);
      const labels = target.metadata?.labels ?? {};
      const controlPlane = controlPlaneLabelOf(labels) !== undefined;
      const blockers: string[] = [];
      const warnings: string[] = [];
      if (controlPlane)
        blockers.push(
          `Node ${node} is a control-plane Node: replace it with the etcd member replacement runbook (etcdMemberReplace), not a drain`,
        );

      // Room for what moves: allocatable minus requests on every other Ready, schedulable Node.
      const others = new Set(
        nodes.items.filter((n) => n.metadata!.name !== node && !n.spec?.unschedulable && isNodeReady(n)).map((n) => n.metadata!.name!),
      );
      let freeCpu = 0;
      let freeMem = 0;
      for (const n of nodes.items) {
        if (!others.has(n.metadata!.name!)) continue;
        freeCpu += cpuMilli(n.status?.allocatable?.cpu);
        freeMem += memoryBytes(n.status?.allocatable?.memory);
      }
      for (const p of running.items) {
        if (!p.spec?.nodeName || !others.has(p.spec.nodeName)) continue;
        const r = requestsOf(p);
        freeCpu -= r.cpu;
        freeMem -= r.mem;
      }
      const moving = plan.pods.filter((p) => p.action === 'evict');
      const needCpu = moving.reduce((s, p) => s + p.cpuMilli, 0);
      const needMem = moving.reduce((s, p) => s + p.memoryBytes, 0);
      const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
      const ok = needCpu <= freeCpu && needMem <= freeMem;
      const capacity = {
        neededCpuMilli: needCpu,
        neededMemoryBytes: needMem,
        freeCpuMilli: freeCpu,
        freeMemoryBytes: freeMem,
        ok,
        detail: `${moving.length} Pods to move need ${needCpu}m CPU and ${gib(needMem)} GiB; the other ${others.size} Ready, schedulable Nodes have ${freeCpu}m and ${gib(freeMem)} GiB free`,
      };
      if (!ok) blockers.push(`not enough room elsewhere: ${capacity.detail}`);

      for (const p of plan.pods.filter((x) => x.action === 'blocked'))
        blockers.push(
          p.why === 'emptydir'
            ? `Pod ${podKey(p)} has an emptyDir volume whose data an eviction loses; allow emptyDir to evict it`
            : `Pod ${podKey(p)} has no controller: nothing would recreate it (kubectl drain refuses it without --force)`,
        );

      const covering = new Set(plan.pods.flatMap((p) => p.pdbs));
      const budgets = [...covering].sort().map((k) => budgetState(plan.budgets.get(k)!));
      for (const b of budgets) {
        if (b.disruptionsAllowed > 0) continue;
        const blocked = moving.filter((p) => p.pdbs.includes(podKey(b))).map(podKey);
        if (blocked.length)
          warnings.push(
            `PodDisruptionBudget ${podKey(b)} allows no disruption now (${b.currentHealthy} healthy, ${b.desiredHealthy} desired): it holds back ${blocked.join(', ')}`,
          );
      }
      for (const p of moving.filter((x) => x.pdbs.length > 1))
        warnings.push(
          `Pod ${podKey(p)} is covered by ${p.pdbs.length} PodDisruptionBudgets (${p.pdbs.join(', ')}): the Eviction API refuses such a Pod, so only an approved deletion moves it`,
        );
      if (target.spec?.unschedulable) warnings.push(`Node ${node} is already cordoned`);

      const preflight: NodePreflight = {
        cluster,
        node,
        uid: target.metadata!.uid!,
        ready: isNodeReady(target),
        unschedulable: target.spec?.unschedulable ?? false,
        controlPlane,
        pods: plan.pods,
        budgets,
        capacity,
        nodes: {
          total: nodes.items.length,
          ready: nodes.items.filter(isNodeReady).length,
          cordonedOrUnhealthy: nodes.items.filter((n) => n.spec?.unschedulable || !isNodeReady(n)).length,
        },
        pool: poolOf(
          labels,
          (target.spec?.taints ?? []).map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect })),
        ),
        blockers,
        warnings,
      };
      if (failOnBlockers && blockers.length)
        throw ApplicationFailure.nonRetryable(
          `Node ${node} on '${cluster}': nothing was changed: ${blockers.join('; ')}`,
          failureTypes.PreflightFailed,
          preflight,
        );
      return preflight;
    },

    /**
     * Evicts every evictable Pod of the Node through the Eviction API, each conditional on the UID it
     * was listed with, at most `concurrency` in flight, then waits until they are gone. A budget's
     * refusal (429) is retried as soon as a read of that budget (every {@link pollMs}) allows a
     * disruption, remembering since when and by which budget the Pod is held. Pods already terminating
     * or gone are never evicted again, so a retried attempt evicts nothing twice. At `deadline` it
     * returns what is still refused in `blocked` (and what still terminates) instead of failing.
     * It drains the Pods listed when it starts: the Node is cordoned first, so only DaemonSet Pods
     * (never evicted) arrive meanwhile.
     * Heartbeats `{ step: 'drain', evicted, remaining, blocked: [{ pod, pdb, since }] }` every poll.
     */
    async drainNode({
      cluster,
      node,
      allowEmptyDir = false,
      concurrency = defaultDrainConcurrency,
      ...until
    }: DrainNodeInput): Promise<DrainResult> {
      const ctx = Context.current();
      const deadlineMs = deadlineMsOf(until);
      if (!Number.isInteger(concurrency) || concurrency < 1)
        throw ApplicationFailure.nonRetryable(
          `concurrency must be a whole number ≥ 1, got ${JSON.stringify(concurrency)}`,
          failureTypes.InvalidRunbookInput,
        );
      const config = kube(cluster);
      const core = config.makeApiClient(CoreV1Api);
      const policy = config.makeApiClient(PolicyV1Api);
      const what = `draining Node ${node} on '${cluster}'`;
      const planned = await (async () => {
        refuseControlPlane(cluster, await readNode(core, cluster, node, 'draining'));
        return planPods(cluster, node, allowEmptyDir);
      })().catch((err: unknown) => {
        throw pastDeadlineFailure(err, deadlineMs, what);
      });
      const { pods, raw } = planned;

      // An earlier attempt's progress: what it evicted and since when budgets held which Pods.
      const earlier = ctx.info.heartbeatDetails as
        { step?: string; evictedPods?: PodRef[]; blocked?: { pod: string; pdb: string; since: string }[] } | undefined;
      const evicted: PodRef[] = earlier?.step === 'drain' ? [...(earlier.evictedPods ?? [])] : [];
      const blockedSince = new Map((earlier?.step === 'drain' ? (earlier.blocked ?? []) : []).map((b) => [b.pod, b.since]));

      const skipped = pods.filter((p) => p.action !== 'evict').map((p) => ({ ...refOf(p), why: p.why! }));
      const todo = new Map<string, DrainPod>();
      /** Evicted (or found terminating) and not yet gone from the API, by UID. */
      const leaving = new Map<string, PodRef>(evicted.map((p) => [p.uid, p]));
      for (const p of pods.filter((x) => x.action === 'evict')) {
        if (raw.get(p.uid)?.metadata?.deletionTimestamp) leaving.set(p.uid, refOf(p));
        else todo.set(p.uid, p);
      }
      const blocked = new Map<string, BlockedPod>();
      const waits = new Map<string, number>();
      const lastError = new Map<string, string>();
      /** Disruptions each blocking budget allows now, less the evictions started since it was read. */
      const allowance = new Map<string, number>();
      /** A Pod whose eviction failed otherwise (a 500, the API server's own rate limit) is tried again after this. */
      const notBefore = new Map<string, number>();

      const noteWait = (b: BlockedPod) => {
        const seconds = Math.round((Date.now() - Date.parse(b.since)) / 100) / 10;
        waits.set(b.pdb, Math.max(waits.get(b.pdb) ?? 0, seconds));
      };

      async function evict(p: DrainPod): Promise<void> {
        try {
          await withDeadline(
            requestTimeoutMs,
            core.createNamespacedPodEviction({
              name: p.name,
              namespace: p.namespace,
              body: {
                apiVersion: 'policy/v1',
                kind: 'Eviction',
                metadata: { name: p.name, namespace: p.namespace },
                deleteOptions: { preconditions: { uid: p.uid } },
              },
            }),
          );
          todo.delete(p.uid);
          evicted.push(refOf(p));
          leaving.set(p.uid, refOf(p));
          const b = blocked.get(p.uid);
          if (b) noteWait(b);
          blocked.delete(p.uid);
        } catch (err) {
          const code = httpStatusOf(err);
          if (code === 404 || code === 409) {
            // Gone, or the name is a successor's (the UID precondition failed): nothing of ours to evict.
            todo.delete(p.uid);
            const b = blocked.get(p.uid);
            if (b) noteWait(b);
            blocked.delete(p.uid);
          } else if (code === 429) {
            const refusal = budgetRefusal(err);
            const pdb = refusal.pdb ? `${p.namespace}/${refusal.pdb}` : p.pdbs[0];
            if (pdb) {
              const since = blocked.get(p.uid)?.since ?? blockedSince.get(podKey(p)) ?? new Date().toISOString();
              blocked.set(p.uid, { ...refOf(p), pdb, since, message: refusal.message });
              allowance.set(pdb, 0);
            } else {
              // The API server's own rate limit, not a budget.
              lastError.set(p.uid, refusal.message);
              notBefore.set(p.uid, Date.now() + retryAfterErrorMs);
            }
          } else {
            const e = kubernetesError(err, `evicting Pod ${podKey(p)} on '${cluster}'`);
            if (e instanceof ApplicationFailure) throw e;
            lastError.set(p.uid, `${e.message}: ${apiMessageOf(err)}`);
            notBefore.set(p.uid, Date.now() + retryAfterErrorMs);
          }
        }
      }

      let failure: Error | undefined;
      const inFlight = new Set<string>();
      let wake: () => void = () => undefined;
      const launch = (p: DrainPod) => {
        inFlight.add(p.uid);
        evict(p)
          .catch((err: unknown) => {
            failure ??= err instanceof Error ? err : new Error(String(err));
          })
          .finally(() => {
            inFlight.delete(p.uid);
            wake();
          });
      };
      const heartbeat = () =>
        ctx.heartbeat({
          step: 'drain',
          evicted: evicted.length,
          remaining: todo.size + leaving.size,
          blocked: [...blocked.values()].map((b) => ({ pod: podKey(b), pdb: b.pdb, since: b.since })),
          evictedPods: [...evicted],
        });

      /** Which evicted Pods are gone, which listed ones vanished, and what the budgets holding Pods back allow now. */
      async function poll(): Promise<void> {
        const holding = [...new Set([...blocked.values()].map((b) => b.pdb))];
        const [now, states] = await Promise.all([
          podsOnNode(core, node),
          Promise.all(
            holding.map(async (k): Promise<[string, number]> => {
              const [namespace, name] = k.split('/') as [string, string];
              try {
                return [k, (await policy.readNamespacedPodDisruptionBudget({ namespace, name })).status?.disruptionsAllowed ?? 0];
              } catch (err) {
                // A budget deleted meanwhile holds nothing back any more.
                if (httpStatusOf(err) === 404) return [k, Number.MAX_SAFE_INTEGER];
                throw err;
              }
            }),
          ),
        ]);
        for (const [k, allowed] of states) allowance.set(k, allowed);
        const present = new Set(now.items.map((p) => p.metadata!.uid!));
        for (const uid of [...leaving.keys()]) if (!present.has(uid)) leaving.delete(uid);
        for (const uid of [...todo.keys()]) {
          if (present.has(uid) || inFlight.has(uid)) continue;
          todo.delete(uid);
          const b = blocked.get(uid);
          if (b) noteWait(b);
          blocked.delete(uid);
        }
      }

      let lastPoll = Date.now();
      /** Why the last read of the Node's Pods and budgets got no answer; undefined once one answers. */
      let silent: unknown;
      for (;;) {
        if (failure) throw failure;
        const pastDeadline = Date.now() >= deadlineMs;
        if (!pastDeadline) {
          for (const p of todo.values()) {
            if (inFlight.size >= concurrency) break;
            if (inFlight.has(p.uid) || (notBefore.get(p.uid) ?? 0) > Date.now()) continue;
            const b = blocked.get(p.uid);
            if (b) {
              const left = allowance.get(b.pdb) ?? 0;
              if (left <= 0) continue;
              allowance.set(b.pdb, left - 1);
            }
            notBefore.delete(p.uid);
            launch(p);
          }
        }
        if (!inFlight.size && (pastDeadline || (!todo.size && !leaving.size))) break;
        heartbeat();
        await Promise.race([new Promise<void>((r) => (wake = r)), ctx.sleep(Math.max(0, lastPoll + pollMs - Date.now()))]);
        if (Date.now() - lastPoll < pollMs) continue;
        lastPoll = Date.now();
        try {
          await withDeadline(requestTimeoutMs, poll());
          silent = undefined;
        } catch (err) {
          const e = kubernetesError(err, `reading Node ${node}'s Pods and budgets on '${cluster}'`);
          if (e instanceof ApplicationFailure) throw e;
          silent = err;
        }
      }
      heartbeat();
      // Pods not evicted because the API did not answer are not Pods a budget refuses: an approval to
      // delete them past their budgets would be asked for the wrong reason, and could not be carried out.
      if (todo.size && silent !== undefined) {
        const failure = pastDeadlineFailure(silent, deadlineMs, what);
        if (failure instanceof ApplicationFailure)
          throw ApplicationFailure.nonRetryable(
            `${failure.message}; ${todo.size} Pods not evicted: ${[...todo.values()].map(podKey).join(', ')}`,
            failure.type,
          );
      }

      const stillTodo = [...todo.values()];
      const refused = stillTodo.map(
        (p): BlockedPod =>
          blocked.get(p.uid) ?? {
            ...refOf(p),
            pdb: p.pdbs[0] ?? '',
            since: blockedSince.get(podKey(p)) ?? new Date().toISOString(),
            message: lastError.get(p.uid) ?? 'not evicted before the deadline',
          },
      );
      for (const b of refused) if (b.pdb) noteWait(b);
      return {
        evicted,
        skipped,
        blocked: refused,
        budgetWaits: [...waits].sort(([a], [b]) => a.localeCompare(b)).map(([pdb, seconds]) => ({ pdb, seconds })),
        terminating: [...leaving.values()],
      };
    },

    /**
     * The approved override for Pods a budget still refuses: a plain DELETE of each, conditional on its
     * UID (a successor of the same name is left alone), which no PodDisruptionBudget checks; then waits,
     * heartbeating, until each is gone. Idempotent: a Pod already gone is done. Returns every Pod asked
     * for, each gone from the API.
     */
    async deletePods({ cluster, pods }: { cluster: string; pods: PodRef[] }): Promise<{ deleted: PodRef[] }> {
      const ctx = Context.current();
      const core = kube(cluster).makeApiClient(CoreV1Api);
      await Promise.all(
        pods.map((p) =>
          core
            .deleteNamespacedPod({ namespace: p.namespace, name: p.name, body: { preconditions: { uid: p.uid } } })
            .catch((err: unknown) => {
              const code = httpStatusOf(err);
              if (code === 404 || code === 409) return;
              throw kubernetesError(err, `deleting Pod ${podKey(p)} on '${cluster}'`);
            }),
        ),
      );
      for (let remaining = pods; ;) {
        const present = await Promise.all(
          remaining.map((p) =>
            core.readNamespacedPod({ namespace: p.namespace, name: p.name }).then(
              (found) => found.metadata?.uid === p.uid,
              (err: unknown) => {
                if (httpStatusOf(err) === 404) return false;
                throw kubernetesError(err, `reading Pod ${podKey(p)} on '${cluster}'`);
              },
            ),
          ),
        );
        remaining = remaining.filter((_, i) => present[i]);
        if (!remaining.length) return { deleted: pods.map(refOf) };
        ctx.heartbeat({ step: 'delete-pods', remaining: remaining.map(podKey) });
        await ctx.sleep(pollMs);
      }
    },

    /** Adds `node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`: only once the Node is known to be off. Idempotent. */
    taintOutOfService: (input: NodeRef) => setOutOfService(input, true),
    /** Removes the out-of-service taint; a Node without it, or gone, is left as it is. */
    removeOutOfServiceTaint: (input: NodeRef) => setOutOfService(input, false),

    /**
     * Force-deletes (grace period 0, each conditional on its UID) every Pod still bound to a Node that
     * is fenced and tainted out of service, then waits, heartbeating, until none is left. The taint
     * makes Kubernetes do the same, but only on its own clocks: the taint manager marks the Pods
     * terminating, the Pod garbage collector force-deletes them on its 20 s sweep, and a Pod whose Node
     * object is deleted first waits out the collector's 40 s quarantine. A StatefulSet makes a Pod's
     * successor only once the old one is gone, so this is the step between "fenced" and "back".
     * Refuses (NodeNotFenced) a Node without the out-of-service taint: that taint is only ever set once
     * the provider confirmed the Node off, and it is the one thing that makes this deletion safe.
     * PodsNotReleased at the deadline, naming what remains (a finalizer nobody removes).
     */
    async releaseFencedNodePods({ cluster, node, ...until }: NodeRef & DeadlineInput): Promise<{ deleted: PodRef[]; seconds: number }> {
      const ctx = Context.current();
      const deadlineMs = deadlineMsOf(until);
      const core = kube(cluster).makeApiClient(CoreV1Api);
      const n = await readNode(core, cluster, node, 'releasing the Pods of');
      if (!n.spec?.taints?.some((t) => sameTaint(t, outOfServiceTaint)))
        throw ApplicationFailure.nonRetryable(
          `Node ${node} on '${cluster}' is not tainted ${outOfServiceTaint.key}: its Pods are force-deleted only once it is fenced and tainted out of service`,
          failureTypes.NodeNotFenced,
        );
      const started = Date.now();
      const deleted = new Map<string, PodRef>();
      for (;;) {
        const listed = await podsOnNode(core, node).catch((err: unknown) => {
          throw kubernetesError(err, `listing the Pods of Node ${node} on '${cluster}'`);
        });
        const left = listed.items.map((p) => ({ namespace: p.metadata!.namespace!, name: p.metadata!.name!, uid: p.metadata!.uid! }));
        if (!left.length) return { deleted: [...deleted.values()], seconds: Math.round((Date.now() - started) / 100) / 10 };
        await Promise.all(
          left.map((p) =>
            core
              .deleteNamespacedPod({
                namespace: p.namespace,
                name: p.name,
                gracePeriodSeconds: 0,
                body: { gracePeriodSeconds: 0, preconditions: { uid: p.uid } },
              })
              .then(
                () => void deleted.set(p.uid, p),
                (err: unknown) => {
                  const code = httpStatusOf(err);
                  if (code === 404 || code === 409) return;
                  throw kubernetesError(err, `force-deleting Pod ${podKey(p)} of fenced Node ${node} on '${cluster}'`);
                },
              ),
          ),
        );
        ctx.heartbeat({ step: 'release', left: left.map(podKey) });
        if (Date.now() >= deadlineMs)
          throw ApplicationFailure.nonRetryable(
            `${left.length} Pods of fenced Node ${node} on '${cluster}' were still in the API at ${new Date(deadlineMs).toISOString()} (held by finalizers?): ${left.map(podKey).join(', ')}`,
            failureTypes.PodsNotReleased,
          );
        await ctx.sleep(pollMs);
      }
    },

    /** Waits, heartbeating, until no VolumeAttachment names the Node; VolumesStillAttached at `deadline`, naming them. */
    async waitVolumesDetached({ cluster, node, ...until }: NodeRef & DeadlineInput): Promise<{ detached: string[]; seconds: number }> {
      const ctx = Context.current();
      const deadlineMs = deadlineMsOf(until);
      const storage = kube(cluster).makeApiClient(StorageV1Api);
      const started = Date.now();
      const seen = new Set<string>();
      for (;;) {
        const list = await storage.listVolumeAttachment().catch((err: unknown) => {
          throw kubernetesError(err, `listing VolumeAttachments on '${cluster}'`);
        });
        const attached = list.items
          .filter((a) => a.spec.nodeName === node)
          .map((a) => `${a.metadata!.name!} (${a.spec.source.persistentVolumeName ?? 'inline volume'}, ${a.spec.attacher})`)
          .sort();
        for (const a of attached) seen.add(a);
        if (!attached.length) return { detached: [...seen].sort(), seconds: Math.round((Date.now() - started) / 100) / 10 };
        ctx.heartbeat({ step: 'volumes', attached });
        if (Date.now() >= deadlineMs)
          throw ApplicationFailure.nonRetryable(
            `${attached.length} VolumeAttachments still name Node ${node} on '${cluster}' at ${new Date(deadlineMs).toISOString()}: ${attached.join(', ')}`,
            failureTypes.VolumesStillAttached,
          );
        await ctx.sleep(pollMs);
      }
    },

    /** Deletes the Node object, conditional on `uid` when given (a re-registered Node of the same name is left alone). Idempotent. */
    async deleteNode({ cluster, node, uid }: NodeRef & { uid?: string }): Promise<{ node: string; deleted: boolean }> {
      const core = kube(cluster).makeApiClient(CoreV1Api);
      try {
        await core.deleteNode({ name: node, ...(uid ? { body: { preconditions: { uid } } } : {}) });
        return { node, deleted: true };
      } catch (err) {
        const code = httpStatusOf(err);
        if (code === 404 || (uid && code === 409)) return { node, deleted: false };
        throw kubernetesError(err, `deleting Node ${node} on '${cluster}'`);
      }
    },

    /**
     * Waits, heartbeating, until the Node's Pods came back elsewhere: every affected Deployment and
     * StatefulSet Available with none of its Pods on `node`, and each StatefulSet Pod (an identity)
     * back under its name, with another UID, Running and Ready on another Node. Says which Nodes still
     * carry the out-of-service taint. PodsNotRescheduled at `deadline`, naming what is missing.
     */
    async verifyPodsMoved({
      cluster,
      node,
      pods,
      ...until
    }: NodeRef & { pods: DrainPod[] } & DeadlineInput): Promise<{ workloads: AffectedWorkload[]; outOfServiceTaintedNodes: string[] }> {
      const ctx = Context.current();
      const deadlineMs = deadlineMsOf(until);
      const config = kube(cluster);
      const core = config.makeApiClient(CoreV1Api);
      const apps = config.makeApiClient(AppsV1Api);
      const workloads = [
        ...new Map(
          pods.flatMap((p) => (p.workload ? [[`${p.workload.kind}/${p.workload.namespace}/${p.workload.name}`, p.workload] as const] : [])),
        ).values(),
      ];
      const identities = pods.filter((p) => p.workload?.kind === 'StatefulSet');
      const namespaces = [...new Set(workloads.map((w) => w.namespace))];
      let missing: string[] = [];
      for (;;) {
        try {
          const [podLists, states] = await Promise.all([
            Promise.all(namespaces.map((namespace) => core.listNamespacedPod({ namespace }))),
            Promise.all(
              workloads.map(async (w) => {
                try {
                  if (w.kind === 'Deployment') {
                    const d = await apps.readNamespacedDeployment({ namespace: w.namespace, name: w.name });
                    const replicas = d.spec?.replicas ?? 1;
                    return {
                      w,
                      selector: d.spec?.selector,
                      ready: d.status?.readyReplicas ?? 0,
                      replicas,
                      available: isDeploymentAvailable(d),
                    };
                  }
                  const s = await apps.readNamespacedStatefulSet({ namespace: w.namespace, name: w.name });
                  const replicas = s.spec?.replicas ?? 1;
                  const ready = s.status?.readyReplicas ?? 0;
                  const observed = (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0);
                  return { w, selector: s.spec?.selector, ready, replicas, available: observed && ready === replicas };
                } catch (err) {
                  if (httpStatusOf(err) === 404) return { w, selector: undefined, ready: 0, replicas: 0, available: false, gone: true };
                  throw err;
                }
              }),
            ),
          ]);
          const all = podLists.flatMap((l) => l.items);
          missing = [];
          for (const s of states) {
            const k = `${s.w.kind} ${s.w.namespace}/${s.w.name}`;
            if ('gone' in s) {
              missing.push(`${k} not found`);
              continue;
            }
            if (!s.available) missing.push(`${k} not Available (${s.ready}/${s.replicas} ready)`);
            const left = all.filter(
              (p) => p.metadata?.namespace === s.w.namespace && p.spec?.nodeName === node && selects(s.selector, p.metadata?.labels),
            );
            if (left.length) missing.push(`${k} still has ${left.map((p) => p.metadata!.name).join(', ')} on ${node}`);
          }
          for (const p of identities) {
            const now = all.find((x) => x.metadata?.namespace === p.namespace && x.metadata?.name === p.name);
            if (!now || now.metadata?.uid === p.uid) missing.push(`Pod ${podKey(p)} not recreated`);
            else if (now.spec?.nodeName === node) missing.push(`Pod ${podKey(p)} recreated on ${node} again`);
            else if (now.status?.phase !== 'Running' || !isServing(now))
              missing.push(`Pod ${podKey(p)} on ${now.spec?.nodeName ?? 'no Node yet'} not Running and Ready`);
          }
          if (!missing.length) {
            const nodes = await core.listNode();
            return {
              workloads: states.map((s) => ({ ...s.w, ready: s.ready, replicas: s.replicas })),
              outOfServiceTaintedNodes: nodes.items
                .filter((n) => n.spec?.taints?.some((t) => sameTaint(t, outOfServiceTaint)))
                .map((n) => n.metadata!.name!)
                .sort(),
            };
          }
          ctx.heartbeat({ step: 'verify', missing });
        } catch (err) {
          const e = kubernetesError(err, `reading the workloads of Node ${node} on '${cluster}'`);
          if (e instanceof ApplicationFailure) throw e;
          missing = [e.message];
          ctx.heartbeat({ step: 'verify', problem: e.message });
        }
        if (Date.now() >= deadlineMs)
          throw ApplicationFailure.nonRetryable(
            `the Pods of Node ${node} on '${cluster}' did not all come back elsewhere by ${new Date(deadlineMs).toISOString()}: ${missing.join('; ')}`,
            failureTypes.PodsNotRescheduled,
          );
        await ctx.sleep(pollMs);
      }
    },
  };
  return {
    ...activities,
    releaseFencedNodePods: failingAtDeadline('releasing the Pods of', (input: Parameters<typeof activities.releaseFencedNodePods>[0]) =>
      activities.releaseFencedNodePods(input),
    ),
    waitVolumesDetached: failingAtDeadline('waiting for the volumes of', (input: Parameters<typeof activities.waitVolumesDetached>[0]) =>
      activities.waitVolumesDetached(input),
    ),
    verifyPodsMoved: failingAtDeadline('verifying the Pods moved off', (input: Parameters<typeof activities.verifyPodsMoved>[0]) =>
      activities.verifyPodsMoved(input),
    ),
  };
}

export type DrainActivities = ReturnType<typeof createDrainActivities>;
