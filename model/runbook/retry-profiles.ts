import type { RetryPolicy } from '@temporalio/common';

/**
 * Named retry profiles. Runbook documents name one (`retry: quick`) and never write a raw policy,
 * so every retry in a document is one that has been reviewed here.
 */
export const retryProfiles = {
  /** One attempt: for steps whose failure a person must look at (a fence, a DNS switch). */
  none: { maximumAttempts: 1 },
  /** Short blips of an API server or load balancer: 3 attempts within about 3 s. */
  quick: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
  /** The default for actions: 5 attempts over about 30 s. */
  standard: { maximumAttempts: 5, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
  /**
   * Waiting on the world (a Velero restore, a node coming back): unlimited attempts, so the step's
   * `timeout` is what bounds it. No `maximumAttempts` means unlimited in Temporal.
   */
  patient: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
} as const satisfies Record<string, RetryPolicy>;

export type RetryProfileName = keyof typeof retryProfiles;

/** The profile a step gets when it names none and its building block has no `defaultRetry`. */
export const defaultRetryProfile: RetryProfileName = 'standard';

export const retryProfileNames = Object.keys(retryProfiles) as RetryProfileName[];

export function isRetryProfileName(name: string): name is RetryProfileName {
  return Object.hasOwn(retryProfiles, name);
}

/**
 * The Temporal retry policy for a profile, with the failure types that retrying cannot fix
 * (taken by the caller from the project's one failure-type registry).
 */
export function retryPolicyFor(name: RetryProfileName, nonRetryableErrorTypes: readonly string[] = []): RetryPolicy {
  return { ...retryProfiles[name], nonRetryableErrorTypes: [...nonRetryableErrorTypes] };
}
