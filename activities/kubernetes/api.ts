// How Lifeboat reads a failed Kubernetes API call: one place for the HTTP status and for which
// failures retrying cannot fix.
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { failureTypes, type FailureType } from '../../model/failures.js';
import { describeNetworkError } from '../network-errors.js';
import { describeRefusal } from './permissions.js';

/** The HTTP status of a failed API call (client-node's ApiException `code`, or a response's status), if it got one. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } } | undefined;
  for (const c of [e?.code, e?.statusCode, e?.response?.statusCode]) if (typeof c === 'number') return c;
  return undefined;
}

export const isNotFound = (err: unknown) => httpStatusOf(err) === 404;

/** The API server's own words (a Status body's message) when there are some, else the error's message. */
export function apiMessageOf(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  try {
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string } | undefined);
    if (body?.message) return body.message;
  } catch {
    /* not a Status body */
  }
  return e.message ?? String(err);
}

/**
 * A Kubernetes API failure as a retryable error, or a typed non-retryable one: refused credentials
 * always; a missing object when `notFound` names the failure type it means to the caller.
 */
export function kubernetesError(err: unknown, what: string, options: { notFound?: FailureType } = {}): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const code = httpStatusOf(err);
  if (code === 401)
    return ApplicationFailure.nonRetryable(
      `${what}: the Kubernetes API does not accept Lifeboat's credentials (HTTP 401: an expired or revoked token, a wrong certificate)`,
      failureTypes.KubernetesForbidden,
    );
  if (code === 403)
    return ApplicationFailure.nonRetryable(`${what}: ${describeRefusal(apiMessageOf(err))} (HTTP 403)`, failureTypes.KubernetesForbidden);
  if (code === 404 && options.notFound) return ApplicationFailure.nonRetryable(`${what}: not found`, options.notFound);
  return new Error(`${what}: ${typeof code === 'number' ? `HTTP ${code}` : describeNetworkError(err)}`);
}
