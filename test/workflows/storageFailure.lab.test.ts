// Integration (lab: Temporal, kube-apiserver/primary with its controllers (the PV controller binds for
// real), kwok, the Velero server velero/primary with MinIO; a worker of its own): the storage-failure
// runbook on a StatefulSet's claim in a namespace of the test's own. The claim's static volume is backed
// up by the real Velero, then "lost" (its PV marked Failed, as a CSI driver's health monitor or an
// operator marks it: kwok has no kubelet and no data to corrupt); an administrator's replacement volume
// is pre-made, as the lab's volumes all are (lab/volumes.ts). Asserted: the plan (dry run) changes
// nothing; the run scales the StatefulSet to zero and back, keeps the old PV (Retain, Bound to
// <claim>-lost-<hash>), restores the claim from the right Backup through a Restore named after the run,
// binds it to the replacement volume, runs the app's data check and reports the RPO; nothing is left over
// (the Restore's resource modifier ConfigMap is gone); a re-run under the same workflow ID finds its own
// work and neither deletes the restored claim nor re-claims its volume. The data check is the app's
// configured command (apps[].dataCheck): a real process the worker runs, asking the primary's API
// through the KUBECONFIG Lifeboat gives it whether the restored claim is Bound; the plan finds the app by
// the claim's namespace, the run names it (`app`), and the re-run's explicit dataCheckUrl wins over it.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import { staticVolumeName } from '../../lab/volumes.js';
import { bin } from '../../lab/topology.js';
import { appSchema } from '../../worker/config.js';
import { claimRestoreNameFor, lostClaimNameFor } from '../../model/storage-recovery.js';
import { lostClaimAnnotation } from '../../activities/kubernetes/volumes.js';
import { workflowIdAnnotation } from '../../model/velero-layout.js';
import type { RunbookApproval, RunbookApproveRequest, RunbookInput, RunbookReport } from '../../model/runbook/run.js';
import type { runbook } from '../../workflows/runbook.js';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import { adminKubeConfig, labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import { until } from '../helpers/apiserver-proxy.js';
import { createClaimApp, type ClaimApp } from '../helpers/storage-app.js';

const kc: KubeConfig = adminKubeConfig('primary');
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const suffix = randomBytes(3).toString('hex');
const namespace = `lb-storage-${suffix}`;
const claim = 'data-db-0';
const oldVolume = staticVolumeName(namespace, claim);
const replacement = `${oldVolume}-replacement`;
const velero = (plural: string) => ({ group: 'velero.io', version: 'v1', namespace: 'velero', plural });
const dataCheckUrl = `${labConfig().objectStore.endpoint}/minio/health/live`;
/** The app that owns the namespace, with its data check: the claim is Bound (as far as the lab's volumes go, its data). */
const appName = `db-${suffix}`;
const dataCheck = {
  kind: 'command',
  command: [
    'sh',
    '-c',
    `phase=$("$KUBECTL" -n "$LIFEBOAT_NAMESPACE" get pvc ${claim} -o jsonpath='{.status.phase} {.spec.volumeName}'); echo "claim ${claim} of $LIFEBOAT_APP on $LIFEBOAT_CLUSTER: $phase"; case "$phase" in Bound*) exit 0;; *) exit 1;; esac`,
  ],
  timeout: '1m',
  env: { KUBECTL: bin.kubectl },
};
let w: TestWorker;
let app: ClaimApp;
let backupName = '';
let workflowId = '';
const restores: string[] = [];

const readyReplicas = () => app.readyReplicas();
const claimOf = (name: string) => core.readNamespacedPersistentVolumeClaim({ name, namespace });

beforeAll(async () => {
  w = await startTestWorker((c) => ({
    ...c,
    apps: [
      ...c.apps,
      appSchema.parse({ name: appName, cluster: 'primary', namespaces: [namespace], verify: { cluster: 'standby' }, dataCheck }),
    ],
  }));
  // The StatefulSet on its claim, as an operator runs one (test/helpers/storage-app.ts).
  app = await createClaimApp('lb-storage', suffix);
  // The backup the runbook must find: the real Velero, through the veleroBackup workflow.
  const status = await w.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: `velero-backup/${namespace}/test-${suffix}`,
    args: [{ cluster: 'primary', includeNamespaces: [namespace] }],
    workflowExecutionTimeout: '5 minutes',
  });
  backupName = status.name;
  expect(status.phase).toBe('Completed');
}, 240_000);

afterAll(async () => {
  await w?.stop();
  await app?.remove(restores, backupName ? [backupName] : []);
}, 120_000);

const input = (plan: boolean, extra: Record<string, string> = {}): RunbookInput => ({
  ...findRunbookIn(
    runbooksDir,
    'storage-failure',
    {
      cluster: 'primary',
      namespace,
      claim,
      reason: 'volume lost',
      bindTimeoutSeconds: 120,
      readyTimeoutSeconds: 120,
      ...extra,
    },
    { approverGroups: { sre: ['alice', 'bob'] } },
  ),
  ...(plan ? { plan: true } : {}),
});
const start = (i: RunbookInput, workflowId: string): Promise<WorkflowHandle<typeof runbook>> =>
  w.client.workflow.start<typeof runbook>('runbook', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId,
    args: [i],
    workflowExecutionTimeout: '15 minutes',
  });
const step = (r: RunbookReport, id: string) => r.steps.find((s) => s.id === id)!;

describe('storage-failure runbook on the lab', () => {
  it('plans without changing anything: the owner, the newest backup holding the claim, its RPO', async () => {
    const report = await (await start(input(true), `storage-failure/plan/${namespace}`)).result();
    expect(report.status).toBe('planned');
    expect(step(report, 'owner').outputs).toEqual({ workload: 'StatefulSet/db', replicas: 1 });
    expect(step(report, 'backup').outputs).toMatchObject({ backup: backupName, csiSnapshot: false });
    expect(step(report, 'backup').outputs!.rpoSeconds).toBeGreaterThanOrEqual(0);
    // The app is found by the claim's namespace; its command check is what will run.
    expect(step(report, 'data_check_plan').outputs).toEqual({
      app: appName,
      check: `app ${appName}'s dataCheck: command ${JSON.stringify(dataCheck.command)} with KUBECTL set (timeout 60 s)`,
    });
    expect(step(report, 'scale_down').state).toBe('planned');
    expect(step(report, 'restore').state).toBe('planned');
    expect(await readyReplicas()).toBe(1);
    expect((await claimOf(claim)).spec?.volumeName).toBe(oldVolume);
  }, 120_000);

  it('keeps the lost volume, restores the claim from the backup, binds it, scales back and checks the data', async () => {
    const oldUid = (await claimOf(claim)).metadata!.uid!;
    // The volume is lost: its PV marked Failed (the PV controller may set it back; the runbook reads what it finds).
    await core.patchPersistentVolumeStatus({
      name: oldVolume,
      body: [{ op: 'replace', path: '/status', value: { phase: 'Failed', message: 'volume lost (test)' } }],
    });
    // The administrator's replacement volume, pre-bound to the claim's name as the lab's static volumes are.
    await app.createReplacement();

    workflowId = `storage-failure/primary/${namespace}/${claim}/${suffix}`;
    restores.push(claimRestoreNameFor(workflowId));
    const handle = await start(input(false, { app: appName }), workflowId);
    const waiting = await until('the approval', 60, async () => {
      const r = await handle.query<RunbookReport>('report');
      return r.status === 'waiting-approval' ? r : undefined;
    });
    expect(step(waiting, 'approve').detail).toContain(`from backup ${backupName}`);
    expect(step(waiting, 'approve').detail).toContain(`Data check: app ${appName}'s dataCheck: command`);
    // Nothing changed before the approval.
    expect(await readyReplicas()).toBe(1);
    await handle.executeUpdate<RunbookApproval, [RunbookApproveRequest]>('approve', { args: [{ approver: 'alice' }] });
    const report = await handle.result();

    expect(report.status).toBe('succeeded');
    // Scaled to zero (from 1), then back to 1, Ready.
    expect(step(report, 'scale_down').outputs).toEqual({ from: 1, to: 0 });
    expect(step(report, 'scale_up').outputs).toEqual({ replicas: 1 });
    expect(await readyReplicas()).toBe(1);
    // The old volume: never deleted, Retain, marked, Bound to the claim that keeps it.
    const lost = lostClaimNameFor(claim, workflowId);
    const old = await core.readPersistentVolume({ name: oldVolume });
    expect(old.spec?.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(old.spec?.claimRef).toMatchObject({ namespace, name: lost });
    expect(old.metadata?.annotations).toMatchObject({ [lostClaimAnnotation]: `${namespace}/${claim}`, [workflowIdAnnotation]: workflowId });
    const kept = await claimOf(lost);
    expect(kept.spec?.volumeName).toBe(oldVolume);
    expect(kept.status?.phase).toBe('Bound');
    expect(step(report, 'keep').outputs).toEqual({ volumeKept: true, lostClaim: lost });
    // The claim: restored by this run's Restore from the backup, a new object, Bound to the replacement.
    const restored = await claimOf(claim);
    expect(restored.metadata?.uid).not.toBe(oldUid);
    expect(restored.metadata?.labels).toMatchObject({
      'velero.io/restore-name': claimRestoreNameFor(workflowId),
      'velero.io/backup-name': backupName,
    });
    expect(restored.spec?.volumeName).toBe(replacement);
    expect(restored.status?.phase).toBe('Bound');
    expect(step(report, 'bind').outputs).toEqual({ phase: 'Bound', volume: replacement });
    const restore = (await custom.getNamespacedCustomObject({ ...velero('restores'), name: claimRestoreNameFor(workflowId) })) as {
      spec: { backupName: string; includedResources: string[] };
      status: { phase: string };
    };
    expect(restore.spec.backupName).toBe(backupName);
    expect(restore.spec.includedResources).toEqual(['persistentvolumeclaims']);
    expect(restore.status.phase).toBe('Completed');
    // The app's data check ran (a real process, through the primary's API): which one, and what it said; the RPO is reported.
    expect(step(report, 'data_check').state).toBe('succeeded');
    expect(step(report, 'data_check').outputs).toMatchObject({
      passed: true,
      source: 'app',
      app: appName,
      check: `app ${appName}'s dataCheck: command ${JSON.stringify(dataCheck.command)} with KUBECTL set (timeout 60 s)`,
      output: `claim ${claim} of ${appName} on primary: Bound ${replacement}\n`,
    });
    expect(step(report, 'data_check').detail).toMatch(
      new RegExp(`^detail: passed: app ${appName}'s dataCheck: command .*, exit 0 in \\d+\\.\\d s$`),
    );
    expect(step(report, 'restore').outputs).toMatchObject({ backup: backupName, restore: claimRestoreNameFor(workflowId) });
    expect(step(report, 'restore').outputs!.rpoSeconds).toBeGreaterThanOrEqual(0);
    // Nothing left over: the resource modifier went with the restore; only the expected claims exist.
    await expect(core.readNamespacedConfigMap({ name: claimRestoreNameFor(workflowId), namespace: 'velero' })).rejects.toMatchObject({
      code: 404,
    });
    const claims = (await core.listNamespacedPersistentVolumeClaim({ namespace })).items.map((c) => c.metadata!.name).sort();
    expect(claims).toEqual([claim, lost].sort());
  }, 600_000);

  it('a re-run under the same workflow ID finds its own work: the restored claim and its volume are left as they are', async () => {
    expect(workflowId).not.toBe('');
    const before = await claimOf(claim);
    const report = await (await start(input(false, { approver: 'bob', app: appName, dataCheckUrl }), workflowId)).result();
    expect(report.status).toBe('succeeded');
    // The run's explicit URL wins over the app's configured check.
    expect(step(report, 'data_check').outputs).toMatchObject({ passed: true, source: 'parameter', app: appName });
    const after = await claimOf(claim);
    expect(after.metadata?.uid).toBe(before.metadata?.uid);
    expect(after.spec?.volumeName).toBe(replacement);
    expect((await core.readPersistentVolume({ name: replacement })).spec?.claimRef?.name).toBe(claim);
    expect((await core.readPersistentVolume({ name: oldVolume })).spec?.claimRef?.name).toBe(lostClaimNameFor(claim, workflowId));
    expect(await readyReplicas()).toBe(1);
  }, 300_000);
});
