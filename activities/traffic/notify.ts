// A notification a runbook step may send (`action: notify`): a message POSTed as JSON to an incoming
// webhook (Slack-compatible `{ "text": ... }`), with an idempotency key named after the step's run so a
// retry is recognisable to the receiver. The webhook's URL is a secret (Slack's carries its token in the
// path): the document names the worker's environment variable that holds it, and messages show only
// its origin.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';
import { describeNetworkError } from '../network-errors.js';

export interface NotifyInput {
  /** The worker's environment variable holding the incoming webhook's URL, e.g. LIFEBOAT_SLACK_WEBHOOK. */
  webhookEnv: string;
  /** The message. */
  text: string;
  /** Default: 10. */
  timeoutSeconds?: number;
}

/** How much of a refusing answer goes into the message. */
const maxAnswerLength = 200;

export function createNotifyActivities() {
  return {
    async notify(input: NotifyInput): Promise<{ to: string; status: number }> {
      const value = process.env[input.webhookEnv];
      if (!value)
        throw ApplicationFailure.nonRetryable(
          `notify: the worker's environment has no ${input.webhookEnv}`,
          failureTypes.InvalidRunbookInput,
        );
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw ApplicationFailure.nonRetryable(`notify: ${input.webhookEnv} does not hold a URL`, failureTypes.InvalidRunbookInput);
      }
      const { workflowExecution, activityId } = Context.current().info;
      const key = `${workflowExecution?.workflowId ?? 'standalone'}/${workflowExecution?.runId ?? ''}/${activityId}`;
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ text: input.text }),
          redirect: 'manual',
          signal: AbortSignal.timeout((input.timeoutSeconds ?? 10) * 1000),
        });
      } catch (err) {
        throw new Error(
          `POST ${url.origin} (${input.webhookEnv}): ${(err as Error).name === 'TimeoutError' ? `no answer within ${input.timeoutSeconds ?? 10} s` : describeNetworkError((err as { cause?: unknown }).cause ?? err)}`,
        );
      }
      const body = await response.text();
      if (response.status >= 200 && response.status < 300) return { to: url.origin, status: response.status };
      // 4xx but 408 and 429: the receiver refuses this message, and will again.
      const refused = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
      const message = `POST ${url.origin} (${input.webhookEnv}) answered ${response.status}: ${body.slice(0, maxAnswerLength)}`;
      throw refused ? ApplicationFailure.nonRetryable(message, failureTypes.NotificationRejected) : new Error(message);
    },
  };
}

export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
