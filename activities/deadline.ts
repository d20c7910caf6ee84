// When an activity's wait ends: an ISO `deadline` the caller fixed, or `timeoutSeconds` counted from
// when Temporal first scheduled the activity (a runbook document's way to say it). Counted from the
// first schedule, a retried attempt after a lost worker keeps the first attempt's clock.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { failureTypes } from '../model/failures.js';

export interface DeadlineInput {
  /** ISO time. */
  deadline?: string;
  /** Seconds from the activity's first schedule. */
  timeoutSeconds?: number;
}

/** The deadline as epoch milliseconds; an input that names neither (or a bad one) is refused, never read as "no deadline". */
export function deadlineMsOf({ deadline, timeoutSeconds }: DeadlineInput): number {
  if (deadline !== undefined) {
    const ms = Date.parse(deadline);
    if (Number.isNaN(ms))
      throw ApplicationFailure.nonRetryable(
        `deadline must be an ISO time, got ${JSON.stringify(deadline)}`,
        failureTypes.InvalidRunbookInput,
      );
    return ms;
  }
  if (timeoutSeconds !== undefined && Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)
    return Context.current().info.scheduledTimestampMs + timeoutSeconds * 1000;
  throw ApplicationFailure.nonRetryable(
    `expected a deadline (an ISO time) or timeoutSeconds (more than 0), got ${JSON.stringify({ deadline, timeoutSeconds })}`,
    failureTypes.InvalidRunbookInput,
  );
}
