// Tracing with OpenTelemetry through Temporal's interceptors (@temporalio/interceptors-opentelemetry):
// the CLI's client starts a trace, the workflow's spans (made in the sandbox, exported through the SDK's
// sinks) and each activity's span join it, and all of it goes to an OTLP/HTTP collector when one is
// configured (`tracing.otlpEndpoint`, or the standard OTEL_EXPORTER_OTLP_ENDPOINT); otherwise nothing is
// made or sent.
import { createRequire } from 'node:module';
import type { ContextManager } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import type { LifeboatConfig } from './config.js';
import { tracesDestination } from './tracing-destination.js';

/** The workflow interceptors that trace each run; bundled with the workflows (worker/bundle.ts, workflowSource()). */
export const tracingWorkflowInterceptorsPath = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

export type TracingService = 'lifeboat-worker' | 'lifeboat-cli';

/** A process's tracing: registered as OpenTelemetry's global provider, so Temporal's interceptors use it. */
export interface Tracing {
  /** What exports spans; the workflow span sink hands the sandbox's spans to it too. */
  processor: SpanProcessor;
  resource: Resource;
  /** Sends what is left and stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing for this process as `service` when a destination is configured ({@link tracesDestination}),
 * and registers it globally (the W3C trace-context propagator and an AsyncLocalStorage context, which
 * Temporal's interceptors read); undefined when tracing is off.
 */
export function startTracing(
  config: Partial<Pick<LifeboatConfig, 'tracing'>>,
  service: TracingService,
  options: { env?: NodeJS.ProcessEnv; contextManager?: ContextManager } = {},
): Tracing | undefined {
  const { env = process.env, contextManager } = options;
  const destination = tracesDestination(config.tracing, env);
  if (!destination) return undefined;
  const resource = new Resource({ 'service.name': service });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter(destination), { scheduledDelayMillis: 1_000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register(contextManager ? { contextManager } : {});
  return { processor, resource, shutdown: () => provider.shutdown() };
}

/** What of a run's WorkflowInfo its spans carry: where and what it is, never its data. */
const tracedInfo = ['namespace', 'taskQueue', 'workflowType', 'workflowId', 'runId', 'attempt', 'historyLength'] as const;

/**
 * The sink through which the sandbox's workflow spans leave it: to `tracing`, or discarded when tracing is
 * off. The SDK's exporter copies the whole WorkflowInfo onto each span; it holds the decoded memo, search
 * attributes, last result and last failure, which Temporal keeps encrypted, so only {@link tracedInfo} goes.
 */
export function workflowSpanSinks(tracing?: Tracing): InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }> {
  const sink = makeWorkflowExporter(tracing?.processor ?? new NoopSpanProcessor(), tracing?.resource ?? Resource.empty());
  const identify = (info: WorkflowInfo) => Object.fromEntries(tracedInfo.map((key) => [key, info[key]])) as unknown as WorkflowInfo;
  return { exporter: { export: { ...sink.export, fn: (info, spans) => sink.export.fn(identify(info), spans) } } };
}

/** A span around each activity attempt, joined to the trace of the workflow that scheduled it; none when tracing is off. */
export const activityTracingInterceptors = (tracing?: Tracing): ActivityInterceptorsFactory[] =>
  tracing ? [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) })] : [];
