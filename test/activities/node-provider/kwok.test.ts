// Integration (lab: kube-apiserver, kube-controller-manager and kwok of the primary cluster; kwok
// manages Nodes by annotation, kube-controller-manager marks a silent Node Unknown after 20 s). No
// Temporal server: the activities run in MockActivityEnvironment. Other suites schedule Pods on the lab's
// Nodes at the same time: every Node this test makes carries a taint of its own, nothing is scheduled
// there, and it is deleted afterwards. The lab's own Nodes are never touched.
// lab: nodes (adds Nodes to the primary cluster, and kills some, in a pool of its own: other suites count the cluster's Nodes and their health): runs after them, beside the other Node suites (test/run.sh).
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CoordinationV1Api, CoreV1Api, type V1Node } from '@kubernetes/client-node';
import {
  createNodeProviderActivities,
  kubeletStoppedLabel,
  kwokManagedAnnotation,
  kwokNodeCapacity,
  replacementNodeName,
  type ProvisionNodeInput,
} from '../../../activities/node-provider/index.js';
import { kwokNodeSelector } from '../../../activities/node-provider/kwok.js';
import { mergePatch } from '../../../activities/kubernetes/deployments.js';
import { createClients } from '../../../worker/clients.js';
import { killNode, reviveNode } from '../../../lab/nodes.js';
import { adminKubeConfig, labConfig } from '../../helpers/lab.js';

const tag = randomBytes(3).toString('hex');
const config = labConfig();
const clients = createClients(config);
const primary = clients.clusters.get('primary')!;
// The lab's configuration names kwok; this makes the test independent of which lab wrote the file.
const acts = createNodeProviderActivities({
  clusters: new Map([['primary', { ...primary, config: { ...primary.config, nodeProvider: { kind: 'kwok' } } }]]),
});
const admin = adminKubeConfig('primary');
const core = admin.makeApiClient(CoreV1Api);
const leases = admin.makeApiClient(CoordinationV1Api);

const inActivity = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn);
const failureOf = (run: Promise<unknown>): Promise<{ type?: string; nonRetryable?: boolean; message: string }> =>
  run.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err as { type?: string; nonRetryable?: boolean; message: string },
  );

const testTaint = { key: 'lifeboat.io/test', value: tag, effect: 'NoSchedule' };
const pool = { labels: { type: 'kwok-test', 'lifeboat.io/test': tag, 'kubernetes.io/os': 'linux' }, taints: [testTaint] };
/** A Node that does not exist (the one being replaced, already deleted), so no lab Node is read or touched. */
const provisionInput = (runId: string, replacing = `nptest-${tag}-3`): ProvisionNodeInput => ({
  cluster: 'primary',
  replacing,
  pool,
  workflowId: `node-replacement/primary/${replacing}`,
  runId,
});
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
const readyOf = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
const leaseOf = async (node: string) => (await leases.readNamespacedLease({ namespace: 'kube-node-lease', name: node })).spec!;

/** Polls until `check` returns a value, or fails after `seconds`. */
async function eventually<T>(seconds: number, what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds} s`);
    await sleep(500);
  }
}

/**
 * Waits for the node lifecycle controller to mark the Node Unknown: kube-controller-manager's grace
 * period after the last renewal (kwok renews every 10 s), plus its 5 s monitor period. The lab's grace
 * period is 20 s; a lab last brought up by an older checkout runs the default 50 s, hence 70 s here.
 */
const becomesUnknown = (node: string) =>
  eventually(70, `Node ${node} Ready=Unknown`, async () => {
    const n = await core.readNode({ name: node });
    return readyOf(n) === 'Unknown' ? n : undefined;
  });

/** A Ready Node of this test's own, made the way a node replacement makes it. */
async function readyNode(runId = randomUUID(), replacing?: string): Promise<string> {
  const { node } = await inActivity(() => acts.provisionNode(provisionInput(runId, replacing)));
  await inActivity(() => acts.waitNodeReady({ cluster: 'primary', node, deadline: inSeconds(60) }));
  return node;
}

afterAll(async () => {
  const mine = await core.listNode({ labelSelector: `lifeboat.io/test=${tag}` });
  for (const node of mine.items) {
    const name = node.metadata!.name!;
    await core.deleteNode({ name });
    await leases.deleteNamespacedLease({ namespace: 'kube-node-lease', name }).catch(() => undefined);
  }
  clients.s3.destroy();
});

describe('kwok node provider', () => {
  it('provisions a Node in the pool that goes Ready; a retry of the run finds it; another run gets its own', async () => {
    const runId = randomUUID();
    const input = provisionInput(runId);
    const name = `nptest-${tag}-r${runId.replaceAll('-', '').slice(0, 8)}`;
    expect(replacementNodeName(input.replacing, runId)).toBe(name);

    expect(await inActivity(() => acts.provisionNode(input))).toEqual({ node: name, created: true });
    const { readyAt } = await inActivity(() => acts.waitNodeReady({ cluster: 'primary', node: name, deadline: inSeconds(60) }));
    const node = await core.readNode({ name });
    expect(readyOf(node)).toBe('True');
    expect(readyAt).toBe(new Date(node.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime!).toISOString());
    // Without the deprecated beta.kubernetes.io/ labels the node lifecycle controller adds when it gets to it.
    expect(Object.fromEntries(Object.entries(node.metadata!.labels!).filter(([k]) => !k.startsWith('beta.kubernetes.io/')))).toEqual({
      type: 'kwok-test',
      'lifeboat.io/test': tag,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/hostname': name,
      'lifeboat.io/provisioned-by': runId,
      'lifeboat.io/replaces': input.replacing,
    });
    expect(node.metadata!.annotations![kwokManagedAnnotation.key]).toBe(kwokManagedAnnotation.value);
    // The pool's taints; node.kubernetes.io/not-ready may still be there, until the node lifecycle controller sees it Ready.
    expect(node.spec!.taints!.filter((t) => !t.key.startsWith('node.kubernetes.io/')).map((t) => ({ ...t }))).toEqual([testTaint]);
    expect(node.status!.allocatable).toEqual(kwokNodeCapacity);
    expect(node.status!.capacity).toEqual(kwokNodeCapacity);

    expect(await inActivity(() => acts.provisionNode(input))).toEqual({ node: name, created: false });
    expect((await core.listNode({ labelSelector: `lifeboat.io/provisioned-by=${runId}` })).items.map((n) => n.metadata!.name)).toEqual([
      name,
    ]);

    const laterRun = randomUUID();
    const later = await inActivity(() => acts.provisionNode(provisionInput(laterRun)));
    expect(later).toEqual({ node: `nptest-${tag}-r${laterRun.replaceAll('-', '').slice(0, 8)}`, created: true });
    expect((await core.readNode({ name: later.node })).metadata!.labels!['lifeboat.io/provisioned-by']).toBe(laterRun);
  });

  it("copies the old Node's capacity when the caller passes it", async () => {
    const resources = { capacity: { cpu: '8', memory: '32Gi', pods: '250' }, allocatable: { cpu: '7500m', memory: '30Gi', pods: '250' } };
    const { node } = await inActivity(() => acts.provisionNode({ ...provisionInput(randomUUID()), resources }));
    const created = await core.readNode({ name: node });
    expect({ capacity: created.status!.capacity, allocatable: created.status!.allocatable }).toEqual(resources);
  });

  it('a Node that does not go Ready by the deadline is NodeNotReady, saying what was seen', async () => {
    const deadline = inSeconds(3);
    const failure = await failureOf(inActivity(() => acts.waitNodeReady({ cluster: 'primary', node: `nptest-${tag}-never`, deadline })));
    expect({ type: failure.type, nonRetryable: failure.nonRetryable, message: failure.message }).toEqual({
      type: 'NodeNotReady',
      nonRetryable: true,
      message: `Node nptest-${tag}-never on cluster 'primary' was not Ready by ${deadline}: not registered`,
    });
  });

  it('fenceNode powers the Node off: its Lease stops being renewed and it goes Ready=Unknown, tainted unreachable', async () => {
    const node = await readyNode();
    const fence = { cluster: 'primary', node, workflowId: `node-replacement/primary/${node}`, runId: randomUUID() };
    const renewedBefore = (await leaseOf(node)).renewTime;
    const fenced = await inActivity(() => acts.fenceNode(fence));
    // Confirmed off once the Lease went unrenewed past kwok's renew interval (10 s, and 5 s to spare).
    const fencedLease = await leaseOf(node);
    const silentSince = new Date(fencedLease.renewTime!).toISOString();
    const label = `${kubeletStoppedLabel.key}=${kubeletStoppedLabel.value}`;
    expect(fenced).toEqual({
      fenced: true,
      how: `kwok: powered off: Node ${node} on cluster 'primary' labelled ${label}; its Lease has not been renewed since ${silentSince}: kwok no longer simulates its kubelet`,
    });
    // kwok may have been renewing it as the label came: the last renewal is within its 10 s interval.
    expect(new Date(fencedLease.renewTime!).getTime() - new Date(renewedBefore!).getTime()).toBeLessThan(12_000);
    await becomesUnknown(node);
    // The NoSchedule taint comes with Unknown; the NoExecute one with the controller's next tainting pass.
    const taints = await eventually(30, `Node ${node} tainted unreachable:NoExecute`, async () => {
      const all = (await core.readNode({ name: node })).spec!.taints!.map((t) => `${t.key}:${t.effect}`);
      return all.includes('node.kubernetes.io/unreachable:NoExecute') ? all.sort() : undefined;
    });
    expect(taints).toEqual(
      [`${testTaint.key}:NoSchedule`, 'node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule'].sort(),
    );
    expect((await leaseOf(node)).renewTime).toEqual(fencedLease.renewTime);

    // Fencing again (a retry) confirms it is off without changing anything.
    expect(await inActivity(() => acts.fenceNode(fence))).toEqual({
      fenced: true,
      how: `kwok: already off: Node ${node} on cluster 'primary' is labelled ${label}; its Lease has not been renewed since ${silentSince}: kwok no longer simulates its kubelet`,
    });
    // Gone at once: a not-Ready Node makes the cluster's health check (other suites) say unhealthy.
    await core.deleteNode({ name: node });
  }, 180_000);

  it('a Node whose Lease is still renewed after the label is NodeNotFenced, not retryable, saying when it was renewed', async () => {
    const node = await readyNode(randomUUID(), `nptest-${tag}-renewed-1`);
    // What a kwok that does not select by the label would do (it renews every 10 s); every 2 s here.
    const renewals: string[] = [];
    let renewing = true;
    let renewFailure: unknown;
    const renewer = (async () => {
      while (renewing) {
        const at = new Date();
        // renewTime is a MicroTime: six fractional digits.
        const body = { spec: { renewTime: at.toISOString().replace(/Z$/, '000Z') } };
        await leases.patchNamespacedLease({ namespace: 'kube-node-lease', name: node, body }, mergePatch);
        renewals.push(at.toISOString());
        await sleep(2_000);
      }
    })().catch((err: unknown) => (renewFailure = err));
    try {
      const fence = { cluster: 'primary', node, workflowId: `node-replacement/primary/${node}`, runId: randomUUID() };
      const failure = await failureOf(inActivity(() => acts.fenceNode(fence)));
      const renewedAt = /its Lease was still renewed at (\S+) /.exec(failure.message)?.[1];
      const label = `${kubeletStoppedLabel.key}=${kubeletStoppedLabel.value}`;
      expect({ type: failure.type, nonRetryable: failure.nonRetryable, message: failure.message }).toEqual({
        type: 'NodeNotFenced',
        nonRetryable: true,
        message:
          `Node ${node} on cluster 'primary' is not confirmed off; its volumes stay attached: kwok: Node ${node} on cluster 'primary' ` +
          `is labelled ${label}, but its Lease was still renewed at ${renewedAt} (does kwok run with --manage-nodes-with-label-selector=${kwokNodeSelector}?)`,
      });
      // The renewal it names is one of this test's last, from the end of the wait.
      expect(renewals.slice(-3)).toContain(renewedAt);
      expect((await core.readNode({ name: node })).metadata!.labels![kubeletStoppedLabel.key]).toBe(kubeletStoppedLabel.value);
    } finally {
      renewing = false;
      await renewer;
      // Gone at once: once its Lease goes silent it turns Unknown, and other suites count unhealthy Nodes.
      await core.deleteNode({ name: node });
    }
    expect(renewFailure).toBeUndefined();
  }, 150_000);

  it('killNode makes a Node look like a dead kubelet; reviveNode brings it back Ready', async () => {
    const node = await readyNode(randomUUID(), `nptest-${tag}-kill-1`);
    await killNode(admin, node);
    await sleep(2_000);
    const killedLease = await leaseOf(node);
    await becomesUnknown(node);
    expect((await leaseOf(node)).renewTime).toEqual(killedLease.renewTime);

    await reviveNode(admin, node);
    await inActivity(() => acts.waitNodeReady({ cluster: 'primary', node, deadline: inSeconds(60) }));
    expect(readyOf(await core.readNode({ name: node }))).toBe('True');
    expect(new Date((await leaseOf(node)).renewTime!).getTime()).toBeGreaterThan(new Date(killedLease.renewTime!).getTime());
    expect((await core.readNode({ name: node })).metadata!.labels![kubeletStoppedLabel.key]).toBeUndefined();
    const taints = await eventually(30, `Node ${node} untainted`, async () => {
      const keys = (await core.readNode({ name: node })).spec!.taints!.map((t) => t.key);
      return keys.includes('node.kubernetes.io/unreachable') ? undefined : keys;
    });
    expect(taints).toEqual([testTaint.key]);
  }, 240_000);
});
