// The clients activities use, built once per worker: one KubeConfig per cluster (never a shared one
// with switched contexts), each with one HTTP connection pool, and one S3 client.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { bufferFromFileOrString, KubeConfig, type RequestContext } from '@kubernetes/client-node';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from './s3.js';

export { createS3Client };
import type { ClusterConfig, LifeboatConfig } from './config.js';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * A KubeConfig whose requests share one connection pool. @kubernetes/client-node 2.x builds a new
 * undici Agent for every request, so each request paid a TCP and TLS handshake of its own and left an
 * idle connection behind (bench:kube-api, bench:failover). This keeps the first Agent it builds and
 * sends every later request through it (keep-alive; HTTP/2 when the API server offers it). A changed
 * server, CA, client certificate or key (a rotated certificate) gets a fresh Agent; the old one is
 * closed once its requests are done.
 */
export class PooledKubeConfig extends KubeConfig {
  #pool?: { identity: string; dispatcher: Dispatcher };

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const built = context.getDispatcher();
    if (!built) return;
    const identity = this.#identity();
    if (this.#pool?.identity !== identity) {
      const old = this.#pool?.dispatcher;
      this.#pool = { identity, dispatcher: built };
      void old?.close().catch(() => undefined);
    }
    context.setDispatcher(this.#pool.dispatcher);
  }

  /** What the Agent's connections depend on: where they go and the TLS material they present and trust. */
  #identity(): string {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const hash = createHash('sha256').update(
      JSON.stringify([cluster?.server, cluster?.skipTLSVerify, cluster?.tlsServerName, cluster?.proxyUrl]),
    );
    for (const material of [
      bufferFromFileOrString(cluster?.caFile, cluster?.caData),
      bufferFromFileOrString(user?.certFile, user?.certData),
      bufferFromFileOrString(user?.keyFile, user?.keyData),
    ]) {
      hash.update(material ?? '-');
    }
    return hash.digest('hex');
  }
}

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

/** How {@link loadKubeConfig} finds the ServiceAccount of an in-cluster cluster. */
export interface InClusterOptions {
  /**
   * Prefix of the ServiceAccount's files (`<prefix>/var/run/secrets/kubernetes.io/serviceaccount/token`,
   * `ca.crt`), as client-node's `loadFromCluster` takes it. Default: '' (where the kubelet mounts them).
   */
  serviceAccountRoot?: string;
}

/**
 * The cluster's KubeConfig: its kubeconfig file (and context), or, without one, the ServiceAccount of
 * the Pod the worker runs in: the API server from KUBERNETES_SERVICE_HOST/PORT, the CA and the token
 * the kubelet mounts (the token file is read again as the kubelet rotates it).
 */
export function loadKubeConfig(cluster: ClusterConfig, options: InClusterOptions = {}): KubeConfig {
  const kc = new PooledKubeConfig();
  if (cluster.kubeconfig === undefined) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT)
      throw new Error(
        `cluster '${cluster.name}' has no kubeconfig, so Lifeboat reaches it as the ServiceAccount of its Pod, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: this is not a Pod; give clusters[].kubeconfig for '${cluster.name}'`,
      );
    const root = options.serviceAccountRoot ?? '';
    kc.loadFromCluster(root);
    const token = `${root}/var/run/secrets/kubernetes.io/serviceaccount/token`;
    if (!existsSync(token))
      throw new Error(
        `cluster '${cluster.name}' has no kubeconfig, so Lifeboat reaches it as the ServiceAccount of its Pod, but ${token} does not exist (automountServiceAccountToken: false?)`,
      );
    return kc;
  }
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
