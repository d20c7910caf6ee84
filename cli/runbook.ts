// How every `lifeboat` command that runs a runbook starts it: refuse when no worker polls the task
// queue, start the workflow, then either say where to watch it (without --wait) or follow it live and
// hand its result to the command to print.
import type { Workflow, WorkflowResultType, WorkflowStartOptions } from '@temporalio/client';
import type { LifeboatConfig } from '../worker/config.js';
import { connectClient, requireWorker } from './temporal.js';
import { printJson } from './output.js';
import { followProgress } from './progress.js';

/** The run's page in the Temporal UI, when the configuration names the UI. */
export function temporalUiLink(config: LifeboatConfig, workflowId: string): string | undefined {
  return config.temporal.ui
    ? `${config.temporal.ui}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`
    : undefined;
}

export interface Runbook<W extends Workflow> {
  /** The workflow type, e.g. `etcdSnapshot`. */
  type: string;
  workflowId: string;
  args: Parameters<W>;
  /** More fields for the `--json` answer of a run started without --wait. */
  startedJson?: Record<string, unknown>;
}

/**
 * Starts `runbook` on the configured task queue. Without `wait` it prints the workflow id and where to
 * watch it (as JSON with `json`); with `wait` it shows live progress (unless `json`) and calls `finish`
 * with the result, which rejects as the workflow fails. The connection is closed either way.
 */
export async function runRunbook<W extends Workflow>(
  config: LifeboatConfig,
  runbook: Runbook<W>,
  opts: { wait?: boolean; json?: boolean },
  finish: (result: Promise<WorkflowResultType<W>>) => Promise<void>,
): Promise<void> {
  const client = await connectClient(config);
  try {
    await requireWorker(client, config);
    const { workflowId } = runbook;
    // WorkflowStartOptions<W> types `args` by a conditional on Parameters<W>, which TypeScript cannot
    // resolve for a generic W; Runbook<W> already ties the two together.
    const options = { taskQueue: config.temporal.taskQueue, workflowId, args: runbook.args } as unknown as WorkflowStartOptions<W>;
    const handle = await client.workflow.start<W>(runbook.type, options);
    if (!opts.wait) {
      if (opts.json) printJson({ workflowId, runId: handle.firstExecutionRunId, ...runbook.startedJson });
      else {
        const ui = temporalUiLink(config, workflowId);
        process.stdout.write(`started ${workflowId}\n${ui ? `watch it at ${ui}` : 'its progress is in the Temporal UI'}\n`);
      }
      return;
    }
    const result = handle.result();
    if (!opts.json) await followProgress(handle, result);
    await finish(result);
  } finally {
    await client.connection.close();
  }
}
