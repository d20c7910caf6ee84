// The inventory of a cluster's etcd: how many objects each resource prefix holds at a revision. The
// snapshot manifest records it; restore verification counts the restored copy and compares.
import type { Etcd3 } from 'etcd3';
import type { Inventory } from '../../model/snapshot-layout.js';

/** `/registry/pods/ns/name` → `pods`; `/registry/velero.io/backups/ns/name` → `velero.io/backups`. */
export function resourcePrefix(key: string): string | undefined {
  const parts = key.split('/');
  if (parts[1] !== 'registry' || !parts[2]) return undefined;
  return parts[2].includes('.') && parts[3] ? `${parts[2]}/${parts[3]}` : parts[2];
}

/**
 * Counts the keys under /registry/ at `revision`, a page at a time. `onCompacted` may supply another
 * page when the revision is gone (it is called only before anything was counted).
 */
export async function countRegistry(
  etcd: Etcd3,
  revision: number,
  options: {
    onPage?: (totalKeys: number) => void;
    onCompacted?: (
      from: Buffer,
      end: Buffer,
      err: Error,
    ) => Promise<{ kvs: { key: Buffer }[]; more: boolean; header: { revision: string } }>;
  } = {},
): Promise<Inventory> {
  const prefixes: Record<string, number> = {};
  let totalKeys = 0;
  let counted = revision;
  const end = Buffer.from('/registry0'); // '0' follows '/': the end of the /registry/ range
  let from = Buffer.from('/registry/');
  for (;;) {
    const page = await etcd.kv
      .range({ key: from, range_end: end, keys_only: true, revision: counted, limit: 5_000 })
      .catch(async (err: Error) => {
        if (!options.onCompacted || !/compacted/.test(err.message) || totalKeys > 0) throw err;
        const latest = await options.onCompacted(from, end, err);
        counted = Number(latest.header.revision);
        return latest;
      });
    for (const kv of page.kvs) {
      totalKeys++;
      const prefix = resourcePrefix(kv.key.toString());
      if (prefix) prefixes[prefix] = (prefixes[prefix] ?? 0) + 1;
    }
    if (!page.more || page.kvs.length === 0) break;
    from = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
    options.onPage?.(totalKeys);
  }
  return { revision: counted, totalKeys, prefixes };
}
