// Activities that touch a cluster's Kubernetes API: Nodes, Deployments and Pods, the source-API watch
// of a forced failover, the actions runbook documents name, and the drain and Node changes of node
// replacement.
import type { ActivityDeps } from '../deps.js';
import { createKubernetesActions } from './actions.js';
import { createFailoverWatchActivities } from './api-watch.js';
import { createDrainActivities } from './drain.js';
import { createNodeHealthActivities } from './nodes.js';
import { createVolumeActivities } from './volumes.js';
import { createFailoverActivities } from './workloads.js';
import { createSiteWitnessActivities } from './site-witness.js';

export const createKubernetesActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps' | 'approverGroups' | 'gameDay'>) => ({
  ...createNodeHealthActivities(deps),
  ...createFailoverActivities(deps),
  ...createFailoverWatchActivities(deps),
  ...createKubernetesActions(deps),
  ...createDrainActivities(deps),
  ...createVolumeActivities(deps),
  ...createSiteWitnessActivities(deps),
});
