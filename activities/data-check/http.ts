// A data check over HTTP: a GET expecting 200 (and a text in the body). No answer, or a 502, 503 or 504
// (a proxy in front of an app still starting), is retryable; any other answer is the check's verdict.
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { failureTypes } from '../../model/failures.js';
import { describeNetworkError } from '../network-errors.js';
import { maxCheckOutputBytes } from './command.js';

/** How much of a body is read to look for `bodyContains`. */
const maxBodyBytes = 1024 * 1024;
const transientStatuses = new Set([502, 503, 504]);

export interface HttpDataCheckOutcome {
  status: number;
  /** The start of the body (at most 4 KiB). */
  output: string;
  milliseconds: number;
}

async function boundedBody(response: Response): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < maxBodyBytes) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => undefined);
  return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks).subarray(0, maxBodyBytes));
}

/**
 * GETs `url`; throws the classified failure unless it answers 200 (with `bodyContains`), with the details
 * a report shows. `label` names the check in messages (which check, whose).
 */
export async function httpDataCheck(
  check: { url: string; bodyContains?: string | undefined; timeout: number },
  label: string,
  signal: AbortSignal,
): Promise<HttpDataCheckOutcome> {
  const started = performance.now();
  let response: Response;
  let body: string;
  try {
    response = await fetch(check.url, { redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(check.timeout * 1000)]) });
    body = await boundedBody(response);
  } catch (err) {
    if (signal.aborted) throw new CancelledFailure(`data check ${label} cancelled`);
    throw ApplicationFailure.retryable(
      `data check ${label}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${check.timeout} s` : describeNetworkError((err as { cause?: unknown }).cause ?? err)}`,
      failureTypes.DataCheckUnavailable,
    );
  }
  const outcome = {
    status: response.status,
    output: body.slice(0, maxCheckOutputBytes),
    milliseconds: Math.round(performance.now() - started),
  };
  const excerpt = body.slice(0, 200);
  if (transientStatuses.has(response.status))
    throw ApplicationFailure.create({
      message: `data check ${label}: answered ${response.status}: ${excerpt}`,
      type: failureTypes.DataCheckUnavailable,
      details: [{ check: label, passed: false, ...outcome }],
    });
  if (response.status !== 200)
    throw ApplicationFailure.create({
      message: `data check ${label}: answered ${response.status}, expected 200: ${excerpt}`,
      type: failureTypes.DataCheckFailed,
      nonRetryable: true,
      details: [{ check: label, passed: false, ...outcome }],
    });
  if (check.bodyContains !== undefined && !body.includes(check.bodyContains))
    throw ApplicationFailure.create({
      message: `data check ${label}: answered 200 without ${JSON.stringify(check.bodyContains)}: ${excerpt}`,
      type: failureTypes.DataCheckFailed,
      nonRetryable: true,
      details: [{ check: label, passed: false, ...outcome }],
    });
  return outcome;
}
