// Whether a cluster's API answers and its Nodes are Ready; the Nodes as the node health watch sees them.
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { ComponentHealth } from '../../model/health.js';
import type { ObservedNode } from '../../model/node-health.js';
import { controlPlaneLabelOf } from '../../model/node-replacement.js';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from './cluster.js';
import { kubernetesError } from './api.js';
import { describeNetworkError, healthCheckDeadlineMs, withDeadline } from '../network-errors.js';

const asTime = (t: Date | string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

export const createNodeHealthActivities = (deps: Pick<ActivityDeps, 'clusters'>) => ({
  async checkNodes({ cluster }: { cluster: string }): Promise<ComponentHealth> {
    const { kubeConfig, server } = clusterClients(deps, cluster);
    const component = `nodes/${cluster}`;
    try {
      const nodes = await withDeadline(healthCheckDeadlineMs, kubeConfig.makeApiClient(CoreV1Api).listNode());
      const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      const notReady = nodes.items.filter((n) => !ready.includes(n)).map((n) => n.metadata?.name);
      return {
        component,
        address: server,
        healthy: nodes.items.length > 0 && notReady.length === 0,
        detail: `${ready.length}/${nodes.items.length} Nodes Ready${notReady.length ? `; not Ready: ${notReady.join(', ')}` : ''}`,
      };
    } catch (err) {
      return { component, address: server, healthy: false, detail: `kube-apiserver: ${describeNetworkError(err)}` };
    }
  },

  /**
   * Every Node of `cluster` (those `selector` selects, when given) with its Ready condition and its kubelet's Lease renewal (kube-node-lease),
   * and which are cordoned: what the node health watch judges. Two LISTs.
   */
  async observeNodes({
    cluster,
    selector,
  }: {
    cluster: string;
    selector?: string;
  }): Promise<{ nodes: ObservedNode[]; cordoned: string[] }> {
    const { kubeConfig } = clusterClients(deps, cluster);
    try {
      const [nodes, leases] = await Promise.all([
        kubeConfig.makeApiClient(CoreV1Api).listNode(selector ? { labelSelector: selector } : {}),
        kubeConfig.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: 'kube-node-lease' }),
      ]);
      const leaseOf = new Map(leases.items.map((l) => [l.metadata!.name!, l.spec]));
      return {
        nodes: nodes.items.map((n) => {
          const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
          const labels = n.metadata?.labels ?? {};
          return {
            name: n.metadata!.name!,
            labels,
            ready: ready?.status as ObservedNode['ready'],
            readySince: asTime(ready?.lastTransitionTime),
            leaseRenewedAt: asTime(leaseOf.get(n.metadata!.name!)?.renewTime),
            leaseDurationSeconds: leaseOf.get(n.metadata!.name!)?.leaseDurationSeconds,
            controlPlane: controlPlaneLabelOf(labels) !== undefined,
          };
        }),
        cordoned: nodes.items.filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name!),
      };
    } catch (err) {
      throw kubernetesError(err, `listing the Nodes and their Leases on '${cluster}'`);
    }
  },
});

export type NodeHealthActivities = ReturnType<typeof createNodeHealthActivities>;
