// What the metrics configuration means (reads the lab's configuration file; no lab process needed).
import { describe, expect, it } from '@jest/globals';
import { labConfigFile } from '../../lab/topology.js';
import { loadConfig } from '../../worker/config.js';
import { cronIntervalSeconds } from '../../worker/metrics/schedule-interval.js';
import { runtimeMetricsAddress } from '../../worker/metrics/runtime-address.js';

describe('snapshot schedule interval', () => {
  it('is the longest gap between two firings of the cron expression', () => {
    const from = new Date('2026-12-07T00:00:00Z');
    expect(cronIntervalSeconds('0 */6 * * *', from)).toBe(6 * 3600);
    expect(cronIntervalSeconds('* * * * *', from)).toBe(60);
    expect(cronIntervalSeconds('@daily', from)).toBe(86400);
    // Weekdays at 02:00: the weekend's gap, so an alert on twice the schedule is quiet over a weekend.
    expect(cronIntervalSeconds('0 2 * * 1-5', from)).toBe(3 * 86400);
  });
});

describe('Temporal SDK runtime metrics address', () => {
  it('defaults to the port after the worker metrics, on the same host, and is off when metrics are', () => {
    expect(runtimeMetricsAddress({ port: 9464 })).toBe('127.0.0.1:9465');
    expect(runtimeMetricsAddress({ port: 9464, host: '0.0.0.0' })).toBe('0.0.0.0:9465');
    expect(runtimeMetricsAddress({ port: 9464, host: '::', runtimePort: 9500 })).toBe('[::]:9500');
    expect(runtimeMetricsAddress({ port: 19464 })).toBe('127.0.0.1:19465');
    expect(runtimeMetricsAddress({ port: 0 })).toBeUndefined();
    expect(runtimeMetricsAddress({ port: 0, runtimePort: 9465 })).toBe('127.0.0.1:9465');
    expect(runtimeMetricsAddress({ port: 9464, runtimePort: 0 })).toBeUndefined();
  });

  it('is set by LIFEBOAT_METRICS_RUNTIME_PORT, and a bad one names the variable', () => {
    expect(loadConfig({ file: labConfigFile, env: { LIFEBOAT_METRICS_RUNTIME_PORT: '9999' } }).metrics.runtimePort).toBe(9999);
    expect(() => loadConfig({ file: labConfigFile, env: { LIFEBOAT_METRICS_RUNTIME_PORT: 'x' } })).toThrow(
      /LIFEBOAT_METRICS_RUNTIME_PORT|runtimePort/,
    );
  });
});
