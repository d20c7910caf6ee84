// Lookup of a configured cluster's clients inside an activity.
import { ApplicationFailure } from '@temporalio/activity';
import type { ClusterClients, LifeboatClients } from '../../worker/clients.js';

export const failureTypes = {
  unknownCluster: 'UnknownCluster',
  etcdAuth: 'EtcdAuthenticationFailed',
} as const;

export function clusterClients(clients: LifeboatClients, cluster: string): ClusterClients {
  const found = clients.clusters.get(cluster);
  if (!found) {
    throw ApplicationFailure.nonRetryable(
      `unknown cluster '${cluster}'; this worker knows ${[...clients.clusters.keys()].join(', ')}`, failureTypes.unknownCluster);
  }
  return found;
}
