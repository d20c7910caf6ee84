// Activities that run scratch processes on the worker: an etcd snapshot restored into a scratch etcd
// and kube-apiserver, and checked.
import type { ActivityDeps } from '../deps.js';
import { createEtcdRestoreActivities } from './etcd-restore.js';

export const createScratchActivities = (
  deps: Pick<ActivityDeps, 'clusters' | 'tools' | 'verification' | 's3' | 'bucket' | 'keyRing' | 'objectLock'>,
) => ({
  ...createEtcdRestoreActivities(deps),
});
