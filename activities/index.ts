// Every activity, by the system it touches, registered by the worker with the clients it built once.
import type { LifeboatClients } from '../worker/clients.js';
import type { Registry } from 'prom-client';
import type { KeyRing } from '../worker/keys.js';
import { activityDeps } from './deps.js';
import { createControlPlaneActivities } from './control-plane/index.js';
import { createDataCheckActivities } from './data-check/index.js';
import { createEtcdRestoreRunbookActivities } from './control-plane/restore.js';
import { createEtcdActivities } from './etcd/index.js';
import { createKubernetesActivities } from './kubernetes/index.js';
import { createNodeProviderActivities } from './node-provider/index.js';
import { createNotificationActivities } from './notifications/index.js';
import { createObjectStoreActivities } from './object-store/index.js';
import { createPartitionActivities } from './partition.js';
import { createScratchActivities } from './scratch/index.js';
import { createTrafficActivities } from './traffic/index.js';
import { createVeleroActivities } from './velero/index.js';

/** `registry`: where activities register their metrics (the worker's /metrics); undefined: not counted. */
export const createActivities = (clients: LifeboatClients, keyRing: KeyRing | undefined, registry?: Registry) => {
  const deps = activityDeps(clients, keyRing);
  return {
    ...createKubernetesActivities(deps),
    ...createEtcdActivities(deps),
    ...createVeleroActivities(deps),
    ...createObjectStoreActivities(deps),
    ...createScratchActivities(deps),
    ...createTrafficActivities(deps),
    ...createNodeProviderActivities(deps),
    ...createControlPlaneActivities(deps),
    ...createEtcdRestoreRunbookActivities(deps),
    ...createPartitionActivities(),
    ...createDataCheckActivities(deps),
    ...createNotificationActivities({ ...deps, ...(registry ? { registry } : {}) }),
  };
};

export type LifeboatActivities = ReturnType<typeof createActivities>;

/** What a health check calls: one component of each system. */
export type HealthActivities = Pick<LifeboatActivities, 'checkNodes' | 'checkEtcd' | 'checkVeleroLocation' | 'checkObjectStore'>;
