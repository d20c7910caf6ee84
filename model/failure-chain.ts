// Reading a Temporal failure chain (workflow failure → child or activity failure → application
// failure). Pure: workflow code and the CLI both use it.

interface FailureLink {
  message?: string;
  type?: string;
  details?: unknown[];
  cause?: FailureLink;
}

/** The innermost cause: what went wrong, not which layer passed it on. */
export function rootFailure(err: unknown): { message: string; type?: string } {
  let f = err as FailureLink;
  while (f.cause) f = f.cause;
  return { message: f.message ?? String(err), type: f.type };
}

/** `[Type] message` of the innermost cause: what an SRE needs to read. */
export function describeRootFailure(err: unknown): string {
  const { message, type } = rootFailure(err);
  return `${type ? `[${type}] ` : ''}${message}`;
}

/** The first details payload along the chain that `accept` recognises: a result a failure carries. */
export function carriedDetails<T>(err: unknown, accept: (link: { type?: string; detail: unknown }) => boolean): T | undefined {
  for (let f = err as FailureLink | undefined; f; f = f.cause) {
    const detail = f.details?.[0];
    if (detail !== undefined && accept({ type: f.type, detail })) return detail as T;
  }
  return undefined;
}
