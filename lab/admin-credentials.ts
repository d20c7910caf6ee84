// The lab's admin (cluster-admin) credentials of each cluster: what the lab sets itself up with, and
// what tests and benchmarks prepare and check the world with (and a benchmark's by-hand baseline, a
// skilled SRE with admin rights, runs with). Lifeboat itself reaches the clusters through the
// configuration's kubeconfigs: the ServiceAccount's token (lab/rbac.ts labWorkerCredentials).
import type { KubeConfig } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../worker/clients.js';
import { clusterPaths } from './topology.js';

/** The admin kubeconfig file of lab cluster `cluster`, for kubectl. */
export const adminKubeconfigFile = (cluster: string): string => clusterPaths(cluster).kubeconfig('admin');

/** The admin KubeConfig of lab cluster `cluster`, one connection pool for its requests as Lifeboat's own have (worker/clients.ts). */
export function adminKubeConfig(cluster: string): KubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromFile(adminKubeconfigFile(cluster));
  return kc;
}
