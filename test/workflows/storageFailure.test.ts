// The storage-failure runbook's logic (runbooks/storage-failure.yaml) on Temporal's time-skipping test
// server: the real interpreter from the built bundle, the shipped document as the CLI validates it,
// stubbed activities that record every call (test/helpers/time-skipping.ts). The activities themselves
// run against the lab in test/workflows/storageFailure.lab.test.ts.
// Covered: the order of the steps and what each is given; the owner scaled back to the replicas it had
// when a step before the old claim is deleted fails (the saga, newest first); a failure after it leaves
// the owner at zero (it would come back on an empty volume); the document's and parameters' problems
// named by file, line and field.
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { carriedDetails } from '../../model/failure-chain.js';
import { failureTypes } from '../../model/failures.js';
import { parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import { resolveParameters } from '../../model/runbook/validate.js';
import type { ParameterValue, RunbookApproval, RunbookApproveRequest, RunbookInput, RunbookReport } from '../../model/runbook/run.js';
import type { ClaimBackup } from '../../activities/velero/claim-restore.js';
import { findRunbookIn } from '../helpers/runbooks.js';
import type { runbook } from '../../workflows/runbook.js';
import { useTimeSkippingEnvironment, recorded, withStubbedWorker, type StubCall } from '../helpers/time-skipping.js';
import { readFileSync } from 'node:fs';

const env = useTimeSkippingEnvironment();

const runbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));
const approverGroups = { sre: ['bob', 'carol'] };
const params = { cluster: 'primary', namespace: 'ledger', claim: 'data-db-0', reason: 'volume lost' };
const inputFor = (given: Record<string, ParameterValue>): RunbookInput =>
  findRunbookIn(runbooksDir, 'storage-failure', given, { approverGroups });

const found: ClaimBackup = {
  cluster: 'primary',
  namespace: 'ledger',
  claim: 'data-db-0',
  claimUid: 'uid-old',
  volume: 'lab-ledger-data-db-0',
  volumePhase: 'Failed',
  storageClassName: 'lab-static',
  labels: { app: 'db' },
  backup: 'lb-nightly',
  startTimestamp: '2026-12-02T09:00:00Z',
  rpoSeconds: 3600,
  csiSnapshot: false,
  podVolumeBackups: 0,
  dataFrom: 'nothing',
  backupsSearched: ['lb-nightly'],
  restoreName: 'lb-claim-x',
  lostClaim: 'data-db-0-lost-0123abcd',
};

const healthy = () => ({
  claimOwner: () => Promise.resolve({ kind: 'StatefulSet', name: 'db', replicas: 3 }),
  findClaimBackup: () => Promise.resolve(found),
  scaleWorkload: (i: { replicas: number }) =>
    Promise.resolve({ workload: 'StatefulSet ledger/db', previous: 3, replicas: i.replicas, changed: true }),
  keepLostClaim: () =>
    Promise.resolve({
      volumeKept: true,
      volume: found.volume,
      lostClaim: found.lostClaim,
      lostClaimPhase: 'Bound',
      oldClaim: { uid: 'uid-old', accessModes: [] },
    }),
  restoreClaim: () =>
    Promise.resolve({
      restore: 'lb-claim-x',
      backup: 'lb-nightly',
      phase: 'Completed',
      warnings: [],
      claimUid: 'uid-new',
      restoredFromSnapshot: false,
    }),
  waitClaimBound: () =>
    Promise.resolve({
      claim: 'ledger/data-db-0',
      phase: 'Bound',
      volume: 'lab-ledger-data-db-0-replacement',
      seconds: 1,
      waitsForFirstConsumer: false,
    }),
  resolveDataCheck: (i: { app?: string; url?: string }) =>
    Promise.resolve(
      i.url
        ? { kind: 'http', source: 'parameter', app: i.app ?? '', check: `the run's dataCheckUrl: GET ${i.url} (timeout 10 s)`, detail: '' }
        : {
            kind: 'none',
            source: 'none',
            app: '',
            check: 'none (no configured app runs in namespace ledger on cluster primary)',
            detail: '',
          },
    ),
  runDataCheck: (i: { url: string }) =>
    Promise.resolve({
      kind: 'http',
      source: 'parameter',
      app: '',
      check: `the run's dataCheckUrl: GET ${i.url} (timeout 10 s)`,
      detail: 'passed',
      passed: true,
      output: 'ok',
      outputBytes: 2,
      milliseconds: 3,
      status: 200,
    }),
});

const activitiesOf = (calls: StubCall[]) =>
  calls.map((c) => (c.activity === 'scaleWorkload' ? `scaleWorkload(${String(c.input.replicas)})` : c.activity));
const stepsOf = (r: RunbookReport) => r.steps.map((s) => `${s.path} ${s.state}`);

async function runOf(
  taskQueue: string,
  input: RunbookInput,
  during: (h: WorkflowHandle<typeof runbook>) => Promise<void> = () => Promise.resolve(),
) {
  const handle = await env.client.workflow.start<typeof runbook>('runbook', {
    taskQueue,
    workflowId: `storage-failure/primary/ledger/data-db-0/${randomUUID().slice(0, 8)}`,
    args: [input],
  });
  await during(handle);
  return handle.result().then(
    (r) => r,
    (err: unknown) =>
      carriedDetails<RunbookReport>(err, ({ detail }) => typeof detail === 'object' && detail !== null && 'steps' in detail)!,
  );
}
const until = async (handle: WorkflowHandle, done: (r: RunbookReport) => boolean): Promise<RunbookReport> => {
  for (;;) {
    const r = await handle.query<RunbookReport>('report').catch(() => undefined);
    if (r && done(r)) return r;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};
const approve = (handle: WorkflowHandle, request: RunbookApproveRequest) =>
  handle.executeUpdate<RunbookApproval, [RunbookApproveRequest]>('approve', { args: [request] });

describe('storage-failure runbook (time-skipping)', () => {
  it('plans, asks, scales to zero, keeps the old volume, restores, binds, scales back, checks the data', async () => {
    const { activities, calls } = recorded(healthy());
    const report = await withStubbedWorker(env, activities, (tq) =>
      runOf(tq, inputFor({ ...params, dataCheckUrl: 'http://ledger.example/check' }), async (h) => {
        const waiting = await until(h, (r) => r.status === 'waiting-approval');
        expect(waiting.steps.find((s) => s.id === 'approve')!.detail).toBe(
          "Restore claim ledger/data-db-0 on primary (volume lost) from backup lb-nightly, 3600 s old: what was written since is lost. StatefulSet db goes from 3 replicas to 0 and back; the old volume lab-ledger-data-db-0 (Failed) is kept as claim data-db-0-lost-0123abcd. Data from nothing. Data check: the run's dataCheckUrl: GET http://ledger.example/check (timeout 10 s).",
        );
        await approve(h, { approver: 'bob' });
      }),
    );
    expect(report.status).toBe('succeeded');
    expect(activitiesOf(calls)).toEqual([
      'claimOwner',
      'findClaimBackup',
      'resolveDataCheck',
      'scaleWorkload(0)',
      'keepLostClaim',
      'restoreClaim',
      'waitClaimBound',
      'scaleWorkload(3)',
      'runDataCheck',
    ]);
    const input = (a: string) => calls.find((c) => c.activity === a)!.input;
    expect(input('resolveDataCheck')).toEqual({
      cluster: 'primary',
      namespace: 'ledger',
      app: '',
      url: 'http://ledger.example/check',
      bodyContains: '',
    });
    expect(input('runDataCheck')).toEqual(input('resolveDataCheck'));
    expect(report.steps.find((s) => s.id === 'data_check')!.outputs).toMatchObject({ passed: true, source: 'parameter', output: 'ok' });
    expect(calls[3]!.input).toMatchObject({ kind: 'StatefulSet', name: 'db', replicas: 0, releasesClaim: 'data-db-0' });
    expect(input('keepLostClaim')).toMatchObject({ claimUid: 'uid-old', volume: found.volume, lostClaim: found.lostClaim });
    expect(input('restoreClaim')).toMatchObject({ backup: 'lb-nightly', labels: { app: 'db' }, csiSnapshot: false });
    expect(calls[7]!.input).toMatchObject({ replicas: 3, waitReady: true });
    expect(report.steps.find((s) => s.id === 'restore')!.outputs).toEqual({
      restore: 'lb-claim-x',
      backup: 'lb-nightly',
      rpoSeconds: 3600,
    });
  }, 60_000);

  it('with no data check for the claim (none configured, no URL) the check step is skipped, and the plan step says why', async () => {
    const { activities, calls } = recorded(healthy());
    const report = await withStubbedWorker(env, activities, (tq) => runOf(tq, inputFor({ ...params, approver: 'carol' })));
    expect(report.status).toBe('succeeded');
    expect(activitiesOf(calls)).not.toContain('runDataCheck');
    expect(report.steps.find((s) => s.id === 'data_check')).toMatchObject({ state: 'skipped' });
    expect(report.steps.find((s) => s.id === 'data_check_plan')!.outputs).toEqual({
      check: 'none (no configured app runs in namespace ledger on cluster primary)',
      app: '',
    });
  }, 60_000);

  it('a check that cannot be resolved (two apps in the namespace) stops the run before anything changes', async () => {
    const { activities, calls } = recorded({
      ...healthy(),
      resolveDataCheck: () =>
        Promise.reject(
          ApplicationFailure.nonRetryable(
            "apps 'ledger', 'audit' all run in namespace ledger on cluster primary; name the one whose data check runs (app parameter)",
            failureTypes.DataCheckUnresolved,
          ),
        ),
    });
    const report = await withStubbedWorker(env, activities, (tq) => runOf(tq, inputFor({ ...params, approver: 'carol' })));
    expect(report.status).toBe('failed');
    expect(activitiesOf(calls)).toEqual(['claimOwner', 'findClaimBackup', 'resolveDataCheck']);
    expect(report.failure).toContain('name the one whose data check runs');
  }, 60_000);

  it('a failure before the old claim is deleted scales the owner back to the replicas it had, after the failed step', async () => {
    const { activities, calls } = recorded({
      ...healthy(),
      keepLostClaim: () =>
        Promise.reject(
          ApplicationFailure.nonRetryable("claim ledger/data-db-0-lost-0123abcd exists and is not this run's", failureTypes.ClaimNameTaken),
        ),
    });
    const report = await withStubbedWorker(env, activities, (tq) => runOf(tq, inputFor({ ...params, approver: 'carol' })));
    expect(report.status).toBe('compensated');
    expect(activitiesOf(calls)).toEqual([
      'claimOwner',
      'findClaimBackup',
      'resolveDataCheck',
      'scaleWorkload(0)',
      'keepLostClaim',
      'scaleWorkload(3)',
    ]);
    expect(calls[5]!.input).toMatchObject({ kind: 'StatefulSet', name: 'db', replicas: 3 });
    expect(stepsOf(report)).toContain('scale_down/compensate.scale_back compensated');
    expect(report.failure).toContain('is not this run');
  }, 60_000);

  it('a restore that fails leaves the owner at zero: it would come back on an empty volume', async () => {
    const { activities, calls } = recorded({
      ...healthy(),
      restoreClaim: () =>
        Promise.reject(ApplicationFailure.nonRetryable('Restore lb-claim-x did not bring the claim back', failureTypes.ClaimNotRestored)),
    });
    const report = await withStubbedWorker(env, activities, (tq) => runOf(tq, inputFor({ ...params, approver: 'carol' })));
    expect(report.status).toBe('failed');
    expect(activitiesOf(calls)).toEqual([
      'claimOwner',
      'findClaimBackup',
      'resolveDataCheck',
      'scaleWorkload(0)',
      'keepLostClaim',
      'restoreClaim',
    ]);
    expect(stepsOf(report).slice(-4)).toEqual(['restore failed', 'bind skipped', 'scale_up skipped', 'data_check skipped']);
  }, 60_000);
});

describe('storage-failure document and parameters', () => {
  const file = `${runbooksDir}storage-failure.yaml`;
  const text = readFileSync(file, 'utf8');

  it('a bad block input is named by file, line and field', () => {
    const broken = text.replace('      replicas: 0\n', '      replicas: -1\n');
    const parsed = parseRunbook('storage-failure.yaml', broken, { blocks: runbookBlocks, approverGroups });
    expect(parsed.ok).toBe(false);
    const problems = JSON.stringify(parsed.ok ? [] : parsed.problems);
    const line = broken.split('\n').findIndex((l) => l === '      replicas: -1') + 1;
    expect(problems).toContain('storage-failure.yaml');
    expect(problems).toContain(`${line}`);
    expect(problems).toContain('replicas');
    expect(problems).toContain('expected a whole number of replicas, 0 or more');
  });

  it('a missing or mistyped parameter is named', () => {
    const parsed = parseRunbook(file, text, { blocks: runbookBlocks, approverGroups });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const missing = resolveParameters(parsed.document.parameters, { cluster: 'primary', namespace: 'ledger', reason: 'x' });
    expect(missing.ok).toBe(false);
    expect(missing.ok ? '' : missing.problems.join('; ')).toContain('claim');
    const mistyped = resolveParameters(parsed.document.parameters, { ...params, bindTimeoutSeconds: 'soon' });
    expect(mistyped.ok).toBe(false);
    expect(mistyped.ok ? '' : mistyped.problems.join('; ')).toContain('bindTimeoutSeconds');
  });
});
