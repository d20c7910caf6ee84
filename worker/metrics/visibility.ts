// What Temporal visibility says about a task queue's runs: the closed ones (read once in full, then
// only those closed since the last read) and the running ones. The metrics count and time from these
// records, so a restarted worker reports the same totals at once.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import {
  appAttribute,
  awaitingApprovalSinceAttribute,
  clusterAttribute,
  outcomeAttribute,
  rtoSecondsAttribute,
  runbookAttribute,
  type RunOutcome,
} from '../../model/search-attributes.js';

/** A closed run as visibility records it. */
export interface ClosedRun {
  workflowId: string;
  runId: string;
  /** LifeboatRunbook, or the workflow type for runs that predate it. */
  runbook: string;
  /** LifeboatOutcome, or one read from the execution status for runs that predate it. */
  outcome: RunOutcome;
  cluster?: string;
  app?: string;
  rtoSeconds?: number;
  startTime: Date;
  closeTime: Date;
}

/** A run still open. */
export interface RunningRun {
  workflowId: string;
  runbook: string;
  cluster?: string;
  app?: string;
  awaitingApprovalSince?: Date;
  startTime: Date;
}

/** How a run ended when it carries no LifeboatOutcome (it started before runs set it). */
const outcomeOfStatus: Record<string, RunOutcome | undefined> = {
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  TIMED_OUT: 'failed',
  TERMINATED: 'failed',
  CANCELLED: 'cancelled',
};

/**
 * Runs are read again from this long before the previous read began: a run's close reaches visibility a
 * little after it happens, and runs read twice are told apart by run ID.
 */
const overlapMs = 120_000;

const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const temporalTime = (t: Date) => quoted(t.toISOString());

export class VisibilityReader {
  /** Start of the last read that succeeded; undefined until the full read has. */
  private readUntil?: Date;
  /** Run IDs already returned, with their close time (forgotten once older than the overlap). */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  private fields(info: WorkflowExecutionInfo) {
    const attrs = info.typedSearchAttributes;
    return {
      workflowId: info.workflowId,
      runbook: attrs.get(runbookAttribute) ?? info.type,
      cluster: attrs.get(clusterAttribute),
      app: attrs.get(appAttribute),
      startTime: info.startTime,
    };
  }

  /** Runs closed since the last call (every closed run of the task queue, the first time). */
  async newlyClosed(): Promise<ClosedRun[]> {
    const startedAt = new Date();
    const since = this.readUntil && new Date(this.readUntil.getTime() - overlapMs);
    const query = `TaskQueue = ${quoted(this.taskQueue)} AND ExecutionStatus != 'Running'${since ? ` AND CloseTime >= ${temporalTime(since)}` : ''}`;
    const runs: ClosedRun[] = [];
    for await (const info of this.client.workflow.list({ query })) {
      if (!info.closeTime || this.seen.has(info.runId)) continue;
      const outcome = (info.typedSearchAttributes.get(outcomeAttribute) as RunOutcome | undefined) ?? outcomeOfStatus[info.status.name];
      // A run continued as new has not ended: its last run will.
      if (!outcome) continue;
      this.seen.set(info.runId, info.closeTime.getTime());
      runs.push({
        ...this.fields(info),
        runId: info.runId,
        outcome,
        rtoSeconds: info.typedSearchAttributes.get(rtoSecondsAttribute),
        closeTime: info.closeTime,
      });
    }
    this.readUntil = startedAt;
    const forgetBefore = startedAt.getTime() - 2 * overlapMs;
    for (const [runId, closed] of this.seen) if (closed < forgetBefore) this.seen.delete(runId);
    return runs;
  }

  /** The task queue's open runs. */
  async running(): Promise<RunningRun[]> {
    const runs: RunningRun[] = [];
    const query = `TaskQueue = ${quoted(this.taskQueue)} AND ExecutionStatus = 'Running'`;
    for await (const info of this.client.workflow.list({ query }))
      runs.push({ ...this.fields(info), awaitingApprovalSince: info.typedSearchAttributes.get(awaitingApprovalSinceAttribute) });
    return runs;
  }
}
