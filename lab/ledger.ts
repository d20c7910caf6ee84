// The lab's second example application, `ledger`, on the primary: what a Node's failure or replacement
// has to move and prove back. A Deployment guarded by a PodDisruptionBudget, a StatefulSet whose Pods
// each own a PersistentVolumeClaim (bound to the lab's static volumes, attached by the attach/detach
// controller: lab/volumes.ts), guarded too, and a DaemonSet that a drain leaves alone. `lab up`
// creates it once; a replacement or a drill may move its Pods, and the lab leaves them where they are.
import { labStorageClass, staticVolume, statefulSetClaims } from './volumes.js';

export const ledgerApp = { name: 'ledger', namespace: 'ledger', cluster: 'primary' } as const;

const labels = (component: string) => ({ 'app.kubernetes.io/name': component, 'app.kubernetes.io/part-of': ledgerApp.name });
// kwok's fake Nodes run these Pods; nothing pulls the image.
const placement = {
  nodeSelector: { type: 'kwok' },
  tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
};
const container = (name: string, cpu: string, memory: string) => ({
  name,
  image: `registry.example/ledger/${name}:2.1.0`,
  resources: { requests: { cpu, memory } },
});
const budget = (name: string, maxUnavailable: number) => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name, namespace: ledgerApp.namespace, labels: labels(name) },
  spec: { maxUnavailable, selector: { matchLabels: labels(name) } },
});

export const ledgerDatabase = { name: 'db', replicas: 2, claimTemplate: 'data' } as const;

/** The app's objects, and the static volumes its StatefulSet's claims bind to. */
export function ledgerManifests(): object[] {
  const { namespace } = ledgerApp;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: labels(ledgerApp.name) } },
    ...statefulSetClaims(ledgerDatabase.claimTemplate, ledgerDatabase.name, ledgerDatabase.replicas).map((claim) =>
      staticVolume(namespace, claim),
    ),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api', namespace, labels: labels('api') },
      spec: {
        replicas: 3,
        selector: { matchLabels: labels('api') },
        template: { metadata: { labels: labels('api') }, spec: { ...placement, containers: [container('api', '200m', '256Mi')] } },
      },
    },
    budget('api', 1),
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: ledgerDatabase.name, namespace, labels: labels(ledgerDatabase.name) },
      spec: {
        replicas: ledgerDatabase.replicas,
        serviceName: ledgerDatabase.name,
        selector: { matchLabels: labels(ledgerDatabase.name) },
        template: {
          metadata: { labels: labels(ledgerDatabase.name) },
          spec: {
            ...placement,
            containers: [
              {
                ...container(ledgerDatabase.name, '500m', '1Gi'),
                volumeMounts: [{ name: ledgerDatabase.claimTemplate, mountPath: '/var/lib/ledger' }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: ledgerDatabase.claimTemplate },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: labStorageClass.metadata.name,
              resources: { requests: { storage: '1Gi' } },
            },
          },
        ],
      },
    },
    budget(ledgerDatabase.name, 1),
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'node-agent', namespace, labels: labels('node-agent') },
      spec: {
        selector: { matchLabels: labels('node-agent') },
        template: {
          metadata: { labels: labels('node-agent') },
          spec: { ...placement, containers: [container('node-agent', '50m', '64Mi')] },
        },
      },
    },
  ];
}
