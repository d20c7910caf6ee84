// Activities whose system is Lifeboat's own bucket: its health, and game day plans and reports.
import type { ActivityDeps } from '../deps.js';
import { createGameDayActivities } from './gameday-reports.js';
import { createObjectStoreHealthActivities } from './health.js';

export const createObjectStoreActivities = (
  deps: Pick<ActivityDeps, 'clusters' | 'apps' | 'gameDay' | 's3' | 'bucket' | 'objectStoreEndpoint'>,
) => ({
  ...createObjectStoreHealthActivities(deps),
  ...createGameDayActivities(deps),
});
