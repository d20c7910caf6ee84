// Whether and where this process sends traces: read before anything of OpenTelemetry is loaded, so a
// command without tracing does not pay for loading it (worker/tracing.ts does the rest).
import type { LifeboatConfig } from './config.js';

/**
 * Where spans go: the configuration's `tracing.otlpEndpoint` (a collector's OTLP/HTTP base address, to
 * which `/v1/traces` is appended, as to OTEL_EXPORTER_OTLP_ENDPOINT), else the exporter's standard
 * variables (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT); undefined: tracing is off.
 * OTEL_SDK_DISABLED=true turns it off whatever is configured.
 */
export function tracesDestination(
  tracing: LifeboatConfig['tracing'] | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { url?: string } | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (tracing?.otlpEndpoint) return { url: `${tracing.otlpEndpoint.replace(/\/+$/, '')}/v1/traces` };
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) return {};
  return undefined;
}
