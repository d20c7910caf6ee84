// Kubernetes objects' content as Lifeboat compares it across clusters and restores.
import { createHash } from 'node:crypto';

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
