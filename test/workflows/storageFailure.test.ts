// The storage-failure runbook's logic (runbooks/storage-failure.yaml) on Temporal's time-skipping test
// server: the real interpreter from the built bundle, the shipped document as the CLI validates it,
// stubbed activities that record every call (test/helpers/time-skipping.ts). The activities themselves
// run against the lab in test/workflows/storageFailure.lab.test.ts.
// Covered: the order of the steps and what each is given; the owner scaled back to the replicas it had
// when a step before the old claim is deleted fails (the saga, newest first); a failure after it leaves
// the owner at zero (it would come back on an empty volume); the document's and parameters' problems
// named by file, line and field.
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';
import { parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import { resolveParameters } from '../../model/runbook/validate.js';
import type { ParameterValue, RunbookInput } from '../../model/runbook/run.js';
import type { ClaimBackup } from '../../activities/velero/claim-restore.js';
import {
  activitiesOf,
  approveStep,
  findRunbookIn,
  runWithStubs,
  shippedRunbooksDir,
  stepsOf,
  untilReport,
  type RunbookRunOptions,
} from '../helpers/runbooks.js';
import { useTimeSkippingEnvironment } from '../helpers/time-skipping.js';
import { readFileSync } from 'node:fs';

const env = useTimeSkippingEnvironment();

const approverGroups = { sre: ['bob', 'carol'] };
const params = { cluster: 'primary', namespace: 'ledger', claim: 'data-db-0', reason: 'volume lost' };
const inputFor = (given: Record<string, ParameterValue>): RunbookInput =>
  findRunbookIn(shippedRunbooksDir, 'storage-failure', given, { approverGroups });

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

/** The steps' activities, each scaleWorkload with the replicas it set. */
const scaledTo = { scaleWorkload: 'replicas' };
/** A run of the storage-failure runbook on a stub worker (healthy() but for `overrides`), its workflow ID naming the claim. */
const runStorageFailure = (input: RunbookInput, overrides: Parameters<typeof runWithStubs>[1] = {}, options: RunbookRunOptions = {}) =>
  runWithStubs(env, { ...healthy(), ...overrides }, input, { idPrefix: 'storage-failure/primary/ledger/data-db-0', ...options });

describe('storage-failure runbook (time-skipping)', () => {
  it('plans, asks, scales to zero, keeps the old volume, restores, binds, scales back, checks the data', async () => {
    const { report, calls } = await runStorageFailure(
      inputFor({ ...params, dataCheckUrl: 'http://ledger.example/check' }),
      {},
      {
        during: async (h) => {
          const waiting = await untilReport(h, (r) => r.status === 'waiting-approval');
          expect(waiting.steps.find((s) => s.id === 'approve')!.detail).toBe(
            "Restore claim ledger/data-db-0 on primary (volume lost) from backup lb-nightly, 3600 s old: what was written since is lost. StatefulSet db goes from 3 replicas to 0 and back; the old volume lab-ledger-data-db-0 (Failed) is kept as claim data-db-0-lost-0123abcd. Data from nothing. Data check: the run's dataCheckUrl: GET http://ledger.example/check (timeout 10 s).",
          );
          await approveStep(h, { approver: 'bob' });
        },
      },
    );
    expect(report.status).toBe('succeeded');
    expect(activitiesOf(calls, scaledTo)).toEqual([
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
    const { report, calls } = await runStorageFailure(inputFor({ ...params, approver: 'carol' }));
    expect(report.status).toBe('succeeded');
    expect(activitiesOf(calls, scaledTo)).not.toContain('runDataCheck');
    expect(report.steps.find((s) => s.id === 'data_check')).toMatchObject({ state: 'skipped' });
    expect(report.steps.find((s) => s.id === 'data_check_plan')!.outputs).toEqual({
      check: 'none (no configured app runs in namespace ledger on cluster primary)',
      app: '',
    });
  }, 60_000);

  it('a check that cannot be resolved (two apps in the namespace) stops the run before anything changes', async () => {
    const { report, calls } = await runStorageFailure(inputFor({ ...params, approver: 'carol' }), {
      resolveDataCheck: () =>
        Promise.reject(
          ApplicationFailure.nonRetryable(
            "apps 'ledger', 'audit' all run in namespace ledger on cluster primary; name the one whose data check runs (app parameter)",
            failureTypes.DataCheckUnresolved,
          ),
        ),
    });
    expect(report.status).toBe('failed');
    expect(activitiesOf(calls, scaledTo)).toEqual(['claimOwner', 'findClaimBackup', 'resolveDataCheck']);
    expect(report.failure).toContain('name the one whose data check runs');
  }, 60_000);

  it('a failure before the old claim is deleted scales the owner back to the replicas it had, after the failed step', async () => {
    const { report, calls } = await runStorageFailure(inputFor({ ...params, approver: 'carol' }), {
      keepLostClaim: () =>
        Promise.reject(
          ApplicationFailure.nonRetryable("claim ledger/data-db-0-lost-0123abcd exists and is not this run's", failureTypes.ClaimNameTaken),
        ),
    });
    expect(report.status).toBe('compensated');
    expect(activitiesOf(calls, scaledTo)).toEqual([
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
    const { report, calls } = await runStorageFailure(inputFor({ ...params, approver: 'carol' }), {
      restoreClaim: () =>
        Promise.reject(ApplicationFailure.nonRetryable('Restore lb-claim-x did not bring the claim back', failureTypes.ClaimNotRestored)),
    });
    expect(report.status).toBe('failed');
    expect(activitiesOf(calls, scaledTo)).toEqual([
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
  const file = `${shippedRunbooksDir}storage-failure.yaml`;
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
