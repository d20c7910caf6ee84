// An HTTP check a runbook step may name (`action: httpCheck`): the service answers as it should.
import { ApplicationFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';
import { describeNetworkError } from '../network-errors.js';

export interface HttpCheckInput {
  url: string;
  /** Default: 200. */
  expectStatus?: number;
  /** A text the body must contain. */
  bodyContains?: string;
  /** Default: 10. */
  timeoutSeconds?: number;
}

/** How much of an unexpected answer goes into the message. */
const maxAnswerLength = 200;

export function createHttpCheckActivities() {
  return {
    async httpCheck(input: HttpCheckInput): Promise<{ url: string; status: number; milliseconds: number }> {
      let url: URL;
      try {
        url = new URL(input.url);
      } catch {
        throw ApplicationFailure.nonRetryable(`httpCheck: ${JSON.stringify(input.url)} is not a URL`, failureTypes.InvalidRunbookInput);
      }
      const expect = input.expectStatus ?? 200;
      const started = performance.now();
      let response: Response;
      try {
        response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout((input.timeoutSeconds ?? 10) * 1000) });
      } catch (err) {
        // Retryable: the next attempt may reach it.
        throw new Error(
          `GET ${url.href}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${input.timeoutSeconds ?? 10} s` : describeNetworkError((err as { cause?: unknown }).cause ?? err)}`,
        );
      }
      const body = await response.text();
      const milliseconds = Math.round(performance.now() - started);
      if (response.status !== expect) {
        throw ApplicationFailure.retryable(
          `GET ${url.href} answered ${response.status}, expected ${expect}: ${body.slice(0, maxAnswerLength)}`,
          failureTypes.HttpCheckFailed,
        );
      }
      if (input.bodyContains !== undefined && !body.includes(input.bodyContains)) {
        throw ApplicationFailure.retryable(
          `GET ${url.href} answered ${response.status} without ${JSON.stringify(input.bodyContains)}: ${body.slice(0, maxAnswerLength)}`,
          failureTypes.HttpCheckFailed,
        );
      }
      return { url: url.href, status: response.status, milliseconds };
    },
  };
}

export type HttpCheckActivities = ReturnType<typeof createHttpCheckActivities>;
