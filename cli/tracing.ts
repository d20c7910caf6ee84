// Each `lifeboat` command is one trace (service lifeboat-cli) when tracing is configured: a span for the
// command, under it the client's calls (start, update, query...), and under those the workflow's and the
// activities' spans the worker sends. `--verbose` prints its trace id, to find it in the tracing backend.
// OpenTelemetry is loaded only when tracing is on, so other commands start as fast as before.
import { ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { ClientInterceptors } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig } from '../worker/config.js';
import { tracesDestination } from '../worker/tracing-destination.js';
import type { Tracing } from '../worker/tracing.js';

/** Commands that serve until stopped: the worker traces as lifeboat-worker, and neither is one command's trace. */
const servingCommands = new Set(['worker', 'codec-server']);

let current: { tracing: Tracing; span: Span; interceptors: ClientInterceptors } | undefined;

/** `lab up`, `runbook run`: the command as typed, without options. */
const commandPath = (command: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

/**
 * Starts the trace of `command` when tracing is configured (the configuration's `tracing.otlpEndpoint`
 * if it loads, else the OTEL_EXPORTER_OTLP_* variables; a configuration that does not load is the
 * command's to report) and returns its trace id; undefined when tracing is off.
 */
export async function startCommandTrace(command: Command): Promise<string | undefined> {
  if (current || servingCommands.has(command.name())) return current?.span.spanContext().traceId;
  let tracingConfig;
  try {
    tracingConfig = loadConfig().tracing;
  } catch {
    tracingConfig = undefined;
  }
  if (!tracesDestination(tracingConfig)) return undefined;
  const [{ startTracing }, { AsyncLocalStorageContextManager }, { OpenTelemetryWorkflowClientInterceptor }] = await Promise.all([
    import('../worker/tracing.js'),
    import('@opentelemetry/context-async-hooks'),
    import('@temporalio/interceptors-opentelemetry'),
  ]);
  /**
   * The command's span is active wherever nothing else is: the command starts in a commander hook, outside
   * any `context.with` that could hold it, and every client call of the command belongs under it.
   */
  class CommandContextManager extends AsyncLocalStorageContextManager {
    command: Context = ROOT_CONTEXT;
    override active(): Context {
      const active = super.active();
      return active === ROOT_CONTEXT ? this.command : active;
    }
  }
  const contextManager = new CommandContextManager();
  const tracing = startTracing({ tracing: tracingConfig }, 'lifeboat-cli', { contextManager });
  if (!tracing) return undefined;
  const path = commandPath(command);
  const span = trace.getTracer('lifeboat-cli').startSpan(`lifeboat ${path}`, { attributes: { 'lifeboat.command': path } });
  contextManager.command = trace.setSpan(ROOT_CONTEXT, span);
  current = { tracing, span, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } };
  return span.spanContext().traceId;
}

/** Ends the command's span with how the command ended, and sends what is left. */
export async function endCommandTrace(exitCode: number): Promise<void> {
  if (!current) return;
  const { span, tracing } = current;
  current = undefined;
  span.setAttribute('process.exit.code', exitCode);
  if (exitCode !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `exit ${exitCode}` });
  span.end();
  await tracing.shutdown();
}

/** The client interceptor that starts each call's span and carries the trace to the workflow; none when tracing is off. */
export const tracingClientInterceptors = (): ClientInterceptors | undefined => current?.interceptors;
