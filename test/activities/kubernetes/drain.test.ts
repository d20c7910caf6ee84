// Integration (lab: kube-apiserver/primary with its controller-manager, scheduler and kwok). No
// Temporal server: the drain and Node activities run in MockActivityEnvironment. Each test makes its
// own kwok Nodes (tainted `lifeboat.io/test=<run>:NoSchedule`, so no other suite's Pods land there;
// the test's Pods tolerate it and select the test's pool label) and its own namespace, and deletes
// them afterwards. kwok never attaches volumes: the VolumeAttachments the volume wait sees are made by
// the test.
// lab: nodes (adds Nodes to the primary cluster, and kills some, in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import {
  AppsV1Api,
  CoreV1Api,
  PolicyV1Api,
  StorageV1Api,
  Watch,
  type V1Deployment,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1PodSpec,
} from '@kubernetes/client-node';
import { createDrainActivities } from '../../../activities/kubernetes/drain.js';
import { createKubernetesActions } from '../../../activities/kubernetes/actions.js';
import { mergePatch } from '../../../activities/kubernetes/deployments.js';
import { activityDeps } from '../../../activities/deps.js';
import { outOfServiceTaint, type DrainPod, type PodRef } from '../../../model/node-replacement.js';
import { createClients, type LifeboatClients } from '../../../worker/clients.js';
import { killNode } from '../../../lab/nodes.js';
import { kwokNodeAnnotations } from '../../../activities/node-provider/kwok.js';
import { adminKubeConfig, labConfig } from '../../helpers/lab.js';

const cluster = 'primary';
const clients: LifeboatClients = createClients(labConfig());
const kubeConfig = adminKubeConfig(cluster);
const core = kubeConfig.makeApiClient(CoreV1Api);
const apps = kubeConfig.makeApiClient(AppsV1Api);
const policy = kubeConfig.makeApiClient(PolicyV1Api);
const storage = kubeConfig.makeApiClient(StorageV1Api);
const acts = createDrainActivities(activityDeps(clients, undefined));
const actions = createKubernetesActions(activityDeps(clients, undefined));

const run = randomBytes(3).toString('hex');
const testTaint = { key: 'lifeboat.io/test', value: run, effect: 'NoSchedule' };
const toleration = { key: testTaint.key, operator: 'Equal', value: run, effect: 'NoSchedule' };
const poolLabel = 'lifeboat.io/test-pool';
/** A taint no test Pod tolerates: a Node carrying it takes none of them (what keeps successors Pending). */
const holdTaint = { key: 'lifeboat.io/test-hold', value: run, effect: 'NoSchedule' };
const madeNodes: string[] = [];
const madeNamespaces: string[] = [];
const madeAttachments: string[] = [];
const tag = () => randomBytes(3).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString();
const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
const byKey = <T extends { namespace: string; name: string }>(a: T, b: T) => key(a).localeCompare(key(b));
const refOf = (p: V1Pod): PodRef => ({ namespace: p.metadata!.namespace!, name: p.metadata!.name!, uid: p.metadata!.uid! });
const isReady = (n: V1Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const podReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

interface Failure {
  type?: string;
  nonRetryable?: boolean;
  message: string;
}
const failureOf = (running: Promise<unknown>): Promise<Failure> =>
  running.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as Failure,
  );

/** Runs `fn` as an activity; `heartbeats` collects what it reports. */
function activity<T>(fn: () => Promise<T>, info: Partial<Info> = {}): { result: Promise<T>; heartbeats: unknown[] } {
  const env = new MockActivityEnvironment(info);
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  return { result: env.run(fn), heartbeats };
}
const inActivity = <T>(fn: () => Promise<T>): Promise<T> => activity(fn).result;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(200)) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs / 1000} s`);
  }
}

/** A kwok Node of the test's pool, tainted so only the test's Pods run there; Ready when returned. */
async function makeNode(
  pool: string,
  options: { labels?: Record<string, string>; unschedulable?: boolean; taints?: (typeof testTaint)[]; cpu?: string } = {},
): Promise<V1Node> {
  const name = `drain-test-${run}-${tag()}`;
  madeNodes.push(name);
  const capacity = { cpu: options.cpu ?? '32', memory: '128Gi', pods: '110' };
  await core.createNode({
    body: {
      metadata: {
        name,
        annotations: { ...kwokNodeAnnotations },
        labels: {
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': name,
          [poolLabel]: pool,
          ...options.labels,
        },
      },
      spec: { unschedulable: options.unschedulable ?? false, taints: [testTaint, ...(options.taints ?? [])] },
      // Ready from its first moment: a health check of the cluster running beside this suite never sees a Node of its own not Ready.
      status: {
        allocatable: capacity,
        capacity,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'created Ready by the drain test; kwok keeps it so',
            lastHeartbeatTime: new Date(),
            lastTransitionTime: new Date(),
          },
        ],
      },
    },
  });
  return until(`Node ${name} Ready`, async () => {
    const n = await core.readNode({ name });
    return isReady(n) ? n : undefined;
  });
}

async function makeNamespace(): Promise<string> {
  const namespace = `drain-test-${run}-${tag()}`;
  madeNamespaces.push(namespace);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  return namespace;
}

const podSpec = (pool: string, extra: Partial<V1PodSpec> = {}): V1PodSpec => ({
  nodeSelector: { [poolLabel]: pool },
  tolerations: [toleration],
  terminationGracePeriodSeconds: 0,
  containers: [{ name: 'app', image: 'registry.invalid/app:1', resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
  ...extra,
});

async function makeDeployment(namespace: string, name: string, replicas: number, pool: string, extra: Partial<V1PodSpec> = {}) {
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: podSpec(pool, extra) },
      },
    },
  });
}

/** A StatefulSet of one replica in the pool, its Pods labelled app=<name>. */
async function makeStatefulSet(namespace: string, name: string, pool: string, extra: Partial<V1PodSpec> = {}) {
  await apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas: 1,
        serviceName: name,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: podSpec(pool, extra) },
      },
    },
  });
}

async function makeBudget(namespace: string, name: string, app: string, maxUnavailable: number) {
  await policy.createNamespacedPodDisruptionBudget({
    namespace,
    body: { metadata: { name }, spec: { maxUnavailable, selector: { matchLabels: { app } } } },
  });
}

const podsOf = async (namespace: string) =>
  (await core.listNamespacedPod({ namespace })).items.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
const podsOn = async (node: string, namespace: string) => (await podsOf(namespace)).filter((p) => p.spec?.nodeName === node);

/** Waits until `namespace` has `count` Pods, all Running and Ready; returns them. */
const readyPods = (namespace: string, count: number) =>
  until(`${count} Pods Ready in ${namespace}`, async () => {
    const pods = (await podsOf(namespace)).filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length === count && pods.every((p) => p.status?.phase === 'Running' && podReady(p)) ? pods : undefined;
  });

/** Waits until every budget in `namespace` has observed its Pods healthy (so it allows what it will allow). */
const budgetsSettled = (namespace: string, healthy: Record<string, number>) =>
  until(`budgets in ${namespace} settled`, async () => {
    const l = await policy.listNamespacedPodDisruptionBudget({ namespace });
    return l.items.every((b) => b.status?.currentHealthy === healthy[b.metadata!.name!] && (b.status?.observedGeneration ?? 0) >= 1)
      ? l.items
      : undefined;
  });

const deploymentsAvailable = (namespace: string) =>
  until(`Deployments in ${namespace} Available`, async () => {
    const l = await apps.listNamespacedDeployment({ namespace });
    const done = (d: V1Deployment) =>
      (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) && (d.status?.availableReplicas ?? 0) === d.spec?.replicas;
    return l.items.every(done) ? l.items : undefined;
  });

const setTaints = async (name: string, taints: (typeof testTaint)[]) => core.patchNode({ name, body: { spec: { taints } } }, mergePatch);

// After each test, not all: its Nodes (one tainted out-of-service, one labelled control-plane) are
// seen by every suite that lists the cluster's Nodes, for as short a time as can be.
afterEach(async () => {
  await Promise.allSettled([
    ...madeNamespaces.splice(0).map((name) => core.deleteNamespace({ name })),
    ...madeNodes.splice(0).map((name) => core.deleteNode({ name })),
    ...madeAttachments.splice(0).map((name) => storage.deleteVolumeAttachment({ name })),
  ]);
});

describe('preflightNode', () => {
  it('plans every Pod of the Node with its owner, workload, budgets and skip reason; counts the room elsewhere; warns of a budget allowing nothing', async () => {
    const pool = `pre-${tag()}`;
    const node = await makeNode(pool);
    const namespace = await makeNamespace();
    await makeDeployment(namespace, 'web', 2, pool);
    await makeBudget(namespace, 'web', 'web', 0);
    // A StatefulSet Pod two budgets cover: the Eviction API refuses to evict such a Pod at all.
    await makeStatefulSet(namespace, 'pair', pool);
    await makeBudget(namespace, 'pair-1', 'pair', 1);
    await makeBudget(namespace, 'pair-2', 'pair', 1);
    await apps.createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name: 'agent' },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: { metadata: { labels: { app: 'agent' } }, spec: podSpec(pool) },
        },
      },
    });
    const bare = (name: string, extra: Partial<V1PodSpec> = {}, annotations: Record<string, string> = {}) =>
      core.createNamespacedPod({
        namespace,
        body: { metadata: { name, labels: { app: name }, annotations }, spec: { ...podSpec(pool, extra), nodeName: node.metadata!.name! } },
      });
    await bare('lonely');
    await bare('scratch', { volumes: [{ name: 'tmp', emptyDir: {} }] });
    const pods = await readyPods(namespace, 6);
    await budgetsSettled(namespace, { web: 2, 'pair-1': 1, 'pair-2': 1 });

    const plan = await inActivity(() => acts.preflightNode({ cluster, node: node.metadata!.name! }));
    const web = pods.filter((p) => p.metadata!.labels!.app === 'web');
    const rs = web[0]!.metadata!.ownerReferences![0]!.name;
    const agent = pods.find((p) => p.metadata!.labels!.app === 'agent')!;
    const pod = (p: V1Pod) => ({ ...refOf(p), cpuMilli: 100, memoryBytes: 64 * 1024 ** 2 });
    expect([...plan.pods].sort(byKey)).toEqual(
      [
        { ...pod(agent), owner: `DaemonSet/agent`, action: 'skip', why: 'daemonset', pdbs: [] },
        { ...pod(pods.find((p) => p.metadata!.name === 'lonely')!), action: 'blocked', why: 'unmanaged', pdbs: [] },
        {
          ...pod(pods.find((p) => p.metadata!.name === 'pair-0')!),
          owner: 'StatefulSet/pair',
          workload: { kind: 'StatefulSet', namespace, name: 'pair' },
          action: 'evict',
          pdbs: [`${namespace}/pair-1`, `${namespace}/pair-2`],
        },
        { ...pod(pods.find((p) => p.metadata!.name === 'scratch')!), action: 'blocked', why: 'emptydir', pdbs: [] },
        ...web.map((p) => ({
          ...pod(p),
          owner: `ReplicaSet/${rs}`,
          workload: { kind: 'Deployment', namespace, name: 'web' },
          action: 'evict',
          pdbs: [`${namespace}/web`],
        })),
      ].sort(byKey),
    );
    expect(plan.budgets).toEqual([
      { namespace, name: 'pair-1', disruptionsAllowed: 1, currentHealthy: 1, desiredHealthy: 0, expectedPods: 1 },
      { namespace, name: 'pair-2', disruptionsAllowed: 1, currentHealthy: 1, desiredHealthy: 0, expectedPods: 1 },
      { namespace, name: 'web', disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2, expectedPods: 2 },
    ]);
    expect(plan.controlPlane).toBe(false);
    expect(plan.ready).toBe(true);
    expect(plan.unschedulable).toBe(false);
    expect([plan.capacity.neededCpuMilli, plan.capacity.neededMemoryBytes, plan.capacity.ok]).toEqual([300, 192 * 1024 ** 2, true]);
    expect(plan.pool).toEqual({
      // The beta labels are the API server's, from the kubernetes.io ones.
      labels: {
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        [poolLabel]: pool,
      },
      taints: [{ key: testTaint.key, value: run, effect: 'NoSchedule' }],
    });
    expect(plan.blockers).toEqual([
      `Pod ${namespace}/lonely has no controller: nothing would recreate it (kubectl drain refuses it without --force)`,
      `Pod ${namespace}/scratch has an emptyDir volume whose data an eviction loses; allow emptyDir to evict it`,
    ]);
    const budgetWarning = `PodDisruptionBudget ${namespace}/web allows no disruption now (2 healthy, 2 desired): it holds back ${web.map((p) => key(refOf(p))).join(', ')}`;
    const pairWarning = `Pod ${namespace}/pair-0 is covered by 2 PodDisruptionBudgets (${namespace}/pair-1, ${namespace}/pair-2): the Eviction API refuses such a Pod, so only an approved deletion moves it`;
    expect(plan.warnings).toEqual([budgetWarning, pairWarning]);
    const all = (await core.listNode()).items;
    expect(plan.nodes).toEqual({
      total: all.length,
      ready: all.filter(isReady).length,
      cordonedOrUnhealthy: all.filter((n) => n.spec?.unschedulable || !isReady(n)).length,
    });

    // Cordoned, emptyDir allowed: the scratch Pod moves too, and the cordon is a warning.
    await inActivity(() => actions.cordonNode({ cluster, node: node.metadata!.name! }));
    const allowed = await inActivity(() => acts.preflightNode({ cluster, node: node.metadata!.name!, allowEmptyDir: true }));
    expect(allowed.pods.find((p) => p.name === 'scratch')).toMatchObject({ action: 'blocked', why: 'unmanaged' });
    expect(allowed.unschedulable).toBe(true);
    expect(allowed.warnings).toEqual([budgetWarning, pairWarning, `Node ${node.metadata!.name!} is already cordoned`]);
  }, 120_000);

  it('refuses a Node that needs more room than the other Nodes have, a control-plane Node, and an unknown Node', async () => {
    const pool = `room-${tag()}`;
    const big = await makeNode(pool, { cpu: '100000' });
    const namespace = await makeNamespace();
    const hungry = podSpec(pool);
    hungry.containers[0]!.resources = { requests: { cpu: '50000', memory: '1Gi' } };
    await makeDeployment(namespace, 'hungry', 1, pool, { containers: hungry.containers });
    await readyPods(namespace, 1);
    const plan = await inActivity(() => acts.preflightNode({ cluster, node: big.metadata!.name! }));
    expect([plan.capacity.neededCpuMilli, plan.capacity.neededMemoryBytes, plan.capacity.ok]).toEqual([50_000_000, 1024 ** 3, false]);
    expect(plan.blockers).toEqual([`not enough room elsewhere: ${plan.capacity.detail}`]);
    expect(plan.capacity.detail).toMatch(/^1 Pods to move need 50000000m CPU and 1\.00 GiB; the other \d+ Ready, schedulable Nodes have/);

    const controlPlane = await makeNode(`cp-${tag()}`, { labels: { 'node-role.kubernetes.io/control-plane': '' } });
    const cp = await inActivity(() => acts.preflightNode({ cluster, node: controlPlane.metadata!.name! }));
    expect([cp.controlPlane, cp.blockers]).toEqual([
      true,
      [
        `Node ${controlPlane.metadata!.name!} is a control-plane Node: replace it with the etcd member replacement runbook (etcdMemberReplace), not a drain`,
      ],
    ]);
    const refused = await failureOf(
      inActivity(() => acts.drainNode({ cluster, node: controlPlane.metadata!.name!, deadline: inFuture(5_000) })),
    );
    expect([refused.type, refused.nonRetryable]).toEqual(['ControlPlaneNode', true]);

    const missing = await failureOf(inActivity(() => acts.preflightNode({ cluster, node: `drain-test-${run}-absent` })));
    expect([missing.type, missing.nonRetryable, missing.message]).toEqual([
      'NodeNotFound',
      true,
      `reading Node drain-test-${run}-absent on 'primary': not found`,
    ]);
  }, 120_000);
});

describe('drainNode', () => {
  it('refuses a deadline that is no time and a concurrency below one, before reading anything', async () => {
    const node = `drain-test-${run}-absent`;
    const late = await failureOf(inActivity(() => acts.drainNode({ cluster, node, deadline: 'in 5 minutes' })));
    expect([late.type, late.nonRetryable, late.message]).toEqual([
      'InvalidRunbookInput',
      true,
      'deadline must be an ISO time, got "in 5 minutes"',
    ]);
    const none = await failureOf(inActivity(() => acts.drainNode({ cluster, node, concurrency: 0, deadline: inFuture(5_000) })));
    expect([none.type, none.message]).toEqual(['InvalidRunbookInput', 'concurrency must be a whole number ≥ 1, got 0']);
  });

  it('evicts every Pod of Deployments guarded by maxUnavailable-1 budgets, never breaking them, and leaves the DaemonSet Pod', async () => {
    const pool = `drain-${tag()}`;
    const [from, to] = [await makeNode(pool), await makeNode(pool, { unschedulable: true })];
    const [a, b] = [from.metadata!.name!, to.metadata!.name!];
    const namespace = await makeNamespace();
    for (const name of ['web-a', 'web-b']) {
      await makeDeployment(namespace, name, 3, pool);
      await makeBudget(namespace, name, name, 1);
    }
    await apps.createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name: 'agent' },
        spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: podSpec(pool) } },
      },
    });
    // The web Pods on the one schedulable Node; a DaemonSet Pod on each (they tolerate a cordon).
    const before = await readyPods(namespace, 8);
    const web = before.filter((p) => p.metadata!.labels!.app !== 'agent').map(refOf);
    const agent = before.find((p) => p.metadata!.labels!.app === 'agent' && p.spec!.nodeName === a)!;
    expect(before.map((p) => [p.metadata!.labels!.app, p.spec!.nodeName]).sort()).toEqual(
      [['agent', a], ['agent', b], ...web.map((p) => [p.name.startsWith('web-a-') ? 'web-a' : 'web-b', a])].sort(),
    );
    await budgetsSettled(namespace, { 'web-a': 3, 'web-b': 3 });
    await inActivity(() => actions.cordonNode({ cluster, node: a }));

    // Every state the budgets pass through while the drain runs.
    const violations: string[] = [];
    const lowest: Record<string, number> = {};
    const watching = await new Watch(kubeConfig).watch(
      `/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets`,
      {},
      (_phase: string, pdb: V1PodDisruptionBudget) => {
        const s = pdb.status;
        const name = pdb.metadata!.name!;
        lowest[name] = Math.min(lowest[name] ?? Infinity, s?.disruptionsAllowed ?? 0);
        if ((s?.disruptionsAllowed ?? 0) < 0 || (s?.currentHealthy ?? 0) < (s?.desiredHealthy ?? 0))
          violations.push(`${name}: ${JSON.stringify(s)}`);
      },
      () => undefined,
    );
    const { result, heartbeats } = activity(() => acts.drainNode({ cluster, node: a, deadline: inFuture(90_000) }));
    // With nowhere to go (the other Node still cordoned), each budget lets one Pod go and holds the
    // other two; the heartbeat says which budget holds which Pod.
    type Progress = { evicted: number; blocked: { pod: string; pdb: string; since: string }[] };
    const held = await until('four Pods held', () => {
      const h = heartbeats.at(-1) as Progress | undefined;
      return Promise.resolve(h?.blocked.length === 4 ? h : undefined);
    });
    // A ReplicaSet Pod's name is its Deployment's, a template hash and a suffix.
    const deploymentOf = (pod: string) => pod.split('-').slice(0, -2).join('-');
    expect([held.evicted, held.blocked.map((x) => `${x.pdb} holds ${deploymentOf(x.pod)}`).sort()]).toEqual([
      2,
      [`${namespace}/web-a`, `${namespace}/web-a`, `${namespace}/web-b`, `${namespace}/web-b`].map((k) => `${k} holds ${k}`),
    ]);
    // Room on the other Node: each budget allows again once a successor is Ready, and the drain goes on
    // at once (kubectl drain would retry every 5 s).
    const released = Date.now();
    await inActivity(() => actions.uncordonNode({ cluster, node: b }));
    const drained = await result;
    const afterRelease = (Date.now() - released) / 1000;
    watching.abort();

    expect([...drained.evicted].sort(byKey)).toEqual(web.sort(byKey));
    expect(drained.skipped).toEqual([{ ...refOf(agent), why: 'daemonset' }]);
    expect([drained.blocked, drained.terminating]).toEqual([[], []]);
    expect(drained.budgetWaits.map((w) => w.pdb)).toEqual([`${namespace}/web-a`, `${namespace}/web-b`]);
    expect(afterRelease).toBeLessThan(5);
    // The budgets went down to no disruption allowed (the watch saw the drain) and never below what they guard.
    expect(lowest).toEqual({ 'web-a': 0, 'web-b': 0 });
    expect(violations).toEqual([]);

    expect((await podsOn(a, namespace)).map(refOf)).toEqual([refOf(agent)]);
    const after = await readyPods(namespace, 8);
    expect(after.filter((p) => p.metadata!.labels!.app !== 'agent').map((p) => p.spec!.nodeName)).toEqual(web.map(() => b));
    await deploymentsAvailable(namespace);
  }, 150_000);

  it('a budget allowing no disruption holds its Pod until the deadline: returned blocked, naming the budget; deletePods then removes it', async () => {
    const pool = `strict-${tag()}`;
    const node = (await makeNode(pool)).metadata!.name!;
    const namespace = await makeNamespace();
    await makeDeployment(namespace, 'strict', 1, pool);
    await makeBudget(namespace, 'strict', 'strict', 0);
    const [pod] = await readyPods(namespace, 1);
    await budgetsSettled(namespace, { strict: 1 });
    await inActivity(() => actions.cordonNode({ cluster, node }));

    const started = Date.now();
    const { result, heartbeats } = activity(() => acts.drainNode({ cluster, node, deadline: inFuture(3_000) }));
    const drained = await result;
    const ref = refOf(pod!);
    expect(drained.evicted).toEqual([]);
    expect(drained.blocked).toEqual([
      {
        ...ref,
        pdb: `${namespace}/strict`,
        since: drained.blocked[0]!.since,
        message: 'The disruption budget strict needs 1 healthy pods and has 1 currently',
      },
    ]);
    expect(Date.parse(drained.blocked[0]!.since) - started).toBeLessThan(1_000);
    expect(drained.budgetWaits.map((w) => w.pdb)).toEqual([`${namespace}/strict`]);
    expect(drained.budgetWaits[0]!.seconds).toBeCloseTo(3, 0);
    expect(heartbeats.at(-1)).toEqual({
      step: 'drain',
      evicted: 0,
      remaining: 1,
      blocked: [{ pod: key(ref), pdb: `${namespace}/strict`, since: drained.blocked[0]!.since }],
      evictedPods: [],
    });
    expect((await podsOf(namespace)).map(refOf)).toEqual([ref]);

    // The approved override: a DELETE no budget checks, then gone; a second one finds nothing to do.
    expect(await inActivity(() => acts.deletePods({ cluster, pods: [ref] }))).toEqual({ deleted: [ref] });
    expect((await podsOf(namespace)).map((p) => p.metadata!.uid)).not.toContain(ref.uid);
    expect(await inActivity(() => acts.deletePods({ cluster, pods: [ref] }))).toEqual({ deleted: [ref] });
  }, 120_000);

  it('leaves an emptyDir Pod unless allowed', async () => {
    const pool = `empty-${tag()}`;
    const node = (await makeNode(pool)).metadata!.name!;
    const namespace = await makeNamespace();
    await makeDeployment(namespace, 'cache', 1, pool, { volumes: [{ name: 'tmp', emptyDir: {} }] });
    const [pod] = await readyPods(namespace, 1);
    const ref = refOf(pod!);
    await inActivity(() => actions.cordonNode({ cluster, node }));

    const kept = await inActivity(() => acts.drainNode({ cluster, node, deadline: inFuture(10_000) }));
    expect(kept).toEqual({ evicted: [], skipped: [{ ...ref, why: 'emptydir' }], blocked: [], budgetWaits: [], terminating: [] });
    expect((await podsOf(namespace)).map(refOf)).toEqual([ref]);

    const moved = await inActivity(() => acts.drainNode({ cluster, node, allowEmptyDir: true, deadline: inFuture(30_000) }));
    expect(moved).toEqual({ evicted: [ref], skipped: [], blocked: [], budgetWaits: [], terminating: [] });
    expect((await podsOf(namespace)).map((p) => p.metadata!.uid)).not.toContain(ref.uid);
  }, 120_000);

  it('a retried drain evicts nothing twice: survivors keep their UIDs, and a resumed attempt keeps its earlier progress', async () => {
    const pool = `retry-${tag()}`;
    const node = (await makeNode(pool)).metadata!.name!;
    const namespace = await makeNamespace();
    await makeDeployment(namespace, 'held', 2, pool);
    await makeBudget(namespace, 'held', 'held', 0);
    await makeDeployment(namespace, 'free', 2, pool);
    const pods = await readyPods(namespace, 4);
    await budgetsSettled(namespace, { held: 2 });
    await inActivity(() => actions.cordonNode({ cluster, node }));
    const free = pods.filter((p) => p.metadata!.labels!.app === 'free').map(refOf);
    const held = pods.filter((p) => p.metadata!.labels!.app === 'held').map(refOf);

    const first = activity(() => acts.drainNode({ cluster, node, deadline: inFuture(3_000) }));
    const one = await first.result;
    expect([...one.evicted].sort(byKey)).toEqual([...free].sort(byKey));
    expect(one.blocked.map((b) => [key(b), b.uid, b.pdb]).sort()).toEqual(held.map((h) => [key(h), h.uid, `${namespace}/held`]).sort());
    expect(one.terminating).toEqual([]);

    // The same drain again (a retry after a lost worker, no heartbeat): nothing evicted again.
    const two = await inActivity(() => acts.drainNode({ cluster, node, deadline: inFuture(2_000) }));
    expect(two.evicted).toEqual([]);
    expect(two.blocked.map((b) => [key(b), b.uid]).sort()).toEqual(held.map((h) => [key(h), h.uid]).sort());

    // A retry that resumes from the first attempt's last heartbeat: its evictions and blocked-since kept.
    const last = first.heartbeats.at(-1) as { blocked: { pod: string; since: string }[] };
    const three = await activity(() => acts.drainNode({ cluster, node, deadline: inFuture(2_000) }), { heartbeatDetails: last }).result;
    expect([...three.evicted].sort(byKey)).toEqual([...one.evicted].sort(byKey));
    expect(three.blocked.map((b) => [key(b), b.since]).sort()).toEqual(last.blocked.map((b) => [b.pod, b.since]).sort());
    expect(three.terminating).toEqual([]);
    // The survivors are the Pods first listed, the evicted ones' successors wait for a schedulable Node.
    const now = await podsOf(namespace);
    expect(
      now
        .filter((p) => p.spec?.nodeName === node)
        .map(refOf)
        .sort(byKey),
    ).toEqual([...held].sort(byKey));
    expect(now.filter((p) => !p.spec?.nodeName).map((p) => p.metadata!.labels!.app)).toEqual(['free', 'free']);
  }, 120_000);
});

describe('Node changes', () => {
  it('the out-of-service taint goes on and off once, conditional, idempotent', async () => {
    const node = (await makeNode(`taint-${tag()}`)).metadata!.name!;
    const taints = async () => (await core.readNode({ name: node })).spec!.taints!.map((t) => `${t.key}=${t.value}:${t.effect}`);
    expect(await inActivity(() => acts.taintOutOfService({ cluster, node }))).toEqual({ node, changed: true });
    expect(await inActivity(() => acts.taintOutOfService({ cluster, node }))).toEqual({ node, changed: false });
    expect(await taints()).toEqual([`${testTaint.key}=${run}:NoSchedule`, `${outOfServiceTaint.key}=nodeshutdown:NoExecute`]);
    expect(await inActivity(() => acts.removeOutOfServiceTaint({ cluster, node }))).toEqual({ node, changed: true });
    expect(await inActivity(() => acts.removeOutOfServiceTaint({ cluster, node }))).toEqual({ node, changed: false });
    expect(await taints()).toEqual([`${testTaint.key}=${run}:NoSchedule`]);

    const absent = `drain-test-${run}-absent`;
    expect(await inActivity(() => acts.removeOutOfServiceTaint({ cluster, node: absent }))).toEqual({ node: absent, changed: false });
    const missing = await failureOf(inActivity(() => acts.taintOutOfService({ cluster, node: absent })));
    expect([missing.type, missing.nonRetryable]).toEqual(['NodeNotFound', true]);
  });

  it('deleteNode: only the Node of that UID, once', async () => {
    const made = await makeNode(`del-${tag()}`);
    const node = made.metadata!.name!;
    expect(await inActivity(() => acts.deleteNode({ cluster, node, uid: '00000000-0000-0000-0000-000000000000' }))).toEqual({
      node,
      deleted: false,
    });
    expect((await core.readNode({ name: node })).metadata!.uid).toBe(made.metadata!.uid);
    expect(await inActivity(() => acts.deleteNode({ cluster, node, uid: made.metadata!.uid! }))).toEqual({ node, deleted: true });
    expect(await inActivity(() => acts.deleteNode({ cluster, node, uid: made.metadata!.uid! }))).toEqual({ node, deleted: false });
    expect(await inActivity(() => acts.deleteNode({ cluster, node }))).toEqual({ node, deleted: false });
    const gone = await core.readNode({ name: node }).then(
      () => 'present',
      (err: { code?: number }) => err.code,
    );
    expect(gone).toBe(404);
  });

  it('waitVolumesDetached waits while a VolumeAttachment names the Node, and fails naming it at the deadline', async () => {
    const node = (await makeNode(`vol-${tag()}`)).metadata!.name!;
    const name = `drain-test-${run}-${tag()}`;
    const pv = `pv-${run}`;
    madeAttachments.push(name);
    await storage.createVolumeAttachment({
      body: { metadata: { name }, spec: { attacher: 'test.lifeboat.io', nodeName: node, source: { persistentVolumeName: pv } } },
    });
    const described = `${name} (${pv}, test.lifeboat.io)`;

    const late = await failureOf(inActivity(() => acts.waitVolumesDetached({ cluster, node, deadline: inFuture(1_000) })));
    expect([late.type, late.nonRetryable]).toEqual(['VolumesStillAttached', true]);
    expect(late.message).toMatch(
      new RegExp(`^1 VolumeAttachments still name Node ${node} on 'primary' at .+: ${described.replace(/[().]/g, '\\$&')}$`),
    );

    const waiting = activity(() => acts.waitVolumesDetached({ cluster, node, deadline: inFuture(30_000) }));
    let settled = false;
    void waiting.result.finally(() => (settled = true));
    await until('a heartbeat', () => Promise.resolve(waiting.heartbeats.length ? true : undefined));
    expect([settled, waiting.heartbeats[0]]).toEqual([false, { step: 'volumes', attached: [described] }]);
    await storage.deleteVolumeAttachment({ name });
    const done = await waiting.result;
    expect(done.detached).toEqual([described]);
  });

  it('releaseFencedNodePods refuses a Node not out of service; on a dead, tainted Node it force-deletes every Pod now, and a finalizer it cannot pass fails naming the Pod', async () => {
    const pool = `release-${tag()}`;
    const from = (await makeNode(pool)).metadata!.name!;
    const namespace = await makeNamespace();
    // A long grace period: only a force-delete removes these Pods of a dead Node before the Pod garbage collector does.
    const slow = { terminationGracePeriodSeconds: 300 };
    await makeDeployment(namespace, 'web', 1, pool, slow);
    await makeStatefulSet(namespace, 'db', pool, slow);
    const held = `held-${tag()}`;
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: held, finalizers: ['lifeboat.io/test-hold'] }, spec: podSpec(pool, slow) },
    });
    const before = await readyPods(namespace, 3);
    // The kubelet dies (kwok stops simulating the Node): what is on it stays until someone deletes it.
    await killNode(kubeConfig, from);

    const unfenced = await failureOf(inActivity(() => acts.releaseFencedNodePods({ cluster, node: from, deadline: inFuture(5_000) })));
    expect([unfenced.type, unfenced.nonRetryable]).toEqual(['NodeNotFenced', true]);
    expect((await podsOn(from, namespace)).map((p) => p.metadata!.uid).sort()).toEqual(before.map((p) => p.metadata!.uid).sort());

    await inActivity(() => acts.taintOutOfService({ cluster, node: from }));
    const releasing = activity(() => acts.releaseFencedNodePods({ cluster, node: from, deadline: inFuture(3_000) }));
    const late = await failureOf(releasing.result);
    expect([late.type, late.nonRetryable]).toEqual(['PodsNotReleased', true]);
    expect(late.message).toMatch(
      new RegExp(`^1 Pods of fenced Node ${from} on 'primary' were still in the API at .+: ${namespace}/${held}$`),
    );
    expect(releasing.heartbeats.at(-1)).toEqual({ step: 'release', left: [`${namespace}/${held}`] });
    // Only the held Pod is left on the Node; the others were deleted without waiting for a kubelet.
    expect((await podsOn(from, namespace)).map((p) => p.metadata!.name)).toEqual([held]);

    // Released, the finalizer lets the held Pod go: a retry finishes, naming only what it deleted itself.
    await core.patchNamespacedPod({ namespace, name: held, body: { metadata: { finalizers: null } } }, mergePatch);
    const done = await inActivity(() => acts.releaseFencedNodePods({ cluster, node: from, deadline: inFuture(30_000) }));
    expect(await podsOn(from, namespace)).toEqual([]);
    expect(done.deleted.every((p) => before.some((b) => b.metadata!.uid === p.uid))).toBe(true);

    // The StatefulSet makes db-0 again at once (another UID); with no Node for it in the pool it waits, unscheduled.
    const db0 = await until('db-0 recreated', async () => {
      const p = (await podsOf(namespace)).find((x) => x.metadata!.name === 'db-0');
      return p && p.metadata!.uid !== before.find((b) => b.metadata!.name === 'db-0')!.metadata!.uid ? p : undefined;
    });
    expect(db0.spec?.nodeName).toBeUndefined();
  }, 120_000);

  it('verifyPodsMoved waits until each workload is Available elsewhere and each StatefulSet Pod is back, Ready, on another Node', async () => {
    const pool = `verify-${tag()}`;
    const from = (await makeNode(pool)).metadata!.name!;
    const to = (await makeNode(pool, { taints: [holdTaint] })).metadata!.name!;
    const namespace = await makeNamespace();
    await makeDeployment(namespace, 'web', 2, pool);
    await makeStatefulSet(namespace, 'db', pool);
    await readyPods(namespace, 3);
    await inActivity(() => actions.cordonNode({ cluster, node: from }));
    const plan = await inActivity(() => acts.preflightNode({ cluster, node: from }));
    const moving: DrainPod[] = plan.pods;
    expect(moving.map((p) => p.workload?.name).sort()).toEqual(['db', 'web', 'web']);
    const drained = await inActivity(() => acts.drainNode({ cluster, node: from, deadline: inFuture(30_000) }));
    // Whole, so that a Pod not evicted shows why (skipped, refused, or still terminating).
    expect({ ...drained, evicted: drained.evicted.map((p) => p.uid).sort(), budgetWaits: [] }).toEqual({
      evicted: moving.map((p) => p.uid).sort(),
      skipped: [],
      blocked: [],
      budgetWaits: [],
      terminating: [],
    });
    await inActivity(() => acts.taintOutOfService({ cluster, node: from }));

    const verifying = activity(() => acts.verifyPodsMoved({ cluster, node: from, pods: moving, deadline: inFuture(60_000) }));
    let settled = false;
    void verifying.result.finally(() => (settled = true));
    await until('a heartbeat', () => Promise.resolve(verifying.heartbeats.length ? true : undefined));
    await sleep(1_000);
    expect(settled).toBe(false);
    expect([...(verifying.heartbeats.at(-1) as { missing: string[] }).missing].sort()).toEqual([
      `Deployment ${namespace}/web not Available (0/2 ready)`,
      `Pod ${namespace}/db-0 on no Node yet not Running and Ready`,
      `StatefulSet ${namespace}/db not Available (0/1 ready)`,
    ]);

    // The second Node takes Pods: the successors run there.
    await setTaints(to, [testTaint]);
    const verified = await verifying.result;
    expect([...verified.workloads].sort(byKey)).toEqual([
      { kind: 'StatefulSet', namespace, name: 'db', ready: 1, replicas: 1 },
      { kind: 'Deployment', namespace, name: 'web', ready: 2, replicas: 2 },
    ]);
    expect(verified.outOfServiceTaintedNodes.filter((n) => madeNodes.includes(n))).toEqual([from]);
    const db0 = (await podsOf(namespace)).find((p) => p.metadata!.name === 'db-0')!;
    expect([db0.spec!.nodeName, db0.metadata!.uid === moving.find((p) => p.name === 'db-0')!.uid]).toEqual([to, false]);

    const late = await failureOf(
      inActivity(() =>
        acts.verifyPodsMoved({
          cluster,
          node: to,
          pods: moving.map((p) => ({ ...p, uid: db0.metadata!.uid! })).filter((p) => p.name === 'db-0'),
          deadline: inFuture(1_000),
        }),
      ),
    );
    expect([late.type, late.nonRetryable]).toEqual(['PodsNotRescheduled', true]);
    expect(late.message).toMatch(new RegExp(`: StatefulSet ${namespace}/db still has db-0 on ${to}; Pod ${namespace}/db-0 not recreated$`));
    await deploymentsAvailable(namespace);
  }, 150_000);
});
