// Bounded waits for tests: until a probe answers, and a promise settled within a deadline.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` every `everyMs` until it returns a value, at most `timeoutMs`; a check that throws counts
 * as no answer yet. The error names `what` and the last error a check threw.
 */
export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  let last = '';
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(everyMs)) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ''}`);
}

/** `promise`, or an error naming `what` once `timeoutMs` has passed without it settling. */
export async function within<T>(what: string, timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs / 1000} s`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}
