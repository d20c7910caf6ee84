// Every workflow the worker runs: one entry point for the bundle.
export { clusterHealth } from './clusterHealth.js';
export { etcdSnapshot, pruneEtcdSnapshots } from './etcdSnapshot.js';
export { veleroBackup } from './veleroBackup.js';
export { veleroRestoreVerification } from './velero-verification.js';
export { restoreVerification } from './restoreVerification.js';
export { gameDay } from './gameDay.js';
export { failover, failback } from './failover.js';
export { runbook } from './runbook.js';
export { nodeHealthWatch } from './nodeHealthWatch.js';
