// Clusters and apps by the names people give on the command line.
import type { AppConfig, ClusterConfig, LifeboatConfig } from './schema.js';

/** A cluster or app name given on the command line (or by a caller) that the configuration does not have. */
export class UnknownNameError extends Error {
  override readonly name = 'UnknownNameError';
  constructor(
    readonly argument: string,
    readonly kind: 'cluster' | 'app',
    readonly value: string,
    readonly configured: string[],
  ) {
    super(`${argument}: unknown ${kind} '${value}'; configured ${kind}s: ${configured.join(', ') || 'none'}`);
  }
}

/** The named app, or an UnknownNameError naming `argument` (the option it came from) and the configured apps. */
export function appByName(config: LifeboatConfig, appName: string, argument = '--app'): AppConfig {
  const app = config.apps.find((a) => a.name === appName);
  if (!app)
    throw new UnknownNameError(
      argument,
      'app',
      appName,
      config.apps.map((a) => a.name),
    );
  return app;
}

/** The named cluster, or an UnknownNameError naming `argument` (the option it came from) and the configured clusters. */
export function clusterByName(config: LifeboatConfig, clusterName: string, argument = '--cluster'): ClusterConfig {
  const cluster = config.clusters.find((c) => c.name === clusterName);
  if (!cluster)
    throw new UnknownNameError(
      argument,
      'cluster',
      clusterName,
      config.clusters.map((c) => c.name),
    );
  return cluster;
}
