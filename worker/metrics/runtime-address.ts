// Where the Temporal SDK's own runtime metrics are served (Runtime.install's Prometheus exporter).
import type { LifeboatConfig } from '../config.js';

/** The SDK's runtime metrics listen on this port when `metrics.runtimePort` is not set and `metrics.port` is not 0. */
export const defaultRuntimeMetricsPort = 9465;

/** host:port of the Temporal SDK's runtime metrics, or undefined when they are off (metrics.runtimePort). */
export function runtimeMetricsAddress({ host, port, runtimePort }: LifeboatConfig['metrics']): string | undefined {
  const p = runtimePort ?? (port === 0 ? 0 : defaultRuntimeMetricsPort);
  if (p === 0) return undefined;
  const h = host ?? '127.0.0.1';
  return `${h.includes(':') ? `[${h}]` : h}:${p}`;
}
