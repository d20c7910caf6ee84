// Integration (lab: Temporal, primary kube-apiserver, Velero server velero/primary with the AWS plugin,
// MinIO): the veleroBackup runbook end to end, its idempotent create, a Backup no Velero server picks
// up, and the `backup velero` command.
import { activityAttempts } from '../helpers/activity-attempts.js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import { createVeleroBackupActivities, readVeleroFile } from '../../activities/velero/backup.js';
import { activityDeps } from '../../activities/deps.js';
import { backupFileKey, backupNameFor, maxVeleroNameLength, workflowIdAnnotation } from '../../model/velero-layout.js';
import { veleroApi } from '../../activities/velero/backup.js';
import { createClients } from '../../worker/clients.js';
import { grantInNamespaces } from '../../lab/rbac.js';
import { adminKubeConfig, labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { veleroBackupFiles } from '../helpers/velero-files.js';

const config = labConfig();
const clients = createClients(config);
const primary = adminKubeConfig('primary');
const bucket = config.objectStore.bucket;

let w: TestWorker;
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(async () => {
  await w?.stop();
  clients.s3.destroy();
});

const newWorkflowId = (subject: string) => `velero-backup/${subject}/test-${Date.now()}-${randomBytes(3).toString('hex')}`;
const backup = (input: Parameters<typeof veleroBackup>[0], workflowId = newWorkflowId(input.app ?? input.cluster ?? 'none')) =>
  w.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId,
    args: [input],
    workflowExecutionTimeout: '5 minutes',
  });

const failureOf = async (run: Promise<unknown>) => {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  let cause: unknown = (err as WorkflowFailedError).cause;
  while ((cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
  return cause as { type?: string; message: string };
};

/** Backups on the primary that name `workflowId` as their owner. */
async function backupsOwnedBy(workflowId: string): Promise<string[]> {
  const list = (await veleroApi(primary).listNamespacedCustomObject({
    group: 'velero.io',
    version: 'v1',
    namespace: 'velero',
    plural: 'backups',
  })) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
  return list.items.filter((b) => b.metadata.annotations?.[workflowIdAnnotation] === workflowId).map((b) => b.metadata.name);
}

describe('veleroBackup of the shop app', () => {
  const workflowId = newWorkflowId('shop');
  let result: Awaited<ReturnType<typeof veleroBackup>>;
  let took: number;

  beforeAll(async () => {
    const t0 = Date.now();
    result = await backup({ app: 'shop', ttl: '2h' }, workflowId);
    took = (Date.now() - t0) / 1000;
    process.stderr.write(`[figures] veleroBackup of shop: ${took.toFixed(1)} s, ${result.itemsBackedUp} items\n`);
  });

  it('Completes, named after the workflow ID, with every item backed up', async () => {
    expect(result).toMatchObject({
      name: backupNameFor(workflowId),
      cluster: 'primary',
      veleroNamespace: 'velero',
      storageLocation: 'default',
      phase: 'Completed',
      errors: 0,
      created: true,
    });
    expect(result.name.length).toBeLessThanOrEqual(maxVeleroNameLength);
    expect(result.name).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
    expect(result.itemsBackedUp).toBe(result.totalItems);
    // No warnings, so nothing to report.
    expect({ warnings: result.warnings, steps: result.steps.map((s) => [s.name, s.state]) }).toEqual({
      warnings: 0,
      steps: [
        ['resolve', 'done'],
        ['create', 'done'],
        ['wait', 'done'],
        ['report', 'skipped'],
      ],
    });
    // The shop's declared objects, as the API serves them now: each is in the backup's item count.
    const core = primary.makeApiClient(CoreV1Api);
    const apps = primary.makeApiClient(AppsV1Api);
    const declared =
      (await apps.listNamespacedDeployment({ namespace: 'shop' })).items.length +
      (await core.listNamespacedService({ namespace: 'shop' })).items.length +
      (await core.listNamespacedConfigMap({ namespace: 'shop' })).items.length +
      (await core.listNamespacedSecret({ namespace: 'shop' })).items.length +
      1;
    expect(declared).toBe(3 + 3 + 2 + 1 + 1);
    expect(result.itemsBackedUp).toBeGreaterThan(declared);
  });

  it("stores Velero's files in MinIO; the resource list counts what the status counts", async () => {
    const prefix = `velero/primary/backups/${result.name}/`;
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const files = (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
    expect(files).toEqual(veleroBackupFiles(result.name));
    const resources = JSON.parse(
      (await readVeleroFile(clients.s3, bucket, backupFileKey('velero/primary', result.name, '-resource-list.json.gz')))!,
    ) as Record<string, string[]>;
    expect(Object.values(resources).flat().length).toBe(result.itemsBackedUp);
    expect(resources['apps/v1/Deployment']?.sort()).toEqual(['shop/cart', 'shop/catalog', 'shop/frontend']);
    expect(resources['v1/ConfigMap']?.sort()).toEqual(['shop/kube-root-ca.crt', 'shop/shop-config']);
    expect(resources['v1/Secret']).toEqual(['shop/shop-payment']);
    expect(resources['v1/Namespace']).toEqual(['shop']);
    // Nothing outside the app's namespace.
    expect(
      Object.values(resources)
        .flat()
        .filter((i) => i.includes('/') && !i.startsWith('shop/')),
    ).toEqual([]);
  });

  it('a re-run under the same workflow ID finds its Backup and creates no second one', async () => {
    const again = await backup({ app: 'shop', ttl: '2h' }, workflowId);
    expect(again).toMatchObject({ name: result.name, phase: 'Completed', created: false, startTimestamp: result.startTimestamp });
    expect(await backupsOwnedBy(workflowId)).toEqual([result.name]);
  });
});

describe('createVeleroBackup is idempotent', () => {
  const acts = createVeleroBackupActivities(activityDeps(clients, undefined));
  const spec = { includedNamespaces: ['shop'], includedResources: ['configmaps'], ttl: '1h', storageLocation: 'default' };

  it('a retried attempt returns the Backup it created; a different run is refused that name', async () => {
    const workflowId = newWorkflowId('primary');
    const name = backupNameFor(workflowId);
    const env = (id: string, attempt: number) =>
      new MockActivityEnvironment({ attempt, workflowExecution: { workflowId: id, runId: 'r1' } });
    const first: { name: string; uid: string; created: boolean } = await env(workflowId, 1).run(() =>
      acts.createVeleroBackup({ cluster: 'primary', veleroNamespace: 'velero', name, spec }),
    );
    const second = await env(workflowId, 2).run(() =>
      acts.createVeleroBackup({ cluster: 'primary', veleroNamespace: 'velero', name, spec }),
    );
    expect(first).toMatchObject({ name, created: true });
    expect(second).toEqual({ ...first, created: false });
    expect(await backupsOwnedBy(workflowId)).toEqual([name]);

    const err = await env('someone-else', 1)
      .run(() => acts.createVeleroBackup({ cluster: 'primary', veleroNamespace: 'velero', name, spec }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ type: 'VeleroNameTaken', nonRetryable: true });
    expect((err as Error).message).toBe(
      `Backup velero/${name} on cluster 'primary' already exists and belongs to workflow ${workflowId}; refusing to use it`,
    );
  });
});

describe('veleroBackup bad input', () => {
  it("an unknown app, and a cluster that is not the app's, fail without retrying", async () => {
    expect(await failureOf(backup({ app: 'nowhere' }))).toMatchObject({
      type: 'UnknownApp',
      message: "unknown app 'nowhere'; this worker knows shop",
    });
    expect(await failureOf(backup({ app: 'shop', cluster: 'standby' }))).toMatchObject({
      type: 'InvalidVeleroBackupInput',
      message: "app 'shop' runs on cluster 'primary', not 'standby'",
    });
  });
});

describe('veleroBackup that Velero refuses', () => {
  it('a storage location that does not exist: refused before Velero sees a Backup, naming the location (no Backup is created)', async () => {
    const id = newWorkflowId('nowhere');
    expect(
      await failureOf(backup({ cluster: 'primary', includeNamespaces: ['shop'], storageLocation: 'nowhere', timeoutSeconds: 60 }, id)),
    ).toMatchObject({
      type: 'VeleroLocationNotFound',
      message: "BackupStorageLocation velero/nowhere on cluster 'primary' does not exist",
    });
    expect(await backupsOwnedBy(id)).toEqual([]);
  });
});

describe('veleroBackup with no Velero server at work', () => {
  // The cluster's configured Velero namespace is one no Velero server watches (the lab's serves only
  // `velero`): from Lifeboat's side exactly a stopped Velero server, without stopping the one every
  // other suite running beside this one uses.
  const veleroNamespace = `velero-absent-${randomBytes(3).toString('hex')}`;
  let absent: TestWorker;
  beforeAll(async () => {
    await primary.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: veleroNamespace } } });
    // Lifeboat's Velero backup role in this Velero namespace too, as an operator binds it in theirs.
    await grantInNamespaces('primary', [veleroNamespace], ['lifeboat-velero-backup']);
    // Its BackupStorageLocation, as a stopped server's namespace still has.
    const bsl = (await veleroApi(primary).getNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace: 'velero',
      plural: 'backupstoragelocations',
      name: 'default',
    })) as { spec: unknown };
    await veleroApi(primary).createNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace: veleroNamespace,
      plural: 'backupstoragelocations',
      body: { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name: 'default' }, spec: bsl.spec },
    });
    absent = await startTestWorker((c) => ({
      ...c,
      clusters: c.clusters.map((cl) => (cl.name === 'primary' ? { ...cl, velero: { ...cl.velero, namespace: veleroNamespace } } : cl)),
    }));
  });
  afterAll(async () => {
    await absent?.stop();
    await primary.makeApiClient(CoreV1Api).deleteNamespace({ name: veleroNamespace });
  });

  it('waits, then fails after the timeout, saying the Backup was never picked up and Velero may not be running', async () => {
    const workflowId = newWorkflowId('primary');
    const t0 = Date.now();
    const cause = await failureOf(
      absent.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
        taskQueue: absent.config.temporal.taskQueue,
        workflowId,
        args: [{ cluster: 'primary', includeNamespaces: ['shop'], timeoutSeconds: 12 }],
      }),
    );
    const waited = (Date.now() - t0) / 1000;
    const name = backupNameFor(workflowId);
    expect(cause.type).toBe('VeleroBackupTimedOut');
    expect(cause.message).toBe(
      `Backup ${veleroNamespace}/${name} on cluster 'primary' was still New: no Velero server has picked it up after 12 s; the Velero server in namespace '${veleroNamespace}' of cluster 'primary' may not be running`,
    );
    expect(waited).toBeGreaterThanOrEqual(12);
    expect(waited).toBeLessThan(60);
    // The Backup is there, unprocessed; one attempt of the wait (non-retryable).
    const left = (await veleroApi(primary).getNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace: veleroNamespace,
      plural: 'backups',
      name,
    })) as { status?: { phase?: string } };
    expect(left.status?.phase).toBeUndefined();
    const history = await absent.client.workflow.getHandle(workflowId).fetchHistory();
    expect(activityAttempts(history).map(([, attempt]) => attempt)).toEqual([1, 1, 1]);
  }, 120_000);
});

describe('lifeboat backup velero', () => {
  it('bad input exits 2, naming the flag and what was expected, and starts nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['--cluster', 'primary', '--app', 'shop'], /--cluster or --app: expected exactly one of them, got both/],
      [[], /--cluster or --app: expected exactly one of them, got neither/],
      [['--app', 'shop', '--ttl', '3days'], /--ttl: expected a Go duration like 720h or 1h30m, got '3days'/],
      [
        ['--app', 'shop', '--timeout', '10'],
        /--timeout: expected a duration in whole seconds or more, such as 90s, 15m, 4h or 30d, got '10'/,
      ],
      [['--app', 'shop', '--selector', 'app'], /--selector: expected label pairs like app=shop,tier=web, got 'app'/],
      [
        ['--cluster', 'primary', '--include-namespaces', 'shop,Bad_NS'],
        /--include-namespaces: expected a comma-separated list of namespace names, got 'Bad_NS'/,
      ],
      [['--app', 'nowhere'], /unknown app 'nowhere'; configured apps: shop/],
      [['--cluster', 'nowhere'], /unknown cluster 'nowhere'; configured clusters: primary, standby/],
    ];
    for (const [args, message] of cases) {
      const run = await lifeboat(['backup', 'velero', ...args, '--wait'], { LIFEBOAT_TEMPORAL_ADDRESS: '127.0.0.1:1' });
      expect({ args, exitCode: run.exitCode }).toEqual({ args, exitCode: 2 });
      expect(run.stderr).toMatch(message);
    }
  }, 240_000);

  it('--wait --json backs up the app and prints the result', async () => {
    const run = await lifeboat(
      ['backup', 'velero', '--app', 'shop', '--ttl', '1h', '--include-resources', 'deployments,configmaps', '--wait', '--json'],
      { LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue },
    );
    expect(run.exitCode).toBe(0);
    const out = JSON.parse(run.stdout) as { workflowId: string; name: string; phase: string; itemsBackedUp: number };
    expect(out.workflowId).toMatch(/^velero-backup\/shop\//);
    expect(out).toMatchObject({ name: backupNameFor(out.workflowId), phase: 'Completed' });
    // The three Deployments and two ConfigMaps, nothing else.
    expect(out.itemsBackedUp).toBe(5);
  });
});
