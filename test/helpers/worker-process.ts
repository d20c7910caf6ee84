// A worker process of the lab's CLI (`lifeboat worker`) on a task queue of a test's own, for tests that
// kill it -9 the way a host dies, and the wait until it polls.
import type { Client } from '@temporalio/client';
import { execa, type ResultPromise } from 'execa';
import { labConfigFile } from '../../lab/topology.js';
import { cliPath } from './lab.js';

/** `lifeboat worker` on `taskQueue`, reading the runbooks in `runbooksDir` (this checkout's); `env` adds variables. */
export const startWorkerProcess = (taskQueue: string, runbooksDir: string, env: Record<string, string> = {}): ResultPromise =>
  execa(process.execPath, [cliPath, 'worker'], {
    env: {
      LIFEBOAT_CONFIG: labConfigFile,
      LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue,
      LIFEBOAT_METRICS_PORT: '0',
      LIFEBOAT_RUNBOOKS_DIR: runbooksDir,
      ...env,
    },
    reject: false,
  });

/** Until a worker polls `taskQueue` for workflow tasks (the CLI refuses to start a run otherwise); 60 s at most. */
export async function polled(client: Client, namespace: string, taskQueue: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    if (pollers?.length) return;
    if (Date.now() > deadline) throw new Error(`no worker polls ${taskQueue} within 60 s`);
  }
}
