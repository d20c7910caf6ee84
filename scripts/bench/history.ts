// What a workflow's history says about where its time went: each activity's scheduled, started and
// closed times (server clock), and each workflow task's. Shared by the benchmarks that run a real worker.
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodePayload } from '../../worker/temporal.js';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type Timestamp = HistoryEvent['eventTime'];

/** Protobuf Longs and numbers alike. */
const num = (x: { toString(): string } | number | null | undefined): number => (x === null || x === undefined ? 0 : Number(x.toString()));
const msOf = (t: Timestamp): number => num(t?.seconds) * 1000 + (t?.nanos ?? 0) / 1e6;

export interface ActivityTiming {
  name: string;
  /** The attempt that closed the activity. */
  attempt: number;
  scheduledMs: number;
  startedMs: number;
  closedMs: number;
  status: 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'open';
  /** The completed activity's result, decoded from its payload with the client's codec. */
  result?: unknown;
}

export interface WorkflowTaskTiming {
  scheduledMs: number;
  startedMs: number;
  completedMs: number;
}

export interface HistoryTimings {
  startedMs: number;
  closedMs: number;
  activities: ActivityTiming[];
  workflowTasks: WorkflowTaskTiming[];
}

/** Reads a closed (or running) workflow's history into timings. */
export async function historyTimings(handle: WorkflowHandle): Promise<HistoryTimings> {
  const events = (await handle.fetchHistory()).events ?? [];
  const activities = new Map<number, ActivityTiming>();
  const tasks = new Map<number, Partial<WorkflowTaskTiming>>();
  let startedMs = 0;
  let closedMs = 0;
  const results: [ActivityTiming, Payload][] = [];
  const close = (scheduledEventId: unknown, at: number, status: ActivityTiming['status'], result?: Payload | null) => {
    const a = activities.get(num(scheduledEventId as number));
    if (!a) return;
    a.closedMs = at;
    a.status = status;
    if (result) results.push([a, result]);
  };
  for (const e of events) {
    const at = msOf(e.eventTime);
    const id = num(e.eventId);
    if (e.workflowExecutionStartedEventAttributes) startedMs = at;
    if (
      e.workflowExecutionCompletedEventAttributes ||
      e.workflowExecutionFailedEventAttributes ||
      e.workflowExecutionTerminatedEventAttributes ||
      e.workflowExecutionCanceledEventAttributes ||
      e.workflowExecutionTimedOutEventAttributes
    )
      closedMs = at;
    if (e.workflowTaskScheduledEventAttributes) tasks.set(id, { scheduledMs: at });
    const wtStarted = e.workflowTaskStartedEventAttributes;
    if (wtStarted) tasks.get(num(wtStarted.scheduledEventId))!.startedMs = at;
    const wtDone = e.workflowTaskCompletedEventAttributes;
    if (wtDone) tasks.get(num(wtDone.scheduledEventId))!.completedMs = at;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled)
      activities.set(id, {
        name: scheduled.activityType?.name ?? '?',
        attempt: 1,
        scheduledMs: at,
        startedMs: 0,
        closedMs: 0,
        status: 'open',
      });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const a = activities.get(num(started.scheduledEventId));
      if (a) {
        a.startedMs = at;
        a.attempt = started.attempt ?? 1;
      }
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c) close(c.scheduledEventId, at, 'completed', c.result?.payloads?.[0]);
    if (e.activityTaskFailedEventAttributes) close(e.activityTaskFailedEventAttributes.scheduledEventId, at, 'failed');
    if (e.activityTaskTimedOutEventAttributes) close(e.activityTaskTimedOutEventAttributes.scheduledEventId, at, 'timed-out');
    if (e.activityTaskCanceledEventAttributes) close(e.activityTaskCanceledEventAttributes.scheduledEventId, at, 'cancelled');
  }
  for (const [a, result] of results) a.result = await decodePayload(handle.client, result);
  return {
    startedMs,
    closedMs,
    activities: [...activities.values()],
    workflowTasks: [...tasks.values()].filter((t): t is WorkflowTaskTiming => t.completedMs !== undefined && t.startedMs !== undefined),
  };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
