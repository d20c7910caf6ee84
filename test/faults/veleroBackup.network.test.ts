// Network fault test of the veleroBackup runbook (lab: toxiproxy, Temporal, kube-apiserver/primary, the
// Velero server velero/primary with MinIO): a worker of the test's own reaches the primary's API only
// through a Toxiproxy proxy of this suite's own, black-holed when the run starts and cleared 35 s later.
// The run completes with one Backup for the run, Completed. The shared lab paths are untouched (Velero
// itself talks to its API server direct), so the suite runs beside the others.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { backupNameFor, workflowIdAnnotation } from '../../model/velero-layout.js';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import { activityAttempts } from '../helpers/activity-attempts.js';
import { proxyApiServer, startProxiedWorker, type ProxiedApiServer } from '../helpers/apiserver-proxy.js';
import { adminKubeConfig, type TestWorker } from '../helpers/lab.js';

const kc = adminKubeConfig('primary');
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const namespace = `lb-vb-fault-${randomBytes(3).toString('hex')}`;
const backups = { group: 'velero.io', version: 'v1', namespace: 'velero', plural: 'backups' };
const blackholeMs = 35_000;
let api: ProxiedApiServer;
let w: TestWorker;
let backupName = '';

beforeAll(async () => {
  api = await proxyApiServer('primary');
  w = await startProxiedWorker('primary', api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'settings' }, data: { colour: 'blue' } } });
}, 60_000);
afterAll(async () => {
  await api?.clear().catch(() => undefined);
  await w?.stop();
  await api?.remove();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  if (backupName)
    await custom
      .createNamespacedCustomObject({
        ...backups,
        plural: 'deletebackuprequests',
        body: { apiVersion: 'velero.io/v1', kind: 'DeleteBackupRequest', metadata: { name: `${backupName}-delete` }, spec: { backupName } },
      })
      .catch(() => undefined);
}, 60_000);

describe('veleroBackup with the primary API black-holed', () => {
  it('from the start for 35 s: completes once the API answers, with one Backup for the run', async () => {
    const workflowId = `velero-backup/${namespace}/blackhole`;
    backupName = backupNameFor(workflowId);
    await api.blackhole();
    const t0 = Date.now();
    const handle = await w.client.workflow.start<typeof veleroBackup>('veleroBackup', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId,
      // ConfigMaps only: Velero then never lists a kind another suite's CRD adds or removes meanwhile
      // (which it would finish as PartiallyFailed).
      args: [{ cluster: 'primary', includeNamespaces: [namespace], includeResources: ['configmaps'], timeoutSeconds: 180 }],
      workflowExecutionTimeout: '5 minutes',
    });
    await new Promise((r) => setTimeout(r, blackholeMs));
    // Nothing reached the API meanwhile.
    await expect(custom.getNamespacedCustomObject({ ...backups, name: backupName })).rejects.toMatchObject({ code: 404 });
    await api.clear();
    const cleared = Date.now();
    const result = await handle.result();
    process.stderr.write(
      `[veleroBackup blackhole] run took ${(Date.now() - t0) / 1000} s, ${(Date.now() - cleared) / 1000} s after the fault\n`,
    );
    expect(Date.now() - cleared).toBeLessThan(90_000);
    expect(result).toMatchObject({ name: backupName, phase: 'Completed', created: true, errors: 0 });
    // The create was retried through the fault; one Backup for the run exists.
    const attempts = activityAttempts(await handle.fetchHistory());
    expect(attempts.filter(([type]) => type === 'createVeleroBackup')).toHaveLength(1);
    expect(attempts.find(([type]) => type === 'createVeleroBackup')![1]).toBeGreaterThan(1);
    const list = (await custom.listNamespacedCustomObject(backups)) as {
      items: { metadata: { name: string; annotations?: Record<string, string> }; status?: { phase?: string } }[];
    };
    const ours = list.items.filter((b) => b.metadata.annotations?.[workflowIdAnnotation] === workflowId);
    expect(ours.map((b) => [b.metadata.name, b.status?.phase])).toEqual([[backupName, 'Completed']]);
  }, 240_000);
});
