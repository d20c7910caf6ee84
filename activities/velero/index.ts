// Activities that drive Velero: its storage location's health, backups, and restores (verification
// and failover's restore mode call the same ones).
import type { ActivityDeps } from '../deps.js';
import { createVeleroBackupActivities } from './backup.js';
import { createClaimRestoreActivities } from './claim-restore.js';
import { createVeleroLocationActivities } from './location.js';
import { createVeleroVerificationActivities } from './restore-verification.js';

export const createVeleroActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps' | 's3' | 'keyRing'>) => ({
  ...createVeleroLocationActivities(deps),
  ...createVeleroBackupActivities(deps),
  ...createVeleroVerificationActivities(deps),
  ...createClaimRestoreActivities(deps),
});
