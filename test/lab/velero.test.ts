// Integration (lab: primary kube-apiserver, Velero server with the AWS plugin, MinIO): the Velero
// path later runbooks build on. A Backup of a lab namespace completes and its files land in MinIO.
import { afterAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readVeleroFile } from '../../activities/velero/backup.js';
import { backupFileKey } from '../../model/velero-layout.js';
import { veleroBackupFiles } from '../helpers/velero-files.js';
import { createClients } from '../../worker/clients.js';
import { adminKubeConfig, labConfig } from '../helpers/lab.js';

const clients = createClients(labConfig());
const primary = adminKubeConfig('primary');
const core = primary.makeApiClient(CoreV1Api);
const custom = primary.makeApiClient(CustomObjectsApi);
const stamp = Date.now();
const namespace = `velero-probe-${stamp}`;
const backupName = `lab-probe-${stamp}`;

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  clients.s3.destroy();
});

describe('Velero in the lab', () => {
  it('backs up a namespace to Completed, and the backup files appear in MinIO', async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'settings' }, data: { mode: 'probe' } } });
    // kube-controller-manager adds the default ServiceAccount and the root CA ConfigMap to a new
    // namespace; wait for both, so that what the backup holds is known exactly.
    const exists = (read: () => Promise<unknown>) =>
      read().then(
        () => true,
        () => false,
      );
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      if (
        (await exists(() => core.readNamespacedServiceAccount({ namespace, name: 'default' }))) &&
        (await exists(() => core.readNamespacedConfigMap({ namespace, name: 'kube-root-ca.crt' })))
      )
        break;
    }
    await custom.createNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace: 'velero',
      plural: 'backups',
      body: {
        apiVersion: 'velero.io/v1',
        kind: 'Backup',
        metadata: { name: backupName, namespace: 'velero' },
        spec: {
          includedNamespaces: [namespace],
          snapshotVolumes: false,
          defaultVolumesToFsBackup: false,
          storageLocation: 'default',
          ttl: '1h0m0s',
        },
      },
    });
    let status: { phase?: string; progress?: { itemsBackedUp?: number } } = {};
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'].includes(status.phase ?? '')) {
      await new Promise((r) => setTimeout(r, 1000));
      status =
        (
          (await custom.getNamespacedCustomObject({
            group: 'velero.io',
            version: 'v1',
            namespace: 'velero',
            plural: 'backups',
            name: backupName,
          })) as { status?: typeof status }
        ).status ?? {};
    }
    expect(status.phase).toBe('Completed');
    // The namespace, its two ConfigMaps and its ServiceAccount: in the count and in the resource list.
    expect(status.progress?.itemsBackedUp).toBe(4);
    const resources = JSON.parse(
      (await readVeleroFile(clients.s3, 'lifeboat', backupFileKey('velero/primary', backupName, '-resource-list.json.gz')))!,
    ) as Record<string, string[]>;
    expect(Object.fromEntries(Object.entries(resources).map(([kind, items]) => [kind, [...items].sort()]))).toEqual({
      'v1/ConfigMap': [`${namespace}/kube-root-ca.crt`, `${namespace}/settings`],
      'v1/Namespace': [namespace],
      'v1/ServiceAccount': [`${namespace}/default`],
    });

    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: 'lifeboat', Prefix: `velero/primary/backups/${backupName}/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!.split('/').pop()).sort();
    expect(keys).toEqual(veleroBackupFiles(backupName));
  });
});
