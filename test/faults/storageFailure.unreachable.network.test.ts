// Network fault test of the storage-failure runbook (lab: toxiproxy, Temporal, kube-apiserver/primary
// with its controllers, kwok): a worker of the test's own reaches the primary's API only through a
// Toxiproxy proxy of this suite's own, black-holed before the run starts and never cleared. The run
// fails at its first step once that step's retries are spent, as RunbookStepFailed naming the step and
// the unanswered API, within a bounded time; nothing was changed (the owner at its replica, the claim
// and its volume as they were, no Restore). The shared lab paths are untouched, so the suite runs beside
// the others.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { failureTypes } from '../../model/failures.js';
import { lostClaimNameFor } from '../../model/storage-recovery.js';
import type { RunbookReport } from '../../model/runbook/run.js';
import { proxyApiServer, readDirect, startProxiedWorker, type ProxiedApiServer } from '../helpers/apiserver-proxy.js';
import type { TestWorker } from '../helpers/lab.js';
import { core, createClaimApp, startStorageFailure, type ClaimApp } from '../helpers/storage-app.js';

let api: ProxiedApiServer;
let w: TestWorker;
let app: ClaimApp;

beforeAll(async () => {
  api = await proxyApiServer('primary');
  w = await startProxiedWorker('primary', api);
  app = await createClaimApp('lb-sf-unreach');
}, 180_000);

afterAll(async () => {
  await api?.clear().catch(() => undefined);
  await w?.stop();
  await api?.remove();
  await app?.remove([], []);
}, 60_000);

describe('storage-failure with the primary API black-holed throughout', () => {
  it('fails at its first step as RunbookStepFailed naming the step and the unanswered API, within bounded time; nothing changed', async () => {
    const workflowId = `storage-failure/primary/${app.namespace}/${app.claim}/unreachable`;
    const before = { uid: await app.claimUid(), replicas: await readDirect(() => app.replicas()) };
    await api.blackhole();
    const t0 = Date.now();
    const handle = await startStorageFailure(w, app, workflowId, { bindTimeoutSeconds: 30, readyTimeoutSeconds: 30 });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    const took = Date.now() - t0;
    process.stderr.write(`[storage-failure unreachable] failed after ${took / 1000} s\n`);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = err.cause as { type?: string; message?: string; details?: unknown[] };
    expect(cause.type).toBe(failureTypes.RunbookStepFailed);
    expect(cause.message).toMatch(/^runbook storage-failure: step owner failed: .*on 'primary': .*(CONNECT_TIMEOUT|timed out|no answer)/);
    // The first step's retries (5 attempts of at most 1 minute each) bound it.
    expect(took).toBeLessThan(5 * 60_000);
    const report = cause.details?.[0] as RunbookReport;
    expect(report.status).toBe('failed');
    const state = Object.fromEntries(report.steps.map((s) => [s.id, s.state]));
    expect(state).toMatchObject({ owner: 'failed', backup: 'skipped', scale_down: 'skipped', keep: 'skipped', restore: 'skipped' });
    expect(report.steps.find((s) => s.id === 'owner')!.detail).toMatch(/on 'primary'/);

    // Nothing changed (read directly, not through the black hole).
    expect(await readDirect(() => app.replicas())).toBe(before.replicas);
    expect(await readDirect(() => app.readyReplicas())).toBe(1);
    const claim = await readDirect(() => core.readNamespacedPersistentVolumeClaim({ name: app.claim, namespace: app.namespace }));
    expect(claim.metadata?.uid).toBe(before.uid);
    expect(claim.spec?.volumeName).toBe(app.oldVolume);
    expect((await readDirect(() => core.readPersistentVolume({ name: app.oldVolume }))).spec?.claimRef?.name).toBe(app.claim);
    expect(await readDirect(() => app.restoresOf(workflowId))).toEqual([]);
    const claims = (await readDirect(() => core.listNamespacedPersistentVolumeClaim({ namespace: app.namespace }))).items.map(
      (c) => c.metadata!.name,
    );
    expect(claims).not.toContain(lostClaimNameFor(app.claim, workflowId));
  }, 420_000);
});
