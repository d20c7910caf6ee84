// Kubernetes objects' content as Lifeboat compares it across clusters and restores.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { ObjectRef } from '../../worker/config.js';
import { deriveKey, type KeyRing } from '../../worker/keys.js';

/** The data of a Secret or ConfigMap: `data` and `binaryData` (base64 values). */
export interface ObjectData {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** What a comparison of two objects' data may show: whether it matched, and the names (never the values) of keys that differ. */
export interface DataComparison {
  same: boolean;
  /** Keys present on one side only, or whose values differ; sorted. */
  differingKeys: string[];
}

// A key for comparisons when the worker has no keyring: the MACs never leave the activity that
// computes both sides, so a key that lives only as long as this process compares just as well.
let processCompareKey: Buffer | undefined;

/**
 * The key Secret and ConfigMap data is compared under: HKDF `secret-compare` of the keyring's current
 * key, or, with no keyring, one random to this process.
 */
export function dataCompareKey(keyRing: KeyRing | undefined): Buffer {
  const derived = keyRing && deriveKey(keyRing, 'secret-compare');
  return derived ?? (processCompareKey ??= randomBytes(32));
}

/** HMAC-SHA256 of each entry (`data/<name>` or `binaryData/<name>` with its value) under `key`. */
function entryMacs(o: ObjectData, key: Buffer): Map<string, Buffer> {
  const macs = new Map<string, Buffer>();
  for (const [field, entries] of [
    ['data', o.data],
    ['binaryData', o.binaryData],
  ] as const)
    for (const [name, value] of Object.entries(entries ?? {}))
      macs.set(`${field === 'data' ? '' : 'binaryData/'}${name}`, createHmac('sha256', key).update(`${field}\0${name}\0${value}`).digest());
  return macs;
}

/**
 * Compares two Secrets' or ConfigMaps' data by keyed MAC (HMAC-SHA256 under `key`, in constant time),
 * independent of key order. The result says only whether they matched and which key names differ: no
 * digest of the data leaves this function, since a plain hash of a weak secret lets anyone who reads
 * the result confirm guesses of it.
 */
export function compareData(a: ObjectData, b: ObjectData, key: Buffer): DataComparison {
  const left = entryMacs(a, key);
  const right = entryMacs(b, key);
  const differingKeys = [...new Set([...left.keys(), ...right.keys()])]
    .filter((name) => {
      const x = left.get(name);
      const y = right.get(name);
      return !x || !y || !timingSafeEqual(x, y);
    })
    .sort();
  return { same: differingKeys.length === 0, differingKeys };
}

/** `key a` or `keys a, b`: the names a comparison found different. */
export const keysText = (names: string[]) => `${names.length === 1 ? 'key' : 'keys'} ${names.join(', ')}`;

/** How many keys an object's data holds (`data` and `binaryData`). */
export const dataKeyCount = (o: ObjectData) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length;

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
