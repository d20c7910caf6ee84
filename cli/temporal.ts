// The CLI's Temporal client, with errors that say what was tried.
import { Client, Connection } from '@temporalio/client';
import type { LifeboatConfig } from '../worker/config.js';
import { temporalConnectionOptions } from '../worker/temporal.js';
import { CliError } from './output.js';
import { cliIdentity } from './identity.js';

/** A client that identifies as who runs the CLI ({@link cliIdentity}): the server records that name in history. */
export async function connectClient(config: LifeboatConfig): Promise<Client> {
  const identity = cliIdentity(config);
  try {
    const connection = await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: '5s' });
    return new Client({ connection, namespace: config.temporal.namespace, identity });
  } catch (err) {
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
