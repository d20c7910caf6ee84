/** A short, stack-free description of a network error, for health reports and messages to people. */
export function describeNetworkError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException } };
  const code = e.code ?? e.cause?.code ?? e.cause?.cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'ENOTFOUND':
      return 'host not found';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    // undici's (fetch, the Kubernetes client): what a black-holed path looks like.
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'no answer: the connection was not set up in time (UND_ERR_CONNECT_TIMEOUT)';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `no answer: timed out waiting for the response (${code})`;
    case 'UND_ERR_SOCKET':
      return 'the connection was closed before the answer (UND_ERR_SOCKET)';
    default:
      return code ? `${code}: ${e.message}` : (e.message ?? String(err)).split('\n')[0]!;
  }
}

/** How long a health check waits for its component. */
export const healthCheckDeadlineMs = 10_000;

/** Rejects with `no answer within N s` when `work` takes longer than `ms`. */
export async function withDeadline<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
