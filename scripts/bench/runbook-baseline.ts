// The benchmark's baseline (bench:runbook): the runbook's three sequential httpCheck steps written by
// hand as a workflow, with the same activity options the interpreter gives an `action: httpCheck` step
// (catalogue timeout and default retry profile), so the difference is the interpreter's own work.
import { proxyActivities } from '@temporalio/workflow';
import type { HttpCheckActivities, HttpCheckInput } from '../../activities/traffic/http-check.js';
import { blockCatalog } from '../../model/runbook/catalog.js';
import { retryPolicyFor } from '../../model/runbook/retry-profiles.js';

const block = blockCatalog.httpCheck;
const { httpCheck } = proxyActivities<HttpCheckActivities>({
  startToCloseTimeout: block.startToCloseTimeout,
  retry: retryPolicyFor(block.defaultRetry, block.nonRetryable),
});

export async function runbookBaseline(input: { checks: HttpCheckInput[] }): Promise<{ statuses: number[] }> {
  const statuses: number[] = [];
  for (const check of input.checks) statuses.push((await httpCheck(check)).status);
  return { statuses };
}
