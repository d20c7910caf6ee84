// The kube-apiserver's own account of the requests it served: its Prometheus histograms, read before
// and after a run through `kubectl get --raw /metrics`, give the server-side time of each verb on a
// resource (admission, storage, and etcd's write) apart from what the client adds.
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { bin, clusterPaths } from '../../lab/topology.js';

/** Sum and count of every histogram series, by its name and labels as printed. */
export type HistogramTotals = Map<string, { sum: number; count: number }>;

/** Reads them, retrying for two minutes while the API server is away (other lab users stop and restart them). */
export async function readHistograms(site: string, names: readonly string[]): Promise<HistogramTotals> {
  const read = () => execa(bin.kubectl, ['--kubeconfig', clusterPaths(site).kubeconfig('admin'), 'get', '--raw', '/metrics'], { maxBuffer: 256 * 1024 * 1024 });
  const deadline = Date.now() + 120_000;
  let result = await read().catch((err: unknown) => err as Error);
  while (result instanceof Error && Date.now() < deadline) {
    await sleep(1000);
    result = await read().catch((err: unknown) => err as Error);
  }
  if (result instanceof Error) throw result;
  const { stdout } = result;
  const totals: HistogramTotals = new Map();
  for (const line of stdout.split('\n')) {
    const m = /^([a-z_:]+)_(sum|count)(\{[^}]*\})? ([\d.eE+-]+|NaN)$/.exec(line);
    if (!m || !names.includes(m[1]!)) continue;
    const key = `${m[1]}${m[3] ?? ''}`;
    const t = totals.get(key) ?? { sum: 0, count: 0 };
    if (m[2] === 'sum') t.sum = Number(m[4]); else t.count = Number(m[4]);
    totals.set(key, t);
  }
  return totals;
}

/** Requests and mean server-side ms, between two readings, of the series whose labels include every `want` pair. */
export function served(before: HistogramTotals, after: HistogramTotals, name: string, want: Record<string, string>): { count: number; meanMs: number } {
  let sum = 0; let count = 0;
  for (const [key, t] of after) {
    if (!key.startsWith(`${name}{`)) continue;
    if (!Object.entries(want).every(([k, v]) => key.includes(`${k}="${v}"`))) continue;
    const b = before.get(key) ?? { sum: 0, count: 0 };
    sum += t.sum - b.sum;
    count += t.count - b.count;
  }
  return { count, meanMs: count ? Number(((sum / count) * 1000).toFixed(2)) : 0 };
}

/** As {@link served}, split by the value of one more label (etcd's operation, a priority level). */
export function servedBy(before: HistogramTotals, after: HistogramTotals, name: string, want: Record<string, string>, label: string): Record<string, { count: number; meanMs: number }> {
  const values = new Set<string>();
  for (const key of after.keys()) {
    if (!key.startsWith(`${name}{`)) continue;
    const v = new RegExp(`[{,]${label}="([^"]*)"`).exec(key)?.[1];
    if (v !== undefined) values.add(v);
  }
  const out: Record<string, { count: number; meanMs: number }> = {};
  for (const v of values) {
    const s = served(before, after, name, { ...want, [label]: v });
    if (s.count > 0) out[v] = s;
  }
  return out;
}
