// The lab's example application, `shop`: a few Deployments, a ConfigMap and a Secret on the primary,
// so the demo, the tests and a new user have an app to back up, restore and fail over.
import type { LabClusterSpec } from './topology.js';

export const shopApp = { name: 'shop', namespace: 'shop', cluster: 'primary', verifyCluster: 'standby' } as const;

/**
 * The shop's DNS record: an ExternalDNS DNSEndpoint kept on the standby (the lab has no third,
 * management cluster), pointing at each site's load balancer address.
 */
export const shopTraffic = {
  cluster: 'standby',
  namespace: 'lifeboat-traffic',
  name: 'shop',
  dnsName: 'shop.lab.example',
  targets: { primary: ['192.0.2.10'], standby: ['198.51.100.10'] },
} as const;

const deployments: { name: string; replicas: number; cpu: string; memory: string }[] = [
  { name: 'frontend', replicas: 2, cpu: '250m', memory: '256Mi' },
  { name: 'catalog', replicas: 2, cpu: '500m', memory: '512Mi' },
  { name: 'cart', replicas: 1, cpu: '250m', memory: '256Mi' },
];

const labels = (component: string) => ({ 'app.kubernetes.io/name': component, 'app.kubernetes.io/part-of': shopApp.name });

function deployment(d: (typeof deployments)[number], standby: boolean): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    // A warm standby runs nothing until it takes over, and says with how many replicas it then runs.
    metadata: {
      name: d.name,
      namespace: shopApp.namespace,
      labels: labels(d.name),
      ...(standby ? { annotations: { 'lifeboat.io/failover-replicas': String(d.replicas) } } : {}),
    },
    spec: {
      replicas: standby ? 0 : d.replicas,
      selector: { matchLabels: labels(d.name) },
      template: {
        metadata: { labels: labels(d.name) },
        spec: {
          // kwok's fake Nodes run these Pods; nothing pulls the image.
          nodeSelector: { type: 'kwok' },
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: d.name,
              image: `registry.example/shop/${d.name}:1.4.2`,
              envFrom: [{ configMapRef: { name: 'shop-config' } }],
              resources: { requests: { cpu: d.cpu, memory: d.memory } },
            },
          ],
        },
      },
    },
  };
}

/** The app's objects: running on its cluster, and as a warm standby (zero replicas) on the other. */
export function shopManifests(standby: boolean): object[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: shopApp.namespace, labels: labels('shop') } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'shop-config', namespace: shopApp.namespace, labels: labels('shop') },
      data: { CURRENCY: 'EUR', CATALOG_URL: 'http://catalog.shop.svc:8080', FEATURE_FLAGS: 'checkout-v2,recommendations' },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'shop-payment', namespace: shopApp.namespace, labels: labels('shop') },
      type: 'Opaque',
      stringData: { PAYMENT_API_KEY: 'lab-not-a-real-key', WEBHOOK_SECRET: 'lab-webhook-secret' },
    },
    ...deployments.map((d) => deployment(d, standby)),
    ...deployments.map((d) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: d.name, namespace: shopApp.namespace, labels: labels(d.name) },
      spec: { selector: labels(d.name), ports: [{ port: 8080, targetPort: 8080 }] },
    })),
  ];
}

/** The other lab clusters, whose Velero backups this cluster can restore through a ReadOnly location. */
export const peerLocation = (c: LabClusterSpec, peer: LabClusterSpec, bsl: (c: LabClusterSpec) => object): object => {
  const location = bsl(peer) as { metadata: { name: string; namespace: string }; spec: Record<string, unknown> };
  return {
    ...location,
    metadata: { ...location.metadata, name: peer.name },
    spec: { ...location.spec, default: false, accessMode: 'ReadOnly' },
  };
};
