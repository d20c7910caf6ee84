// The runbook interpreter: runs a validated runbook document (runbooks/*.yaml) step by step from the
// building blocks of model/runbook/catalog.ts. `run` steps are child workflows, `action` steps
// activities with a named retry profile, `approval` steps wait for the `approve` update; `parallel`
// and `forEach` run branches at once (a failed branch cancels its siblings); `when` and `outputs` are
// CEL. A failure stops the run (`onFailure: fail`), is recorded and passed over (`continue`), or runs
// the compensation of every step done so far, newest first (`compensate`, a saga). An abort
// compensates too. The input carries the whole document, so editing the file never changes a run.
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  defineQuery,
  defineUpdate,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  patched,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { abortedByAttribute, approvalRefusal, approversAttribute, requesterAttribute, resolveApprovers } from '../model/approvals.js';
import type { KubernetesActions } from '../activities/kubernetes/actions.js';
import type { HttpCheckActivities } from '../activities/traffic/http-check.js';
import type { NotifyActivities } from '../activities/traffic/notify.js';
import { catalogBlock, type ActivityBlock, type CatalogBlock } from '../model/runbook/catalog.js';
import { compileExpression, evaluate, interpolate, type CompiledExpression } from '../model/runbook/cel.js';
import { parseDuration } from '../model/durations.js';
import { defaultRetryProfile, isRetryProfileName, retryPolicyFor } from '../model/runbook/retry-profiles.js';
import type {
  RunbookAbort,
  RunbookAbortRequest,
  RunbookApproval,
  RunbookApproveRequest,
  RunbookInput,
  RunbookReport,
  RunbookStepRecord,
  RunbookStepState,
} from '../model/runbook/run.js';
import type { Step as RunbookStep } from '../model/runbook/schema.js';
import { carriedDetails, rootFailure } from '../model/failure-chain.js';
import { failureTypes } from '../model/failures.js';
import type { Step } from '../model/steps.js';
import { progressQuery } from './steps.js';
import { awaitApproval } from './run-lifecycle.js';

export const runbookReportQuery = defineQuery<RunbookReport>('report');
export const runbookApproveUpdate = defineUpdate<RunbookApproval, [RunbookApproveRequest]>('approve');
export const runbookAbortUpdate = defineUpdate<RunbookAbort, [RunbookAbortRequest]>('abort');

/** What CEL sees of one finished step. */
interface StepView {
  status: RunbookStepState;
  outputs: Record<string, unknown>;
  result?: unknown;
}

/** The CEL context of a list of steps: what is visible there (earlier siblings, ancestors' earlier siblings). */
interface Scope {
  vars: Record<string, unknown>;
  steps: Record<string, StepView>;
}

/** A step that stopped the run, and whether the run compensates for it. */
class StepFailed extends Error {
  constructor(
    readonly path: string,
    readonly reason: unknown,
    readonly compensate: boolean,
  ) {
    super(`step ${path} failed: ${rootFailure(reason).message}`);
  }
}

const compiled = new Map<string, CompiledExpression>();
function expression(text: string): CompiledExpression {
  let c = compiled.get(text);
  if (!c) {
    const result = compileExpression(text);
    // Documents are validated before they run; a failure here is a defect in the validator.
    if (!result.ok)
      throw ApplicationFailure.nonRetryable(
        `expression ${JSON.stringify(text)} does not compile: ${result.message}`,
        failureTypes.InvalidRunbookInput,
      );
    c = result.expression;
    compiled.set(text, c);
  }
  return c;
}

const kindOf = (s: RunbookStep): RunbookStepRecord['kind'] =>
  s.run ? 'run' : s.action ? 'action' : s.approval ? 'approval' : s.parallel ? 'parallel' : 'forEach';

const progressState: Record<RunbookStepState, Step['state']> = {
  pending: 'pending',
  running: 'running',
  waiting: 'running',
  succeeded: 'done',
  failed: 'failed',
  skipped: 'skipped',
  compensated: 'done',
  planned: 'done',
};

export async function runbook(input: RunbookInput): Promise<RunbookReport> {
  const info = workflowInfo();
  const doc = input.document;
  const planning = input.plan === true;
  const report: RunbookReport = {
    runbook: doc.metadata.name,
    contentHash: input.contentHash,
    source: input.source,
    mode: planning ? 'plan' : 'run',
    status: 'running',
    startedBy: input.startedBy,
    startedAt: new Date().toISOString(),
    parameters: input.parameters,
    steps: [],
    approvals: [],
  };
  const records = new Map<string, RunbookStepRecord>();
  /** Compensations of steps done, in the order they were done: run newest first. */
  const saga: { path: string; steps: RunbookStep[]; scope: Scope }[] = [];
  let waiting: { path: string; step: RunbookStep }[] = [];
  let abort: RunbookAbort | undefined;
  const main = new CancellationScope();

  function record(path: string, step: RunbookStep): RunbookStepRecord {
    let r = records.get(path);
    if (!r) {
      r = { path, id: step.id, kind: kindOf(step), block: step.run ?? step.action, state: 'pending' };
      records.set(path, r);
      report.steps.push(r);
    }
    return r;
  }
  /** Declares every step known before the run (nested ones too; forEach iterations come as they run). */
  function declare(steps: RunbookStep[], prefix: string) {
    for (const s of steps) {
      const path = prefix ? `${prefix}.${s.id}` : s.id;
      record(path, s);
      if (s.parallel) declare(s.parallel, path);
    }
  }
  declare(doc.steps, '');

  setHandler(runbookReportQuery, () => report);
  // Who started it and who approved or aborted, searchable; runs from before recorded none, and replay so.
  const searchable = patched('runbook-search-attributes');
  if (searchable) upsertSearchAttributes([{ key: requesterAttribute, value: input.startedBy }]);
  const recordApproval = (approval: RunbookApproval) => {
    report.approvals.push(approval);
    if (searchable) upsertSearchAttributes([{ key: approversAttribute, value: [...new Set(report.approvals.map((a) => a.approver))] }]);
  };
  /** Why `approver` may not approve `step`: not one of its approvers, or (four eyes) who started the run. */
  const refusal = (step: RunbookStep, approver: string) =>
    approvalRefusal(
      {
        approvers: step.approval!.approvers.flatMap((a) => (a.startsWith('group:') ? (input.approverGroups[a.slice(6)] ?? []) : [a])),
        forceApprovers: [],
        fourEyes: step.approval!.fourEyes ?? false,
      },
      { approver, requester: input.startedBy },
    );
  setHandler(progressQuery, () =>
    report.steps.map((r) => ({
      name: r.path,
      state: progressState[r.state],
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      detail: r.detail,
    })),
  );

  const approvable = (request: RunbookApproveRequest) => {
    const candidates = request.step ? waiting.filter((w) => w.path === request.step || w.step.id === request.step) : waiting;
    if (!candidates.length)
      throw new Error(request.step ? `step '${request.step}' is not waiting for an approval` : 'no step is waiting for an approval');
    if (candidates.length > 1)
      throw new Error(`several steps wait for an approval (${candidates.map((c) => c.path).join(', ')}): name one with --step`);
    const target = candidates[0]!;
    const refused = refusal(target.step, request.approver);
    if (refused) throw new Error(`'${request.approver}' may not approve step ${target.path}: ${refused}`);
    if (report.approvals.some((a) => a.step === target.path && a.approver === request.approver))
      throw new Error(`'${request.approver}' has already approved step ${target.path}`);
    return target;
  };
  setHandler(
    runbookApproveUpdate,
    (request) => {
      const target = approvable(request);
      const approval: RunbookApproval = {
        step: target.path,
        approver: request.approver,
        at: new Date().toISOString(),
        ...(request.comment ? { comment: request.comment } : {}),
      };
      recordApproval(approval);
      return approval;
    },
    {
      validator: (request: RunbookApproveRequest) => {
        approvable(request);
      },
    },
  );
  setHandler(
    runbookAbortUpdate,
    (request) => {
      abort = { by: request.by, at: new Date().toISOString(), ...(request.reason ? { reason: request.reason } : {}) };
      report.abort = abort;
      if (searchable) upsertSearchAttributes([{ key: abortedByAttribute, value: abort.by }]);
      main.cancel();
      return abort;
    },
    {
      validator: (request: RunbookAbortRequest) => {
        if (!request.by.trim()) throw new Error('an abort needs --by: who aborts');
        if (abort) throw new Error(`already aborted by ${abort.by} at ${abort.at}`);
        if (report.status !== 'running' && report.status !== 'waiting-approval') throw new Error(`the run has ended (${report.status})`);
      },
    },
  );

  const context = (scope: Scope) => ({
    params: input.parameters,
    steps: scope.steps,
    run: { id: info.workflowId, runId: info.runId, startedBy: input.startedBy },
    ...scope.vars,
  });

  function finish(r: RunbookStepRecord, state: RunbookStepState, detail?: string) {
    r.state = state;
    r.finishedAt = new Date().toISOString();
    if (detail !== undefined) r.detail = detail;
  }

  async function runBlock(step: RunbookStep, r: RunbookStepRecord, block: CatalogBlock, scope: Scope): Promise<unknown> {
    const with_ = interpolate(step.with ?? {}, context(scope)) as Record<string, unknown>;
    // Who asks for a failover a runbook starts is who started the runbook, whatever the document says.
    if (block.kind === 'workflow' && block.takesRequester) with_.requestedBy = input.startedBy;
    if (planning && !block.readOnly) {
      if (block.kind === 'workflow' && block.planInput) {
        r.plan = await executeChild(block.workflowType, {
          args: [block.planInput(with_)],
          workflowId: `${info.workflowId}/${r.path}`,
          taskQueue: info.taskQueue,
        });
      } else {
        r.plan = with_;
      }
      return undefined;
    }
    if (block.kind === 'workflow') {
      const workflowId = block.workflowId?.(with_) ?? `${info.workflowId}/${r.path}`;
      r.childWorkflowId = workflowId;
      const timeout = step.timeout ? parseDuration(step.timeout) : undefined;
      return executeChild(block.workflowType, {
        args: [with_],
        workflowId,
        taskQueue: info.taskQueue,
        // An aborted runbook asks its child to stop and waits for it: a failover's own saga runs.
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        ...(timeout ? { workflowExecutionTimeout: timeout } : {}),
        ...(step.retry && isRetryProfileName(step.retry) ? { retry: retryPolicyFor(step.retry) } : {}),
      });
    }
    return runAction(step, block, with_);
  }

  async function runAction(step: RunbookStep, block: ActivityBlock, with_: Record<string, unknown>): Promise<unknown> {
    const profile = step.retry && isRetryProfileName(step.retry) ? step.retry : (block.defaultRetry ?? defaultRetryProfile);
    const options: ActivityOptions = {
      startToCloseTimeout: step.timeout ? parseDuration(step.timeout)! : block.startToCloseTimeout,
      retry: retryPolicyFor(profile, block.nonRetryable),
      ...(block.heartbeatTimeout ? { heartbeatTimeout: block.heartbeatTimeout } : {}),
    };
    const activities = proxyActivities<KubernetesActions & HttpCheckActivities & NotifyActivities>(options) as unknown as Record<
      string,
      (arg: Record<string, unknown>) => Promise<unknown>
    >;
    return activities[block.activity]!(with_);
  }

  async function runApproval(step: RunbookStep, r: RunbookStepRecord, scope: Scope): Promise<unknown> {
    const approval = step.approval!;
    const show = approval.show ? String(interpolate(approval.show, context(scope))) : undefined;
    if (planning) {
      r.plan = { approvers: approval.approvers, count: approval.count, timeout: approval.timeout, ...(show ? { show } : {}) };
      return undefined;
    }
    if (show) r.detail = show;
    const upFront = approval.approvedBy === undefined ? '' : String(interpolate(approval.approvedBy, context(scope))).trim();
    if (upFront) {
      // Approved when the run started: by the same rules as `runbook approve`, or not at all.
      const refused = refusal(step, upFront);
      if (refused)
        throw ApplicationFailure.nonRetryable(
          `approval of step ${r.path} by '${upFront}' refused: ${refused}`,
          failureTypes.ApprovalRefused,
        );
      recordApproval({ step: r.path, approver: upFront, at: new Date().toISOString(), auto: true });
      if (approval.count <= 1) return { approvers: [upFront] };
    }
    r.state = 'waiting';
    const entry = { path: r.path, step };
    waiting.push(entry);
    report.status = 'waiting-approval';
    const given = () => report.approvals.filter((a) => a.step === r.path);
    const endWait = awaitApproval({
      step: r.path,
      command: `lifeboat runbook approve ${info.workflowId} --step ${r.path}`,
      approvers: resolveApprovers(approval.approvers, input.approverGroups),
      timeoutSeconds: parseDuration(approval.timeout)! / 1000,
    });
    try {
      const approved = await condition(() => given().length >= approval.count, parseDuration(approval.timeout)!);
      if (!approved) {
        throw ApplicationFailure.nonRetryable(
          `no approval of step ${r.path} within ${approval.timeout} (${given().length} of ${approval.count})`,
          failureTypes.RunbookApprovalTimedOut,
        );
      }
      return { approvers: given().map((a) => a.approver) };
    } finally {
      endWait();
      waiting = waiting.filter((w) => w !== entry);
      if (!waiting.length && report.status === 'waiting-approval') report.status = 'running';
    }
  }

  /** Runs branches at once; the first to fail cancels the others, which are awaited before it is rethrown. */
  async function allOrCancel(branches: (() => Promise<void>)[]): Promise<void> {
    const scope = new CancellationScope();
    let first: unknown;
    await scope.run(() =>
      Promise.allSettled(
        branches.map((b) =>
          b().catch((err: unknown) => {
            if (first === undefined) {
              first = err;
              scope.cancel();
            }
            throw err;
          }),
        ),
      ),
    );
    if (first !== undefined) throw first as Error;
  }

  async function runForEach(step: RunbookStep, r: RunbookStepRecord, scope: Scope): Promise<unknown> {
    const each = step.forEach!;
    const items: unknown = evaluate(expression(each.items), context(scope));
    if (!Array.isArray(items))
      throw ApplicationFailure.nonRetryable(
        `forEach.items of ${r.path} is not a list: ${JSON.stringify(items)}`,
        failureTypes.InvalidRunbookInput,
      );
    let next = 0;
    const iteration = async (i: number) => {
      const inner: Scope = { vars: { ...scope.vars, [each.as]: (items as unknown[])[i] }, steps: { ...scope.steps } };
      await runSteps(each.steps, `${r.path}[${i}]`, inner);
    };
    const lanes = Array.from({ length: Math.min(each.concurrency, items.length) }, () => async () => {
      while (next < items.length) await iteration(next++);
    });
    await allOrCancel(lanes);
    return { items: items.length };
  }

  /**
   * Runs a step's branches within its `timeout`: when it runs out, the branches are cancelled, awaited,
   * and the step fails as `RunbookStepTimedOut`, which its `onFailure` then handles like any failure
   * (an abort or a cancel of the run stays a cancellation).
   */
  async function withStepTimeout<T>(path: string, timeout: string | undefined, work: () => Promise<T>): Promise<T> {
    if (!timeout) return work();
    const branches = new CancellationScope();
    const clock = new CancellationScope();
    let timedOut = false;
    const timer = clock
      .run(() => sleep(parseDuration(timeout)!))
      .then(
        () => {
          timedOut = true;
          branches.cancel();
        },
        () => undefined,
      );
    try {
      return await branches.run(work);
    } catch (err) {
      if (timedOut)
        throw ApplicationFailure.nonRetryable(`step ${path} did not finish within ${timeout}`, failureTypes.RunbookStepTimedOut);
      throw err;
    } finally {
      clock.cancel();
      await timer;
    }
  }

  async function runStep(step: RunbookStep, path: string, scope: Scope): Promise<void> {
    const r = record(path, step);
    const view: StepView = { status: 'pending', outputs: {} };
    scope.steps[step.id] = view;
    if (step.when !== undefined) {
      let go: unknown;
      try {
        go = evaluate(expression(step.when), context(scope));
      } catch (err) {
        if (!planning) throw new StepFailed(path, err, step.onFailure === 'compensate');
        r.plan = { when: `cannot tell before the run: ${rootFailure(err).message}` };
        go = true;
      }
      if (go !== true) {
        view.status = 'skipped';
        finish(r, 'skipped', `when: ${step.when} is false`);
        return;
      }
    }
    r.state = 'running';
    r.startedAt = new Date().toISOString();
    try {
      let result: unknown;
      if (step.run || step.action) result = await runBlock(step, r, catalogBlock((step.run ?? step.action)!)!, scope);
      else if (step.approval) result = await runApproval(step, r, scope);
      else if (step.parallel) {
        const inner: Scope = { vars: scope.vars, steps: scope.steps };
        const work = () => allOrCancel(step.parallel!.map((b) => () => runStep(b, `${path}.${b.id}`, inner)));
        await withStepTimeout(path, step.timeout, work);
      } else result = await withStepTimeout(path, step.timeout, () => runForEach(step, r, scope));
      view.result = result;
      const planned =
        planning && r.plan !== undefined && !(step.run || step.action ? catalogBlock((step.run ?? step.action)!)!.readOnly : false);
      view.status = planned ? 'planned' : 'succeeded';
      if (step.outputs && !planned) {
        for (const [name, text] of Object.entries(step.outputs)) view.outputs[name] = evaluate(expression(text), context(scope));
        r.outputs = view.outputs;
      }
      finish(r, view.status, r.detail ?? summary(result));
      if (step.compensate && !planning) saga.push({ path, steps: step.compensate, scope: { vars: scope.vars, steps: { ...scope.steps } } });
    } catch (err) {
      view.status = 'failed';
      if (isCancellation(err)) {
        finish(r, 'failed', abort ? `aborted by ${abort.by}` : 'cancelled');
        throw err;
      }
      if (err instanceof StepFailed) {
        finish(r, 'failed', `${err.path} failed`);
        throw err;
      }
      const carried = carriedDetails<unknown>(err, ({ detail }) => typeof detail === 'object' && detail !== null);
      if (carried !== undefined) r.failureDetails = carried;
      finish(r, 'failed', rootFailure(err).message);
      if (step.onFailure === 'continue') return;
      throw new StepFailed(path, err, step.onFailure === 'compensate');
    }
  }

  async function runSteps(steps: RunbookStep[], prefix: string, scope: Scope): Promise<void> {
    for (const s of steps) await runStep(s, prefix ? `${prefix}.${s.id}` : s.id, scope);
  }

  /** Runs the saga newest first; a compensation that fails is recorded and the others still run. */
  async function compensate(): Promise<string[]> {
    const failed: string[] = [];
    await CancellationScope.nonCancellable(async () => {
      for (const entry of [...saga].reverse()) {
        for (const s of [...entry.steps].reverse()) {
          const path = `${entry.path}/compensate.${s.id}`;
          try {
            await runStep({ ...s, onFailure: 'fail' }, path, entry.scope);
            records.get(path)!.state = 'compensated';
          } catch (err) {
            failed.push(`${path}: ${err instanceof StepFailed ? rootFailure(err.reason).message : rootFailure(err).message}`);
          }
        }
      }
    });
    return failed;
  }

  const top: Scope = { vars: {}, steps: {} };
  try {
    await main.run(() => runSteps(doc.steps, '', top));
    report.status = planning ? 'planned' : 'succeeded';
    report.finishedAt = new Date().toISOString();
    return report;
  } catch (err) {
    const aborted = abort !== undefined || isCancellation(err);
    const compensating = aborted || (err instanceof StepFailed && err.compensate);
    for (const r of report.steps)
      if (r.state === 'pending') finish(r, 'skipped', aborted ? 'the run was aborted' : 'an earlier step failed');
    report.failure = aborted
      ? `aborted by ${abort?.by ?? 'a cancellation'}${abort?.reason ? `: ${abort.reason}` : ''}`
      : err instanceof StepFailed
        ? err.message
        : rootFailure(err).message;
    const undoFailed = compensating ? await compensate() : [];
    report.status = aborted ? 'aborted' : compensating && !undoFailed.length ? 'compensated' : 'failed';
    report.finishedAt = new Date().toISOString();
    const undone = compensating
      ? undoFailed.length
        ? `; FAILED to undo: ${undoFailed.join('; ')}`
        : saga.length
          ? `; compensated ${saga.length} step${saga.length === 1 ? '' : 's'}`
          : ''
      : '';
    throw ApplicationFailure.nonRetryable(
      `runbook ${doc.metadata.name}: ${report.failure}${undone}`,
      aborted
        ? failureTypes.RunbookAborted
        : err instanceof StepFailed && rootFailure(err.reason).type === failureTypes.RunbookApprovalTimedOut
          ? failureTypes.RunbookApprovalTimedOut
          : failureTypes.RunbookStepFailed,
      report,
    );
  }
}

/** One line about what a step returned, for the progress view. */
function summary(result: unknown): string | undefined {
  if (result === undefined || result === null) return undefined;
  if (typeof result !== 'object') return JSON.stringify(result);
  const r = result as Record<string, unknown>;
  for (const key of ['status', 'phase', 'detail', 'failureReason']) if (typeof r[key] === 'string') return `${key}: ${r[key]}`;
  if (typeof r.passed === 'boolean') return r.passed ? 'passed' : 'FAILED';
  return undefined;
}
