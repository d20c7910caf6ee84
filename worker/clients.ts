// The clients activities use, built once per worker: one KubeConfig per cluster (never a shared one
// with switched contexts) and one S3 client.
import { KubeConfig } from '@kubernetes/client-node';
import { S3Client } from '@aws-sdk/client-s3';
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

export function createS3Client(config: LifeboatConfig): S3Client {
  const store = config.objectStore;
  // The SDK's default chain reads the shared-credentials file at call time.
  if (store.credentialsFile) process.env.AWS_SHARED_CREDENTIALS_FILE = store.credentialsFile;
  return new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: store.forcePathStyle,
    // MinIO validates the SDK's default CRC32 checksums; ours stay on (tested against the lab's MinIO).
    maxAttempts: 3,
  });
}

export function createClients(config: LifeboatConfig): LifeboatClients {
  const clusters = new Map<string, ClusterClients>();
  for (const cluster of config.clusters) {
    const kubeConfig = loadKubeConfig(cluster);
    clusters.set(cluster.name, { config: cluster, kubeConfig, server: kubeConfig.getCurrentCluster()!.server });
  }
  return { clusters, s3: createS3Client(config), config };
}
