// Network fault test of Velero restore verification (lab: toxiproxy, Temporal, primary and standby
// kube-apiservers, both Velero servers with the ReadOnly peer locations, MinIO): a worker of the test's
// own reaches the standby (where the app is verified) only through a Toxiproxy proxy of this suite's
// own, black-holed the moment the run's Restore appears there, for 40 s (longer than the restore wait's
// heartbeat timeout), then cleared. The verification passes on a single Restore, and its scratch
// namespace is gone afterwards. The shared lab paths are untouched, so the suite runs beside the others.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { grantInNamespaces } from '../../lab/rbac.js';
import { restoreNameFor, scratchLabel, scratchNamespaceFor, workflowIdAnnotation } from '../../model/velero-layout.js';
import type { veleroRestoreVerification } from '../../workflows/velero-verification.js';
import type { AppConfig } from '../../worker/config.js';
import {
  proxyApiServer,
  readDirect,
  startProxiedWorker,
  takeCompletedBackup,
  until,
  type ProxiedApiServer,
} from '../helpers/apiserver-proxy.js';
import { adminKubeConfig, type TestWorker } from '../helpers/lab.js';

const primaryCore = adminKubeConfig('primary').makeApiClient(CoreV1Api);
const primaryCustom = adminKubeConfig('primary').makeApiClient(CustomObjectsApi);
const standbyCore = adminKubeConfig('standby').makeApiClient(CoreV1Api);
const standbyCustom = adminKubeConfig('standby').makeApiClient(CustomObjectsApi);
const stamp = randomBytes(3).toString('hex');
const namespace = `vvf-${stamp}`;
const app: AppConfig = {
  name: `vvf-${stamp}`,
  cluster: 'primary',
  namespaces: [namespace],
  backup: { ttl: '1h' },
  verify: { cluster: 'standby', checks: [{ kind: 'configMapHash', namespace, name: 'settings' }], availableTimeout: 60 },
  objectives: { rto: 600, rpo: 3600 },
};
const velero = (plural: string) => ({ group: 'velero.io', version: 'v1', namespace: 'velero', plural });
const blackholeMs = 40_000;
let api: ProxiedApiServer;
let w: TestWorker;
let backupName = '';
const backups: string[] = [];
let restoreName = '';

beforeAll(async () => {
  api = await proxyApiServer('standby');
  w = await startProxiedWorker('standby', api, (c) => ({ ...c, apps: [...c.apps, app] }));
  await primaryCore.createNamespace({ body: { metadata: { name: namespace } } });
  await grantInNamespaces('primary', [namespace], ['lifeboat-velero-verification-source']);
  await primaryCore.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'settings' }, data: { mode: 'fault' } } });
  const backup = await takeCompletedBackup(w, `velero-backup/${app.name}/test`, { app: app.name });
  backups.push(...backup.taken);
  backupName = backup.name;
}, 240_000);
afterAll(async () => {
  await api?.clear().catch(() => undefined);
  await w?.stop();
  await api?.remove();
  await primaryCore.deleteNamespace({ name: namespace }).catch(() => undefined);
  if (restoreName) await standbyCustom.deleteNamespacedCustomObject({ ...velero('restores'), name: restoreName }).catch(() => undefined);
  for (const name of backups)
    await primaryCustom
      .createNamespacedCustomObject({
        ...velero('deletebackuprequests'),
        body: { apiVersion: 'velero.io/v1', kind: 'DeleteBackupRequest', metadata: { name: `${name}-delete` }, spec: { backupName: name } },
      })
      .catch(() => undefined);
}, 60_000);

describe('Velero restore verification with the standby API black-holed mid-restore', () => {
  it('cleared after 40 s: passes on one Restore, and the scratch namespace is gone', async () => {
    const workflowId = `restore-verification/velero/${app.name}/blackhole`;
    restoreName = restoreNameFor(workflowId);
    const t0 = Date.now();
    const handle = await w.client.workflow.start<typeof veleroRestoreVerification>('veleroRestoreVerification', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId,
      args: [{ app: app.name, backupName }],
      workflowExecutionTimeout: '8 minutes',
    });
    await until('the run’s Restore on the standby', 120, () =>
      standbyCustom.getNamespacedCustomObject({ ...velero('restores'), name: restoreName }).then(() => true),
    );
    await api.blackhole();
    await new Promise((r) => setTimeout(r, blackholeMs));
    await api.clear();
    const cleared = Date.now();
    const result = await handle.result();
    process.stderr.write(
      `[veleroVerification blackhole] run took ${(Date.now() - t0) / 1000} s, ${(Date.now() - cleared) / 1000} s after the fault\n`,
    );
    expect(Date.now() - cleared).toBeLessThan(120_000);
    expect(result).toMatchObject({ passed: true, restoredTo: 'standby', backup: { id: backupName } });
    expect(result.checks.every((c) => c.passed)).toBe(true);
    expect(result.steps.find((s) => s.name === 'cleanup')!.state).toBe('done');
    // One Restore for the run, completed.
    const restores = (await readDirect(() => standbyCustom.listNamespacedCustomObject(velero('restores')))) as {
      items: { metadata: { name: string; annotations?: Record<string, string> }; status?: { phase?: string } }[];
    };
    expect(
      restores.items
        .filter((r) => r.metadata.annotations?.[workflowIdAnnotation] === workflowId)
        .map((r) => [r.metadata.name, r.status?.phase]),
    ).toEqual([[restoreName, 'Completed']]);
    // Nothing left behind: no scratch namespace of the run (gone, or going, with nothing in it).
    const scratch = scratchNamespaceFor(workflowId, namespace);
    const left = (await readDirect(() => standbyCore.listNamespace({ labelSelector: scratchLabel }))).items.filter(
      (n) => n.metadata?.annotations?.[workflowIdAnnotation] === workflowId && !n.metadata?.deletionTimestamp,
    );
    expect(left.map((n) => n.metadata!.name)).toEqual([]);
    await until(`scratch namespace ${scratch} gone`, 60, () =>
      standbyCore.readNamespace({ name: scratch }).then(
        () => undefined,
        (err: { code?: number }) => (err.code === 404 ? true : undefined),
      ),
    );
  }, 420_000);
});
