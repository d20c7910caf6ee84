// One request to a team's webhook (a traffic switch, a node provider), the same way everywhere: within
// a timeout, cancelled with the activity, redirects not followed, the bearer token never in a message,
// and the answer classified: 2xx returned; 5xx, 408, 429 and no answer retryable (a Retry-After
// honoured); any other status non-retryable. While it waits for the answer, the activity heartbeats.
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { describeNetworkError } from './network-errors.js';

/** How much of a webhook's answer goes into a message. */
const maxAnswerLength = 300;

/** The URL without credentials or query, for messages. */
export const safeUrl = (url: string) => {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
};

/** The longest wait a Retry-After may ask for: a server that says a day (86400) does not park the run for a day. */
const maxRetryAfterSeconds = 300;

/**
 * Seconds a Retry-After header asks to wait, capped at 5 minutes: delta-seconds, or an HTTP-date (RFC
 * 9110 10.2.3; IMF-fixdate or the obsolete RFC 850 and asctime forms) counted from the answer's Date
 * header, so that the two clocks need not agree. Undefined for anything else, or a date already past.
 */
function retryAfterSeconds(header: string | null, date: string | null): number | undefined {
  const value = header?.trim() ?? '';
  if (/^\d+$/.test(value)) return Math.min(Number(value), maxRetryAfterSeconds);
  // Date.parse reads almost anything ('-5' is May 2001): only what starts like an HTTP-date is one.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /.test(value)) return undefined;
  // asctime has no zone; every HTTP-date is GMT, whatever the worker's time zone.
  const gmt = (text: string) => Date.parse(/ GMT$/.test(text) ? text : `${text} GMT`);
  const at = gmt(value);
  const sent = date ? gmt(date.trim()) : NaN;
  const seconds = Math.ceil((at - (Number.isNaN(sent) ? Date.now() : sent)) / 1000);
  return seconds > 0 ? Math.min(seconds, maxRetryAfterSeconds) : undefined;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The failure types a caller's webhook errors get. */
export interface WebhookFailureTypes {
  /** Retryable: 5xx, 408 or 429. */
  unavailable: string;
  /** Retryable: no answer within the timeout. */
  timeout: string;
  /** Retryable: no connection (refused, reset, unknown host). */
  unreachable: string;
  /** Non-retryable: any other status but 2xx. */
  rejected: string;
}

export interface WebhookRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Seconds the request may take. */
  timeout: number;
  /** Sent as `Authorization: Bearer <token>`; replaced by `[token]` in any answer quoted. */
  token?: string;
  /** How messages name the endpoint, for a URL whose path is itself a secret (a Slack webhook's). Default: `<method> <origin><path>`. */
  target?: string;
  /** What the activity heartbeats besides `waitingFor`: a caller's progress, so a beat during the request does not drop it. */
  heartbeatDetails?: () => Record<string, unknown>;
}

/**
 * One request; a 2xx answer is returned with its body, anything else is thrown, classified by `types`.
 * When the activity has a heartbeat timeout, it heartbeats `{ waitingFor: '<method> <url>' }` until
 * the answer is read (the request may take longer than that timeout): a caller that resumes from its
 * heartbeat details must heartbeat its own again after the request.
 */
export async function callWebhook(
  url: string,
  request: WebhookRequest,
  types: WebhookFailureTypes,
): Promise<{ status: number; text: string }> {
  const { token } = request;
  const what = request.target ?? `${request.method} ${safeUrl(url)}`;
  const redact = (text: string) => (token ? text.replaceAll(token, '[token]') : text).slice(0, maxAnswerLength);
  const ctx = Context.current();
  const cancellation = ctx.cancellationSignal;
  const { heartbeatTimeoutMs } = ctx.info;
  // A slow answer must not look like a dead worker: without beats, Temporal would time the attempt out and retry it.
  const heartbeats = heartbeatTimeoutMs
    ? setInterval(() => ctx.heartbeat({ ...request.heartbeatDetails?.(), waitingFor: what }), Math.min(heartbeatTimeoutMs / 3, 10_000))
    : undefined;
  let status: number;
  let text: string;
  let retryAfter: string | null;
  let date: string | null;
  try {
    const response = await fetch(url, {
      method: request.method,
      headers: { accept: 'application/json', ...request.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(request.body === undefined ? {} : { body: request.body }),
      // A redirected POST may become a GET elsewhere: the configured URL must be the final one.
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(request.timeout * 1000), cancellation]),
    });
    status = response.status;
    retryAfter = response.headers.get('retry-after');
    date = response.headers.get('date');
    text = await response.text();
  } catch (err) {
    if (cancellation.aborted)
      throw cancellation.reason instanceof CancelledFailure ? cancellation.reason : new CancelledFailure(`${what}: cancelled`);
    if ((err as Error).name === 'TimeoutError') {
      throw ApplicationFailure.retryable(`${what}: no answer within ${request.timeout} s`, types.timeout);
    }
    throw ApplicationFailure.retryable(`${what}: ${describeNetworkError(err)}`, types.unreachable);
  } finally {
    clearInterval(heartbeats);
  }
  if (status >= 200 && status < 300) return { status, text };
  const answer = `${what} answered ${status}${text.trim() ? `: ${redact(text.trim())}` : ''}`;
  if (status >= 500 || status === 408 || status === 429) {
    const delay = retryAfterSeconds(retryAfter, date);
    throw ApplicationFailure.create({
      message: answer,
      type: types.unavailable,
      nonRetryable: false,
      ...(delay === undefined ? {} : { nextRetryDelay: `${delay}s` }),
    });
  }
  const hint = status >= 300 && status < 400 ? ' (redirects are not followed: configure the final URL)' : '';
  throw ApplicationFailure.nonRetryable(`${answer}${hint}`, types.rejected);
}
