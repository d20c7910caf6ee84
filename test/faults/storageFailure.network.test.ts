// Network fault test of the storage-failure runbook (lab: toxiproxy, Temporal, kube-apiserver/primary
// with its controllers (the PV controller binds for real), kwok, the Velero server velero/primary with
// MinIO): a worker of the test's own reaches the primary's API only through a Toxiproxy proxy of this
// suite's own, black-holed once the owner is at zero and the run waits for the restored claim to bind,
// for longer than an attempt of that wait may go without a heartbeat (30 s), and cleared well before the
// step's deadline. The wait rides the outage out in its first attempt, and the run completes: the claim
// restored once (one Velero Restore for the run), the owner back at its replica, the old volume kept,
// nothing left over. The shared lab paths are untouched,
// so the suite runs beside the others.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { lostClaimAnnotation } from '../../activities/kubernetes/volumes.js';
import { claimRestoreNameFor, lostClaimNameFor } from '../../model/storage-recovery.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { activityAttempts } from '../helpers/activity-attempts.js';
import {
  proxyApiServer,
  readDirect,
  startProxiedWorker,
  takeCompletedBackup,
  until,
  type ProxiedApiServer,
} from '../helpers/apiserver-proxy.js';
import type { TestWorker } from '../helpers/lab.js';
import { core, createClaimApp, startStorageFailure, type ClaimApp } from '../helpers/storage-app.js';

/** How long the API stays black-holed: more than the bind wait's heartbeat timeout (30 s). */
const blackholeMs = 40_000;
const bindTimeoutSeconds = 150;
let api: ProxiedApiServer;
let w: TestWorker;
let app: ClaimApp;
let backupName = '';
const backups: string[] = [];
const restores: string[] = [];

beforeAll(async () => {
  api = await proxyApiServer('primary');
  w = await startProxiedWorker('primary', api);
  app = await createClaimApp('lb-sf-fault');
  // The backup the runbook finds: the real Velero, through the veleroBackup workflow (no fault yet).
  const backup = await takeCompletedBackup(w, `velero-backup/${app.namespace}/test`, {
    cluster: 'primary',
    includeNamespaces: [app.namespace],
  });
  backups.push(...backup.taken);
  backupName = backup.name;
}, 180_000);

afterAll(async () => {
  await api?.clear().catch(() => undefined);
  await w?.stop();
  await api?.remove();
  await app?.remove(restores, backups);
}, 60_000);

const step = (r: RunbookReport, id: string) => r.steps.find((s) => s.id === id)!;

describe('storage-failure with the primary API black-holed', () => {
  it('during the wait for the restored claim to bind, past an attempt, cleared before the deadline: completes, one Restore, owner back, old volume kept', async () => {
    const workflowId = `storage-failure/primary/${app.namespace}/${app.claim}/blackhole`;
    restores.push(claimRestoreNameFor(workflowId));
    const oldUid = await app.claimUid();
    await core.patchPersistentVolumeStatus({
      name: app.oldVolume,
      body: [{ op: 'replace', path: '/status', value: { phase: 'Failed', message: 'volume lost (test)' } }],
    });
    const t0 = Date.now();
    const handle = await startStorageFailure(w, app, workflowId, { bindTimeoutSeconds, readyTimeoutSeconds: 120 });
    // No volume for the restored claim yet: it stays Pending, and the bind wait polls the API.
    const reached = await until('the bind wait', 120, async () => {
      const r = await handle.query<RunbookReport>('report');
      if (r.status !== 'running') return `the run is ${r.status}: ${r.failure}`;
      return step(r, 'bind').state === 'running' ? 'bind' : undefined;
    });
    expect(reached).toBe('bind');
    expect(await readDirect(() => app.replicas())).toBe(0);
    await api.blackhole();
    const holed = Date.now();
    // The volume arrives while the worker cannot see it: the PV controller binds the claim meanwhile.
    await app.createReplacement();
    await new Promise((r) => setTimeout(r, blackholeMs));
    await api.clear();
    const cleared = Date.now();

    const report = await handle.result();
    expect(report.status).toBe('succeeded');
    // Bounded: done soon after the fault is gone, well within the bind deadline.
    expect(Date.now() - cleared).toBeLessThan(90_000);
    expect(Date.now() - holed).toBeLessThan(bindTimeoutSeconds * 1000);
    process.stderr.write(`[storage-failure blackhole] run took ${(Date.now() - t0) / 1000} s\n`);

    // The bind wait was inside the fault from its start to its end, longer than its heartbeat timeout,
    // and rode it out in its first attempt (each read bounded, the heartbeat going on); every step ran once.
    const bindStep = step(report, 'bind');
    expect(Date.parse(bindStep.startedAt!)).toBeLessThan(holed);
    expect(Date.parse(bindStep.finishedAt!)).toBeGreaterThan(cleared);
    const attempts = activityAttempts(await handle.fetchHistory());
    for (const type of ['scaleWorkload', 'keepLostClaim', 'restoreClaim', 'waitClaimBound'])
      expect(attempts.filter(([t]) => t === type).every(([, attempt]) => attempt === 1)).toBe(true);
    expect(attempts.filter(([type]) => type === 'restoreClaim')).toEqual([['restoreClaim', 1]]);

    // Restored exactly once: one Restore for the run, completed, and the claim is its work.
    expect(await readDirect(() => app.restoresOf(workflowId))).toEqual([{ name: claimRestoreNameFor(workflowId), phase: 'Completed' }]);
    const restored = await readDirect(() => core.readNamespacedPersistentVolumeClaim({ name: app.claim, namespace: app.namespace }));
    expect(restored.metadata?.uid).not.toBe(oldUid);
    expect(restored.metadata?.labels).toMatchObject({
      'velero.io/restore-name': claimRestoreNameFor(workflowId),
      'velero.io/backup-name': backupName,
    });
    expect(restored.spec?.volumeName).toBe(app.replacement);
    expect(step(report, 'bind').outputs).toEqual({ phase: 'Bound', volume: app.replacement });
    // The owner is back at its replica, Ready.
    expect(step(report, 'scale_up').outputs).toEqual({ replicas: 1 });
    expect(await readDirect(() => app.replicas())).toBe(1);
    expect(await readDirect(() => app.readyReplicas())).toBe(1);
    // The old volume is kept: Retain, bound to the claim that keeps it.
    const lost = lostClaimNameFor(app.claim, workflowId);
    const old = await readDirect(() => core.readPersistentVolume({ name: app.oldVolume }));
    expect(old.spec?.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(old.spec?.claimRef).toMatchObject({ namespace: app.namespace, name: lost });
    expect(old.metadata?.annotations).toMatchObject({ [lostClaimAnnotation]: `${app.namespace}/${app.claim}` });
    // Nothing left over: the Restore's resource modifier is gone; only the two claims exist.
    await expect(core.readNamespacedConfigMap({ name: claimRestoreNameFor(workflowId), namespace: 'velero' })).rejects.toMatchObject({
      code: 404,
    });
    const claims = (await readDirect(() => core.listNamespacedPersistentVolumeClaim({ namespace: app.namespace }))).items
      .map((c) => c.metadata!.name)
      .sort();
    expect(claims).toEqual([app.claim, lost].sort());
  }, 420_000);
});
