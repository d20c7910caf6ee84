// Integration (lab: Temporal, primary and standby kube-apiservers with kwok Nodes, both Velero servers
// with the AWS plugin and the ReadOnly peer locations, MinIO): Velero restore verification of the shop
// app passes and leaves nothing behind; a changed source ConfigMap fails it precisely, and still leaves
// nothing behind; kill -9 of the worker mid-verification, restarted, completes it.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import type { ApplicationFailure } from '@temporalio/common';
import { CoreV1Api } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import type { veleroRestoreVerification } from '../../workflows/velero-verification.js';
import type { VerificationResult } from '../../model/verification.js';
import { restoreNameFor, scratchLabel, scratchNamespaceFor, workflowIdAnnotation } from '../../model/velero-layout.js';
import { veleroApi } from '../../activities/velero/backup.js';
import type { AppConfig } from '../../worker/config.js';
import { labConfigFile } from '../../lab/topology.js';
import { createClients } from '../../worker/clients.js';
import { grantInNamespaces } from '../../lab/rbac.js';
import { retriedActivities } from '../helpers/activity-attempts.js';
import { adminKubeConfig, cliPath, labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { failureTypes } from '../../model/failures.js';

const config = labConfig();
const clients = createClients(config);
const primaryCore = adminKubeConfig('primary').makeApiClient(CoreV1Api);
const standby = adminKubeConfig('standby');
const standbyCore = standby.makeApiClient(CoreV1Api);
const stamp = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/** The test's own app: one ConfigMap in a namespace of its own on the primary, verified on the standby. */
const cmNamespace = `vv-cm-${stamp}`;
const cmApp: AppConfig = {
  name: 'cmcheck',
  cluster: 'primary',
  namespaces: [cmNamespace],
  backup: { ttl: '1h' },
  verify: { cluster: 'standby', checks: [{ kind: 'configMapHash', namespace: cmNamespace, name: 'settings' }], availableTimeout: 60 },
  objectives: { rto: 600, rpo: 3600 },
};

let w: TestWorker;
beforeAll(async () => {
  w = await startTestWorker((c) => ({ ...c, apps: [...c.apps, cmApp] }));
});
afterAll(async () => {
  await w?.stop();
  await primaryCore.deleteNamespace({ name: cmNamespace }).catch(() => undefined);
  clients.s3.destroy();
});

const takeBackup = (app: string) =>
  w.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `velero-backup/${app}/test-${stamp}-${randomBytes(3).toString('hex')}`,
    args: [{ app, ttl: '2h' }],
    workflowExecutionTimeout: '5 minutes',
  });
const verificationId = (app: string) => `restore-verification/velero/${app}/test-${Date.now()}-${randomBytes(3).toString('hex')}`;

/** Scratch namespaces of this verification run still on the standby (other suites' runs may have their own). */
async function scratchLeft(workflowId: string): Promise<string[]> {
  return (await standbyCore.listNamespace({ labelSelector: scratchLabel })).items
    .filter((n) => n.metadata?.annotations?.[workflowIdAnnotation] === workflowId)
    .map((n) => n.metadata!.name!);
}
async function namespaceGone(name: string): Promise<boolean> {
  return standbyCore.readNamespace({ name }).then(
    () => false,
    (err: { code?: number }) => err.code === 404,
  );
}

describe('veleroRestoreVerification of the shop app', () => {
  let backupName: string;
  let result: VerificationResult;
  let workflowId: string;
  let took: number;

  beforeAll(async () => {
    backupName = (await takeBackup('shop')).name;
    workflowId = verificationId('shop');
    const t0 = Date.now();
    result = await w.client.workflow.execute<typeof veleroRestoreVerification>('veleroRestoreVerification', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId,
      args: [{ app: 'shop' }],
      workflowExecutionTimeout: '10 minutes',
    });
    took = (Date.now() - t0) / 1000;
    process.stderr.write(
      `[figures] veleroRestoreVerification of shop: ${took.toFixed(1)} s, rto ${result.rtoSeconds.toFixed(1)} s, rpo ${result.rpoSeconds.toFixed(1)} s, steps ${result.steps.map((s) => `${s.name} ${((Date.parse(s.finishedAt ?? '') - Date.parse(s.startedAt ?? '')) / 1000).toFixed(1)}s`).join(', ')}\n`,
    );
  }, 600_000);

  it('passes every check on the newest backup, restored into a scratch namespace on the standby', () => {
    expect(result).toMatchObject({
      kind: 'velero',
      subject: 'shop',
      sourceCluster: 'primary',
      restoredTo: 'standby',
      passed: true,
      workflowId,
    });
    expect(result.failureReason).toBeUndefined();
    expect(result.backup.id).toBe(backupName);
    expect(result.backup.location).toBe(`s3://lifeboat/velero/primary/backups/${backupName}/`);
    expect(result.backup.sizeBytes).toBeGreaterThan(1000);
    expect(result.backup.items).toBeGreaterThan(20);
    const byName = Object.fromEntries(result.checks.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(
      [
        'available:' + `${scratchNamespaceFor(workflowId, 'shop')}/cart`,
        `available:${scratchNamespaceFor(workflowId, 'shop')}/catalog`,
        `available:${scratchNamespaceFor(workflowId, 'shop')}/frontend`,
        'configMapHash:shop/shop-config',
        'readyReplicas:shop/frontend',
        'restore-phase',
        'restored-objects',
      ].sort(),
    );
    expect(result.checks.every((c) => c.passed)).toBe(true);
    expect(byName['restore-phase']!.detail).toMatch(new RegExp(`^Restore ${restoreNameFor(workflowId)} Completed: `));
    expect(byName['restored-objects']!.detail).toMatch(
      /^all \d+ objects of the backup's resource list exist \(not expected: .*v1\/Pod.*apps\/v1\/ReplicaSet/,
    );
    expect(byName['readyReplicas:shop/frontend']!.detail).toMatch(/^2 ready replicas in lb-verify-shop-.*, at least the 2 required$/);
    expect(byName['configMapHash:shop/shop-config']!.detail).toBe("restored data matches the source's");
  });

  it('records every step with timestamps, and RTO, RPO and the objectives', () => {
    expect(result.steps.map((s) => [s.name, s.state])).toEqual(
      ['plan', 'find-backup', 'sync', 'backup-files', 'scratch', 'restore', 'restored-objects', 'available', 'app-checks', 'cleanup'].map(
        (n) => [n, 'done'],
      ),
    );
    for (const s of result.steps) expect(Date.parse(s.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(s.startedAt!));
    expect(result.rtoSeconds).toBeGreaterThan(0);
    expect(result.rtoSeconds).toBeLessThanOrEqual((Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000);
    // The backup was taken just before: its age at the start is small and positive.
    expect(result.rpoSeconds).toBeGreaterThan(0);
    expect(result.rpoSeconds).toBeLessThan(300);
    expect(result.objectives).toEqual({ rtoSeconds: 600, rpoSeconds: 86400 });
  });

  it('restored the declared objects, not Pods or ReplicaSets, and deleted the scratch namespace', async () => {
    expect(await namespaceGone(scratchNamespaceFor(workflowId, 'shop'))).toBe(true);
    expect(await scratchLeft(workflowId)).toEqual([]);
    const restore = (await veleroApi(standby).getNamespacedCustomObject({
      group: 'velero.io',
      version: 'v1',
      namespace: 'velero',
      plural: 'restores',
      name: restoreNameFor(workflowId),
    })) as { spec: { excludedResources: string[]; namespaceMapping: Record<string, string> } };
    // Lifeboat's exclusions first; Velero appends the kinds it never restores.
    expect(restore.spec.excludedResources.slice(0, 4)).toEqual([
      'pods',
      'replicasets.apps',
      'endpoints',
      'endpointslices.discovery.k8s.io',
    ]);
    expect(restore.spec.namespaceMapping).toEqual({ shop: scratchNamespaceFor(workflowId, 'shop') });
    expect(scratchNamespaceFor(workflowId, 'shop').length).toBeLessThanOrEqual(63);
  });
});

describe('veleroRestoreVerification with a failing check', () => {
  it('a source ConfigMap changed after the backup fails configMapHash precisely, and the scratch namespace is still deleted', async () => {
    await primaryCore.createNamespace({ body: { metadata: { name: cmNamespace } } });
    // The app's live ConfigMaps, which the check compares, are Lifeboat's to read as in any app namespace.
    await grantInNamespaces('primary', [cmNamespace], ['lifeboat-velero-verification-source']);
    await primaryCore.createNamespacedConfigMap({
      namespace: cmNamespace,
      body: { metadata: { name: 'settings' }, data: { mode: 'before' } },
    });
    const taken = await takeBackup('cmcheck');
    expect(taken.phase).toBe('Completed');
    await primaryCore.replaceNamespacedConfigMap({
      name: 'settings',
      namespace: cmNamespace,
      body: { metadata: { name: 'settings' }, data: { mode: 'after' } },
    });

    const workflowId = verificationId('cmcheck');
    const err = await w.client.workflow
      .execute<typeof veleroRestoreVerification>('veleroRestoreVerification', {
        taskQueue: w.config.temporal.taskQueue,
        workflowId,
        args: [{ app: 'cmcheck', backupName: taken.name }],
        workflowExecutionTimeout: '10 minutes',
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(failureTypes.VerificationFailed);
    const scratch = scratchNamespaceFor(workflowId, cmNamespace);
    expect(cause.message).toMatch(
      new RegExp(
        `^configMapHash:${cmNamespace}/settings: restored ConfigMap ${scratch}/settings differs from the source ${cmNamespace}/settings on 'primary' in key mode \\(changed since the backup\\?\\)$`,
      ),
    );
    const result = cause.details![0] as VerificationResult;
    expect(result).toMatchObject({ passed: false, failureReason: cause.message, subject: 'cmcheck', backup: { id: taken.name } });
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual([`configMapHash:${cmNamespace}/settings`]);
    expect(result.checks.find((c) => c.name === 'restore-phase')!.passed).toBe(true);
    expect(result.steps.find((s) => s.name === 'cleanup')!.state).toBe('done');
    expect(await namespaceGone(scratch)).toBe(true);
    expect(await scratchLeft(workflowId)).toEqual([]);
  }, 600_000);
});

describe('veleroRestoreVerification under faults', () => {
  let client: LifeboatClient;
  beforeAll(async () => {
    client = await temporalClient(config);
  });
  afterAll(async () => {
    await client?.connection.close();
  });

  /** Resolves with the activity that was running (started on a worker) once the restore has begun: the scratch namespace exists then. */
  async function untilRestoring(handle: WorkflowHandle): Promise<string> {
    const started = 2; // PENDING_ACTIVITY_STATE_STARTED
    const restoring = ['waitForVeleroRestore', 'checkRestoredObjects', 'waitForDeploymentsAvailable'];
    for (;;) {
      const { raw, status } = await handle.describe();
      if (status.name !== 'RUNNING') throw new Error(`the verification ended (${status.name}) before the kill`);
      const running = raw.pendingActivities?.find((a) => Number(a.state) === started && restoring.includes(a.activityType?.name ?? ''));
      if (running) return running.activityType!.name!;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('kill -9 of the worker mid-verification: a restarted worker completes it and no scratch namespace is left', async () => {
    const taskQueue = `test-kill-${randomUUID()}`;
    const startWorker = (): ResultPromise =>
      execa(process.execPath, [cliPath, 'worker'], {
        env: { LIFEBOAT_CONFIG: labConfigFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue, LIFEBOAT_METRICS_PORT: '0' },
        reject: false,
      });
    let worker = startWorker();
    // The backup this test verifies is its own, named: not whichever another test left newest.
    const backupName = (await takeBackup('shop')).name;
    const workflowId = verificationId('shop');
    const handle = await client.workflow.start<typeof veleroRestoreVerification>('veleroRestoreVerification', {
      taskQueue,
      workflowId,
      args: [{ app: 'shop', backupName }],
      workflowExecutionTimeout: '10 minutes',
    });
    const killedIn = await untilRestoring(handle);
    worker.kill('SIGKILL');
    await worker;
    // Killed mid-run: the scratch namespace is there, nobody is cleaning it up.
    expect(await namespaceGone(scratchNamespaceFor(workflowId, 'shop'))).toBe(false);

    worker = startWorker();
    try {
      const result = await handle.result();
      process.stderr.write(
        `[figures] killed in activity ${killedIn}; verification completed after restart, rto ${result.rtoSeconds.toFixed(1)} s\n`,
      );
      expect(result.passed).toBe(true);
      expect(result.backup.id).toBe(backupName);
      const scratch = scratchNamespaceFor(workflowId, 'shop');
      expect(result.checks.map((c) => [c.name, c.passed]).sort()).toEqual(
        [
          `available:${scratch}/cart`,
          `available:${scratch}/catalog`,
          `available:${scratch}/frontend`,
          'configMapHash:shop/shop-config',
          'readyReplicas:shop/frontend',
          'restore-phase',
          'restored-objects',
        ]
          .sort()
          .map((name) => [name, true]),
      );
      expect(result.steps.map((s) => [s.name, s.state])).toEqual(
        ['plan', 'find-backup', 'sync', 'backup-files', 'scratch', 'restore', 'restored-objects', 'available', 'app-checks', 'cleanup'].map(
          (n) => [n, 'done'],
        ),
      );
      // The killed activity ran exactly once more (its second attempt completed); every other activity once.
      expect(retriedActivities(await handle.fetchHistory())).toEqual([[killedIn, 2]]);
      // One Restore, the run's own.
      const restores = (await veleroApi(standby).listNamespacedCustomObject({
        group: 'velero.io',
        version: 'v1',
        namespace: 'velero',
        plural: 'restores',
      })) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
      expect(
        restores.items.filter((r) => r.metadata.annotations?.[workflowIdAnnotation] === workflowId).map((r) => r.metadata.name),
      ).toEqual([restoreNameFor(workflowId)]);
      expect(await namespaceGone(scratchNamespaceFor(workflowId, 'shop'))).toBe(true);
      expect(await scratchLeft(workflowId)).toEqual([]);
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  }, 600_000);
});
