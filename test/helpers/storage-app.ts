// A StatefulSet `db` with one replica on its claim `data-db-0`, bound to a static volume, in a namespace of
// the test's own on the primary (as test/workflows/storageFailure.lab.test.ts sets it up), for the
// storage-failure runbook; and what the runbook leaves to check.
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { applyLabRbac, grantInNamespaces } from '../../lab/rbac.js';
import { labStorageClass, labVolumeOfLabel, staticVolume, staticVolumeName } from '../../lab/volumes.js';
import { workflowIdAnnotation } from '../../model/velero-layout.js';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import type { runbook } from '../../workflows/runbook.js';
import { adminKubeConfig, labConfig, type TestWorker } from './lab.js';
import { findRunbookIn } from './runbooks.js';
import { until } from './apiserver-proxy.js';

const kc = adminKubeConfig('primary');
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
export const core = kc.makeApiClient(CoreV1Api);
export const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const velero = (plural: string) => ({ group: 'velero.io', version: 'v1', namespace: 'velero', plural });

export interface ClaimApp {
  namespace: string;
  claim: string;
  /** The claim's volume now, and the administrator's replacement the restored claim binds. */
  oldVolume: string;
  replacement: string;
  readyReplicas(): Promise<number>;
  replicas(): Promise<number>;
  claimUid(): Promise<string>;
  /** Creates the replacement volume, pre-bound to the claim's name as the lab's static volumes are. */
  createReplacement(): Promise<void>;
  /** The Velero Restores whose annotation names `workflowId`. */
  restoresOf(workflowId: string): Promise<{ name: string; phase?: string }[]>;
  /** Deletes the namespace, the volumes, and each named Restore and Backup. */
  remove(restores: string[], backups: string[]): Promise<void>;
}

/** The app in namespace `<prefix>-<suffix>`, Ready on its bound claim; `suffix` labels what the test made. */
export async function createClaimApp(prefix: string, suffix = randomBytes(3).toString('hex')): Promise<ClaimApp> {
  const namespace = `${prefix}-${suffix}`;
  const claim = 'data-db-0';
  const oldVolume = staticVolumeName(namespace, claim);
  const replacement = `${oldVolume}-replacement`;
  const labels = { 'app.kubernetes.io/name': 'db', 'lifeboat.io/test': suffix };
  // The storage-recovery roles, as `lab up` binds them now (the running lab may predate them).
  await applyLabRbac(labConfig());
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'lifeboat.io/test': suffix } } } });
  await grantInNamespaces('primary', [namespace], ['lifeboat-storage-recovery-workloads']);
  await core.createPersistentVolume({ body: staticVolume(namespace, claim) });
  await apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name: 'db', namespace, labels },
      spec: {
        replicas: 1,
        serviceName: 'db',
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            nodeSelector: { type: 'kwok' },
            tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [{ name: 'db', image: 'registry.example/db:1', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: labStorageClass.metadata.name,
              resources: { requests: { storage: '1Gi' } },
            },
          },
        ],
      },
    },
  });
  const set = () => apps.readNamespacedStatefulSet({ name: 'db', namespace });
  const app: ClaimApp = {
    namespace,
    claim,
    oldVolume,
    replacement,
    readyReplicas: async () => (await set()).status?.readyReplicas ?? 0,
    replicas: async () => (await set()).spec?.replicas ?? 1,
    claimUid: async () => (await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace })).metadata!.uid!,
    async createReplacement() {
      const spare = staticVolume(namespace, claim);
      await core.createPersistentVolume({
        body: {
          ...spare,
          metadata: { name: replacement, labels: { [labVolumeOfLabel]: namespace } },
          spec: { ...spare.spec, csi: { ...spare.spec!.csi!, volumeHandle: replacement } },
        },
      });
    },
    async restoresOf(workflowId) {
      const list = (await custom.listNamespacedCustomObject(velero('restores'))) as {
        items: { metadata: { name: string; annotations?: Record<string, string> }; status?: { phase?: string } }[];
      };
      return list.items
        .filter((r) => r.metadata.annotations?.[workflowIdAnnotation] === workflowId)
        .map((r) => ({ name: r.metadata.name, phase: r.status?.phase }));
    },
    async remove(restores, backups) {
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      for (const name of [oldVolume, replacement]) await core.deletePersistentVolume({ name }).catch(() => undefined);
      for (const name of restores) await custom.deleteNamespacedCustomObject({ ...velero('restores'), name }).catch(() => undefined);
      for (const backupName of backups)
        await custom
          .createNamespacedCustomObject({
            ...velero('deletebackuprequests'),
            body: {
              apiVersion: 'velero.io/v1',
              kind: 'DeleteBackupRequest',
              metadata: { name: `${backupName}-delete` },
              spec: { backupName },
            },
          })
          .catch(() => undefined);
    },
  };
  await until('the StatefulSet Ready on its bound claim', 90, async () =>
    (await app.readyReplicas()) === 1 &&
    (await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace })).status?.phase === 'Bound'
      ? true
      : undefined,
  );
  return app;
}

/** Starts the shipped storage-failure runbook on `app`'s claim, approved by alice, with `timeouts` (seconds). */
export function startStorageFailure(
  w: TestWorker,
  app: ClaimApp,
  workflowId: string,
  timeouts: { bindTimeoutSeconds: number; readyTimeoutSeconds: number },
): Promise<WorkflowHandle<typeof runbook>> {
  return w.client.workflow.start<typeof runbook>('runbook', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId,
    args: [
      findRunbookIn(runbooksDir, 'storage-failure', {
        cluster: 'primary',
        namespace: app.namespace,
        claim: app.claim,
        reason: 'volume lost',
        approver: 'alice',
        ...timeouts,
      }),
    ],
    workflowExecutionTimeout: '6 minutes',
  });
}
