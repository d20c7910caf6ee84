// The Velero side of recovering a PersistentVolumeClaim whose volume is lost (runbooks/storage-failure.yaml):
// the newest Completed Backup that holds the claim (its resource list, read from the object store, says
// so; whether it holds a CSI VolumeSnapshot of it too), and a Restore of that claim named after the run.
import { ApplicationFailure } from '@temporalio/activity';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { httpStatusOf, isNotFound, kubernetesError } from '../kubernetes/api.js';
import {
  backupFileKey,
  managedByLabel,
  restoreFileKey,
  terminalPhases,
  veleroAgeSeconds,
  workflowIdAnnotation,
} from '../../model/velero-layout.js';
import { failureTypes } from '../../model/failures.js';
import { claimRestoreNameFor, lostClaimNameFor, veleroRestoreNameLabel } from '../../model/storage-recovery.js';
import {
  backupStatusOf,
  createOwnVeleroObject,
  getVeleroObject,
  pollWithHeartbeat,
  readVeleroFile,
  resultLines,
  storageLocationOf,
  veleroApi,
} from './backup.js';

/** How many Completed backups, newest first, are searched for the claim before giving up. */
const backupsSearched = 20;

export interface ClaimBackup {
  cluster: string;
  namespace: string;
  claim: string;
  /** The claim now: what keepLostClaim deletes (by UID) and what its volume is. */
  claimUid: string;
  volume: string;
  /** The phase of the claim's volume now (`Failed` when its provisioner or an operator marked it lost). */
  volumePhase: string;
  storageClassName: string;
  /** The claim's labels: a restore selects by them, so other claims of the namespace stay as they are. */
  labels: Record<string, string>;
  backup: string;
  startTimestamp: string;
  /** The backup's age now: the data written since is what the restore loses. */
  rpoSeconds: number;
  /** The backup holds a CSI VolumeSnapshot in the namespace: the restore brings the claim back from it. */
  csiSnapshot: boolean;
  /** Pod volume (file system) backups the backup holds: with them, Velero's node agent restores the data. */
  podVolumeBackups: number;
  /** How the data comes back, in words. */
  dataFrom: string;
  backupsSearched: string[];
  /** Names from the run. */
  restoreName: string;
  lostClaim: string;
}

export interface RestoreClaimInput {
  cluster: string;
  namespace: string;
  claim: string;
  backup: string;
  labels: Record<string, string>;
  csiSnapshot: boolean;
  workflowId: string;
  /** Default: 600. */
  timeoutSeconds?: number;
}

export const createClaimRestoreActivities = (deps: Pick<ActivityDeps, 'clusters' | 's3'>) => {
  const kubeOf = (cluster: string): KubeConfig => clusterClients(deps, cluster).kubeConfig;
  const veleroOf = (cluster: string) => clusterClients(deps, cluster).config.velero;

  return {
    /** The claim now and the newest Completed backup (of this cluster's location) that holds it. */
    async findClaimBackup({
      cluster,
      namespace,
      claim,
      workflowId,
    }: {
      cluster: string;
      namespace: string;
      claim: string;
      workflowId: string;
    }): Promise<ClaimBackup> {
      const kc = kubeOf(cluster);
      const { namespace: veleroNamespace, storageLocation } = veleroOf(cluster);
      const core = kc.makeApiClient(CoreV1Api);
      const pvc = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace }).catch((err: unknown) => {
        throw kubernetesError(err, `reading claim ${namespace}/${claim} on '${cluster}'`, { notFound: failureTypes.ClaimNotFound });
      });
      const volume = pvc.spec?.volumeName ?? '';
      const pv = volume
        ? await core.readPersistentVolume({ name: volume }).catch((err: unknown) => {
            if (isNotFound(err)) return undefined;
            throw kubernetesError(err, `reading PersistentVolume ${volume} on '${cluster}'`);
          })
        : undefined;
      type Listed = {
        metadata?: { name?: string };
        spec?: { storageLocation?: string };
        status?: { phase?: string; startTimestamp?: string; csiVolumeSnapshotsCompleted?: number };
      };
      const list = (await veleroApi(kc)
        .listNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: veleroNamespace, plural: 'backups' })
        .catch((err: unknown) => {
          throw kubernetesError(err, `listing Backups on cluster '${cluster}'`);
        })) as { items: Listed[] };
      const candidates = list.items
        .filter((b) => b.spec?.storageLocation === storageLocation)
        .map((b) => ({ status: backupStatusOf(b.metadata!.name!, b), csi: b.status?.csiVolumeSnapshotsCompleted ?? 0 }))
        .filter((b) => b.status.phase === 'Completed' && b.status.startTimestamp)
        .sort((a, b) => Date.parse(b.status.startTimestamp!) - Date.parse(a.status.startTimestamp!))
        .slice(0, backupsSearched);
      const { bucket, prefix } = await storageLocationOf(kc, cluster, veleroNamespace, storageLocation);
      const searched: string[] = [];
      for (const c of candidates) {
        searched.push(c.status.name);
        // Velero's `<backup>-resource-list.json.gz`: {"v1/PersistentVolumeClaim": ["ns/name", ...], ...}.
        const text = await readVeleroFile(deps.s3, bucket, backupFileKey(prefix, c.status.name, '-resource-list.json.gz'));
        if (!text) continue;
        const items = JSON.parse(text) as Record<string, string[]>;
        if (!(items['v1/PersistentVolumeClaim'] ?? []).includes(`${namespace}/${claim}`)) continue;
        // How Velero backed up each claim's volume: `<backup>-volumeinfo.json.gz` (Velero 1.13+, what 1.18
        // writes; no `-csi-volumesnapshots.json.gz` beside it), one entry per claim, `CSISnapshot` with the
        // snapshot's handle when it took a CSI snapshot that stayed in the cluster (not moved by the data
        // mover, which this claim-only restore does not drive). Older backups have only the snapshots file.
        type VolumeInfo = {
          pvcName?: string;
          pvcNamespace?: string;
          backupMethod?: string;
          snapshotDataMoved?: boolean;
          result?: string;
          csiSnapshotInfo?: { snapshotHandle?: string; driver?: string; operationID?: string };
        };
        const volumeInfo = await readVeleroFile(deps.s3, bucket, backupFileKey(prefix, c.status.name, '-volumeinfo.json.gz'));
        const ofClaim = ((volumeInfo ? (JSON.parse(volumeInfo) as VolumeInfo[] | null) : null) ?? [])
          .filter(
            (v) =>
              v.pvcNamespace === namespace &&
              v.pvcName === claim &&
              v.backupMethod === 'CSISnapshot' &&
              !v.snapshotDataMoved &&
              v.result !== 'failed' &&
              v.csiSnapshotInfo?.snapshotHandle,
          )
          // The operation ID is `<namespace>/<VolumeSnapshot>/<time>`.
          .map(
            (v) =>
              `${v.csiSnapshotInfo!.operationID?.split('/').slice(0, 2).join('/') || namespace}, ${v.csiSnapshotInfo!.driver} snapshot ${v.csiSnapshotInfo!.snapshotHandle}`,
          );
        type Snapshot = { metadata?: { namespace?: string; name?: string }; spec?: { source?: { persistentVolumeClaimName?: string } } };
        const csiFile = volumeInfo
          ? undefined
          : await readVeleroFile(deps.s3, bucket, backupFileKey(prefix, c.status.name, '-csi-volumesnapshots.json.gz'));
        const listed = ((csiFile ? (JSON.parse(csiFile) as Snapshot[] | null) : null) ?? [])
          .filter((s) => s.metadata?.namespace === namespace && s.spec?.source?.persistentVolumeClaimName === claim)
          .map((s) => `${namespace}/${s.metadata?.name}`);
        const snapshots = volumeInfo ? ofClaim : listed;
        const csiSnapshot = c.csi > 0 && snapshots.length > 0;
        const pvbs = await readVeleroFile(deps.s3, bucket, backupFileKey(prefix, c.status.name, '-podvolumebackups.json.gz'));
        const podVolumeBackups = pvbs ? ((JSON.parse(pvbs) as unknown[] | null) ?? []).length : 0;
        return {
          cluster,
          namespace,
          claim,
          claimUid: pvc.metadata?.uid ?? '',
          volume,
          volumePhase: pv ? (pv.status?.phase ?? 'unknown') : volume ? 'gone' : 'none',
          storageClassName: pvc.spec?.storageClassName ?? '',
          labels: pvc.metadata?.labels ?? {},
          backup: c.status.name,
          startTimestamp: c.status.startTimestamp!,
          rpoSeconds: veleroAgeSeconds(c.status.startTimestamp!, new Date().toISOString()),
          csiSnapshot,
          podVolumeBackups,
          dataFrom: csiSnapshot
            ? `the CSI VolumeSnapshot in backup ${c.status.name} (${snapshots.join(', ')}): the claim is provisioned from it`
            : podVolumeBackups
              ? `nothing this runbook restores: backup ${c.status.name} has ${podVolumeBackups} pod volume backups, which Velero writes back only through the Pods it restores (this restore brings the claim alone), so the claim comes back on a new, empty volume`
              : `nothing: backup ${c.status.name} holds the claim object only (no volume snapshot, no pod volume backup), so the claim comes back on a new, empty volume`,
          backupsSearched: searched,
          restoreName: claimRestoreNameFor(workflowId),
          lostClaim: lostClaimNameFor(claim, workflowId),
        };
      }
      throw ApplicationFailure.nonRetryable(
        `no Completed Velero backup in location '${storageLocation}' on '${cluster}' holds claim ${namespace}/${claim}${searched.length ? ` (searched the newest ${searched.length}: ${searched.join(', ')})` : ''}`,
        failureTypes.NoVeleroBackup,
      );
    },

    /**
     * Restores the claim from the backup in place, as a Restore named after the run: the claims of the
     * namespace with its labels (those that exist are left as they are: Velero skips them), and the CSI
     * VolumeSnapshot objects when the backup has them. Without a snapshot, a resource modifier drops the
     * claim's `spec.volumeName`: it named the lost volume, which is kept and bound to the re-claim, so the
     * restored claim binds a new volume (a provisioner's, or an Available one of its class).
     */
    async restoreClaim(input: RestoreClaimInput): Promise<{
      restore: string;
      backup: string;
      phase: string;
      warnings: string[];
      claimUid: string;
      restoredFromSnapshot: boolean;
    }> {
      const { cluster, namespace, claim, workflowId } = input;
      const kc = kubeOf(cluster);
      const { namespace: veleroNamespace } = veleroOf(cluster);
      const name = claimRestoreNameFor(workflowId);
      const core = kc.makeApiClient(CoreV1Api);
      if (!input.csiSnapshot) {
        const rules = {
          version: 'v1',
          resourceModifierRules: [
            {
              conditions: {
                groupResource: 'persistentvolumeclaims',
                namespaces: [namespace],
                resourceNameRegex: `^${claim.replace(/\./g, '\\.')}$`,
              },
              patches: [{ operation: 'remove', path: '/spec/volumeName' }],
            },
          ],
        };
        await core
          .createNamespacedConfigMap({
            namespace: veleroNamespace,
            body: {
              metadata: {
                name,
                namespace: veleroNamespace,
                labels: { ...managedByLabel },
                annotations: { [workflowIdAnnotation]: workflowId },
              },
              data: { 'modifiers.json': JSON.stringify(rules) },
            },
          })
          .catch((err: unknown) => {
            if (httpStatusOf(err) !== 409) throw kubernetesError(err, `creating ConfigMap ${veleroNamespace}/${name} on '${cluster}'`);
          });
      }
      await createOwnVeleroObject(kc, cluster, veleroNamespace, 'restores', 'Restore', name, {
        backupName: input.backup,
        includedNamespaces: [namespace],
        includedResources: [
          'persistentvolumeclaims',
          ...(input.csiSnapshot ? ['volumesnapshots.snapshot.storage.k8s.io', 'volumesnapshotcontents.snapshot.storage.k8s.io'] : []),
        ],
        ...(Object.keys(input.labels).length ? { labelSelector: { matchLabels: input.labels } } : {}),
        restorePVs: true,
        ...(input.csiSnapshot ? {} : { resourceModifier: { kind: 'ConfigMap', name } }),
      });
      const timeoutSeconds = input.timeoutSeconds ?? 600;
      let phase = 'New';
      const restore = await pollWithHeartbeat(new Date(Date.now() + timeoutSeconds * 1000), 1_000, async () => {
        const r = await getVeleroObject(kc, veleroNamespace, 'restores', name).catch((err: unknown) => {
          const e = kubernetesError(err, `reading Restore ${name}`);
          if (e instanceof ApplicationFailure) throw e;
          return undefined;
        });
        phase = r?.status?.phase || phase;
        return { done: (terminalPhases as readonly string[]).includes(phase) ? r : undefined, beat: { step: 'restore', phase } };
      });
      if (!restore)
        throw ApplicationFailure.nonRetryable(
          `Restore ${veleroNamespace}/${name} on '${cluster}' was still ${phase} after ${timeoutSeconds} s`,
          failureTypes.VeleroRestoreTimedOut,
        );
      const backup = await getVeleroObject(kc, veleroNamespace, 'backups', input.backup);
      let lines: { errors: string[]; warnings: string[] } = { errors: [], warnings: [] };
      if (backup?.spec?.storageLocation) {
        const { bucket, prefix } = await storageLocationOf(kc, cluster, veleroNamespace, backup.spec.storageLocation);
        lines = resultLines(await readVeleroFile(deps.s3, bucket, restoreFileKey(prefix, name, '-results.gz')));
      }
      await core.deleteNamespacedConfigMap({ name, namespace: veleroNamespace }).catch((err: unknown) => {
        if (!isNotFound(err)) throw kubernetesError(err, `deleting ConfigMap ${veleroNamespace}/${name} on '${cluster}'`);
      });
      const restored = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace }).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw kubernetesError(err, `reading claim ${namespace}/${claim} on '${cluster}'`);
      });
      if (!restored || restored.metadata?.labels?.[veleroRestoreNameLabel] !== name)
        throw ApplicationFailure.nonRetryable(
          `Restore ${name} (${phase}) from backup ${input.backup} did not bring claim ${namespace}/${claim} back${restored ? ' (a claim of that name exists that it did not make)' : ''}${lines.errors.length || lines.warnings.length ? `: ${[...lines.errors, ...lines.warnings].join('; ')}` : ''}`,
          failureTypes.ClaimNotRestored,
        );
      return {
        restore: name,
        backup: input.backup,
        phase,
        warnings: [...lines.errors, ...lines.warnings],
        claimUid: restored.metadata?.uid ?? '',
        restoredFromSnapshot:
          restored.spec?.dataSource?.kind === 'VolumeSnapshot' || restored.spec?.dataSourceRef?.kind === 'VolumeSnapshot',
      };
    },
  };
};

export type ClaimRestoreActivities = ReturnType<typeof createClaimRestoreActivities>;
