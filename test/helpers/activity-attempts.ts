// What a run's history says about retries (each activity it ran, with the attempt that finished it) and
// about the workers that ran it.
import type { WorkflowHandle } from '@temporalio/client';

export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/**
 * `[activity type, attempt]` for each activity of the run, in the order they were scheduled. The
 * server writes an activity's started event when the activity finishes, with the last attempt's number:
 * an activity a killed worker had running, retried once and completed, shows attempt 2.
 */
export function activityAttempts(history: History): [string, number][] {
  const events = history.events ?? [];
  const typeOf = activityTypes(history);
  // Started events come in the order the activities ended; activities that ran at once (a hand-over's
  // fence and bring-up) are put back in the order they were scheduled.
  return events
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => e.activityTaskStartedEventAttributes!)
    .sort((a, b) => Number(a.scheduledEventId) - Number(b.scheduledEventId))
    .map((a): [string, number] => [typeOf.get(String(a.scheduledEventId)) ?? '?', a.attempt ?? 0])
    .filter(([type]) => !lifecycleActivities.has(type));
}

/**
 * Activities every run has (workflows/run-lifecycle.ts: its notifications), left out of what a test
 * says of its runbook's own steps; their tests are test/workflows/run-lifecycle.test.ts.
 */
export const lifecycleActivities: ReadonlySet<string> = new Set(['deliverNotification']);

/** Each activity's type, by the id of the event that scheduled it. */
function activityTypes(history: History): Map<string, string> {
  return new Map(
    (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!]),
  );
}

/** The runbook's own activities that completed, by type, sorted. */
export function completedActivities(history: History): string[] {
  const typeOf = activityTypes(history);
  return (history.events ?? [])
    .filter((e) => e.activityTaskCompletedEventAttributes)
    .map((e) => typeOf.get(String(e.activityTaskCompletedEventAttributes!.scheduledEventId))!)
    .filter((type) => !lifecycleActivities.has(type))
    .sort();
}

/** The activities that needed more than one attempt, with the attempt that finished each. */
export const retriedActivities = (history: History) => activityAttempts(history).filter(([, attempt]) => attempt !== 1);

/** The identities of the workers that took the run's workflow or activity tasks, each once. */
export const taskIdentities = (history: History): string[] => [
  ...new Set(
    (history.events ?? [])
      .flatMap((e) => [e.workflowTaskStartedEventAttributes?.identity, e.activityTaskStartedEventAttributes?.identity])
      .filter((identity): identity is string => !!identity),
  ),
];
