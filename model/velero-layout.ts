// Names of the Velero objects and scratch namespaces runbooks create, where Velero keeps a backup's
// files, and the shapes runbooks exchange. Pure: workflows import these names and types too.

/**
 * 48-bit FNV-1a of `text` as 12 hex digits: two 32-bit FNV-1a passes with different offset bases
 * (the second with the first's result folded in). Not cryptographic; it only keeps names derived from
 * long workflow IDs distinct after truncation.
 */
export function nameHash(text: string): string {
  const fnv = (basis: number) => {
    let h = basis >>> 0;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h;
  };
  const a = fnv(0x811c9dc5);
  const b = fnv(0x811c9dc5 ^ a);
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0').slice(0, 4);
}

/** Kubernetes label values, and so the names Velero copies into them, are at most 63 characters. */
export const maxVeleroNameLength = 63;

/**
 * A DNS-label name for something a run creates: a readable slug of `prefix` and `workflowId`, cut to
 * fit, then a hash of the whole (prefix and ID), so the same run always gets the same name and two
 * runs whose slugs truncate alike still differ.
 */
export function runScopedName(prefix: string, workflowId: string): string {
  const hash = nameHash(`${prefix}\u0000${workflowId}`);
  const slug = `${prefix}-${workflowId}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  const room = maxVeleroNameLength - hash.length - 1;
  return `${slug.slice(0, room).replace(/-+$/, '')}-${hash}`;
}

/** The Backup a veleroBackup run creates: a retry, or a re-run under the same workflow ID, finds it. */
export const backupNameFor = (workflowId: string) => runScopedName('lb', workflowId);
/** The Restore a verification run creates. */
export const restoreNameFor = (workflowId: string) => runScopedName('lb-restore', workflowId);
/** The Restore a failover or failback run creates: named from the run, so each run restores its own backup. */
export const runRestoreNameFor = (workflowId: string, runId: string) => restoreNameFor(`${workflowId}/${runId}`);
/** The child veleroBackup a failback runs (its Backup is named from it): one per run, never an earlier run's. */
export const failbackBackupWorkflowIdFor = (workflowId: string, runId: string) => `${workflowId}/velero-backup/${runId}`;
/**
 * A backup's age at `at`, in whole seconds, never below zero: Velero records a Backup's start to the
 * second, so a backup started after `at` (in the same second) is 0 s old, not -0.4 s or +0.6 s.
 */
export const veleroAgeSeconds = (startTimestamp: string, at: string) =>
  Math.max(0, Math.floor(Date.parse(at) / 1000) - Math.floor(Date.parse(startTimestamp) / 1000));
/** The scratch namespace a verification run restores `sourceNamespace` into. */
export const scratchNamespaceFor = (workflowId: string, sourceNamespace: string) =>
  runScopedName(`lb-verify-${sourceNamespace}`, workflowId);

/** Labels and annotations that mark what Lifeboat created, and for which run. */
export const managedByLabel = { 'app.kubernetes.io/managed-by': 'lifeboat' } as const;
export const scratchLabel = 'lifeboat.io/restore-verification';
export const workflowIdAnnotation = 'lifeboat.io/workflow-id';

/** Velero's files for a backup: `<prefix>/backups/<name>/<name><suffix>` in the location's bucket. */
export const backupFileKey = (prefix: string, name: string, suffix: string) =>
  `${prefix ? `${prefix.replace(/\/+$/, '')}/` : ''}backups/${name}/${name}${suffix}`;
/** Velero's files for a restore: `<prefix>/restores/<name>/restore-<name><suffix>` in the backup's location. */
export const restoreFileKey = (prefix: string, name: string, suffix: string) =>
  `${prefix ? `${prefix.replace(/\/+$/, '')}/` : ''}restores/${name}/restore-${name}${suffix}`;

/** Phases after which Velero does no more work on a Backup or Restore. */
export const terminalPhases = ['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'] as const;

/** What to back up: Velero's Backup spec fields Lifeboat sets. */
export interface VeleroBackupSpec {
  includedNamespaces?: string[];
  excludedNamespaces?: string[];
  includedResources?: string[];
  excludedResources?: string[];
  labelSelector?: Record<string, string>;
  /** A Go duration, e.g. 720h0m0s. */
  ttl: string;
  storageLocation: string;
}

/** Why a Backup or Restore did not complete cleanly: Velero's own words. */
export interface VeleroProblems {
  failureReason?: string;
  validationErrors?: string[];
  /** From `<name>-results.gz`: `namespace: message` or `velero: message`. */
  errors: string[];
  warnings: string[];
  /** Error lines of Velero's log for it (`<name>-logs.gz`), first ones first. */
  logErrors: string[];
  /** Files that could not be read (Velero had not written them), said plainly. */
  unreadable?: string[];
}

/** A Backup's status as Velero reports it. */
export interface VeleroBackupStatus {
  name: string;
  /** `New` until a Velero server picks it up. */
  phase: string;
  itemsBackedUp: number;
  totalItems: number;
  warnings: number;
  errors: number;
  startTimestamp?: string;
  completionTimestamp?: string;
  expiration?: string;
  failureReason?: string;
  validationErrors?: string[];
}

/**
 * Objects controllers derive from the declared ones; a verification restore leaves them out, so the
 * target's own controllers, scheduler and Nodes must bring the app up from its Deployments. (Velero
 * already skips Events.) Pods come back only when the backup holds pod volume data, which Velero
 * restores through them.
 */
export const derivedResources = [
  { resource: 'pods', listed: 'v1/Pod' },
  { resource: 'replicasets.apps', listed: 'apps/v1/ReplicaSet' },
  { resource: 'endpoints', listed: 'v1/Endpoints' },
  { resource: 'endpointslices.discovery.k8s.io', listed: 'discovery.k8s.io/v1/EndpointSlice' },
] as const;

/** The `excludedResources` of a restore that leaves derived objects to the target's controllers. */
export const derivedResourceNames: string[] = derivedResources.map((d) => d.resource);
