// Fills a lab etcd with incompressible scratch data, for benchmarks and for fault tests that need a
// snapshot big enough to be caught mid-upload; and removes it again (delete, compact, defragment).
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import type { ClusterConfig } from '../worker/config.js';
import { withEtcdClient } from '../activities/etcd/client.js';
import { bin } from './topology.js';

export const scratchPrefix = '/lifeboat-scratch/';
const valueBytes = 1024 * 1024;

/** Adds scratch values until the scratch prefix holds `mib` MiB. */
export async function fillEtcd(cluster: ClusterConfig, mib: number, onProgress?: (doneMiB: number) => void): Promise<void> {
  await withEtcdClient(cluster, undefined, async (etcd) => {
    const existing = Number(await etcd.getAll().prefix(scratchPrefix).count());
    const value = randomBytes(valueBytes);
    for (let i = existing; i < mib; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, mib - i) }, (_, j) => {
          // Each value differs, so neither etcd nor anything downstream can deduplicate it.
          value.writeUInt32BE(i + j, 0);
          return etcd.put(`${scratchPrefix}${String(i + j).padStart(6, '0')}`).value(Buffer.from(value));
        }),
      );
      onProgress?.(Math.min(mib, i + 8));
    }
  });
}

/**
 * Deletes the scratch data and gives the space back: the keys, their history (compaction), the
 * database file's free pages (defragmentation), and the 1 MiB raft entries etcd keeps in memory for
 * the last 5000 entries, which enough small writes push past a raft snapshot.
 */
export async function clearEtcdScratch(cluster: ClusterConfig): Promise<void> {
  await withEtcdClient(cluster, undefined, async (etcd) => {
    for (let i = 0; i < 7_000; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => etcd.put(`${scratchPrefix}churn/${i + j}`).value('x')));
    }
    await etcd.delete().prefix(scratchPrefix);
    const { header } = await etcd.kv.range({ key: Buffer.from('/'), limit: 1 });
    await etcd.kv.compact({ revision: header.revision, physical: true });
  });
  const { etcd } = cluster;
  await execa(bin.etcdctl, [
    `--endpoints=${etcd.endpoints.join(',')}`,
    `--cacert=${etcd.caFile}`,
    `--cert=${etcd.certFile}`,
    `--key=${etcd.keyFile}`,
    '--command-timeout=300s',
    'defrag',
  ]);
}
