// Kubernetes objects' content as Lifeboat compares it across clusters and restores.
import { createHash } from 'node:crypto';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { ObjectRef } from '../../worker/config.js';

const byKey = (o: Record<string, string> | undefined) => Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * sha256 (hex) of a Secret's or ConfigMap's `data` and `binaryData`, independent of key order: equal
 * content, equal hash. What restore verification compares between the source and the restored copy.
 */
export function dataHash(o: { data?: Record<string, string>; binaryData?: Record<string, string> }): string {
  return createHash('sha256')
    .update(JSON.stringify([byKey(o.data), byKey(o.binaryData)]))
    .digest('hex');
}

/** What Lifeboat reads of an object it checks after a restore. */
export interface KubeObject {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  spec?: object;
}

/** Reads one object named in `clusters[].restoreVerification.objects`. */
export function readObject(kc: KubeConfig, ref: ObjectRef): Promise<KubeObject> {
  const core = kc.makeApiClient(CoreV1Api);
  const ns = ref.namespace ?? '';
  switch (ref.resource) {
    case 'namespaces':
      return core.readNamespace({ name: ref.name });
    case 'secrets':
      return core.readNamespacedSecret({ name: ref.name, namespace: ns });
    case 'configmaps':
      return core.readNamespacedConfigMap({ name: ref.name, namespace: ns });
    case 'services':
      return core.readNamespacedService({ name: ref.name, namespace: ns });
    case 'serviceaccounts':
      return core.readNamespacedServiceAccount({ name: ref.name, namespace: ns });
    case 'deployments':
      return kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: ref.name, namespace: ns });
  }
}
