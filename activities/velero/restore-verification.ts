// Activities of Velero restore verification: find the backup, wait for the target cluster to see it,
// restore it into scratch namespaces there, check what came back, and delete the scratch namespaces.
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  AppsV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type RbacV1Subject,
} from '@kubernetes/client-node';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ActivityDeps } from '../deps.js';
import type { AppCheck } from '../../worker/config.js';
import type { VerificationCheck } from '../../model/verification.js';
import { clusterClients } from '../kubernetes/cluster.js';
import {
  backupStatusOf,
  createOwnVeleroObject,
  getVeleroObject,
  logErrorLines,
  ownerWorkflowId,
  pollWithHeartbeat,
  readVeleroFile,
  resultLines,
  storageLocationOf,
  veleroApi,
  type VeleroWaitInput,
} from './backup.js';
import {
  backupFileKey,
  managedByLabel,
  restoreFileKey,
  scratchLabel,
  terminalPhases,
  workflowIdAnnotation,
  derivedResources,
  type VeleroBackupStatus,
  type VeleroProblems,
} from '../../model/velero-layout.js';
import { failureTypes } from '../../model/failures.js';
import { httpStatusOf, isNotFound, kubernetesError } from '../kubernetes/api.js';
import { isDeploymentAvailable } from '../kubernetes/deployments.js';
import { appOf } from '../configuration.js';
import { secondsBetween } from '../../model/durations.js';
import { compareData, dataCompareKey, keysText, type ObjectData } from '../kubernetes/objects.js';

/** Everything a verification run needs from the worker's configuration (no secrets). */
export interface VeleroVerificationPlan {
  app: string;
  namespaces: string[];
  checks: AppCheck[];
  availableTimeoutSeconds: number;
  objectives: { rtoSeconds: number; rpoSeconds: number };
  source: { cluster: string; veleroNamespace: string; storageLocation: string };
  /** `location` is the target's (ReadOnly) BackupStorageLocation for the source's backups. */
  target: { cluster: string; veleroNamespace: string; location: string; timeoutSeconds: number };
}

/** Kinds Velero never restores. */
const neverRestored = new Set(['v1/Event', 'events.k8s.io/v1/Event']);

const covers = (spec: { includedNamespaces?: string[]; excludedNamespaces?: string[] } | undefined, namespaces: string[]) => {
  const included = spec?.includedNamespaces ?? [];
  const all = included.length === 0 || included.includes('*');
  return namespaces.every((ns) => (all || included.includes(ns)) && !(spec?.excludedNamespaces ?? []).includes(ns));
};

async function ownNamespace(core: CoreV1Api, name: string, workflowId: string): Promise<'ours' | 'absent' | 'foreign'> {
  try {
    const ns = await core.readNamespace({ name });
    return ns.metadata?.annotations?.[workflowIdAnnotation] === workflowId ? 'ours' : 'foreign';
  } catch (err) {
    if (isNotFound(err)) return 'absent';
    throw err;
  }
}

/** The ClusterRole that lets Lifeboat read a restored app (deploy/kubernetes/roles/velero-verification.yaml). */
export const scratchReaderRole = 'lifeboat-velero-scratch-reader';

/** Who Lifeboat is in the cluster (SelfSubjectReview), as a RoleBinding's subject. */
async function ownSubject(kc: KubeConfig): Promise<RbacV1Subject> {
  const review = await kc
    .makeApiClient(AuthenticationV1Api)
    .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  const user = review.status?.userInfo?.username ?? '';
  const sa = /^system:serviceaccount:([^:]+):(.+)$/.exec(user);
  return sa
    ? { kind: 'ServiceAccount', namespace: sa[1], name: sa[2]! }
    : { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user };
}

/**
 * Binds {@link scratchReaderRole} to Lifeboat in a scratch namespace it made: what it reads of the
 * restored app is granted there only, and goes with the namespace. Nothing when the binding exists.
 */
async function bindScratchReader(kc: KubeConfig, namespace: string): Promise<void> {
  const subject = await ownSubject(kc);
  await kc
    .makeApiClient(RbacAuthorizationV1Api)
    .createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: scratchReaderRole, namespace, labels: { ...managedByLabel } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: scratchReaderRole },
        subjects: [subject],
      },
    })
    .catch((err: unknown) => {
      if (httpStatusOf(err) !== 409) throw err;
    });
}

export const createVeleroVerificationActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps' | 's3' | 'keyRing'>) => {
  const compareKey = dataCompareKey(deps.keyRing);
  const kubeOf = (cluster: string): KubeConfig => clusterClients(deps, cluster).kubeConfig;

  return {
    /** The app's verification settings from the worker's configuration. */
    // eslint-disable-next-line @typescript-eslint/require-await -- reads configuration only; activities return promises
    async veleroVerificationPlan({ app: appName }: { app: string }): Promise<VeleroVerificationPlan> {
      const app = appOf(deps.apps, appName);
      const source = clusterClients(deps, app.cluster).config;
      const target = clusterClients(deps, app.verify.cluster).config;
      const location = target.velero.restoreFrom[app.cluster];
      if (!location) {
        throw ApplicationFailure.nonRetryable(
          `cluster '${target.name}' has no BackupStorageLocation for backups of '${app.cluster}' (clusters[${target.name}].velero.restoreFrom.${app.cluster} in the configuration)`,
          failureTypes.VeleroRestoreNotConfigured,
        );
      }
      return {
        app: app.name,
        namespaces: app.namespaces,
        checks: app.verify.checks,
        availableTimeoutSeconds: app.verify.availableTimeout,
        objectives: { rtoSeconds: app.objectives.rto, rpoSeconds: app.objectives.rpo },
        source: { cluster: app.cluster, veleroNamespace: source.velero.namespace, storageLocation: source.velero.storageLocation },
        target: { cluster: target.name, veleroNamespace: target.velero.namespace, location, timeoutSeconds: target.velero.timeout },
      };
    },

    /** The named backup, or the newest Completed one in the location that covers every namespace given. */
    async findVeleroBackup({
      cluster,
      veleroNamespace,
      storageLocation,
      namespaces,
      backupName,
    }: {
      cluster: string;
      veleroNamespace: string;
      storageLocation: string;
      namespaces: string[];
      backupName?: string;
    }): Promise<VeleroBackupStatus & { storageLocation: string }> {
      const kubeConfig = kubeOf(cluster);
      type Listed = {
        metadata?: { name?: string };
        spec?: { storageLocation?: string; includedNamespaces?: string[]; excludedNamespaces?: string[] };
        status?: Record<string, unknown>;
      };
      if (backupName) {
        const backup = await getVeleroObject(kubeConfig, veleroNamespace, 'backups', backupName).catch((err: unknown) => {
          throw kubernetesError(err, `reading Backup ${backupName}`);
        });
        if (!backup)
          throw ApplicationFailure.nonRetryable(
            `Backup ${veleroNamespace}/${backupName} does not exist on cluster '${cluster}'`,
            failureTypes.NoVeleroBackup,
          );
        const status = backupStatusOf(backupName, backup);
        if (status.phase !== 'Completed')
          throw ApplicationFailure.nonRetryable(
            `Backup ${backupName} on cluster '${cluster}' is ${status.phase}, not Completed`,
            failureTypes.VeleroBackupNotUsable,
          );
        if (!covers(backup.spec, namespaces))
          throw ApplicationFailure.nonRetryable(
            `Backup ${backupName} does not cover namespaces ${namespaces.join(', ')}`,
            failureTypes.VeleroBackupNotUsable,
          );
        return { ...status, storageLocation: backup.spec?.storageLocation ?? storageLocation };
      }
      const list = (await veleroApi(kubeConfig)
        .listNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: veleroNamespace, plural: 'backups' })
        .catch((err: unknown) => {
          throw kubernetesError(err, `listing Backups on cluster '${cluster}'`);
        })) as { items: Listed[] };
      const candidates = list.items
        .filter((b) => b.spec?.storageLocation === storageLocation && covers(b.spec, namespaces))
        .map((b) => backupStatusOf(b.metadata!.name!, b))
        .filter((s) => s.phase === 'Completed' && s.startTimestamp)
        .sort((a, b) => Date.parse(b.startTimestamp!) - Date.parse(a.startTimestamp!));
      if (!candidates[0]) {
        throw ApplicationFailure.nonRetryable(
          `no Completed Velero backup of namespaces ${namespaces.join(', ')} in location '${storageLocation}' on cluster '${cluster}'`,
          failureTypes.NoVeleroBackup,
        );
      }
      return { ...candidates[0], storageLocation };
    },

    /** Waits, heartbeating, until the target cluster's Velero has synced the backup from its location for the source. */
    async waitForVeleroBackupSync({
      cluster,
      veleroNamespace,
      name,
      location,
      deadline,
    }: {
      cluster: string;
      veleroNamespace: string;
      name: string;
      location: string;
      deadline: string;
    }): Promise<{ syncedAfterSeconds: number }> {
      const kubeConfig = kubeOf(cluster);
      const t0 = Date.now();
      let seen = 'not there yet';
      const done = await pollWithHeartbeat(new Date(deadline), 1_000, async () => {
        const backup = await getVeleroObject(kubeConfig, veleroNamespace, 'backups', name).catch((err: unknown) => {
          const e = kubernetesError(err, `reading Backup ${name} on cluster '${cluster}'`);
          if (e instanceof ApplicationFailure) throw e;
          seen = e.message;
          return undefined;
        });
        if (backup && backup.spec?.storageLocation !== location) {
          throw ApplicationFailure.nonRetryable(
            `cluster '${cluster}' has a Backup named ${name} from location '${backup.spec?.storageLocation}', not '${location}'`,
            failureTypes.VeleroNameTaken,
          );
        }
        if (backup) seen = `there, phase ${backup.status?.phase ?? 'none'}`;
        return {
          done: backup?.status?.phase === 'Completed' ? { syncedAfterSeconds: (Date.now() - t0) / 1000 } : undefined,
          beat: { step: 'sync', seen },
        };
      });
      if (done) return done;
      throw ApplicationFailure.nonRetryable(
        `Backup ${name} did not appear Completed on cluster '${cluster}' (${seen}); is the Velero server in namespace '${veleroNamespace}' of '${cluster}' running, and its BackupStorageLocation '${location}' Available?`,
        failureTypes.VeleroBackupNotSynced,
      );
    },

    /** Size, item count and pod volume data of a backup, from its files in the object store. */
    async describeVeleroBackupFiles({
      cluster,
      veleroNamespace,
      location,
      name,
    }: {
      cluster: string;
      veleroNamespace: string;
      location: string;
      name: string;
    }): Promise<{ url: string; sizeBytes: number; files: number; podVolumeBackups: number }> {
      const { bucket, prefix } = await storageLocationOf(kubeOf(cluster), cluster, veleroNamespace, location);
      const dir = backupFileKey(prefix, name, '').replace(new RegExp(`${name}$`), '');
      let sizeBytes = 0;
      let files = 0;
      let token: string | undefined;
      do {
        const page = await deps.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: dir, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          sizeBytes += o.Size ?? 0;
          files++;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      if (files === 0)
        throw ApplicationFailure.nonRetryable(`no files of backup ${name} under s3://${bucket}/${dir}`, failureTypes.VeleroBackupNotUsable);
      const pvbs = await readVeleroFile(deps.s3, bucket, backupFileKey(prefix, name, '-podvolumebackups.json.gz'));
      const podVolumeBackups = pvbs ? ((JSON.parse(pvbs) as unknown[] | null) ?? []).length : 0;
      return { url: `s3://${bucket}/${dir}`, sizeBytes, files, podVolumeBackups };
    },

    /**
     * Creates the scratch namespaces, marked as this run's, and binds Lifeboat's scratch reader in each;
     * one that exists and is not this run's is never used.
     */
    async createScratchNamespaces({ cluster, namespaces }: { cluster: string; namespaces: string[] }): Promise<void> {
      const core = kubeOf(cluster).makeApiClient(CoreV1Api);
      const workflowId = ownerWorkflowId();
      for (const name of namespaces) {
        const state = await ownNamespace(core, name, workflowId).catch((err: unknown) => {
          throw kubernetesError(err, `reading namespace ${name}`);
        });
        if (state === 'foreign')
          throw ApplicationFailure.nonRetryable(
            `namespace ${name} on cluster '${cluster}' exists and is not this run's scratch namespace`,
            failureTypes.ScratchNamespaceTaken,
          );
        if (state === 'absent')
          await core
            .createNamespace({
              body: {
                metadata: {
                  name,
                  labels: { ...managedByLabel, [scratchLabel]: 'scratch' },
                  annotations: { [workflowIdAnnotation]: workflowId },
                },
              },
            })
            .catch((err: unknown) => {
              throw kubernetesError(err, `creating namespace ${name} on cluster '${cluster}'`);
            });
        await bindScratchReader(kubeOf(cluster), name).catch((err: unknown) => {
          throw kubernetesError(err, `granting Lifeboat ${scratchReaderRole} in namespace ${name} on cluster '${cluster}'`);
        });
      }
    },

    /** Creates the Restore named after the run, or finds the one an earlier attempt created. */
    async createVeleroRestore({
      cluster,
      veleroNamespace,
      name,
      backupName,
      namespaceMapping,
      excludedResources,
      includedNamespaces,
      existingResourcePolicy,
    }: {
      cluster: string;
      veleroNamespace: string;
      name: string;
      backupName: string;
      namespaceMapping: Record<string, string>;
      excludedResources: string[];
      /** Default: the mapping's source namespaces. */
      includedNamespaces?: string[];
      /** `update` overwrites objects that exist on the target (a failback carrying state home). Default: Velero's (skip them). */
      existingResourcePolicy?: 'none' | 'update';
    }): Promise<{ name: string; created: boolean }> {
      const made = await createOwnVeleroObject(kubeOf(cluster), cluster, veleroNamespace, 'restores', 'Restore', name, {
        backupName,
        includedNamespaces: includedNamespaces ?? Object.keys(namespaceMapping),
        namespaceMapping,
        excludedResources,
        restorePVs: true,
        ...(existingResourcePolicy ? { existingResourcePolicy } : {}),
      });
      return { name, created: made.created };
    },

    /** Waits, heartbeating, until Velero finishes the Restore; reads Velero's reasons when it did not complete cleanly. */
    async waitForVeleroRestore({ cluster, veleroNamespace, name, deadline, timeoutSeconds }: VeleroWaitInput): Promise<{
      phase: string;
      itemsRestored: number;
      totalItems: number;
      warnings: number;
      errors: number;
      problems?: VeleroProblems;
    }> {
      const kubeConfig = kubeOf(cluster);
      let phase = 'New';
      const restore = await pollWithHeartbeat(new Date(deadline), 1_000, async () => {
        const r = await getVeleroObject(kubeConfig, veleroNamespace, 'restores', name).catch((err: unknown) => {
          const e = kubernetesError(err, `reading Restore ${name}`);
          if (e instanceof ApplicationFailure) throw e;
          return undefined;
        });
        phase = r?.status?.phase || phase;
        return {
          done: (terminalPhases as readonly string[]).includes(phase) ? r : undefined,
          beat: { step: 'restore', phase, itemsRestored: r?.status?.progress?.itemsRestored ?? 0 },
        };
      });
      if (!restore) {
        throw ApplicationFailure.nonRetryable(
          `Restore ${veleroNamespace}/${name} on cluster '${cluster}' was still ${phase} after ${timeoutSeconds} s; the Velero server in namespace '${veleroNamespace}' of cluster '${cluster}' may not be running`,
          failureTypes.VeleroRestoreTimedOut,
        );
      }
      const s = restore.status ?? {};
      const result = {
        phase,
        itemsRestored: s.progress?.itemsRestored ?? 0,
        totalItems: s.progress?.totalItems ?? 0,
        warnings: s.warnings ?? 0,
        errors: s.errors ?? 0,
      };
      if (phase === 'Completed' && !result.warnings && !result.errors) return result;
      const problems: VeleroProblems = { errors: [], warnings: [], logErrors: [] };
      if (s.failureReason) problems.failureReason = s.failureReason;
      if (s.validationErrors?.length) problems.validationErrors = s.validationErrors;
      // Velero writes a restore's files into its backup's location.
      const backup = restore.spec?.backupName
        ? await getVeleroObject(kubeConfig, veleroNamespace, 'backups', restore.spec.backupName)
        : undefined;
      if (backup?.spec?.storageLocation) {
        const { bucket, prefix } = await storageLocationOf(kubeConfig, cluster, veleroNamespace, backup.spec.storageLocation);
        const [results, logs] = await Promise.all([
          readVeleroFile(deps.s3, bucket, restoreFileKey(prefix, name, '-results.gz')),
          readVeleroFile(deps.s3, bucket, restoreFileKey(prefix, name, '-logs.gz')),
        ]);
        Object.assign(problems, resultLines(results));
        problems.logErrors = logErrorLines(logs);
      }
      return { ...result, problems };
    },

    /**
     * Every object the backup's resource list names in the restored namespaces (mapped to the scratch
     * ones) exists on the target, except the kinds the restore left out and those Velero never restores.
     */
    async checkRestoredObjects({
      cluster,
      veleroNamespace,
      location,
      backupName,
      namespaceMapping,
      excludedResources,
    }: {
      cluster: string;
      veleroNamespace: string;
      location: string;
      backupName: string;
      namespaceMapping: Record<string, string>;
      excludedResources: string[];
    }): Promise<VerificationCheck> {
      const kubeConfig = kubeOf(cluster);
      const { bucket, prefix } = await storageLocationOf(kubeConfig, cluster, veleroNamespace, location);
      const key = backupFileKey(prefix, backupName, '-resource-list.json.gz');
      const text = await readVeleroFile(deps.s3, bucket, key);
      if (text === undefined)
        return { name: 'restored-objects', passed: false, detail: `the backup's resource list s3://${bucket}/${key} is missing` };
      const listed = JSON.parse(text) as Record<string, string[]>;
      const skipped = new Set<string>([
        ...neverRestored,
        ...derivedResources.filter((d) => excludedResources.includes(d.resource)).map((d) => d.listed),
      ]);
      const objects = kubeConfig.makeApiClient(KubernetesObjectApi);
      const missing: string[] = [];
      let expected = 0;
      for (const [gvk, items] of Object.entries(listed)) {
        if (skipped.has(gvk)) continue;
        const slash = gvk.lastIndexOf('/');
        const apiVersion = gvk.slice(0, slash);
        const kind = gvk.slice(slash + 1);
        const byNamespace = new Map<string, string[]>();
        for (const item of items) {
          const [ns, name] = item.includes('/') ? (item.split('/', 2) as [string, string]) : ['', item];
          if (kind === 'Namespace' && apiVersion === 'v1') {
            if (namespaceMapping[name]) (byNamespace.get('') ?? byNamespace.set('', []).get('')!).push(namespaceMapping[name]);
          } else if (ns && namespaceMapping[ns]) {
            (byNamespace.get(namespaceMapping[ns]) ?? byNamespace.set(namespaceMapping[ns], []).get(namespaceMapping[ns])!).push(name);
          }
        }
        for (const [ns, names] of byNamespace) {
          expected += names.length;
          const present = new Set<string>();
          let cont: string | undefined;
          do {
            const page = await objects
              .list(apiVersion, kind, ns || undefined, undefined, undefined, undefined, undefined, undefined, 500, cont)
              .catch((err: unknown) => {
                throw kubernetesError(err, `listing ${kind} in ${ns || 'the cluster'} on '${cluster}'`);
              });
            for (const o of page.items) present.add(o.metadata?.name ?? '');
            cont = page.metadata?._continue || undefined;
          } while (cont);
          for (const n of names) if (!present.has(n)) missing.push(`${kind} ${ns ? `${ns}/` : ''}${n}`);
        }
        Context.current().heartbeat({ step: 'resources', expected });
      }
      const note = `(not expected: ${[...skipped].join(', ')})`;
      return missing.length
        ? {
            name: 'restored-objects',
            passed: false,
            detail: `${missing.length} of ${expected} objects missing: ${missing.slice(0, 15).join(', ')}${missing.length > 15 ? ', ...' : ''} ${note}`,
          }
        : { name: 'restored-objects', passed: true, detail: `all ${expected} objects of the backup's resource list exist ${note}` };
    },

    /** Waits, heartbeating, until every Deployment in the namespaces is Available, or the deadline; one check per Deployment. */
    async waitForDeploymentsAvailable({
      cluster,
      namespaces,
      deadline,
      timeoutSeconds,
    }: {
      cluster: string;
      namespaces: string[];
      deadline: string;
      timeoutSeconds: number;
    }): Promise<VerificationCheck[]> {
      const apps = kubeOf(cluster).makeApiClient(AppsV1Api);
      const t0 = Date.now();
      let checks: VerificationCheck[] = [];
      const done = await pollWithHeartbeat(new Date(deadline), 1_000, async () => {
        const lists = await Promise.all(namespaces.map((namespace) => apps.listNamespacedDeployment({ namespace }))).catch(
          (err: unknown) => {
            throw kubernetesError(err, `listing Deployments on cluster '${cluster}'`);
          },
        );
        checks = lists
          .flatMap((l) => l.items)
          .map((d) => {
            const want = d.spec?.replicas ?? 1;
            const ready = d.status?.readyReplicas ?? 0;
            const passed = isDeploymentAvailable(d);
            return {
              name: `available:${d.metadata?.namespace}/${d.metadata?.name}`,
              passed,
              detail: `${passed ? 'Available' : 'not Available'}, ${ready}/${want} ready`,
            };
          });
        const ok = checks.every((c) => c.passed);
        return {
          done: ok ? checks : undefined,
          beat: { step: 'available', available: checks.filter((c) => c.passed).length, deployments: checks.length },
        };
      });
      if (done) {
        const after = ((Date.now() - t0) / 1000).toFixed(1);
        return done.length
          ? done.map((c) => ({ ...c, detail: `${c.detail} after ${after} s` }))
          : [{ name: 'available', passed: true, detail: 'no Deployments restored' }];
      }
      return checks.map((c) => (c.passed ? c : { ...c, detail: `${c.detail} after ${timeoutSeconds} s` }));
    },

    /** The app's configured checks against the restored copy (namespaces mapped) and, for hashes, the live source. */
    async runVeleroAppChecks({
      sourceCluster,
      targetCluster,
      checks,
      namespaceMapping,
    }: {
      sourceCluster: string;
      targetCluster: string;
      checks: AppCheck[];
      namespaceMapping: Record<string, string>;
    }): Promise<VerificationCheck[]> {
      const target = kubeOf(targetCluster);
      const out: VerificationCheck[] = [];
      for (const check of checks) {
        const ns = namespaceMapping[check.namespace]!;
        if (check.kind === 'readyReplicas') {
          const name = `readyReplicas:${check.namespace}/${check.deployment}`;
          try {
            const d = await target.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: check.deployment, namespace: ns });
            const min = check.min ?? d.spec?.replicas ?? 1;
            const ready = d.status?.readyReplicas ?? 0;
            out.push({
              name,
              passed: ready >= min,
              detail: `${ready} ready replicas in ${ns}, ${ready >= min ? 'at least' : 'fewer than'} the ${min} required`,
            });
          } catch (err) {
            out.push({
              name,
              passed: false,
              detail: isNotFound(err)
                ? `Deployment ${ns}/${check.deployment} was not restored`
                : kubernetesError(err, 'reading the Deployment').message,
            });
          }
        } else {
          const name = `configMapHash:${check.namespace}/${check.name}`;
          const read = (kc: KubeConfig, namespace: string): Promise<ObjectData | undefined> =>
            kc
              .makeApiClient(CoreV1Api)
              .readNamespacedConfigMap({ name: check.name, namespace })
              .catch((err: unknown) => {
                if (isNotFound(err)) return undefined;
                throw kubernetesError(err, `reading ConfigMap ${namespace}/${check.name}`);
              });
          const [source, restored] = await Promise.all([read(kubeOf(sourceCluster), check.namespace), read(target, ns)]);
          if (!restored) out.push({ name, passed: false, detail: `ConfigMap ${ns}/${check.name} was not restored` });
          else if (!source)
            out.push({
              name,
              passed: false,
              detail: `source ConfigMap ${check.namespace}/${check.name} on '${sourceCluster}' no longer exists to compare with`,
            });
          else {
            // Compared by keyed MAC, as Secrets are: a ConfigMap may hold what should have been a Secret.
            const { same, differingKeys } = compareData(source, restored, compareKey);
            out.push(
              same
                ? { name, passed: true, detail: "restored data matches the source's" }
                : {
                    name,
                    passed: false,
                    detail: `restored ConfigMap ${ns}/${check.name} differs from the source ${check.namespace}/${check.name} on '${sourceCluster}' in ${keysText(differingKeys)} (changed since the backup?)`,
                  },
            );
          }
        }
      }
      return out;
    },

    /** Deletes this run's scratch namespaces and waits, heartbeating, until they are gone. Never deletes one that is not this run's. */
    async deleteScratchNamespaces({
      cluster,
      namespaces,
      deadline,
    }: {
      cluster: string;
      namespaces: string[];
      deadline: string;
    }): Promise<{ deleted: string[]; seconds: number }> {
      const core = kubeOf(cluster).makeApiClient(CoreV1Api);
      const workflowId = ownerWorkflowId();
      const t0 = Date.now();
      const deleted: string[] = [];
      for (const name of namespaces) {
        const state = await ownNamespace(core, name, workflowId).catch((err: unknown) => {
          throw kubernetesError(err, `reading namespace ${name}`);
        });
        if (state !== 'ours') continue;
        await core.deleteNamespace({ name }).catch((err: unknown) => {
          if (!isNotFound(err)) throw kubernetesError(err, `deleting namespace ${name} on cluster '${cluster}'`);
        });
        deleted.push(name);
      }
      let left: string[] = [];
      const gone = await pollWithHeartbeat(new Date(deadline), 1_000, async () => {
        left = [];
        for (const name of deleted) if ((await ownNamespace(core, name, workflowId)) === 'ours') left.push(name);
        return { done: left.length === 0 ? true : undefined, beat: { step: 'cleanup', left: left.length } };
      });
      if (!gone)
        throw ApplicationFailure.nonRetryable(
          `scratch namespaces ${left.join(', ')} on cluster '${cluster}' still exist (Terminating) after ${secondsBetween(new Date(t0).toISOString(), new Date().toISOString()).toFixed(0)} s`,
          failureTypes.ScratchCleanupTimedOut,
        );
      return { deleted, seconds: (Date.now() - t0) / 1000 };
    },
  };
};

export type VeleroVerificationActivities = ReturnType<typeof createVeleroVerificationActivities>;
