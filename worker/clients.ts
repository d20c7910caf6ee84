// The clients activities use, built once per worker: one KubeConfig per cluster (never a shared one
// with switched contexts) and one S3 client.
import { KubeConfig } from '@kubernetes/client-node';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from './s3.js';

export { createS3Client };
import type { ClusterConfig, LifeboatConfig } from './config.js';

export interface ClusterClients {
  config: ClusterConfig;
  kubeConfig: KubeConfig;
  /** The API server URL this cluster's clients talk to. */
  server: string;
}

export interface LifeboatClients {
  clusters: Map<string, ClusterClients>;
  s3: S3Client;
  config: LifeboatConfig;
}

export function loadKubeConfig(cluster: ClusterConfig): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  if (cluster.context) kc.setCurrentContext(cluster.context);
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${cluster.kubeconfig} has no cluster for context '${kc.getCurrentContext()}'`);
  return kc;
}

export function createClients(config: LifeboatConfig): LifeboatClients {
  const clusters = new Map<string, ClusterClients>();
  for (const cluster of config.clusters) {
    const kubeConfig = loadKubeConfig(cluster);
    clusters.set(cluster.name, { config: cluster, kubeConfig, server: kubeConfig.getCurrentCluster()!.server });
  }
  return { clusters, s3: createS3Client(config), config };
}
