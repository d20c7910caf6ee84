// Activities that move or check traffic: the DNS record or webhook a failover switches, and HTTP checks.
import type { ActivityDeps } from '../deps.js';
import { createHttpCheckActivities } from './http-check.js';
import { createTrafficSwitchActivities } from './switch.js';

export const createTrafficActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps'>) => ({
  ...createTrafficSwitchActivities(deps),
  ...createHttpCheckActivities(),
});
