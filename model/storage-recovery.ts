// Names a storage failure run (runbooks/storage-failure.yaml) gives what it creates: derived from the
// workflow ID, so a retry or a re-run under the same ID finds its own. Pure: activities on both sides
// (Kubernetes and Velero) and tests import them.
import { nameHash, runScopedName } from './velero-layout.js';

/** The Restore (and its resource modifier ConfigMap) a storage failure run creates. */
export const claimRestoreNameFor = (workflowId: string) => runScopedName('lb-claim', workflowId);
/** Where the old claim's volume is re-claimed: `<claim>-lost-<8 hex digits from the workflow ID>`. */
export const lostClaimNameFor = (claim: string, workflowId: string) => `${claim}-lost-${nameHash(workflowId).slice(0, 8)}`;
/** The label Velero puts on what a Restore created. */
export const veleroRestoreNameLabel = 'velero.io/restore-name';
