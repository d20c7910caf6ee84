// Integration (lab: Temporal, kube-apiserver/primary with its controllers, kwok; a worker of its own):
// the node health watch on real Nodes of a test pool (kwok Nodes with a label and taint of their own;
// the watch's selector keeps it to them, so other suites' Nodes are never judged).
// - A dead Node (its kubelet stopped: lab/nodes.ts killNode): the watch notices it after unhealthyAfter,
//   starts the node-replacement runbook in mode failed; the run fences it, taints it out of service,
//   deletes it and replaces it; the StatefulSet's Pod comes back on another Node as a new Pod.
// - A storm (2 of 3 Nodes dead at once): nothing is started, and the watch says why.
// lab: nodes (adds Nodes to the primary cluster, and kills some, in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, StorageV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { killNode } from '../../lab/nodes.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import type { nodeHealthWatch, NodeHealthWatchInput, NodeHealthWatchResult } from '../../workflows/nodeHealthWatch.js';
import { adminKubeConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createStatefulSetWithVolumes, createTestPool, poolLabel, type TestPool } from '../helpers/test-nodes.js';

const kc: KubeConfig = adminKubeConfig('primary');
const core = kc.makeApiClient(CoreV1Api);
const storage = kc.makeApiClient(StorageV1Api);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
let w: TestWorker;
const pools: TestPool[] = [];

beforeAll(async () => {
  w = await startTestWorker();
}, 60_000);
afterAll(async () => {
  await w?.stop();
  await Promise.all(pools.map((p) => p.remove()));
});

/**
 * unhealthyAfter 5 s for the dead Node; 30 s for the storm, so that both Nodes look dead (their Leases
 * expire within a renewal interval of each other) before either has been dead long enough to remediate.
 */
const inputFor = (p: TestPool, unhealthyAfterSeconds: number): NodeHealthWatchInput => ({
  cluster: 'primary',
  policy: { unhealthyAfterSeconds, maxUnhealthy: 1, stormThreshold: '55%', pause: false, selector: `${poolLabel}=${p.id}` },
  replacement: findRunbookIn(runbooksDir, 'node-replacement', {
    cluster: 'primary',
    node: 'placeholder',
    reason: 'placeholder',
    nodeStartupTimeoutSeconds: 120,
  }),
});
const look = (p: TestPool, unhealthyAfterSeconds: number) =>
  w.client.workflow.execute<typeof nodeHealthWatch>('nodeHealthWatch', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `node-health/primary/${p.id}-${Date.now()}`,
    args: [inputFor(p, unhealthyAfterSeconds)],
  });
/** Looks every second, as the schedule would, until `done`; 120 s at most. */
async function watchUntil(
  p: TestPool,
  unhealthyAfterSeconds: number,
  done: (r: NodeHealthWatchResult) => boolean,
): Promise<NodeHealthWatchResult[]> {
  const looks: NodeHealthWatchResult[] = [];
  for (const deadline = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 1000))) {
    const r = await look(p, unhealthyAfterSeconds);
    looks.push(r);
    if (done(r)) return looks;
    if (Date.now() > deadline) throw new Error(`the watch did not get there within 120 s: ${JSON.stringify(r)}`);
  }
}
/** db-0 of a StatefulSet whose Pod owns a claim on a static volume, once it runs and the attach/detach controller attached the volume to its Node. */
async function statefulPod(p: TestPool): Promise<{ pod: V1Pod; volume: string }> {
  const [volume] = (await createStatefulSetWithVolumes(kc, p, 'db', 1)) as [string];
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
    const pod = await core.readNamespacedPod({ namespace: p.namespace, name: 'db-0' }).catch(() => undefined);
    const ready = pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (pod && ready && (await attachedTo(volume)).includes(pod.spec!.nodeName!)) return { pod, volume };
    if (Date.now() > deadline) throw new Error(`db-0 not Ready with ${volume} attached to its Node within 60 s`);
  }
}
/** The Nodes each VolumeAttachment of the volume names (the attach/detach controller's). */
const attachedTo = async (volume: string) =>
  (await storage.listVolumeAttachment()).items.filter((a) => a.spec.source.persistentVolumeName === volume).map((a) => a.spec.nodeName);

describe('node health watch (lab)', () => {
  it('a dead Node is noticed after unhealthyAfter, fenced, tainted, replaced; its StatefulSet Pod comes back elsewhere', async () => {
    const p = await createTestPool(kc, 'nhw-dead', 3);
    pools.push(p);
    const { pod: before, volume } = await statefulPod(p);
    const dead = before.spec!.nodeName!;
    await killNode(kc, dead);
    const looks = await watchUntil(p, 5, (r) => r.started.length > 0);
    const last = looks.at(-1)!;
    expect(last).toMatchObject({ remediate: [dead], started: [`node-replacement/primary/${dead}`], held: [] });
    expect(last.stopped).toBeUndefined();
    // Earlier looks saw it healthy or not yet unhealthy for 5 s: they started nothing.
    expect(looks.slice(0, -1).every((r) => r.started.length === 0)).toBe(true);

    const report = (await w.client.workflow.getHandle(last.started[0]!).result()) as RunbookReport;
    expect(report.status).toBe('succeeded');
    expect(report.parameters).toMatchObject({ node: dead, mode: 'failed' });
    expect(report.steps.filter((s) => s.state === 'succeeded').map((s) => s.id)).toEqual([
      'preflight',
      'cordon',
      'fence',
      'taint',
      'release',
      'volumes',
      'delete-node',
      'provision',
      'ready',
      'verify',
    ]);
    expect(
      await core.readNode({ name: dead }).then(
        () => 'exists',
        () => 'gone',
      ),
    ).toBe('gone');
    const after = await core.readNamespacedPod({ namespace: p.namespace, name: 'db-0' });
    expect([after.metadata!.uid === before.metadata!.uid, after.spec!.nodeName === dead]).toEqual([false, false]);
    // The volume, attached to the dead Node before the kill, was detached from it before the Node was
    // deleted (by the time of the volumes step, when the attach/detach controller is quick: the
    // out-of-service taint lets it detach as soon as the Pod is released), and follows db-0.
    const volumes = report.steps.find((s) => s.id === 'volumes')!;
    expect((volumes.outputs!.detached as string[]).filter((a) => !a.includes(`(${volume}, `))).toEqual([]);
    for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 250))) {
      const nodes = await attachedTo(volume);
      if (nodes.length === 1 && nodes[0] === after.spec!.nodeName) break;
      if (Date.now() > deadline) expect(nodes).toEqual([after.spec!.nodeName]);
    }
    expect(after.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
    const replacement = report.steps.find((s) => s.id === 'provision')!.outputs!.node as string;
    expect((await core.readNode({ name: replacement })).metadata!.labels![poolLabel]).toBe(p.id);
    // The out-of-service taint went with the deleted Node: no Node of the pool carries it.
    const pool = (await core.listNode({ labelSelector: `${poolLabel}=${p.id}` })).items;
    expect(pool.flatMap((n) => (n.spec?.taints ?? []).filter((t) => t.key === 'node.kubernetes.io/out-of-service'))).toEqual([]);
  }, 300_000);

  it('a storm (2 of 3 Nodes dead at once) starts nothing and says why', async () => {
    const p = await createTestPool(kc, 'nhw-storm', 3);
    pools.push(p);
    await Promise.all(p.nodes.slice(0, 2).map((n) => killNode(kc, n)));
    const looks = await watchUntil(p, 30, (r) => r.stopped !== undefined && r.unhealthy.length === 2);
    const last = looks.at(-1)!;
    expect(last.stopped).toBe(
      'storm: 2 of 3 Nodes look unhealthy at once (more than 55%): a network partition or a control-plane problem, not the Nodes; nothing is remediated',
    );
    expect([last.remediate, last.started]).toEqual([[], []]);
    expect(looks.flatMap((r) => r.started)).toEqual([]);
    expect(last.held.map((h) => h.why)).toEqual(['storm', 'storm']);
  }, 300_000);
});
