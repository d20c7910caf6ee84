// Whether a cluster's API answers and its Nodes are Ready.
import { CoreV1Api } from '@kubernetes/client-node';
import type { ComponentHealth } from '../../model/health.js';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from './cluster.js';
import { describeNetworkError, healthCheckDeadlineMs, withDeadline } from '../network-errors.js';

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
});
