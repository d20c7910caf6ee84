// Activities of the veleroBackup runbook: resolve what to back up, create the Backup named after the
// run, wait through Velero's phases, and gather Velero's reasons when it did not complete. Also the
// Velero helpers restore verification shares: Backup status, storage locations, Velero's files.
import { gunzipSync } from 'node:zlib';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from '../kubernetes/cluster.js';
import {
  backupFileKey,
  managedByLabel,
  terminalPhases,
  workflowIdAnnotation,
  type VeleroBackupSpec,
  type VeleroBackupStatus,
  type VeleroProblems,
} from '../../model/velero-layout.js';
import { failureTypes } from '../../model/failures.js';
import { httpStatusOf, isNotFound, kubernetesError } from '../kubernetes/api.js';
import { appOf } from '../configuration.js';

/** What a veleroBackup run is asked for: a cluster, or an app whose configuration says what to back up. */
export interface VeleroBackupInput {
  /** Cluster to back up. Default: the app's cluster. One of cluster or app is required. */
  cluster?: string;
  /** App whose namespaces, resources, label selector and TTL (apps[].backup) are the defaults. */
  app?: string;
  /** Default: the app's namespaces; without an app, every namespace. */
  includeNamespaces?: string[];
  excludeNamespaces?: string[];
  /** Resources as Velero names them (`deployments`, `secrets`, `certificates.cert-manager.io`). Default: the app's, else all. */
  includeResources?: string[];
  excludeResources?: string[];
  /** Only objects with all these labels. Default: the app's, else none. */
  labelSelector?: Record<string, string>;
  /** How long Velero keeps the backup, a Go duration like 720h. Default: the app's (720h), else 720h. */
  ttl?: string;
  /** BackupStorageLocation. Default: clusters[].velero.storageLocation. */
  storageLocation?: string;
  /** How long the Backup may take, in seconds. Default: clusters[].velero.timeout. */
  timeoutSeconds?: number;
}

/** The Backup a run will create, fully decided from its input and the worker's configuration. */
export interface ResolvedVeleroBackup {
  cluster: string;
  veleroNamespace: string;
  spec: VeleroBackupSpec;
  timeoutSeconds: number;
}

/** A wait for a Velero Backup or Restore to finish: where, which, and until when (fixed by the workflow, so a retried attempt keeps it). */
export interface VeleroWaitInput {
  cluster: string;
  veleroNamespace: string;
  name: string;
  deadline: string;
  timeoutSeconds: number;
}

interface VeleroObject {
  metadata?: { name?: string; uid?: string; annotations?: Record<string, string>; creationTimestamp?: string };
  spec?: Record<string, unknown> & {
    storageLocation?: string;
    backupName?: string;
    includedNamespaces?: string[];
    excludedNamespaces?: string[];
  };
  status?: {
    phase?: string;
    startTimestamp?: string;
    completionTimestamp?: string;
    expiration?: string;
    failureReason?: string;
    validationErrors?: string[];
    warnings?: number;
    errors?: number;
    progress?: { itemsBackedUp?: number; itemsRestored?: number; totalItems?: number };
  };
}

export const veleroApi = (kubeConfig: KubeConfig) => kubeConfig.makeApiClient(CustomObjectsApi);

export async function getVeleroObject(
  kubeConfig: KubeConfig,
  namespace: string,
  plural: 'backups' | 'restores' | 'backupstoragelocations',
  name: string,
): Promise<VeleroObject | undefined> {
  try {
    return (await veleroApi(kubeConfig).getNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace,
      plural,
      name,
    })) as VeleroObject;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The workflow ID the running activity works for: what marks the objects it creates as its own. */
export function ownerWorkflowId(): string {
  const info = Context.current().info;
  return info.workflowExecution?.workflowId ?? `standalone-activity/${info.activityId}`;
}

/**
 * Creates a Velero object named after the run. Creating it again (a retried attempt, a re-run under
 * the same workflow ID) returns the existing one when its annotation names this workflow; any other
 * object of that name is not ours and is never touched.
 */
export async function createOwnVeleroObject(
  kubeConfig: KubeConfig,
  cluster: string,
  namespace: string,
  plural: 'backups' | 'restores',
  kind: string,
  name: string,
  spec: object,
): Promise<{ name: string; uid: string; created: boolean }> {
  const workflowId = ownerWorkflowId();
  const body = {
    apiVersion: 'velero.io/v1',
    kind,
    metadata: { name, namespace, labels: { ...managedByLabel }, annotations: { [workflowIdAnnotation]: workflowId } },
    spec,
  };
  const where = `${kind} ${namespace}/${name} on cluster '${cluster}'`;
  try {
    const created = (await veleroApi(kubeConfig).createNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace,
      plural,
      body,
    })) as VeleroObject;
    return { name, uid: created.metadata?.uid ?? '', created: true };
  } catch (err) {
    if (httpStatusOf(err) === 404) {
      throw ApplicationFailure.nonRetryable(
        `${where}: the API has no ${plural}.velero.io in namespace '${namespace}' (is Velero installed there?)`,
        failureTypes.VeleroNotInstalled,
      );
    }
    if (httpStatusOf(err) !== 409) throw kubernetesError(err, `creating ${where}`);
    const existing = await getVeleroObject(kubeConfig, namespace, plural, name);
    const owner = existing?.metadata?.annotations?.[workflowIdAnnotation];
    if (existing && owner === workflowId) return { name, uid: existing.metadata?.uid ?? '', created: false };
    throw ApplicationFailure.nonRetryable(
      `${where} already exists and belongs to ${owner ? `workflow ${owner}` : 'something other than Lifeboat'}; refusing to use it`,
      failureTypes.VeleroNameTaken,
    );
  }
}

export function backupStatusOf(name: string, backup: VeleroObject): VeleroBackupStatus {
  const s = backup.status ?? {};
  return {
    name,
    phase: s.phase || 'New',
    itemsBackedUp: s.progress?.itemsBackedUp ?? 0,
    totalItems: s.progress?.totalItems ?? 0,
    warnings: s.warnings ?? 0,
    errors: s.errors ?? 0,
    ...(s.startTimestamp ? { startTimestamp: s.startTimestamp } : {}),
    ...(s.completionTimestamp ? { completionTimestamp: s.completionTimestamp } : {}),
    ...(s.expiration ? { expiration: s.expiration } : {}),
    ...(s.failureReason ? { failureReason: s.failureReason } : {}),
    ...(s.validationErrors?.length ? { validationErrors: s.validationErrors } : {}),
  };
}

/** Where a BackupStorageLocation keeps its files: read from its spec through the Kubernetes API. */
export async function storageLocationOf(
  kubeConfig: KubeConfig,
  cluster: string,
  namespace: string,
  location: string,
): Promise<{ bucket: string; prefix: string }> {
  const bsl = (await getVeleroObject(kubeConfig, namespace, 'backupstoragelocations', location).catch((err: unknown) => {
    throw kubernetesError(err, `reading BackupStorageLocation ${namespace}/${location} on cluster '${cluster}'`);
  })) as { spec?: { objectStorage?: { bucket?: string; prefix?: string } } } | undefined;
  const bucket = bsl?.spec?.objectStorage?.bucket;
  if (!bucket)
    throw ApplicationFailure.nonRetryable(
      `BackupStorageLocation ${namespace}/${location} on cluster '${cluster}' ${bsl ? 'names no bucket' : 'does not exist'}`,
      failureTypes.VeleroLocationNotFound,
    );
  return { bucket, prefix: bsl.spec?.objectStorage?.prefix ?? '' };
}

/** A Velero file from the object store, gunzipped when it is, or undefined when Velero did not write it. */
export async function readVeleroFile(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** Velero's results file: `{errors: {velero: [..], cluster: [..], namespaces: {ns: [..]}}, warnings: ...}` as flat lines. */
export function resultLines(results: string | undefined): { errors: string[]; warnings: string[] } {
  if (!results) return { errors: [], warnings: [] };
  type Section = { velero?: string[]; cluster?: string[]; namespaces?: Record<string, string[]> };
  const parsed = JSON.parse(results) as { errors?: Section; warnings?: Section };
  const flatten = (s: Section | undefined) => [
    ...(s?.velero ?? []).map((m) => `velero: ${m}`),
    ...(s?.cluster ?? []).map((m) => `cluster: ${m}`),
    ...Object.entries(s?.namespaces ?? {}).flatMap(([ns, ms]) => ms.map((m) => `${ns}: ${m}`)),
  ];
  return { errors: flatten(parsed.errors), warnings: flatten(parsed.warnings) };
}

/** Error lines of a Velero log, JSON (`--log-format json`) or text (`level=error msg="..."`). */
export function logErrorLines(log: string | undefined, max = 20): string[] {
  if (!log) return [];
  const found: string[] = [];
  for (const line of log.split('\n')) {
    if (found.length >= max) break;
    if (line.startsWith('{')) {
      try {
        const entry = JSON.parse(line) as {
          level?: string;
          msg?: string;
          error?: string;
          'error.message'?: string;
          resource?: string;
          name?: string;
        };
        if (entry.level !== 'error' && entry.level !== 'fatal') continue;
        const subject = entry.resource ? ` (${entry.resource}${entry.name ? ` ${entry.name}` : ''})` : '';
        const error = entry['error.message'] ?? entry.error;
        found.push(`${entry.msg ?? ''}${subject}${error ? `: ${error}` : ''}`);
        continue;
      } catch {
        // Not JSON after all: read it as text below.
      }
    }
    if (/\blevel=(error|fatal)\b/.test(line)) found.push(/\bmsg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line);
  }
  return found;
}

/** Polls until `done` returns a value, heartbeating what it saw, or the deadline passes (then returns undefined). */
export async function pollWithHeartbeat<T>(
  deadline: Date,
  intervalMs: number,
  step: () => Promise<{ done?: T; beat: Record<string, unknown> }>,
): Promise<T | undefined> {
  const ctx = Context.current();
  for (;;) {
    const { done, beat } = await step();
    ctx.heartbeat(beat);
    if (done !== undefined) return done;
    if (Date.now() >= deadline.getTime()) return undefined;
    // Throws CancelledFailure when the activity is cancelled.
    await ctx.sleep(Math.max(0, Math.min(intervalMs, deadline.getTime() - Date.now())));
  }
}

export const createVeleroBackupActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps' | 's3'>) => ({
  /** Decides the Backup from the run's input, the app's configuration and the cluster's Velero settings. */
  // eslint-disable-next-line @typescript-eslint/require-await -- reads configuration only; activities return promises
  async resolveVeleroBackup(input: VeleroBackupInput): Promise<ResolvedVeleroBackup> {
    const app = input.app === undefined ? undefined : appOf(deps.apps, input.app);
    if (!app && input.cluster === undefined)
      throw ApplicationFailure.nonRetryable('a Velero backup needs a cluster or an app', failureTypes.InvalidVeleroBackupInput);
    if (app && input.cluster !== undefined && input.cluster !== app.cluster) {
      throw ApplicationFailure.nonRetryable(
        `app '${app.name}' runs on cluster '${app.cluster}', not '${input.cluster}'`,
        failureTypes.InvalidVeleroBackupInput,
      );
    }
    const cluster = input.cluster ?? app!.cluster;
    const { velero } = clusterClients(deps, cluster).config;
    if (input.timeoutSeconds !== undefined && !(input.timeoutSeconds > 0)) {
      throw ApplicationFailure.nonRetryable(
        `timeoutSeconds must be positive, got ${input.timeoutSeconds}`,
        failureTypes.InvalidVeleroBackupInput,
      );
    }
    const pick = <T>(given: T | undefined, fromApp: T | undefined) => given ?? fromApp;
    const spec: VeleroBackupSpec = {
      ttl: pick(input.ttl, app?.backup.ttl) ?? '720h',
      storageLocation: input.storageLocation ?? velero.storageLocation,
    };
    const includedNamespaces = pick(input.includeNamespaces, app?.namespaces);
    const includedResources = pick(input.includeResources, app?.backup.includeResources);
    const excludedResources = pick(input.excludeResources, app?.backup.excludeResources);
    const labelSelector = pick(input.labelSelector, app?.backup.labelSelector);
    if (includedNamespaces?.length) spec.includedNamespaces = includedNamespaces;
    if (input.excludeNamespaces?.length) spec.excludedNamespaces = input.excludeNamespaces;
    if (includedResources?.length) spec.includedResources = includedResources;
    if (excludedResources?.length) spec.excludedResources = excludedResources;
    if (labelSelector && Object.keys(labelSelector).length) spec.labelSelector = labelSelector;
    return { cluster, veleroNamespace: velero.namespace, spec, timeoutSeconds: input.timeoutSeconds ?? velero.timeout };
  },

  /** Creates the Backup named after this run, or finds the one an earlier attempt created. */
  async createVeleroBackup({
    cluster,
    veleroNamespace,
    name,
    spec,
  }: {
    cluster: string;
    veleroNamespace: string;
    name: string;
    spec: VeleroBackupSpec;
  }): Promise<{ name: string; uid: string; created: boolean }> {
    const { kubeConfig } = clusterClients(deps, cluster);
    // Velero 1.18 takes a Backup of a missing location off its queue only to fail it (FailedValidation),
    // and Backups queued behind it can stay Queued: refuse it here, naming the location, before Velero sees it.
    if (spec.storageLocation) await storageLocationOf(kubeConfig, cluster, veleroNamespace, spec.storageLocation);
    const { labelSelector, ...rest } = spec;
    return createOwnVeleroObject(kubeConfig, cluster, veleroNamespace, 'backups', 'Backup', name, {
      ...rest,
      ...(labelSelector ? { labelSelector: { matchLabels: labelSelector } } : {}),
    });
  },

  /**
   * Waits, heartbeating, until Velero finishes the Backup. At `deadline` (fixed by the workflow, so a
   * retried attempt keeps it) it fails, saying the phase it was in: a Backup Velero never picked up
   * stays `New`, which means no Velero server is watching.
   */
  async waitForVeleroBackup({ cluster, veleroNamespace, name, deadline, timeoutSeconds }: VeleroWaitInput): Promise<VeleroBackupStatus> {
    const { kubeConfig } = clusterClients(deps, cluster);
    let last: VeleroBackupStatus = { name, phase: 'New', itemsBackedUp: 0, totalItems: 0, warnings: 0, errors: 0 };
    let apiProblem: string | undefined;
    const final = await pollWithHeartbeat(new Date(deadline), 1_000, async () => {
      try {
        const backup = await getVeleroObject(kubeConfig, veleroNamespace, 'backups', name);
        if (!backup)
          throw ApplicationFailure.nonRetryable(
            `Backup ${veleroNamespace}/${name} on cluster '${cluster}' disappeared while Lifeboat waited for it`,
            failureTypes.VeleroBackupGone,
          );
        last = backupStatusOf(name, backup);
        apiProblem = undefined;
      } catch (err) {
        const classified = kubernetesError(err, `reading Backup ${veleroNamespace}/${name} on cluster '${cluster}'`);
        if (classified instanceof ApplicationFailure) throw classified;
        // The API server may be briefly away; keep waiting until the deadline.
        apiProblem = classified.message;
      }
      const done = (terminalPhases as readonly string[]).includes(last.phase) ? last : undefined;
      return { done, beat: { phase: last.phase, itemsBackedUp: last.itemsBackedUp, totalItems: last.totalItems } };
    });
    if (final) return final;
    const state =
      last.phase === 'New'
        ? 'still New: no Velero server has picked it up'
        : `still ${last.phase} (${last.itemsBackedUp}/${last.totalItems} items)`;
    throw ApplicationFailure.nonRetryable(
      `Backup ${veleroNamespace}/${name} on cluster '${cluster}' was ${state} after ${timeoutSeconds} s; the Velero server in namespace '${veleroNamespace}' of cluster '${cluster}' may not be running${apiProblem ? ` (last API error: ${apiProblem})` : ''}`,
      failureTypes.VeleroBackupTimedOut,
      last,
    );
  },

  /** Why a Backup did not complete cleanly: its status, Velero's results file and its log's error lines. */
  async veleroBackupProblems({
    cluster,
    veleroNamespace,
    name,
  }: {
    cluster: string;
    veleroNamespace: string;
    name: string;
  }): Promise<VeleroProblems> {
    const { kubeConfig } = clusterClients(deps, cluster);
    const backup = await getVeleroObject(kubeConfig, veleroNamespace, 'backups', name).catch((err: unknown) => {
      throw kubernetesError(err, `reading Backup ${name}`);
    });
    if (!backup)
      throw ApplicationFailure.nonRetryable(
        `Backup ${veleroNamespace}/${name} on cluster '${cluster}' does not exist`,
        failureTypes.VeleroBackupGone,
      );
    const problems: VeleroProblems = { errors: [], warnings: [], logErrors: [] };
    if (backup.status?.failureReason) problems.failureReason = backup.status.failureReason;
    if (backup.status?.validationErrors?.length) problems.validationErrors = backup.status.validationErrors;
    const location = backup.spec?.storageLocation;
    if (!location) return { ...problems, unreadable: ['the Backup names no storage location'] };
    // A Backup that failed validation may name a location that does not exist: then there are no files to read.
    const store = await storageLocationOf(kubeConfig, cluster, veleroNamespace, location).catch((err: unknown) => {
      if (err instanceof ApplicationFailure && err.type === failureTypes.VeleroLocationNotFound) return err.message;
      throw err;
    });
    if (typeof store === 'string') return { ...problems, unreadable: [store] };
    const { bucket, prefix } = store;
    const resultsKey = backupFileKey(prefix, name, '-results.gz');
    const logsKey = backupFileKey(prefix, name, '-logs.gz');
    const [results, logs] = await Promise.all([readVeleroFile(deps.s3, bucket, resultsKey), readVeleroFile(deps.s3, bucket, logsKey)]);
    Object.assign(problems, resultLines(results));
    problems.logErrors = logErrorLines(logs);
    const unreadable = [
      ...(results === undefined ? [`s3://${bucket}/${resultsKey}`] : []),
      ...(logs === undefined ? [`s3://${bucket}/${logsKey}`] : []),
    ];
    if (unreadable.length) problems.unreadable = unreadable.map((u) => `${u} not found`);
    return problems;
  },
});

export type VeleroActivities = ReturnType<typeof createVeleroBackupActivities>;
