// Every activity factory, registered by the worker with its injected clients.
import type { LifeboatClients } from '../worker/clients.js';
import type { KeyRing } from '../worker/keys.js';
import { createEtcdSnapshotActivities } from './etcd-snapshot.js';
import { createEtcdRestoreActivities } from './etcd-restore.js';
import { createGameDayActivities } from './gameday.js';
import { createFailoverActivities } from './failover.js';
import { createFailoverWatchActivities } from './failover-watch.js';
import { createHealthActivities } from './health.js';
import { createTrafficActivities } from './traffic.js';
import { createVeleroActivities } from './velero.js';
import { createVeleroVerificationActivities } from './velero-verification.js';

export const createActivities = (clients: LifeboatClients, keyRing: KeyRing | undefined) => ({
  ...createHealthActivities(clients),
  ...createVeleroActivities(clients),
  ...createVeleroVerificationActivities(clients),
  ...createEtcdSnapshotActivities(clients, keyRing),
  ...createEtcdRestoreActivities(clients, keyRing),
  ...createGameDayActivities(clients),
  ...createFailoverActivities(clients),
  ...createFailoverWatchActivities(clients),
  ...createTrafficActivities(clients),
});

export type LifeboatActivities = ReturnType<typeof createActivities>;
