// The runbook interpreter's logic on Temporal's time-skipping test server (no lab component: the real
// workflows from the built bundle, stubbed activities that record every call; test/helpers/time-skipping.ts).
// Documents go through parseRunbook with the real block registry, as the CLI gives them to a run.
// Covered: `when` over parameters and earlier outputs, a `run:` child (clusterHealth), approvals through
// the `approve` update (validator: approvers, one approval per person), an approval that times out
// (10 minutes, skipped), the compensation saga (newest first; an undo that fails), forEach's concurrency
// limit and a failing item that cancels its siblings, parallel likewise, named retry profiles,
// `onFailure: continue`, an abort while an approval waits, and plan mode (only read-only blocks run).
// With LIFEBOAT_RECORD_HISTORIES=1 three runs are recorded into test/histories/ for the replay test.
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { rootFailure } from '../../model/failure-chain.js';
import { formatProblems, parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import type { ParameterValue, RunbookAbort, RunbookAbortRequest, RunbookInput } from '../../model/runbook/run.js';
import { approversAttribute, requesterAttribute } from '../../model/approvals.js';
import {
  approveStep,
  runRunbook,
  runWithStubs,
  stepsOf,
  untilReport,
  type RunbookOutcome,
  type RunbookRunOptions,
} from '../helpers/runbooks.js';
import {
  createTimeSkippingEnvironment,
  recorded,
  useTimeSkippingEnvironment,
  withStubbedWorker,
  type StubCall,
} from '../helpers/time-skipping.js';

const env = useTimeSkippingEnvironment();

/**
 * Runs `input` with `stubs` on a test server of its own, and calls `release` (which lets a stub that
 * waits on it return) once the run ended, before the worker stops. A run that ends while an activity it
 * cancelled is still running on the worker leaves the server's time locked: later runs on it no longer
 * skip time.
 */
async function runOnOwnServer(stubs: Parameters<typeof recorded>[0], input: RunbookInput, release: () => void) {
  const { activities, calls } = recorded(stubs);
  const own = await createTimeSkippingEnvironment();
  try {
    const outcome = await withStubbedWorker(own, activities, async (taskQueue) => {
      try {
        return await runRunbook(own, taskQueue, input);
      } finally {
        release();
      }
    });
    return { ...outcome, calls };
  } finally {
    await own.teardown();
  }
}

/** A promise a stub waits on and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const approverGroups = { sre: ['bob', 'carol'] };

/** A runbook document from its steps (and parameters), validated as the CLI validates one. */
function documentOf(name: string, body: string) {
  const text = `apiVersion: lifeboat.io/v1\nkind: Runbook\nmetadata:\n  name: ${name}\n${body}`;
  const parsed = parseRunbook(`${name}.yaml`, text, { blocks: runbookBlocks, approverGroups });
  if (!parsed.ok) throw new Error(formatProblems(parsed.problems).join('\n'));
  return parsed.document;
}

const inputOf = (name: string, body: string, parameters: Record<string, ParameterValue> = {}, plan = false): RunbookInput => ({
  document: documentOf(name, body),
  contentHash: 'c0ffee',
  source: `runbooks/${name}.yaml`,
  parameters,
  startedBy: 'jest',
  approverGroups,
  ...(plan ? { plan } : {}),
});

/** Each stub call as `activity target #attempt`, in the order the worker ran them. */
const trace = (calls: StubCall[]) =>
  calls.map((c) => {
    const i = (c.input ?? {}) as { name?: string; replicas?: number; node?: string; url?: string; cluster?: string };
    const target = i.name !== undefined ? `${i.name}→${i.replicas}` : (i.node ?? i.url ?? i.cluster ?? 'store');
    return `${c.activity} ${target} #${c.attempt}`;
  });

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => rootFailure(e),
  );

/** What a clusterHealth check reports of a reachable component. */
const component = (name: string) => ({ component: name, healthy: true, address: `https://${name}.lab`, detail: 'reachable' });
/** Every activity a run may call, each answering as a healthy lab would; a test overrides the ones it makes fail or wait. */
const healthy = () => ({
  checkNodes: ({ cluster }: { cluster: string }) => Promise.resolve(component(`nodes/${cluster}`)),
  checkEtcd: ({ cluster }: { cluster: string }) => Promise.resolve({ ...component(`etcd/${cluster}`), members: [] }),
  checkVeleroLocation: ({ cluster }: { cluster: string }) => Promise.resolve(component(`velero/${cluster}`)),
  checkObjectStore: () => Promise.resolve(component('object-store')),
  scaleDeployment: (i: { namespace: string; name: string; replicas: number }) =>
    Promise.resolve({ deployment: `${i.namespace}/${i.name}`, replicas: i.replicas, changed: true }),
  cordonNode: (i: { node: string }) => Promise.resolve({ node: i.node, changed: true }),
  uncordonNode: (i: { node: string }) => Promise.resolve({ node: i.node, changed: true }),
  httpCheck: (i: { url: string }) => Promise.resolve({ url: i.url, status: 200, milliseconds: 3 }),
});
/** A run on a stub worker with healthy() but for `overrides`. */
const runStubbed = (input: RunbookInput, overrides: Parameters<typeof runWithStubs>[1] = {}, options: RunbookRunOptions = {}) =>
  runWithStubs(env, { ...healthy(), ...overrides }, input, options);
const healthChecks = ['checkEtcd primary #1', 'checkNodes primary #1', 'checkObjectStore store #1', 'checkVeleroLocation primary #1'];

/** A scaleDeployment step's lines after its id, indented as a step of a top-level list (4) or of a nested one (8). */
const scale = (name: string, replicas: number | string, indent = 4) =>
  `action: scaleDeployment\n${' '.repeat(indent)}with: { cluster: primary, namespace: shop, name: ${name}, replicas: ${replicas} }`;
/** The workflow history's cancellation requests of activities, by activity type. */
const cancelRequested = (events: RunbookOutcome['events']) => {
  const scheduled = new Map(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name]),
  );
  return events
    .filter((e) => e.activityTaskCancelRequestedEventAttributes)
    .map((e) => scheduled.get(String(e.activityTaskCancelRequestedEventAttributes!.scheduledEventId)));
};

const whenDocument = `parameters:
  replicas: { type: number, default: 3 }
  mode: { type: string, default: live }
steps:
  - id: health
    run: clusterHealth
    with: { clusters: [primary] }
    outputs: { healthy: steps.health.result.healthy }
  - id: scale
    when: steps.health.outputs.healthy && params.replicas > 2
    ${scale('web', '"${{ params.replicas }}"')}
    outputs: { changed: steps.scale.result.changed }
  - id: drill-only
    when: params.mode == 'drill'
    ${scale('web', 0)}
  - id: check
    when: steps.scale.status == 'succeeded' && steps.scale.outputs.changed
    action: httpCheck
    with: { url: "http://shop.lab.example/healthz" }
`;

describe('runbook interpreter (time-skipping test server, stubbed activities)', () => {
  it('when: true and false over parameters and earlier outputs; a run: child with its own activities', async () => {
    const { report, err, workflowId, calls } = await runStubbed(
      inputOf('when-live', whenDocument, { replicas: 3, mode: 'live' }),
      {},
      { record: 'runbook-plain' },
    );
    expect(err).toBeUndefined();
    expect(report.status).toBe('succeeded');
    expect(stepsOf(report, 'detail')).toEqual([
      'health succeeded',
      'scale succeeded',
      "drill-only skipped: when: params.mode == 'drill' is false",
      'check succeeded',
    ]);
    expect(report.steps.map((s) => [s.path, s.outputs])).toEqual([
      ['health', { healthy: true }],
      ['scale', { changed: true }],
      ['drill-only', undefined],
      ['check', undefined],
    ]);
    expect(report.steps[0]!.childWorkflowId).toBe(`${workflowId}/health`);
    // The child's four checks run at once (in any order), then the steps in document order.
    expect(trace(calls.slice(0, 4)).sort()).toEqual(healthChecks);
    expect(trace(calls.slice(4))).toEqual(['scaleDeployment web→3 #1', 'httpCheck http://shop.lab.example/healthz #1']);

    const second = await runStubbed(inputOf('when-drill', whenDocument, { replicas: 2, mode: 'drill' }));
    expect(second.err).toBeUndefined();
    expect(second.report.status).toBe('succeeded');
    expect(stepsOf(second.report, 'detail')).toEqual([
      'health succeeded',
      'scale skipped: when: steps.health.outputs.healthy && params.replicas > 2 is false',
      'drill-only succeeded',
      "check skipped: when: steps.scale.status == 'succeeded' && steps.scale.outputs.changed is false",
    ]);
    expect(trace(second.calls.slice(4))).toEqual(['scaleDeployment web→0 #1']);
  });

  const approvalDocument = `parameters:
  replicas: { type: number, default: 3 }
steps:
  - id: scale-down
    ${scale('web', 0)}
  - id: approve
    approval:
      approvers: [alice, "group:sre"]
      count: 2
      timeout: 10m
      show: "scale shop/web back up to \${{ params.replicas }} (started by \${{ run.startedBy }})?"
  - id: scale-up
    ${scale('web', '"${{ params.replicas }}"')}
`;

  it('approval: two approvers through the update; a non-approver and a second approval by the same person are refused', async () => {
    const { activities, calls } = recorded(healthy());
    const refused: unknown[] = [];
    let waitingCalls: string[] = [];
    const { report, err, events } = await withStubbedWorker(env, activities, (taskQueue) =>
      runRunbook(env, taskQueue, inputOf('approval', approvalDocument, { replicas: 3 }), {
        during: async (handle) => {
          const waiting = await untilReport(handle, (r) => r.status === 'waiting-approval');
          expect(stepsOf(waiting, 'detail')).toEqual([
            'scale-down succeeded',
            'approve waiting: scale shop/web back up to 3 (started by jest)?',
            'scale-up pending',
          ]);
          refused.push(await refusal(approveStep(handle, { approver: 'mallory' })));
          const first = await approveStep(handle, { approver: 'alice', comment: 'looks right' });
          expect(first).toEqual({ step: 'approve', approver: 'alice', comment: 'looks right', at: first.at });
          refused.push(await refusal(approveStep(handle, { approver: 'alice' })));
          refused.push(await refusal(approveStep(handle, { approver: 'bob', step: 'scale-up' })));
          waitingCalls = trace(calls);
          await approveStep(handle, { approver: 'bob' });
        },
        record: 'runbook-approval',
      }),
    );
    expect(refused).toEqual([
      { type: 'Error', message: "'mallory' may not approve step approve: 'mallory' is not an approver (approvers: alice, bob, carol)" },
      { type: 'Error', message: "'alice' has already approved step approve" },
      { type: 'Error', message: "step 'scale-up' is not waiting for an approval" },
    ]);
    // Nothing after the approval ran while it waited.
    expect(waitingCalls).toEqual(['scaleDeployment web→0 #1']);
    expect(err).toBeUndefined();
    expect(report.status).toBe('succeeded');
    expect(stepsOf(report, 'detail')).toEqual([
      'scale-down succeeded',
      'approve succeeded: scale shop/web back up to 3 (started by jest)?',
      'scale-up succeeded',
    ]);
    expect(report.approvals.map((a) => [a.step, a.approver, a.comment])).toEqual([
      ['approve', 'alice', 'looks right'],
      ['approve', 'bob', undefined],
    ]);
    expect(trace(calls)).toEqual(['scaleDeployment web→0 #1', 'scaleDeployment web→3 #1']);
    // Refused updates leave no trace in the history: only the two accepted ones are there.
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(2);
  });

  const fourEyesDocument = `parameters:
  approver: { type: string, default: "" }
steps:
  - id: approve
    approval:
      approvers: ["group:sre"]
      fourEyes: true
      approvedBy: \${{ params.approver }}
      timeout: 10m
  - id: scale-up
    ${scale('web', 3)}
`;

  it('approval with fourEyes: who started the run (bob, an approver) is refused, another approver proceeds; the approvers are searchable', async () => {
    let refused: unknown;
    let attributes: unknown[] = [];
    const { report, err, calls } = await runStubbed(
      { ...inputOf('four-eyes', fourEyesDocument, { approver: '' }), startedBy: 'bob' },
      {},
      {
        during: async (handle) => {
          await untilReport(handle, (r) => r.status === 'waiting-approval');
          refused = await refusal(approveStep(handle, { approver: 'bob' }));
          await approveStep(handle, { approver: 'carol' });
          await handle.result().catch(() => undefined);
          const typed = (await handle.describe()).typedSearchAttributes;
          attributes = [typed.get(requesterAttribute), typed.get(approversAttribute)];
        },
      },
    );
    expect(refused).toEqual({
      type: 'Error',
      message: "'bob' may not approve step approve: 'bob' started this run and may not approve it too (four eyes: another approver must)",
    });
    expect(err).toBeUndefined();
    expect(report.approvals.map((a) => [a.step, a.approver])).toEqual([['approve', 'carol']]);
    expect(attributes).toEqual(['bob', ['carol']]);
    expect(trace(calls)).toEqual(['scaleDeployment web→3 #1']);
  });

  it.each([
    ['the requester', 'bob', "'bob' started this run and may not approve it too (four eyes: another approver must)"],
    ['someone not an approver', 'mallory', "'mallory' is not an approver (approvers: bob, carol)"],
  ])('an approval given up front (approvedBy) by %s fails the step as ApprovalRefused; nothing after it runs', async (_, approver, why) => {
    const { report, err, calls } = await runStubbed({ ...inputOf('four-eyes', fourEyesDocument, { approver }), startedBy: 'bob' });
    expect(rootFailure(err)).toMatchObject({ type: 'RunbookStepFailed' });
    expect(stepsOf(report, 'detail')).toEqual([
      `approve failed: approval of step approve by '${approver}' refused: ${why}`,
      'scale-up skipped: an earlier step failed',
    ]);
    expect(report.approvals).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('an approval given up front by another approver is recorded as such and the run goes on without waiting', async () => {
    const { report, err, events, calls } = await runStubbed({
      ...inputOf('four-eyes', fourEyesDocument, { approver: 'carol' }),
      startedBy: 'bob',
    });
    expect(err).toBeUndefined();
    expect(report.approvals.map((a) => [a.step, a.approver, a.auto])).toEqual([['approve', 'carol', true]]);
    expect(trace(calls)).toEqual(['scaleDeployment web→3 #1']);
    // No timer: nobody was waited for.
    expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(0);
  });

  it('approval nobody gives within 10 minutes: a 600 s timer fires, the step fails as timed out, nothing after it runs', async () => {
    const { report, err, events, calls } = await runStubbed(inputOf('approval-timeout', approvalDocument, { replicas: 3 }));
    const timedOut = 'no approval of step approve within 10m (0 of 2)';
    expect(rootFailure(err)).toEqual({
      type: 'RunbookApprovalTimedOut',
      message: `runbook approval-timeout: step approve failed: ${timedOut}`,
    });
    expect(report.status).toBe('failed');
    expect(report.failure).toBe(`step approve failed: ${timedOut}`);
    expect(stepsOf(report, 'detail')).toEqual([
      'scale-down succeeded',
      `approve failed: ${timedOut}`,
      'scale-up skipped: an earlier step failed',
    ]);
    expect(report.approvals).toEqual([]);
    expect(trace(calls)).toEqual(['scaleDeployment web→0 #1']);
    expect(
      events.filter((e) => e.timerStartedEventAttributes).map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds)),
    ).toEqual([600]);
    expect(events.filter((e) => e.timerFiredEventAttributes)).toHaveLength(1);
  });

  const sagaDocument = `steps:
  - id: one
    ${scale('one', 0)}
    compensate:
      - id: undo-one
        ${scale('one', 2, 8)}
  - id: two
    ${scale('two', 0)}
    compensate:
      - id: undo-two
        ${scale('two', 2, 8)}
  - id: three
    ${scale('three', 0)}
    retry: none
    onFailure: compensate
    compensate:
      - id: undo-three
        ${scale('three', 2, 8)}
`;
  const forbidden = 'deployments.apps "three" is forbidden: User "lifeboat" cannot patch resource "deployments"';
  const failThree = (i: { namespace: string; name: string; replicas: number }) =>
    i.name === 'three' ? Promise.reject(new Error(forbidden)) : healthy().scaleDeployment(i);

  it('compensation: the third step fails, the undos of the second and then the first run, newest first', async () => {
    const { report, err, calls } = await runStubbed(
      inputOf('saga', sagaDocument),
      { scaleDeployment: failThree },
      { record: 'runbook-compensated' },
    );
    expect(rootFailure(err)).toEqual({
      type: 'RunbookStepFailed',
      message: `runbook saga: step three failed: ${forbidden}; compensated 2 steps`,
    });
    expect(report.status).toBe('compensated');
    expect(stepsOf(report, 'detail')).toEqual([
      'one succeeded',
      'two succeeded',
      `three failed: ${forbidden}`,
      'two/compensate.undo-two compensated',
      'one/compensate.undo-one compensated',
    ]);
    // retry: none is one attempt; the failed step's own undo does not run (it did nothing).
    expect(trace(calls)).toEqual([
      'scaleDeployment one→0 #1',
      'scaleDeployment two→0 #1',
      'scaleDeployment three→0 #1',
      'scaleDeployment two→2 #1',
      'scaleDeployment one→2 #1',
    ]);
  });

  it('compensation that itself fails through its retries: reported FAILED to undo, the older undo still runs, status failed', async () => {
    const unreachable = 'connect ECONNREFUSED 127.0.0.1:26443';
    const { report, err, calls } = await runStubbed(inputOf('saga-undo-fails', sagaDocument), {
      scaleDeployment: (i: { namespace: string; name: string; replicas: number }) =>
        i.name === 'two' && i.replicas === 2 ? Promise.reject(new Error(unreachable)) : failThree(i),
    });
    expect(rootFailure(err)).toEqual({
      type: 'RunbookStepFailed',
      message: `runbook saga-undo-fails: step three failed: ${forbidden}; FAILED to undo: two/compensate.undo-two: ${unreachable}`,
    });
    expect(report.status).toBe('failed');
    expect(stepsOf(report, 'detail')).toEqual([
      'one succeeded',
      'two succeeded',
      `three failed: ${forbidden}`,
      `two/compensate.undo-two failed: ${unreachable}`,
      'one/compensate.undo-one compensated',
    ]);
    // The undo gets scaleDeployment's default profile (standard: 5 attempts), then the saga goes on.
    expect(trace(calls)).toEqual([
      'scaleDeployment one→0 #1',
      'scaleDeployment two→0 #1',
      'scaleDeployment three→0 #1',
      ...[1, 2, 3, 4, 5].map((n) => `scaleDeployment two→2 #${n}`),
      'scaleDeployment one→2 #1',
    ]);
  });

  const forEachDocument = `steps:
  - id: drain
    forEach:
      items: "['n1', 'n2', 'n3', 'n4', 'n5']"
      as: node
      concurrency: 2
      steps:
        - id: cordon
          action: cordonNode
          with: { cluster: primary, node: "\${{ node }}" }
  - id: after
    action: httpCheck
    with: { url: "http://shop.lab.example/healthz" }
`;

  it('forEach with concurrency 2 over 5 items: every item once, never more than 2 calls in flight, 2 at once', async () => {
    let inFlight = 0;
    let most = 0;
    const { activities, calls } = recorded({
      ...healthy(),
      // Each item but the last waits until another is in flight with it: the limit is reached, never passed.
      cordonNode: async (i: { node: string }) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          while (i.node !== 'n5' && inFlight < 2 && calls.filter((c) => c.activity === 'cordonNode').length < 5)
            await new Promise((r) => setTimeout(r, 10));
          await new Promise((r) => setTimeout(r, 50));
          return { node: i.node, changed: true };
        } finally {
          inFlight -= 1;
        }
      },
    });
    const { report, err } = await withStubbedWorker(env, activities, (taskQueue) =>
      runRunbook(env, taskQueue, inputOf('foreach', forEachDocument)),
    );
    expect(err).toBeUndefined();
    expect(report.status).toBe('succeeded');
    expect(most).toBe(2);
    const cordons = trace(calls.filter((c) => c.activity === 'cordonNode'));
    expect([...cordons].sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => `cordonNode ${n} #1`));
    expect(cordons.slice(0, 2).sort()).toEqual(['cordonNode n1 #1', 'cordonNode n2 #1']);
    expect(trace(calls).at(-1)).toBe('httpCheck http://shop.lab.example/healthz #1');
    expect([...stepsOf(report, 'detail')].sort()).toEqual([
      'after succeeded',
      'drain succeeded',
      ...[0, 1, 2, 3, 4].map((i) => `drain[${i}].cordon succeeded`),
    ]);
  });

  it('forEach: a failing item cancels its sibling in flight and starts no more', async () => {
    const { opened: released, open: release } = gate();
    const { opened: n1Running, open: n1Started } = gate();
    const stubs = {
      ...healthy(),
      cordonNode: async (i: { node: string }) => {
        if (i.node === 'n1') {
          n1Started();
          await Promise.race([released, Context.current().cancelled.catch(() => undefined)]);
          return { node: i.node, changed: true };
        }
        await n1Running;
        throw ApplicationFailure.nonRetryable(`Node ${i.node} not found on 'primary'`, 'WorkloadMissing');
      },
    };
    const { report, err, events, calls } = await runOnOwnServer(stubs, inputOf('foreach-cancel', forEachDocument), release);
    expect(rootFailure(err)).toEqual({
      type: 'RunbookStepFailed',
      message: "runbook foreach-cancel: step drain[1].cordon failed: Node n2 not found on 'primary'",
    });
    expect(report.status).toBe('failed');
    expect(stepsOf(report, 'detail')).toEqual([
      'drain failed: drain[1].cordon failed',
      'after skipped: an earlier step failed',
      'drain[0].cordon failed: cancelled',
      "drain[1].cordon failed: Node n2 not found on 'primary'",
    ]);
    // Both items were started at once (in either order); n3 to n5 never were.
    expect(trace(calls).sort()).toEqual(['cordonNode n1 #1', 'cordonNode n2 #1']);
    expect(cancelRequested(events)).toEqual(['cordonNode']);
  });

  it('parallel: a failed branch cancels the other', async () => {
    const { opened: released, open: release } = gate();
    const { opened: slowRunning, open: slowStarted } = gate();
    const stubs = {
      ...healthy(),
      httpCheck: async (i: { url: string }) => {
        slowStarted();
        await Promise.race([released, Context.current().cancelled.catch(() => undefined)]);
        return { url: i.url, status: 200, milliseconds: 3 };
      },
      cordonNode: async () => {
        await slowRunning;
        throw ApplicationFailure.nonRetryable('nodes "n9" is forbidden', 'KubernetesForbidden');
      },
    };
    const document = `steps:
  - id: both
    parallel:
      - id: probe
        action: httpCheck
        with: { url: "http://shop.lab.example/slow" }
      - id: cordon
        action: cordonNode
        with: { cluster: primary, node: n9 }
  - id: after
    ${scale('web', 1)}
`;
    const { report, err, events, calls } = await runOnOwnServer(stubs, inputOf('parallel', document), release);
    expect(rootFailure(err)).toEqual({
      type: 'RunbookStepFailed',
      message: 'runbook parallel: step both.cordon failed: nodes "n9" is forbidden',
    });
    expect(stepsOf(report, 'detail')).toEqual([
      'both failed: both.cordon failed',
      'both.probe failed: cancelled',
      'both.cordon failed: nodes "n9" is forbidden',
      'after skipped: an earlier step failed',
    ]);
    expect(trace(calls).sort()).toEqual(['cordonNode n9 #1', 'httpCheck http://shop.lab.example/slow #1']);
    expect(cancelRequested(events)).toEqual(['httpCheck']);
  });

  it('parallel with a timeout that runs out and onFailure: continue: the branch still waiting is cancelled, the step fails, the run goes on', async () => {
    // The branch that outlasts the step's 5 minutes is an approval nobody gives (its own timeout is 1 h):
    // a timer, so the test server skips the time (it does not while an activity runs).
    const document = `steps:
  - id: both
    timeout: 5m
    onFailure: continue
    parallel:
      - id: approve
        approval: { approvers: [alice], timeout: 1h }
      - id: cordon
        action: cordonNode
        with: { cluster: primary, node: n9 }
  - id: after
    ${scale('web', 1)}
`;
    const { report, err, events, calls } = await runStubbed(inputOf('parallel-timeout', document));
    expect(
      events
        .filter((e) => e.timerStartedEventAttributes)
        .map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds))
        .sort(),
    ).toEqual([300, 3600]);
    expect(events.filter((e) => e.timerFiredEventAttributes)).toHaveLength(1);
    expect(err === undefined ? 'no failure' : rootFailure(err)).toBe('no failure');
    expect(report.status).toBe('succeeded');
    expect(report.steps.map((s) => [s.path, s.state])).toEqual([
      ['both', 'failed'],
      ['both.approve', 'failed'],
      ['both.cordon', 'succeeded'],
      ['after', 'succeeded'],
    ]);
    expect(report.steps[1]!.detail).toBe('cancelled');
    expect(report.steps[0]!.detail).toBe('step both did not finish within 5m');
    expect(trace(calls)).toEqual(['cordonNode n9 #1', 'scaleDeployment web→1 #1']);
  });

  it('forEach with a timeout that runs out fails the step (RunbookStepTimedOut), cancelling the item still waiting, and the run fails (onFailure: fail)', async () => {
    const document = `steps:
  - id: each
    timeout: 10m
    forEach:
      items: '["n1", "n2"]'
      as: node
      steps:
        - id: cordon
          action: cordonNode
          with: { cluster: primary, node: "\${{ node }}" }
        - id: approve
          approval: { approvers: [alice], timeout: 1h }
  - id: after
    ${scale('web', 1)}
`;
    const { report, err, calls } = await runStubbed(inputOf('foreach-timeout', document));
    expect(rootFailure(err)).toEqual({
      type: 'RunbookStepFailed',
      message: 'runbook foreach-timeout: step each failed: step each did not finish within 10m',
    });
    expect(report.steps[0]!.detail).toBe('step each did not finish within 10m');
    expect(report.status).toBe('failed');
    expect(report.steps.map((s) => [s.path, s.state])).toEqual([
      ['each', 'failed'],
      ['after', 'skipped'],
      ['each[0].cordon', 'succeeded'],
      ['each[0].approve', 'failed'],
    ]);
    expect(trace(calls)).toEqual(['cordonNode n1 #1']);
  });

  it('retry profiles (quick: 3 attempts, none: 1) and onFailure: continue, read by a later when', async () => {
    const document = `steps:
  - id: probe-quick
    action: httpCheck
    with: { url: "http://shop.lab.example/quick" }
    retry: quick
    onFailure: continue
  - id: probe-once
    action: httpCheck
    with: { url: "http://shop.lab.example/once" }
    retry: none
    onFailure: continue
  - id: remedy
    when: steps["probe-quick"].status == 'failed' && steps["probe-once"].status == 'failed'
    ${scale('web', 4)}
`;
    const { report, err, calls } = await runStubbed(inputOf('retries', document), {
      httpCheck: (i: { url: string }) =>
        Promise.reject(ApplicationFailure.retryable(`GET ${i.url} answered 503, expected 200: upstream down`, 'HttpCheckFailed')),
    });
    expect(err).toBeUndefined();
    expect(report.status).toBe('succeeded');
    expect(stepsOf(report, 'detail')).toEqual([
      'probe-quick failed: GET http://shop.lab.example/quick answered 503, expected 200: upstream down',
      'probe-once failed: GET http://shop.lab.example/once answered 503, expected 200: upstream down',
      'remedy succeeded',
    ]);
    expect(trace(calls)).toEqual([
      'httpCheck http://shop.lab.example/quick #1',
      'httpCheck http://shop.lab.example/quick #2',
      'httpCheck http://shop.lab.example/quick #3',
      'httpCheck http://shop.lab.example/once #1',
      'scaleDeployment web→4 #1',
    ]);
  });

  it('abort while an approval waits: the steps done are compensated, nothing after runs', async () => {
    const document = `steps:
  - id: scale-down
    ${scale('web', 0)}
    compensate:
      - id: scale-back
        ${scale('web', 3, 8)}
  - id: approve
    approval: { approvers: [alice], timeout: 1h }
  - id: cordon
    action: cordonNode
    with: { cluster: primary, node: n1 }
`;
    let aborted: RunbookAbort | undefined;
    const { report, err, calls } = await runStubbed(
      inputOf('abort', document),
      {},
      {
        during: async (handle) => {
          await untilReport(handle, (r) => r.status === 'waiting-approval');
          aborted = await handle.executeUpdate<RunbookAbort, [RunbookAbortRequest]>('abort', {
            args: [{ by: 'dave', reason: 'wrong app' }],
          });
        },
      },
    );
    expect(aborted).toEqual({ by: 'dave', reason: 'wrong app', at: aborted!.at });
    expect(rootFailure(err)).toEqual({ type: 'RunbookAborted', message: 'runbook abort: aborted by dave: wrong app; compensated 1 step' });
    expect(report.status).toBe('aborted');
    expect(report.abort).toEqual(aborted);
    expect(stepsOf(report, 'detail')).toEqual([
      'scale-down succeeded',
      'approve failed: aborted by dave',
      'cordon skipped: the run was aborted',
      'scale-down/compensate.scale-back compensated',
    ]);
    expect(trace(calls)).toEqual(['scaleDeployment web→0 #1', 'scaleDeployment web→3 #1']);
  });

  it('plan: only read-only blocks run; changes and approvals are shown, not made', async () => {
    const document = `parameters:
  replicas: { type: number, default: 3 }
  node: { type: node, default: n1 }
steps:
  - id: health
    run: clusterHealth
    with: { clusters: [primary] }
  - id: check
    action: httpCheck
    with: { url: "http://shop.lab.example/healthz" }
    outputs: { status: steps.check.result.status }
  - id: scale
    ${scale('web', '"${{ params.replicas }}"')}
    compensate:
      - id: unscale
        ${scale('web', 1, 8)}
  - id: approve
    approval: { approvers: [alice], timeout: 10m }
  - id: cordon
    when: steps.check.outputs.status == 200
    action: cordonNode
    with: { cluster: primary, node: "\${{ params.node }}" }
`;
    const { report, err, calls } = await runStubbed(inputOf('plan', document, { replicas: 3, node: 'n1' }, true));
    expect(err).toBeUndefined();
    expect(report.mode).toBe('plan');
    expect(report.status).toBe('planned');
    expect(stepsOf(report, 'detail')).toEqual([
      'health succeeded',
      'check succeeded',
      'scale planned',
      'approve planned',
      'cordon planned',
    ]);
    expect(report.steps.map((s) => [s.path, s.plan])).toEqual([
      ['health', undefined],
      ['check', undefined],
      ['scale', { cluster: 'primary', namespace: 'shop', name: 'web', replicas: 3 }],
      ['approve', { approvers: ['alice'], count: 1, timeout: '10m' }],
      ['cordon', { cluster: 'primary', node: 'n1' }],
    ]);
    // Read-only blocks ran (the health child, the HTTP check); nothing that changes anything did.
    expect(trace(calls.slice(0, 4)).sort()).toEqual(healthChecks);
    expect(trace(calls.slice(4))).toEqual(['httpCheck http://shop.lab.example/healthz #1']);
  });
});
