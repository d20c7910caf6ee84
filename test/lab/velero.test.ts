// Integration (lab: primary kube-apiserver, Velero server with the AWS plugin, MinIO): the Velero
// path later runbooks build on. A Backup of a lab namespace completes and its files land in MinIO.
import { afterAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createClients } from '../../worker/clients.js';
import { labConfig } from '../helpers/lab.js';

const clients = createClients(labConfig());
const primary = clients.clusters.get('primary')!.kubeConfig;
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
    await custom.createNamespacedCustomObject({
      group: 'velero.io', version: 'v1', namespace: 'velero', plural: 'backups',
      body: {
        apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: backupName, namespace: 'velero' },
        spec: { includedNamespaces: [namespace], snapshotVolumes: false, defaultVolumesToFsBackup: false, storageLocation: 'default', ttl: '1h0m0s' },
      },
    });
    let status: { phase?: string; progress?: { itemsBackedUp?: number } } = {};
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'].includes(status.phase ?? '')) {
      await new Promise((r) => setTimeout(r, 1000));
      status = ((await custom.getNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: 'velero', plural: 'backups', name: backupName })) as { status?: typeof status }).status ?? {};
    }
    expect(status.phase).toBe('Completed');
    expect(status.progress?.itemsBackedUp).toBeGreaterThanOrEqual(2);

    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: 'lifeboat', Prefix: `velero/primary/backups/${backupName}/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!.split('/').pop());
    expect(keys).toEqual(expect.arrayContaining([`${backupName}.tar.gz`, `${backupName}-logs.gz`, 'velero-backup.json']));
  });
});
