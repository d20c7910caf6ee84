// Activities that touch a cluster's Kubernetes API: Nodes, Deployments and Pods, the source-API watch
// of a forced failover, and the actions runbook documents name.
import type { ActivityDeps } from '../deps.js';
import { createKubernetesActions } from './actions.js';
import { createFailoverWatchActivities } from './api-watch.js';
import { createNodeHealthActivities } from './nodes.js';
import { createFailoverActivities } from './workloads.js';

export const createKubernetesActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps'>) => ({
  ...createNodeHealthActivities(deps),
  ...createFailoverActivities(deps),
  ...createFailoverWatchActivities(deps),
  ...createKubernetesActions(deps),
});
