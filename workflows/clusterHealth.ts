import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HealthActivities } from '../activities/index.js';
import type { ComponentHealth } from '../model/health.js';
import { failureTypes } from '../model/failures.js';

export interface ClusterHealthInput {
  /** Clusters to check, by configured name. */
  clusters: string[];
}

export interface ClusterHealthReport {
  healthy: boolean;
  checkedAt: string;
  components: ComponentHealth[];
}

// Checks report unhealthy components instead of throwing; retries cover a worker lost mid-check.
const checks = proxyActivities<HealthActivities>({
  startToCloseTimeout: '45 seconds',
  retry: { maximumAttempts: 3, initialInterval: '1 second', nonRetryableErrorTypes: [failureTypes.UnknownCluster] },
});

/** Reaches every component runbooks depend on; the preflight of later runbooks. */
export async function clusterHealth(input: ClusterHealthInput): Promise<ClusterHealthReport> {
  const perCluster = input.clusters.flatMap((cluster) => [
    checks.checkNodes({ cluster }),
    checks.checkEtcd({ cluster }),
    checks.checkVeleroLocation({ cluster }),
  ]);
  const components = await Promise.all([...perCluster, checks.checkObjectStore()]);
  return {
    healthy: components.every((c) => c.healthy),
    checkedAt: new Date(workflowInfo().startTime).toISOString(),
    components,
  };
}
