// Activities that talk to a cluster's etcd: health, membership, and snapshots streamed to the object store.
import type { ActivityDeps } from '../deps.js';
import { createEtcdHealthActivities } from './health.js';
import { createEtcdMemberActivities } from './members.js';
import { createEtcdSnapshotActivities } from './snapshot.js';

export const createEtcdActivities = (deps: Pick<ActivityDeps, 'clusters' | 'tools' | 's3' | 'bucket' | 'keyRing' | 'objectLock'>) => ({
  ...createEtcdHealthActivities(deps),
  ...createEtcdMemberActivities(deps),
  ...createEtcdSnapshotActivities(deps),
});
