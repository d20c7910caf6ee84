// A shipped runbook document as the CLI starts it: read from runbooks/, validated with the real block
// registry, its parameters resolved (defaults applied, types checked), hashed. And the runbook
// interpreter run on the time-skipping test server (test/helpers/time-skipping.ts): started, acted on
// while it runs (its report queried, steps approved through the update), its outcome and stub calls read.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { contentHash } from '../../cli/runbook-documents.js';
import { carriedDetails } from '../../model/failure-chain.js';
import { parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import type { ParameterValue, RunbookApproval, RunbookApproveRequest, RunbookInput, RunbookReport } from '../../model/runbook/run.js';
import { resolveParameters } from '../../model/runbook/validate.js';
import type { runbook } from '../../workflows/runbook.js';
import { fetchHistory } from './histories.js';
import { recorded, withStubbedWorker, type StubCall } from './time-skipping.js';

/** The checkout's runbooks/: the documents Lifeboat ships. */
export const shippedRunbooksDir = fileURLToPath(new URL('../../../runbooks/', import.meta.url));

export function findRunbookIn(
  dir: string,
  name: string,
  given: Record<string, ParameterValue>,
  {
    startedBy = 'jest',
    approverGroups = { sre: ['alice', 'bob', 'carol'] },
  }: { startedBy?: string; approverGroups?: Record<string, string[]> } = {},
): RunbookInput {
  const file = join(dir, `${name}.yaml`);
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
    startedBy,
    approverGroups,
  };
}

type HistoryEvents = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>;

/** How a run of the interpreter ended. */
export interface RunbookOutcome {
  /** Its report: the result, or the one the failure carries. */
  report: RunbookReport;
  /** The run's failure; undefined when it completed. */
  err: unknown;
  workflowId: string;
  runId: string;
  /** Its history's events. */
  events: HistoryEvents;
}

export interface RunbookRunOptions {
  /** The workflow ID before a random suffix (a suite names its runs as the CLI would). Default: `runbook/<document name>`. */
  idPrefix?: string;
  /** Acts on the run once it started, before its end is awaited (queries, approvals, an abort). Default: nothing. */
  during?: (handle: WorkflowHandle<typeof runbook>) => Promise<void>;
  /** Records the history as test/histories/<record>.json when LIFEBOAT_RECORD_HISTORIES=1. Default: not recorded. */
  record?: string;
}

/** Starts the interpreter on `taskQueue` (a stub worker's), lets `during` act on it and returns how it ended. */
export async function runRunbook(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  input: RunbookInput,
  { idPrefix = `runbook/${input.document.metadata.name}`, during, record }: RunbookRunOptions = {},
): Promise<RunbookOutcome> {
  const workflowId = `${idPrefix}/${randomUUID().slice(0, 8)}`;
  const handle = await env.client.workflow.start<typeof runbook>('runbook', { taskQueue, workflowId, args: [input] });
  await during?.(handle);
  const outcome = await handle.result().then(
    (report) => ({ report, err: undefined as unknown }),
    (err: unknown) => ({
      report: carriedDetails<RunbookReport>(err, ({ detail }) => typeof detail === 'object' && detail !== null && 'steps' in detail)!,
      err,
    }),
  );
  const history = await handle.fetchHistory();
  if (record) await fetchHistory(env.client, workflowId, record);
  return { ...outcome, workflowId, runId: handle.firstExecutionRunId, events: history.events ?? [] };
}

/**
 * {@link runRunbook} on a stub worker of its own serving `stubs`; also returns every stub call, in order.
 * A test whose stubs or `during` read the calls while the run goes on uses `recorded`, `withStubbedWorker`
 * and `runRunbook` itself.
 */
export async function runWithStubs(
  env: TestWorkflowEnvironment,
  stubs: Parameters<typeof recorded>[0],
  input: RunbookInput,
  options: RunbookRunOptions = {},
): Promise<RunbookOutcome & { calls: StubCall[] }> {
  const { activities, calls } = recorded(stubs);
  const outcome = await withStubbedWorker(env, activities, (taskQueue) => runRunbook(env, taskQueue, input, options));
  return { ...outcome, calls };
}

/**
 * Queries the run's report until `done` holds of it and returns that report. Gives up after `timeoutMs`
 * of real time (default 30 s), saying where the run's steps stood.
 */
export async function untilReport(
  handle: WorkflowHandle,
  done: (report: RunbookReport) => boolean,
  timeoutMs = 30_000,
): Promise<RunbookReport> {
  const deadline = Date.now() + timeoutMs;
  let last: RunbookReport | undefined;
  for (;;) {
    // A query before the run's first workflow task has nothing to answer with yet.
    last = (await handle.query<RunbookReport>('report').catch(() => undefined)) ?? last;
    if (last && done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `run ${handle.workflowId}: its report did not come to what was waited for within ${timeoutMs} ms; it was: ${
          last ? `${last.status}, ${stepsOf(last).join(', ')}` : 'never answered'
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Approves a step of the run through the `approve` update; rejects with the validator's reason when refused. */
export const approveStep = (handle: WorkflowHandle, request: RunbookApproveRequest) =>
  handle.executeUpdate<RunbookApproval, [RunbookApproveRequest]>('approve', { args: [request] });

/** Each step as `path state`, or with `'detail'` as `path state: detail` (when it has one). */
export const stepsOf = (report: RunbookReport, show: 'state' | 'detail' = 'state') =>
  report.steps.map((s) => `${s.path} ${s.state}${show === 'detail' && s.detail !== undefined ? `: ${s.detail}` : ''}`);

/**
 * The activities the stubs ran, in order. An activity named in `inputShown` is shown with that field of
 * its input: `{ scaleWorkload: 'replicas' }` gives `scaleWorkload(0)`.
 */
export const activitiesOf = (calls: StubCall[], inputShown: Record<string, string> = {}) =>
  calls.map((c) => {
    const field = inputShown[c.activity];
    return field === undefined ? c.activity : `${c.activity}(${String(c.input[field])})`;
  });
