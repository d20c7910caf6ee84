// A lab cluster's kube-apiserver behind a Toxiproxy proxy of the suite's own (listen 127.0.0.1:0), and a
// worker that reaches that cluster only through it: the suite black-holes its own path while the lab's
// paths, and every other suite, stay untouched. The checks a test makes go direct (adminKubeConfig).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { addFault, clearFaults, deleteProxy, ensureProxies } from '../../lab/faults.js';
import { labClusters } from '../../lab/topology.js';
import type { LifeboatConfig } from '../../worker/config.js';
import { writeSecretFile } from '../../worker/secret-files.js';
import type { veleroBackup } from '../../workflows/veleroBackup.js';
import { labConfig, startTestWorker, type TestWorker } from './lab.js';

export interface ProxiedApiServer {
  /** The proxy's name in Toxiproxy. */
  proxy: string;
  /** `127.0.0.1:<port>` the proxy listens on. */
  listen: string;
  /** The cluster's kubeconfig (the worker's credentials) with the proxy's address. */
  kubeconfig: string;
  /** Packets vanish both ways: connections open, then nothing arrives. */
  blackhole(): Promise<void>;
  /** Removes the fault; the connections the black hole held are closed. */
  clear(): Promise<void>;
  /** Deletes the proxy and the kubeconfig copy. */
  remove(): Promise<void>;
}

/** Creates the proxy to `cluster`'s API server and a kubeconfig through it. */
export async function proxyApiServer(cluster: string): Promise<ProxiedApiServer> {
  const c = labClusters.find((x) => x.name === cluster);
  if (!c) throw new Error(`no lab cluster '${cluster}'`);
  const proxy = `test-${randomUUID().slice(0, 8)}-apiserver-${cluster}`;
  const [p] = await ensureProxies([{ name: proxy, listen: '127.0.0.1:0', upstream: `127.0.0.1:${c.apiserverPort}` }]);
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-apiproxy-'));
  // Same credentials; the serving certificate's IP SAN 127.0.0.1 still matches the proxy's address.
  const doc = parse(readFileSync(labConfig().clusters.find((x) => x.name === cluster)!.kubeconfig!, 'utf8')) as {
    clusters: { cluster: { server: string } }[];
  };
  for (const k of doc.clusters) k.cluster.server = `https://${p!.listen}`;
  const kubeconfig = join(dir, `${cluster}.kubeconfig`);
  await writeSecretFile(kubeconfig, stringify(doc));
  return {
    proxy,
    listen: p!.listen,
    kubeconfig,
    blackhole: () => addFault(proxy, { kind: 'blackhole', directions: ['upstream', 'downstream'] }),
    clear: () => clearFaults(proxy),
    async remove() {
      await deleteProxy(proxy);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A worker of the test's own whose `cluster` is reached through `api`; `adjust` edits its configuration further. */
export const startProxiedWorker = (
  cluster: string,
  api: ProxiedApiServer,
  adjust: (config: LifeboatConfig) => LifeboatConfig = (c) => c,
): Promise<TestWorker> =>
  startTestWorker((config) =>
    adjust({ ...config, clusters: config.clusters.map((c) => (c.name === cluster ? { ...c, kubeconfig: api.kubeconfig } : c)) }),
  );

/** Until `probe` answers something other than undefined, every 250 ms, at most `seconds`. */
export async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + seconds * 1000; ; await new Promise((r) => setTimeout(r, 250))) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds} s`);
  }
}

/**
 * A direct read of the lab's API, read again when the lab's etcd answers with a transient 500 ("leader
 * changed", when another suite moves the primary's etcd leader): at most 5 times, 2 s apart.
 */
export async function readDirect<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt === 5 || (err as { code?: number }).code !== 500) throw err;
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
}

/**
 * A Completed Velero backup for a test's setup, through the veleroBackup workflow on `w`. One Velero
 * finished as PartiallyFailed (its discovery failing while another suite adds or removes a CRD, or the
 * lab's etcd changing leader) is taken again, at most 3 times in all. Returns every Backup taken, the
 * Completed one last, so the test deletes them all.
 */
export async function takeCompletedBackup(
  w: TestWorker,
  workflowIdPrefix: string,
  input: Parameters<typeof veleroBackup>[0],
): Promise<{ name: string; taken: string[] }> {
  const taken: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const status = await w.client.workflow.execute<typeof veleroBackup>('veleroBackup', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `${workflowIdPrefix}-${attempt}`,
      args: [input],
      workflowExecutionTimeout: '3 minutes',
    });
    taken.push(status.name);
    if (status.phase === 'Completed') return { name: status.name, taken };
    const why = `backup ${status.name} ${status.phase}: ${JSON.stringify(status.problems)}`;
    if (attempt === 3) throw new Error(why);
    process.stderr.write(`[setup] ${why}; taking another\n`);
    await new Promise((r) => setTimeout(r, 5_000));
  }
}
