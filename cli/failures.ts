// The innermost cause of a workflow failure, with its type: what an SRE needs to read.
import type { WorkflowFailedError } from '@temporalio/client';

export function failureSummary(err: WorkflowFailedError): string {
  let cause: unknown = err.cause;
  while ((cause as { cause?: unknown })?.cause) cause = (cause as { cause?: unknown }).cause;
  const c = cause as { type?: string; message?: string } | undefined;
  return c ? `${c.type ? `[${c.type}] ` : ''}${c.message ?? ''}` : err.message;
}
