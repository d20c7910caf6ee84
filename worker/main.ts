// `lifeboat worker`: load config (or refuse to start), then poll until SIGTERM.
import { ConfigError, loadConfig } from './config.js';
import { createLogger, installTemporalLogger } from './logging.js';
import { createWorker } from './worker.js';
import { runtimeMetricsAddress } from './metrics/runtime-address.js';
import { scratchRootOf, staleScratchAgeMs } from '../activities/scratch/etcd-restore.js';
import { sweepStaleScratch } from '../activities/scratch/processes.js';
import { ensureScratchBase, ScratchDirUnsafeError } from '../activities/scratch/scratch-dir.js';

export async function runWorkerProcess(): Promise<number> {
  const logger = createLogger();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`lifeboat worker: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const runtimeMetrics = runtimeMetricsAddress(config.metrics);
  try {
    installTemporalLogger(logger, runtimeMetrics);
  } catch (err) {
    process.stderr.write(
      `lifeboat worker: metrics.runtimePort: cannot serve the Temporal SDK's metrics on ${runtimeMetrics}: ${(err as Error).message}; expected a free port (0 turns them off)\n`,
    );
    return 2;
  }
  // The scratch base is made private (or found unsafe) before anything in it is trusted: an unsafe one
  // is not swept, and each restore verification refuses it with the same message.
  const scratchRoot = scratchRootOf(config.verification);
  try {
    await ensureScratchBase(scratchRoot);
    const swept = await sweepStaleScratch(scratchRoot, staleScratchAgeMs);
    if (swept.length) logger.warn({ swept }, 'removed stale restore-verification scratch directories and stopped their processes');
  } catch (err) {
    if (!(err instanceof ScratchDirUnsafeError)) throw err;
    logger.error({ scratchDir: err.path }, err.message);
  }
  // The SDK shuts the worker down gracefully on SIGTERM/SIGINT (shutdownSignals default): in-flight
  // activities get their grace period, then run() resolves.
  const handle = await createWorker(config, logger);
  await handle.run();
  return 0;
}
