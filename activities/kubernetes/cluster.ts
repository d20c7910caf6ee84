// Lookup of a configured cluster's clients inside an activity.
import { ApplicationFailure } from '@temporalio/activity';
import type { ClusterClients } from '../../worker/clients.js';
import { failureTypes } from '../../model/failures.js';

export function clusterClients(clients: { clusters: ReadonlyMap<string, ClusterClients> }, cluster: string): ClusterClients {
  const found = clients.clusters.get(cluster);
  if (!found) {
    throw ApplicationFailure.nonRetryable(
      `unknown cluster '${cluster}'; this worker knows ${[...clients.clusters.keys()].join(', ')}`,
      failureTypes.UnknownCluster,
    );
  }
  return found;
}
