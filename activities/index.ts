// Every activity factory, registered by the worker with its injected clients.
import type { LifeboatClients } from '../worker/clients.js';
import type { KeyRing } from '../worker/keys.js';
import { createEtcdSnapshotActivities } from './etcd/snapshot.js';
import { createEtcdRestoreActivities } from './scratch/etcd-restore.js';
import { createGameDayActivities } from './object-store/gameday-reports.js';
import { createFailoverActivities } from './kubernetes/workloads.js';
import { createFailoverWatchActivities } from './kubernetes/api-watch.js';
import { createHealthActivities } from './health.js';
import { createTrafficActivities } from './traffic/switch.js';
import { createVeleroActivities } from './velero/backup.js';
import { createVeleroVerificationActivities } from './velero/restore-verification.js';
import { createKubernetesActions } from './kubernetes/actions.js';
import { createHttpCheckActivities } from './traffic/http-check.js';

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
  ...createKubernetesActions({ clusters: clients.clusters }),
  ...createHttpCheckActivities(),
});

export type LifeboatActivities = ReturnType<typeof createActivities>;
