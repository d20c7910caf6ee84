// Node providers: fencing a Node (power off, or confirmation that it is off) before its volumes are
// released, provisioning its replacement in the same pool, and waiting for that Node to go Ready. The
// provider is the cluster's `nodeProvider` configuration; without one, fencing and provisioning fail
// naming the missing key.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { CoreV1Api, type V1Node } from '@kubernetes/client-node';
import type { ActivityDeps } from '../deps.js';
import { deadlineMsOf, failingAtDeadline, type DeadlineInput } from '../deadline.js';
import type { NodePool } from '../../model/node-replacement.js';
import { failureTypes } from '../../model/failures.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { httpStatusOf, kubernetesError } from '../kubernetes/api.js';
import { pollWithHeartbeat } from '../velero/backup.js';
import { isReady, kwokProvider } from './kwok.js';
import { webhookProvider } from './webhook.js';
import { provisionLabels, type NodeProvider, type NodeResources } from './provider.js';

export { provisionLabels, type NodeProvider, type NodeResources } from './provider.js';
export { kubeletStoppedLabel, kwokManagedAnnotation, kwokNodeCapacity, replacementNodeName } from './kwok.js';

export interface FenceNodeInput {
  cluster: string;
  node: string;
  workflowId: string;
  runId: string;
}

export interface ProvisionNodeInput {
  cluster: string;
  /** The Node being replaced. */
  replacing: string;
  /** Its pool (model/node-replacement.ts `poolOf`): labels without the hostname, taints without the condition ones. */
  pool: NodePool;
  workflowId: string;
  runId: string;
  /** The old Node's capacity and allocatable, read before it was deleted; absent: the provider's own (kwok: the old Node's if it still exists, else the lab's). */
  resources?: NodeResources;
}

/** Past its deadline (an ISO time, or timeoutSeconds from the first schedule: nodeStartupTimeout), the Node counts as not Ready. */
export interface WaitNodeReadyInput extends DeadlineInput {
  cluster: string;
  node: string;
}

/** A Node name (up to 253 characters) as a label value (up to 63): itself when it fits, else cut, with a hash of the whole. */
export function labelValue(text: string): string {
  if (/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(text)) return text;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 8);
  return `${text.slice(0, 54).replace(/[^A-Za-z0-9]+$/, '')}-${hash}`;
}

/** How often waitNodeReady reads the Node. */
const readyPollMs = 2_000;

export const createNodeProviderActivities = (deps: Pick<ActivityDeps, 'clusters'>) => {
  const providerOf = (cluster: string): NodeProvider => {
    const { config, kubeConfig } = clusterClients(deps, cluster);
    const provider = config.nodeProvider;
    if (!provider)
      throw ApplicationFailure.nonRetryable(
        `cluster '${cluster}' has no clusters[].nodeProvider in the configuration: its Nodes cannot be fenced or replaced`,
        failureTypes.NodeProviderNotConfigured,
      );
    return provider.kind === 'kwok' ? kwokProvider(cluster, kubeConfig) : webhookProvider(provider);
  };

  const activities = {
    /** Powers the Node off through the cluster's node provider, or confirms it is off; NodeNotFenced when the provider cannot confirm. */
    async fenceNode({ cluster, node, workflowId, runId }: FenceNodeInput): Promise<{ fenced: boolean; how: string }> {
      const { off, how } = await providerOf(cluster).powerOff({ cluster, node, idempotencyKey: `${workflowId}/${runId}/power-off` });
      if (!off)
        throw ApplicationFailure.nonRetryable(
          `Node ${node} on cluster '${cluster}' is not confirmed off; its volumes stay attached: ${how}`,
          failureTypes.NodeNotFenced,
        );
      return { fenced: true, how };
    },

    /**
     * A replacement Node in the pool, labelled `lifeboat.io/provisioned-by=<runId>` and
     * `lifeboat.io/replaces=<old node>`. Idempotent per run: a retry gets the Node its earlier attempt
     * asked for (`created: false`); another run gets its own.
     */
    async provisionNode({
      cluster,
      replacing,
      pool,
      workflowId,
      runId,
      resources,
    }: ProvisionNodeInput): Promise<{ node: string; created: boolean }> {
      const labelled: NodePool = {
        labels: { ...pool.labels, [provisionLabels.provisionedBy]: labelValue(runId), [provisionLabels.replaces]: labelValue(replacing) },
        taints: pool.taints,
      };
      return providerOf(cluster).provision({
        cluster,
        replacing,
        pool: labelled,
        runId,
        idempotencyKey: `${workflowId}/${runId}/provision`,
        ...(resources ? { resources } : {}),
      });
    },

    /** Waits, heartbeating, until the Node exists and is Ready; NodeNotReady at the deadline, saying what it last saw. */
    async waitNodeReady({ cluster, node, ...until }: WaitNodeReadyInput): Promise<{ readyAt: string }> {
      const api = clusterClients(deps, cluster).kubeConfig.makeApiClient(CoreV1Api);
      let seen = 'not registered';
      const deadline = new Date(deadlineMsOf(until)).toISOString();
      const readyAt = await pollWithHeartbeat(new Date(deadline), readyPollMs, async () => {
        let found: V1Node | undefined;
        try {
          found = await api.readNode({ name: node });
        } catch (err) {
          if (httpStatusOf(err) !== 404) throw kubernetesError(err, `reading Node ${node} on cluster '${cluster}'`);
        }
        const ready = found?.status?.conditions?.find((c) => c.type === 'Ready');
        seen = !found
          ? 'not registered'
          : ready
            ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason})` : ''}`
            : 'no Ready condition yet';
        const at = ready?.lastTransitionTime;
        const done = isReady(found) ? (at ? new Date(at).toISOString() : new Date().toISOString()) : undefined;
        return { done, beat: { node, seen } };
      });
      if (readyAt === undefined)
        throw ApplicationFailure.nonRetryable(
          `Node ${node} on cluster '${cluster}' was not Ready by ${deadline}: ${seen}`,
          failureTypes.NodeNotReady,
        );
      return { readyAt };
    },
  };
  return {
    ...activities,
    waitNodeReady: failingAtDeadline('waiting for', (input: Parameters<typeof activities.waitNodeReady>[0]) =>
      activities.waitNodeReady(input),
    ),
  };
};

export type NodeProviderActivities = ReturnType<typeof createNodeProviderActivities>;
