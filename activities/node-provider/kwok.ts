// The lab's node provider. kwok simulates the kubelet of each Node its label selector matches (the
// lab's kwok: every Node without `lifeboat.io/lab-kubelet=stopped`). Powering off is setting that
// label: the API server's watch then tells kwok the Node is gone from its selection, so kwok drops its
// pending status updates, releases its Lease and stops running its Pods, exactly what a dead kubelet
// leaves behind. (An annotation would not do: kwok filters annotations itself and ignores an update
// that stops matching, and a Lease taken from kwok stops its renewals but not its status heartbeats.)
// Provisioning creates a Node object, which kwok brings Ready.
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Lease, type V1Node } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';
import { apiMessageOf, httpStatusOf, kubernetesError } from '../kubernetes/api.js';
import { mergePatch } from '../kubernetes/deployments.js';
import { pollWithHeartbeat } from '../velero/backup.js';
import { provisionLabels, type NodeProvider, type NodeResources, type ProvisionRequest } from './provider.js';

/** kwok's own annotation for the Nodes it simulates (as kwokctl makes them). */
export const kwokManagedAnnotation = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

/**
 * The annotation a kubelet sets on its Node at registration (kubelet's default
 * `--enable-controller-attach-detach`): the attach/detach controller attaches volumes only to Nodes
 * that carry it. kwok does not set it, so whatever registers a kwok Node (the lab, this provider) does.
 */
export const controllerManagedAttachAnnotation = { key: 'volumes.kubernetes.io/controller-managed-attach-detach', value: 'true' } as const;

/** The annotations a kwok Node registers with: kwok's own, no Node TTL cache, controller-managed volume attachment. */
export const kwokNodeAnnotations: Readonly<Record<string, string>> = {
  [kwokManagedAnnotation.key]: kwokManagedAnnotation.value,
  'node.alpha.kubernetes.io/ttl': '0',
  [controllerManagedAttachAnnotation.key]: controllerManagedAttachAnnotation.value,
};

/** The label that stops kwok simulating a Node's kubelet (lab/components.ts selects Nodes without it). */
export const kubeletStoppedLabel = { key: 'lifeboat.io/lab-kubelet', value: 'stopped' } as const;

/** kwok's --manage-nodes-with-label-selector: every Node whose kubelet is not stopped. */
export const kwokNodeSelector = `${kubeletStoppedLabel.key} notin (${kubeletStoppedLabel.value})`;

/** What a kwok Node reports when the caller knows no better (the lab's Nodes have the same). */
export const kwokNodeCapacity: Readonly<Record<string, string>> = { cpu: '32', memory: '128Gi', pods: '400' };

const isStopped = (node: V1Node | undefined) => node?.metadata?.labels?.[kubeletStoppedLabel.key] === kubeletStoppedLabel.value;

/** Sets (stop) or removes (start) the label that stops kwok simulating the Node's kubelet. */
export async function setKubeletStopped(kubeConfig: KubeConfig, node: string, stopped: boolean): Promise<V1Node> {
  try {
    return await kubeConfig
      .makeApiClient(CoreV1Api)
      .patchNode(
        { name: node, body: { metadata: { labels: { [kubeletStoppedLabel.key]: stopped ? kubeletStoppedLabel.value : null } } } },
        mergePatch,
      );
  } catch (err) {
    throw kubernetesError(err, `${stopped ? 'stopping' : 'starting'} the kubelet of Node ${node}`, { notFound: failureTypes.NodeNotFound });
  }
}

/** Node names are DNS labels here: kubernetes.io/hostname carries the name, and a label value is at most 63 characters. */
const maxNodeName = 63;

/**
 * The replacement's name: the old Node's without a trailing `-<digits>`, then `-r` and the first 8
 * characters of the run ID (`primary-node-2` → `primary-node-r1a2b3c4d`). The same run always gets the
 * same name; another run another.
 */
export function replacementNodeName(replacing: string, runId: string): string {
  const suffix = `-r${runId
    .replace(/[^a-z0-9]/gi, '')
    .slice(0, 8)
    .toLowerCase()}`;
  const base = replacing
    .replace(/-\d+$/, '')
    .slice(0, maxNodeName - suffix.length)
    .replace(/[^a-z0-9]+$/, '');
  return `${base}${suffix}`;
}

export const isReady = (node: V1Node | undefined) =>
  node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** A kwok Node object for the pool: kwok's annotation, the pool's labels and taints, its own hostname. */
export function kwokNode(name: string, pool: ProvisionRequest['pool'], resources: NodeResources): V1Node {
  // A new Node's kubelet runs: the old one's "stopped" mark (a dead Node being replaced carries it) is not the pool's.
  const labels = Object.fromEntries(Object.entries(pool.labels).filter(([k]) => k !== kubeletStoppedLabel.key));
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { ...kwokNodeAnnotations },
      labels: { ...labels, 'kubernetes.io/hostname': name },
    },
    spec: pool.taints.length ? { taints: pool.taints.map((t) => ({ ...t })) } : {},
    // A Node's status is taken on create (kubelets register this way): kwok keeps the resources.
    status: { capacity: { ...resources.capacity }, allocatable: { ...resources.allocatable }, phase: 'Running' },
  };
}

/**
 * How long powering off waits for the Node's Lease to go silent: kwok renews every quarter of the
 * Lease's duration (the lab's: 10 s of 40 s), so a minute is several renewals missed, with time for
 * kwok to hear of the label.
 */
const leaseSilenceWaitMs = 60_000;

export function kwokProvider(cluster: string, kubeConfig: KubeConfig): NodeProvider {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const where = (node: string) => `Node ${node} on cluster '${cluster}'`;
  const readNode = async (name: string): Promise<V1Node | undefined> => {
    try {
      return await api.readNode({ name });
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw kubernetesError(err, `reading ${where(name)}`);
    }
  };

  /**
   * Waits, heartbeating, until the Node's Lease has gone unrenewed for longer than kwok's renew
   * interval (a quarter of the lease's duration, plus jitter), or `leaseSilenceWaitMs` has passed
   * since the label was set with renewals still coming.
   */
  const leaseSilent = async (node: string): Promise<{ ok: true; detail: string } | { ok: false; renewTime: string }> => {
    const leases = kubeConfig.makeApiClient(CoordinationV1Api);
    const startedAt = Date.now();
    let lastRenewal = '';
    const verdict = await pollWithHeartbeat(new Date(startedAt + leaseSilenceWaitMs), 1_000, async () => {
      let lease: V1Lease | undefined;
      try {
        lease = await leases.readNamespacedLease({ namespace: 'kube-node-lease', name: node });
      } catch (err) {
        if (httpStatusOf(err) !== 404) throw kubernetesError(err, `reading the Lease of ${where(node)}`);
      }
      if (!lease?.spec?.renewTime) return { done: 'no Lease: nothing renews it', beat: { node, lease: 'none' } };
      const renewed = new Date(lease.spec.renewTime).getTime();
      lastRenewal = new Date(renewed).toISOString();
      const silentFor = Date.now() - renewed;
      const quiet = ((lease.spec.leaseDurationSeconds ?? 40) * 1000) / 4 + 5_000;
      return {
        done: silentFor > quiet ? `its Lease has not been renewed since ${lastRenewal}: kwok no longer simulates its kubelet` : undefined,
        beat: { node, lastRenewal },
      };
    });
    return verdict === undefined ? { ok: false, renewTime: lastRenewal } : { ok: true, detail: verdict };
  };

  return {
    async powerOff({ node }) {
      const found = await readNode(node);
      if (!found) return { off: true, how: `kwok: ${where(node)} does not exist; nothing runs it` };
      const already = isStopped(found);
      if (!already && !isStopped(await setKubeletStopped(kubeConfig, node, true)))
        return { off: false, how: `kwok: ${where(node)} did not keep the label ${kubeletStoppedLabel.key}=${kubeletStoppedLabel.value}` };
      // Off only once nothing renews its Lease: a kwok that selects otherwise would go on simulating it.
      const silent = await leaseSilent(node);
      if (!silent.ok)
        return {
          off: false,
          how: `kwok: ${where(node)} is labelled ${kubeletStoppedLabel.key}=${kubeletStoppedLabel.value}, but its Lease was still renewed at ${silent.renewTime} (does kwok run with --manage-nodes-with-label-selector=${kwokNodeSelector}?)`,
        };
      const label = `${kubeletStoppedLabel.key}=${kubeletStoppedLabel.value}`;
      return already
        ? { off: true, how: `kwok: already off: ${where(node)} is labelled ${label}; ${silent.detail}` }
        : { off: true, how: `kwok: powered off: ${where(node)} labelled ${label}; ${silent.detail}` };
    },

    async provision({ replacing, pool, runId, resources }) {
      const name = replacementNodeName(replacing, runId);
      const own = (found: V1Node) => {
        const by = found.metadata?.labels?.[provisionLabels.provisionedBy];
        if (by === runId) return { node: name, created: false };
        throw ApplicationFailure.nonRetryable(
          `kwok: ${where(name)} exists but was not provisioned by run ${runId} (${provisionLabels.provisionedBy}=${by ?? 'absent'}); not taking it`,
          failureTypes.NodeProviderRejected,
        );
      };
      const existing = await readNode(name);
      if (existing) return own(existing);
      const old = resources ? undefined : await readNode(replacing);
      const capacity = resources?.capacity ?? old?.status?.capacity ?? kwokNodeCapacity;
      const allocatable = resources?.allocatable ?? old?.status?.allocatable ?? capacity;
      try {
        await api.createNode({ body: kwokNode(name, pool, { capacity, allocatable }) });
        return { node: name, created: true };
      } catch (err) {
        if (httpStatusOf(err) === 422)
          throw ApplicationFailure.nonRetryable(`kwok: creating ${where(name)}: ${apiMessageOf(err)}`, failureTypes.NodeProviderRejected);
        // An attempt that created it but did not hear the answer.
        const raced = httpStatusOf(err) === 409 ? await readNode(name) : undefined;
        if (raced) return own(raced);
        throw kubernetesError(err, `creating ${where(name)}`);
      }
    },
  };
}
