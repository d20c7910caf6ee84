// The lab's configuration through the fault proxy (lab/faults.ts): lifeboat-faults.yaml, which
// `lab up` writes beside lifeboat.yaml. Tests that fault a shared lab path say `// lab: disruptive`;
// tests that fault proxies of their own (ensureProxies with listen port 0) run beside the others.
import { labFaultsConfigFile } from '../../lab/topology.js';
import { loadConfig, type LifeboatConfig } from '../../worker/config.js';
import { startTestWorker, type TestWorker } from './lab.js';

/** lifeboat-faults.yaml, loaded as the worker loads it, with `temporal` overrides and no metrics port. */
export function labFaultsConfig(overrides: Partial<LifeboatConfig['temporal']> = {}): LifeboatConfig {
  const config = loadConfig({ file: labFaultsConfigFile, env: {} });
  return { ...config, temporal: { ...config.temporal, ...overrides }, metrics: { port: 0 } };
}

/** A worker (and client) that reaches everything through the fault proxy, on a task queue of its own. */
export const startFaultsTestWorker = (): Promise<TestWorker> =>
  startTestWorker((direct) => labFaultsConfig({ taskQueue: direct.temporal.taskQueue }));
