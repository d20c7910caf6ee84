// A worker process of the lab's CLI (`lifeboat worker`), for tests that kill it -9 the way a host dies:
// on the lab's configuration with a task queue of the test's own, or on a configuration file of the
// test's own; and the wait until it polls.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { execa, type ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import { labConfigFile } from '../../lab/topology.js';
import { loadConfig, type LifeboatConfig } from '../../worker/config.js';
import { scalarEnv } from '../../worker/config/environment.js';
import { cliPath } from './lab.js';

const spawnWorker = (env: Record<string, string>): ResultPromise => execa(process.execPath, [cliPath, 'worker'], { env, reject: false });

/** `lifeboat worker` on `taskQueue`, reading the runbooks in `runbooksDir` (this checkout's); `env` overrides (another config, metrics ports). */
export const startWorkerProcess = (taskQueue: string, runbooksDir: string, env: Record<string, string> = {}): ResultPromise =>
  spawnWorker({
    LIFEBOAT_CONFIG: labConfigFile,
    LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue,
    LIFEBOAT_METRICS_PORT: '0',
    LIFEBOAT_RUNBOOKS_DIR: runbooksDir,
    ...env,
  });

/**
 * `lifeboat worker` reading `configFile` alone. Every variable that would overlay the file (a shell with
 * the lab's environment may carry them) is set blank, which the configuration loader skips.
 */
export const startWorkerProcessOn = (configFile: string): ResultPromise =>
  spawnWorker({
    ...Object.fromEntries([...scalarEnv.map(([variable]) => variable), 'LIFEBOAT_CLUSTERS'].map((variable) => [variable, ''])),
    LIFEBOAT_CONFIG: configFile,
  });

/** The lab's configuration document as a test edits it: values as the file spells them (durations as text). */
export type ConfigDocument = Record<string, unknown> & {
  temporal: Record<string, unknown>;
  objectStore: Record<string, unknown>;
  apps: unknown[];
  verification?: Record<string, unknown>;
  runbooks?: Record<string, unknown>;
};

/**
 * The lab's configuration with `edit` applied, written (0600) as `dir`/lifeboat.yaml for a worker process
 * of the test's own (startWorkerProcessOn); returns the file and the configuration as the worker reads it.
 */
export function writeWorkerConfig(dir: string, edit: (doc: ConfigDocument) => void): { file: string; config: LifeboatConfig } {
  const doc = parse(readFileSync(labConfigFile, 'utf8')) as ConfigDocument;
  edit(doc);
  const file = join(dir, 'lifeboat.yaml');
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  return { file, config: loadConfig({ file, env: {} }) };
}

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
