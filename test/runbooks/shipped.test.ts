// Integration (the whole lab; a worker of its own, test clusters and a test app): every shipped runbook
// in runbooks/ runs through the interpreter and ends as its hand-written counterpart does.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectsCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { contentHash } from '../../cli/runbook-documents.js';
import { parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import { runbookWorkflowId, type ParameterValue, type RunbookInput, type RunbookReport } from '../../model/runbook/run.js';
import { resolveParameters } from '../../model/runbook/validate.js';
import { readManifest } from '../../activities/object-store/manifests.js';
import { localReportDir } from '../../activities/object-store/gameday-reports.js';
import { gameDayIdFor, gameDayReportKeys } from '../../model/gameday-layout.js';
import type { GameDayReport } from '../../model/verification.js';
import { createS3Client } from '../../worker/s3.js';
import { loadKeyRing } from '../../worker/keys.js';
import { runbookApproveUpdate, runbookReportQuery, type runbook } from '../../workflows/runbook.js';
import type { ClusterHealthReport } from '../../workflows/clusterHealth.js';
import type { FailoverReport } from '../../workflows/failover.js';
import { createTestApp, targets, type TestApp } from '../helpers/failover-app.js';
import { labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { deleteSnapshotsOf, testClusterName, withTestClusters } from '../helpers/test-cluster.js';

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const approverGroups = { sre: ['alice', 'bob'] };

/** A shipped document as `lifeboat runbook run` starts it: validated, parameters resolved, hashed. */
function inputFor(name: string, given: Record<string, ParameterValue>): RunbookInput {
  const file = `${runbooksDir}${name}.yaml`;
  const text = readFileSync(file, 'utf8');
  const parsed = parseRunbook(file, text, { blocks: runbookBlocks, approverGroups });
  if (!parsed.ok) throw new Error(`${name}: ${JSON.stringify(parsed.problems)}`);
  const params = resolveParameters(parsed.document.parameters, given);
  if (!params.ok) throw new Error(`${name}: ${params.problems.join('; ')}`);
  return {
    document: parsed.document,
    contentHash: contentHash(text),
    source: `runbooks/${name}.yaml`,
    parameters: params.values,
    startedBy: 'shipped.test',
    approverGroups,
  };
}

const [home, away] = [testClusterName('rb-home'), testClusterName('rb-away')];
let w: TestWorker;
let app: TestApp;
let gameDayApp: TestApp;
const s3 = createS3Client(labConfig());

beforeAll(async () => {
  [app, gameDayApp] = await Promise.all([createTestApp(labConfig()), createTestApp(labConfig())]);
  w = await startTestWorker((c) =>
    gameDayApp.addTo(app.addTo(withTestClusters(withTestClusters(c, [home], 'primary'), [away], 'standby'))),
  );
}, 120_000);

afterAll(async () => {
  await w?.stop();
  await Promise.all([app?.remove(), gameDayApp?.remove()]);
  await Promise.all([home, away].map((c) => deleteSnapshotsOf(s3, 'lifeboat', c)));
  s3.destroy();
}, 120_000);

function start(input: RunbookInput): Promise<WorkflowHandle<typeof runbook>> {
  return w.client.workflow.start<typeof runbook>('runbook', {
    taskQueue: w.config.temporal.taskQueue,
    workflowId: runbookWorkflowId(input.document.metadata.name, new Date(), randomBytes(3).toString('hex')),
    args: [input],
    workflowExecutionTimeout: '20 minutes',
  });
}

const states = (r: RunbookReport) => Object.fromEntries(r.steps.map((s) => [s.path, s.state]));

describe('shipped runbooks on the lab', () => {
  it('cluster-health reports what the clusterHealth workflow reports', async () => {
    const handle = await start(inputFor('cluster-health', { cluster: 'primary', other: 'standby' }));
    const report = await handle.result();
    const direct = await w.client.workflow.execute<(i: { clusters: string[] }) => Promise<ClusterHealthReport>>('clusterHealth', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `cluster-health/test-${randomBytes(3).toString('hex')}`,
      args: [{ clusters: ['primary', 'standby'] }],
    });
    expect(report).toMatchObject({
      runbook: 'cluster-health',
      status: 'succeeded',
      startedBy: 'shipped.test',
      parameters: { cluster: 'primary', other: 'standby' },
    });
    expect(states(report)).toEqual({ health: 'succeeded' });
    expect(report.steps[0]!.childWorkflowId).toBe(`${handle.workflowId}/health`);
    expect(report.steps[0]!.outputs).toEqual({ healthy: direct.healthy });
    expect(direct.healthy).toBe(true);
  }, 180_000);

  it('etcd-backup takes a snapshot and verifies that one, as etcdSnapshot then restoreVerification do', async () => {
    const handle = await start(inputFor('etcd-backup', { cluster: home }));
    const report = await handle.result();
    expect(report.status).toBe('succeeded');
    expect(states(report)).toEqual({ snapshot: 'succeeded', verify: 'succeeded' });
    const snapshotId = report.steps[0]!.outputs!.snapshotId as string;
    expect(snapshotId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{12}$/);
    const manifest = await readManifest(s3, 'lifeboat', home, snapshotId, loadKeyRing(labConfig().encryption!));
    expect(manifest.workflowId).toBe(`${handle.workflowId}/snapshot`);
    expect(manifest.status).toBe('verified');
    expect(report.steps[1]!.outputs!.rtoSeconds).toBeGreaterThan(0);
  }, 600_000);

  it('app-failover waits for an approver of group sre, then fails the app over as `failover start` does', async () => {
    const handle = await start(inputFor('app-failover', { app: app.name, from: 'primary', to: 'standby', reason: 'shipped runbook test' }));
    const waiting = async () => {
      for (;;) {
        const r = await handle.query(runbookReportQuery);
        if (r.status === 'waiting-approval') return r;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    const before = await waiting();
    expect(states(before)).toEqual({ health: 'succeeded', approve: 'waiting', failover: 'pending', serving: 'pending' });
    expect(before.steps[1]!.detail).toBe(`Fail ${app.name} over from primary to standby (shipped runbook test)?`);
    await expect(handle.executeUpdate(runbookApproveUpdate, { args: [{ approver: 'mallory' }] })).rejects.toMatchObject({
      cause: { message: "'mallory' may not approve step approve: 'mallory' is not an approver (approvers: alice, bob)" },
    });
    await handle.executeUpdate(runbookApproveUpdate, { args: [{ approver: 'alice', comment: 'go' }] });
    const report = await handle.result();
    expect(report.status).toBe('succeeded');
    expect(states(report)).toEqual({ health: 'succeeded', approve: 'succeeded', failover: 'succeeded', serving: 'skipped' });
    expect(report.approvals).toEqual([{ step: 'approve', approver: 'alice', comment: 'go', at: expect.any(String) }]);
    expect(report.steps[2]!.childWorkflowId).toBe(`failover/${app.name}`);
    const failover = (await w.client.workflow.getHandle(`failover/${app.name}`).result()) as FailoverReport;
    expect(failover).toMatchObject({ status: 'completed', approval: { approver: 'alice' } });
    expect(report.steps[2]!.outputs).toEqual({ rtoSeconds: failover.rtoSeconds });
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await app.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.standby);
  }, 600_000);

  it('quarterly-gameday, once an approver other than who started it approves, backs up and verifies both clusters and the app, fails it over and back', async () => {
    // The etcd snapshots go to the lab's own clusters here, as a real game day's do (retention keeps the newest).
    const handle = await start(inputFor('quarterly-gameday', { app: gameDayApp.name, home: 'primary', standby: 'standby' }));
    for (let r = await handle.query(runbookReportQuery); r.status !== 'waiting-approval'; r = await handle.query(runbookReportQuery))
      await new Promise((resolve) => setTimeout(resolve, 100));
    await handle.executeUpdate(runbookApproveUpdate, { args: [{ approver: 'alice' }] });
    const report = await handle.result();
    expect(report.status).toBe('succeeded');
    expect(report.approvals.map((a) => [a.step, a.approver])).toEqual([['approve', 'alice']]);
    expect(states(report)).toEqual({
      approve: 'succeeded',
      backups: 'succeeded',
      'backups.etcd-home': 'succeeded',
      'backups.etcd-standby': 'succeeded',
      'backups.velero-app': 'succeeded',
      verify: 'succeeded',
      'verify.restore-home': 'succeeded',
      'verify.restore-standby': 'succeeded',
      'verify.restore-app': 'succeeded',
      failover: 'succeeded',
      failback: 'succeeded',
      report: 'succeeded',
    });
    // The report judges what the steps returned as the gameDay workflow does, and is stored where its reports go.
    const id = gameDayIdFor(handle.workflowId);
    expect(report.steps.find((s) => s.path === 'report')!.outputs).toEqual({ passed: true, id });
    const stored = JSON.parse(
      await (await s3.send(new GetObjectCommand({ Bucket: 'lifeboat', Key: gameDayReportKeys(id).json }))).Body!.transformToString(),
    ) as GameDayReport;
    expect(stored.entries.map((e) => [e.name, e.passed, e.rtoMet, e.rpoMet])).toEqual([
      ['etcd/primary', true, true, true],
      ['etcd/standby', true, true, true],
      [`velero/${gameDayApp.name}`, true, true, true],
      [`failover/${gameDayApp.name}`, true, true, true],
    ]);
    await s3.send(
      new DeleteObjectsCommand({ Bucket: 'lifeboat', Delete: { Objects: Object.values(gameDayReportKeys(id)).map((Key) => ({ Key })) } }),
    );
    rmSync(join(localReportDir(w.config.gameDay), id), { recursive: true, force: true });
    expect(report.steps.find((s) => s.path === 'failover')!.childWorkflowId).toBe(`failover/${gameDayApp.name}`);
    expect(await gameDayApp.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await gameDayApp.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect((await gameDayApp.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
  }, 1_200_000);
});
