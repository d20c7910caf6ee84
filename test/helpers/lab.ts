// Helpers for integration tests: the lab's configuration, its CLI, and an in-process worker on a
// task queue of the test's own, so tests never race the lab's worker for tasks.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { execa, type Result } from 'execa';
import { pino } from 'pino';
import { labConfigFile, labDrillConfigFile } from '../../lab/topology.js';
import { loadConfig, type LifeboatConfig } from '../../worker/config.js';
import { createWorker, type WorkerHandle } from '../../worker/worker.js';
import { temporalClient } from '../../worker/temporal.js';

export const cliPath = fileURLToPath(new URL('../../../bin/lifeboat.js', import.meta.url));

// What tests prepare and check the world with; the configuration's kubeconfigs are the worker's (the ServiceAccount's).
export { adminKubeConfig } from '../../lab/admin-credentials.js';

export function labConfig(overrides: Partial<LifeboatConfig['temporal']> = {}, file = labConfigFile): LifeboatConfig {
  const config = loadConfig({ file, env: {} });
  return { ...config, temporal: { ...config.temporal, ...overrides }, metrics: { port: 0 } };
}

/**
 * The lab's configuration with its drill cluster too (lab/topology.ts drillCluster): for the suites
 * that break etcd on purpose (`// lab: drill`), which test/run.sh runs beside the others.
 */
export const drillConfig = (overrides: Partial<LifeboatConfig['temporal']> = {}): LifeboatConfig =>
  labConfig(overrides, labDrillConfigFile);

/** Runs the `lifeboat` CLI as a person would, against the lab; never throws on a non-zero exit. */
export function lifeboat(
  args: string[],
  env: Record<string, string> = {},
): Promise<Result<{ reject: false; env: Record<string, string>; timeout: number }>> {
  return execa(process.execPath, [cliPath, ...args], { reject: false, env: { LIFEBOAT_CONFIG: labConfigFile, ...env }, timeout: 180_000 });
}

export interface TestWorker {
  config: LifeboatConfig;
  client: Client;
  handle: WorkerHandle;
  running: Promise<void>;
  stop(): Promise<void>;
}

/**
 * A worker on a fresh task queue, with a client for the same namespace; `adjust` edits its configuration
 * (a broken cluster, say); `base` is the configuration it starts from (drillConfig for the drill lane).
 */
export async function startTestWorker(
  adjust: (config: LifeboatConfig) => LifeboatConfig = (c) => c,
  base: typeof labConfig = labConfig,
): Promise<TestWorker> {
  const config = adjust(base({ taskQueue: `test-${randomUUID()}` }));
  const handle = await createWorker(config, pino({ level: 'warn' }));
  const running = handle.run();
  const client = await temporalClient(config);
  return {
    config,
    client,
    handle,
    running,
    async stop() {
      handle.worker.shutdown();
      await running;
      await client.connection.close();
    },
  };
}
