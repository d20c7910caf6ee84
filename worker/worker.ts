// The Lifeboat worker: registers every workflow and activity on the configured task queue.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createActivities } from '../activities/index.js';
import { createClients } from './clients.js';
import { loadKeyRing } from './keys.js';
import type { LifeboatConfig } from './config.js';
import { createLifeboatMetrics } from './metrics.js';
import { dataConverterFor, temporalConnectionOptions } from './temporal.js';
import { workerDeploymentOptions } from './versioning.js';
import { activityTracingInterceptors, startTracing, tracingWorkflowInterceptorsPath, workflowSpanSinks } from './tracing.js';
import { objectStoreFailureInterceptors } from './activity-failures.js';

/** The prebuilt workflow bundle (`npm run build` writes it); without it the worker bundles at start. */
export const workflowBundlePath = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
export const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
/** Workflow interceptor modules: in the bundle, or loaded with the workflows when there is none. Tracing first: its span holds the rest. */
export const workflowInterceptorModules = [
  tracingWorkflowInterceptorsPath,
  fileURLToPath(new URL('../workflows/run-lifecycle.js', import.meta.url)),
];

/**
 * The workflows, their interceptors, and the sink of their spans (discarding them: createWorker sends them
 * on when tracing is on), for every worker, replayer and test worker alike.
 */
export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors' | 'sinks'> {
  const sinks = workflowSpanSinks();
  return existsSync(workflowBundlePath) && process.env.LIFEBOAT_DEV_WORKFLOWS !== '1'
    ? { workflowBundle: { codePath: workflowBundlePath }, sinks }
    : { workflowsPath, interceptors: { workflowModules: workflowInterceptorModules }, sinks };
}

/**
 * The workflow source an override names, if any (a test's workflowsPath, say): the build id is derived
 * from what runs. Workflows from source get the workflow interceptors a bundle has built in.
 */
const pickWorkflowSource = ({ workflowBundle, workflowsPath }: Partial<WorkerOptions>): Partial<WorkerOptions> =>
  workflowBundle
    ? { workflowBundle, workflowsPath: undefined, interceptors: {} }
    : workflowsPath
      ? { workflowBundle: undefined, workflowsPath, interceptors: { workflowModules: workflowInterceptorModules } }
      : {};

export interface WorkerHandle {
  worker: Worker;
  connection: NativeConnection;
  /** Runs until shutdown (SIGTERM/SIGINT or worker.shutdown()), then closes everything. */
  run(): Promise<void>;
}

/** How long /readyz waits for Temporal's health check before it answers 503. */
const readyCheckTimeoutMs = 2_000;
/** grpc.health.v1.HealthCheckResponse.ServingStatus SERVING. */
const healthServing = 1;

/**
 * Why the worker is not ready, or undefined when it is: it polls (state RUNNING) and Temporal's
 * frontend answers its health check (SERVING) within {@link readyCheckTimeoutMs}.
 */
async function notReady(worker: Worker, connection: NativeConnection): Promise<string | undefined> {
  const state = worker.getState();
  if (state !== 'RUNNING') return `worker ${state}`;
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      connection.healthService.check({}),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${readyCheckTimeoutMs} ms`)), readyCheckTimeoutMs);
      }),
    ]);
    return Number(answer.status) === healthServing ? undefined : `Temporal health check: status ${answer.status}`;
  } catch (err) {
    return `Temporal health check: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The worker's HTTP endpoint: /metrics (Prometheus), /healthz (the process answers: liveness) and
 * /readyz (polling, Temporal reachable: readiness), on `host:port`.
 */
function serveMetrics(
  { port, host }: LifeboatConfig['metrics'],
  registry: Registry,
  ready: () => Promise<string | undefined>,
  logger: Logger,
): Server | undefined {
  if (port === 0) return undefined;
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      void ready().then((problem) =>
        res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' }).end(problem ? `not ready: ${problem}\n` : 'ok\n'),
      );
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  server.listen(port, host ?? '127.0.0.1', () => logger.info({ port, host }, 'metrics listening'));
  return server;
}

export async function createWorker(config: LifeboatConfig, logger: Logger, overrides: Partial<WorkerOptions> = {}): Promise<WorkerHandle> {
  const clients = createClients(config);
  const keyRing = config.encryption ? loadKeyRing(config.encryption) : undefined;
  if (!keyRing)
    logger.warn('no encryption block in the configuration: workflow inputs, results and failures are written to Temporal history in clear');
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const registry = new Registry();
  const dataConverter = dataConverterFor(config, keyRing);
  const tracing = startTracing(config, 'lifeboat-worker');
  const source = { ...workflowSource(), ...pickWorkflowSource(overrides) };
  const versioning = workerDeploymentOptions(config, source);
  if (versioning) logger.info({ version: versioning.version, behavior: versioning.defaultVersioningBehavior }, 'worker versioning');
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    dataConverter,
    activities: createActivities(clients, keyRing, registry),
    // On SIGTERM, running activities get this long to finish before they are cancelled.
    shutdownGraceTime: '30 seconds',
    // Heartbeats reach the server at least every 2 s (the SDK's default is 0.8 x heartbeatTimeout),
    // so `--wait` shows live bytes, at one server write per 2 s per long-running activity.
    maxHeartbeatThrottleInterval: '2 seconds',
    ...source,
    ...(versioning ? { workerDeploymentOptions: versioning } : {}),
    interceptors: {
      ...source.interceptors,
      activity: [...activityTracingInterceptors(tracing), ...objectStoreFailureInterceptors(config)],
    },
    sinks: workflowSpanSinks(tracing),
    ...overrides,
  });
  collectDefaultMetrics({ register: registry, prefix: 'lifeboat_worker_' });
  new Gauge({ name: 'lifeboat_worker_clusters', help: 'Clusters this worker is configured for', registers: [registry] }).set(
    config.clusters.length,
  );
  const lifeboatMetrics =
    config.metrics.port === 0
      ? undefined
      : createLifeboatMetrics({
          config,
          registry,
          logger,
          client: new Client({ connection, namespace: config.temporal.namespace, dataConverter }),
          s3: clients.s3,
          keyRing,
        });
  return {
    worker,
    connection,
    async run() {
      const metrics = serveMetrics(config.metrics, registry, () => notReady(worker, connection), logger);
      lifeboatMetrics?.start();
      try {
        logger.info(
          { taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace, clusters: config.clusters.map((c) => c.name) },
          'worker polling',
        );
        await worker.run();
      } finally {
        metrics?.close();
        await lifeboatMetrics?.stop();
        await tracing?.shutdown();
        await connection.close();
        clients.s3.destroy();
        logger.info('worker stopped');
      }
    },
  };
}
