// Throwaway kwok Nodes for node tests: a pool of the test's own (a label to select it, a taint so no
// other suite's Pods land there), and workloads pinned to it. The lab's kwok manages every Node object
// that carries its annotation, so a Node created here goes Ready within a second or two.
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, PolicyV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { kwokNodeAnnotations } from '../../activities/node-provider/kwok.js';
import { labStorageClass, labVolumeOfLabel, staticVolume, statefulSetClaims } from '../../lab/volumes.js';

export interface TestPool {
  /** The pool's label value (`lifeboat.io/test-pool=<id>`) and taint value. */
  id: string;
  nodes: string[];
  namespace: string;
  /** What a Pod needs to run there: the pool's selector and toleration. */
  placement: {
    nodeSelector: Record<string, string>;
    tolerations: { key: string; operator: 'Equal'; value: string; effect: 'NoSchedule' }[];
  };
  remove(): Promise<void>;
}

export const poolLabel = 'lifeboat.io/test-pool';
export const poolTaint = 'lifeboat.io/test';

const capacity = { cpu: '32', memory: '128Gi', pods: '110' };

export function testNode(name: string, id: string, extraLabels: Record<string, string> = {}): V1Node {
  return {
    metadata: {
      name,
      annotations: { ...kwokNodeAnnotations },
      labels: { type: 'kwok', 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': name, [poolLabel]: id, ...extraLabels },
    },
    spec: { taints: [{ key: poolTaint, value: id, effect: 'NoSchedule' }] },
    status: { allocatable: capacity, capacity },
  };
}

/** Until every Node in `names` is Ready; 60 s at most. */
export async function nodesReady(kc: KubeConfig, names: string[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
    const ready = await Promise.all(
      names.map((name) =>
        core.readNode({ name }).then(
          (n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
          () => false,
        ),
      ),
    );
    if (ready.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`Nodes ${names.join(', ')} not Ready within 60 s`);
  }
}

/** `count` Ready Nodes of a pool of their own, and a namespace for its workloads. */
export async function createTestPool(kc: KubeConfig, prefix: string, count: number): Promise<TestPool> {
  const core = kc.makeApiClient(CoreV1Api);
  const id = `${prefix}-${randomBytes(3).toString('hex')}`;
  const nodes = Array.from({ length: count }, (_, i) => `${id}-${i}`);
  const namespace = id;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await Promise.all(nodes.map((name) => core.createNode({ body: testNode(name, id) })));
  await nodesReady(kc, nodes);
  return {
    id,
    nodes,
    namespace,
    placement: { nodeSelector: { [poolLabel]: id }, tolerations: [{ key: poolTaint, operator: 'Equal', value: id, effect: 'NoSchedule' }] },
    async remove() {
      const all = (await core.listNode({ labelSelector: `${poolLabel}=${id}` })).items.map((n) => n.metadata!.name!);
      await Promise.all(all.map((name) => core.deleteNode({ name }).catch(() => undefined)));
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      // Static volumes are retained when their claims go (lab/volumes.ts): the pool's go with it.
      const volumes = (await core.listPersistentVolume({ labelSelector: `${labVolumeOfLabel}=${namespace}` })).items;
      await Promise.all(volumes.map((v) => core.deletePersistentVolume({ name: v.metadata!.name! }).catch(() => undefined)));
    },
  };
}

/** A Deployment of `replicas` in the pool, and a PodDisruptionBudget over it allowing `maxUnavailable`. */
export async function createGuardedDeployment(kc: KubeConfig, pool: TestPool, name: string, replicas: number, maxUnavailable: number) {
  const labels = { app: name };
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace: pool.namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            ...pool.placement,
            containers: [{ name, image: `registry.example/${name}:1`, resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
          },
        },
      },
    },
  });
  await kc.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
    namespace: pool.namespace,
    body: { metadata: { name }, spec: { maxUnavailable, selector: { matchLabels: labels } } },
  });
}

/**
 * A StatefulSet of `replicas` in the pool whose Pods each own a PersistentVolumeClaim, bound to a
 * static lab volume made for it (lab/volumes.ts), so the attach/detach controller attaches it to the
 * Pod's Node. Returns the volumes' names, by ordinal.
 */
export async function createStatefulSetWithVolumes(kc: KubeConfig, pool: TestPool, name: string, replicas: number): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const volumes = statefulSetClaims('data', name, replicas).map((claim) => staticVolume(pool.namespace, claim));
  await Promise.all(volumes.map((body) => core.createPersistentVolume({ body })));
  const labels = { app: name };
  await kc.makeApiClient(AppsV1Api).createNamespacedStatefulSet({
    namespace: pool.namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        serviceName: name,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            ...pool.placement,
            containers: [
              {
                name,
                image: `registry.example/${name}:1`,
                resources: { requests: { cpu: '10m', memory: '16Mi' } },
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: labStorageClass.metadata.name,
              resources: { requests: { storage: '1Gi' } },
            },
          },
        ],
      },
    },
  });
  return volumes.map((v) => v.metadata!.name!);
}
