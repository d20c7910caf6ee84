// The CLI's Temporal client, with errors that say what was tried.
import type { Client } from '@temporalio/client';
import { ConfigError, type LifeboatConfig } from '../worker/config.js';
import { temporalClient, type LifeboatClient } from '../worker/temporal.js';
import { CliError } from './output.js';
import { cliIdentity } from './identity.js';
import { tracingClientInterceptors } from './tracing.js';

/** A client that identifies as who runs the CLI ({@link cliIdentity}): the server records that name in history. */
export async function connectClient(config: LifeboatConfig): Promise<LifeboatClient> {
  const identity = cliIdentity(config);
  try {
    return await temporalClient(config, { connectTimeout: '5s', identity, interceptors: tracingClientInterceptors() });
  } catch (err) {
    // A history key that cannot be read is the configuration's problem, not the connection's.
    if (err instanceof ConfigError) throw err;
    throw new CliError(`cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Refuses to start a runbook nobody would run: a task queue without a polling worker. */
export async function requireWorker(client: Client, config: LifeboatConfig): Promise<void> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: config.temporal.taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  if (!pollers?.length) {
    throw new CliError(
      `no worker is polling task queue '${config.temporal.taskQueue}' at ${config.temporal.address}; start one with \`lifeboat worker\` (or \`lifeboat lab up --with-worker\`)`,
    );
  }
}
