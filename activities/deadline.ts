// When an activity's wait ends: an ISO `deadline` the caller fixed, or `timeoutSeconds` counted from
// when Temporal first scheduled the activity (a runbook document's way to say it). Counted from the
// first schedule, a retried attempt after a lost worker keeps the first attempt's clock.
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { describeNetworkError } from './network-errors.js';
import { httpStatusOf } from './kubernetes/api.js';
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

/**
 * What an attempt of a wait with a deadline throws once that deadline has passed. A failure a retry
 * could fix (the API silent, a connection reset) fails for good as ClusterUnreachable, naming the
 * deadline: the waits' retry policy (`patient`: unlimited attempts, the deadline bounds it) would
 * otherwise go on for as long as the API stays away. Typed failures and cancellations pass unchanged,
 * as does anything before the deadline.
 */
export function pastDeadlineFailure(err: unknown, deadlineMs: number, what: string): unknown {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure || Date.now() < deadlineMs) return err;
  const by = new Date(deadlineMs).toISOString();
  return ApplicationFailure.nonRetryable(
    httpStatusOf(err) === undefined
      ? `${what}: the API did not answer by the deadline (${by}): ${describeNetworkError(err)}`
      : `${what}: the API still failed at the deadline (${by}): ${describeNetworkError(err)}`,
    failureTypes.ClusterUnreachable,
  );
}

/**
 * A wait activity whose input bounds it (DeadlineInput) that fails for good past that deadline
 * (pastDeadlineFailure) instead of being retried for as long as the API stays away: the waits' retry
 * policy (`patient`) has no attempt limit, their deadline is what bounds them.
 */
export function failingAtDeadline<I extends DeadlineInput & { cluster: string; node: string }, R>(
  doing: string,
  wait: (input: I) => Promise<R>,
): (input: I) => Promise<R> {
  return async (input) => {
    const deadlineMs = deadlineMsOf(input);
    try {
      return await wait(input);
    } catch (err) {
      throw pastDeadlineFailure(err, deadlineMs, `${doing} Node ${input.node} on '${input.cluster}'`);
    }
  };
}
