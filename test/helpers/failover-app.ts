// A throwaway app for failover tests: its own namespace with Deployments running on primary and a warm
// standby copy (zero replicas) on standby, a DNSEndpoint pointing at primary, and the configuration
// entry that names them. Tests never move the lab's own shop app.
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import type { AppConfig, LifeboatConfig, TrafficConfig } from '../../worker/config.js';
import { grantInNamespaces } from '../../lab/rbac.js';
import { adminKubeConfig } from './lab.js';
import { warmStandbyDeployment } from '../../lab/warm-standby.js';
import type { FailoverReport } from '../../workflows/failover.js';

export interface TestApp {
  name: string;
  namespace: string;
  deployments: string[];
  config: AppConfig;
  kube: { primary: KubeConfig; standby: KubeConfig };
  /** Adds the app to a configuration (for startTestWorker's adjust). */
  addTo(config: LifeboatConfig): LifeboatConfig;
  replicas(cluster: 'primary' | 'standby'): Promise<Record<string, number>>;
  deployment(cluster: 'primary' | 'standby', name: string): ReturnType<AppsV1Api['readNamespacedDeployment']>;
  dnsEndpoint(): Promise<{
    metadata: { generation?: number; annotations?: Record<string, string> };
    spec: { endpoints: { targets: string[] }[] };
  }>;
  remove(): Promise<void>;
}

/** Who a run's fence and activation labels name: its run ID. */
export const owner = (r: FailoverReport) => r.runId;

const lifeboatKeys = (m: Record<string, string> | undefined) =>
  Object.entries(m ?? {}).filter(([k]) => k.startsWith('lifeboat.io/') && k !== 'lifeboat.io/failover-replicas');

/**
 * Lifeboat's marks on a Deployment: its `lifeboat.io/` labels, and any `lifeboat.io/` annotation as
 * `annotation <key>` (runs from before marks were labels), but a warm standby copy's
 * failover-replicas annotation (the app's, not a run's).
 */
export const lifeboatMarks = (d: V1Deployment): Record<string, string> =>
  Object.fromEntries([
    ...lifeboatKeys(d.metadata?.labels),
    ...lifeboatKeys(d.metadata?.annotations).map(([k, v]): [string, string] => [`annotation ${k}`, v]),
  ]);

/** Who may approve a test app's failover; runs are requested by {@link testRequester}. */
export const testApprovers = ['jest', 'alice', 'bob', 'carol'];
export const testRequester = 'requester';

export const targets = { primary: ['192.0.2.77'], standby: ['198.51.100.77'] };

export async function createTestApp(
  config: LifeboatConfig,
  options: {
    deployments?: number;
    replicas?: number;
    traffic?: TrafficConfig;
    mode?: 'warm-standby' | 'restore';
    availableTimeout?: number;
  } = {},
): Promise<TestApp> {
  const namespace = `fo-${randomBytes(4).toString('hex')}`;
  const count = options.deployments ?? 2;
  const replicas = options.replicas ?? 2;
  const kube = { primary: adminKubeConfig('primary'), standby: adminKubeConfig('standby') };
  const deployments = Array.from({ length: count }, (_, i) => `svc-${i}`);
  const mode = options.mode ?? 'warm-standby';
  // A restore-mode app exists only on primary; the standby holds just the traffic record's namespace.
  for (const cluster of ['primary', 'standby'] as const) {
    const kc = kube[cluster];
    if (cluster === 'standby' && mode === 'restore') {
      await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: `${namespace}-dns` } } });
      continue;
    }
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const apps = kc.makeApiClient(AppsV1Api);
    await Promise.all(
      deployments.map((name) => apps.createNamespacedDeployment({ namespace, body: warmStandbyDeployment(name, replicas, cluster) })),
    );
  }
  const dnsNamespace = mode === 'restore' ? `${namespace}-dns` : namespace;
  // What an operator binds for an app: the failover role in its namespaces, the traffic role where its record is.
  await grantInNamespaces('primary', [namespace], ['lifeboat-failover-workloads', 'lifeboat-velero-verification-source']);
  if (mode === 'warm-standby') await grantInNamespaces('standby', [namespace], ['lifeboat-failover-workloads']);
  await grantInNamespaces('standby', [dnsNamespace], ['lifeboat-failover-traffic']);
  const traffic: TrafficConfig = options.traffic ?? {
    provider: 'externalDNS',
    cluster: 'standby',
    namespace: dnsNamespace,
    name: namespace,
    dnsName: `${namespace}.lab.example`,
    recordType: 'A',
    recordTTL: 30,
    targets,
  };
  if (traffic.provider === 'externalDNS') {
    await kube.standby.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: 'externaldns.k8s.io',
      version: 'v1alpha1',
      namespace: dnsNamespace,
      plural: 'dnsendpoints',
      body: {
        apiVersion: 'externaldns.k8s.io/v1alpha1',
        kind: 'DNSEndpoint',
        metadata: { name: namespace },
        spec: { endpoints: [{ dnsName: traffic.dnsName, recordType: 'A', recordTTL: 30, targets: targets.primary }] },
      },
    });
  }
  const app: AppConfig = {
    name: namespace,
    cluster: 'primary',
    namespaces: [namespace],
    backup: { ttl: '720h' },
    verify: { cluster: 'standby', checks: [], availableTimeout: 120 },
    objectives: { rto: 600, rpo: 86400 },
    failover: {
      standby: 'standby',
      mode,
      traffic,
      approvalTimeout: 600,
      availableTimeout: options.availableTimeout ?? 120,
      returnWatch: 86400,
    },
    // Tests start runs as `requester` (four eyes: never an approver of its own run).
    approvers: testApprovers,
    forceApprovers: ['jest', 'bob'],
  };
  const readReplicas = async (cluster: 'primary' | 'standby') => {
    const list = await kube[cluster].makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace });
    return Object.fromEntries(list.items.map((d) => [d.metadata!.name!, d.spec!.replicas!]));
  };
  return {
    name: namespace,
    namespace,
    deployments,
    config: app,
    kube,
    addTo: (c) => ({ ...c, apps: [...c.apps, app] }),
    replicas: readReplicas,
    deployment: (cluster, name) => kube[cluster].makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace }),
    dnsEndpoint: async () =>
      (await kube.standby.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
        group: 'externaldns.k8s.io',
        version: 'v1alpha1',
        namespace: dnsNamespace,
        plural: 'dnsendpoints',
        name: namespace,
      })) as never,
    async remove() {
      const gone = [
        ['primary', namespace],
        ['standby', namespace],
        ['standby', dnsNamespace],
      ] as const;
      await Promise.all(
        gone.map(([c, name]) =>
          kube[c]
            .makeApiClient(CoreV1Api)
            .deleteNamespace({ name })
            .catch(() => undefined),
        ),
      );
    },
  };
}
