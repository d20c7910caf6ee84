// Activities that move or check traffic, or send it: the DNS record or webhook a failover switches, HTTP
// checks, and notifications to an incoming webhook.
import type { ActivityDeps } from '../deps.js';
import { createHttpCheckActivities } from './http-check.js';
import { createNotifyActivities } from './notify.js';
import { createTrafficSwitchActivities } from './switch.js';

export const createTrafficActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps'>) => ({
  ...createTrafficSwitchActivities(deps),
  ...createHttpCheckActivities(),
  ...createNotifyActivities(),
});
