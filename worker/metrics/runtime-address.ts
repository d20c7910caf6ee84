// Where the Temporal SDK's own runtime metrics are served (Runtime.install's Prometheus exporter).
import type { LifeboatConfig } from '../config.js';

/**
 * host:port of the Temporal SDK's runtime metrics, or undefined when they are off: `metrics.runtimePort`,
 * by default the port after `metrics.port` (9465), so two workers on one host given two metrics ports
 * never ask for the same runtime port; off when `metrics.port` is 0.
 */
export function runtimeMetricsAddress({ host, port, runtimePort }: LifeboatConfig['metrics']): string | undefined {
  const p = runtimePort ?? (port === 0 ? 0 : port + 1);
  if (p === 0) return undefined;
  const h = host ?? '127.0.0.1';
  return `${h.includes(':') ? `[${h}]` : h}:${p}`;
}
