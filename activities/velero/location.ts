// Whether a cluster's Velero can reach its BackupStorageLocation (Velero validates it and says so in its status).
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { ComponentHealth } from '../../model/health.js';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { isNotFound } from '../kubernetes/api.js';
import { describeNetworkError, healthCheckDeadlineMs, withDeadline } from '../network-errors.js';

export const createVeleroLocationActivities = (deps: Pick<ActivityDeps, 'clusters'>) => ({
  async checkVeleroLocation({ cluster }: { cluster: string }): Promise<ComponentHealth> {
    const { kubeConfig, server, config } = clusterClients(deps, cluster);
    const { namespace, storageLocation } = config.velero;
    const component = `velero/${cluster}`;
    const address = `${server} backupstoragelocations/${namespace}/${storageLocation}`;
    try {
      const bsl = (await withDeadline(
        healthCheckDeadlineMs,
        kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
          group: 'velero.io',
          version: 'v1',
          namespace,
          plural: 'backupstoragelocations',
          name: storageLocation,
        }),
      )) as { status?: { phase?: string; message?: string; lastValidationTime?: string } };
      const phase = bsl.status?.phase ?? 'Unknown';
      return {
        component,
        address,
        healthy: phase === 'Available',
        detail: `BackupStorageLocation ${phase}${bsl.status?.lastValidationTime ? `, validated ${bsl.status.lastValidationTime}` : ''}${bsl.status?.message ? `: ${bsl.status.message}` : ''}`,
      };
    } catch (err) {
      return {
        component,
        address,
        healthy: false,
        detail: isNotFound(err) ? 'BackupStorageLocation not found' : `kube-apiserver: ${describeNetworkError(err)}`,
      };
    }
  },
});
