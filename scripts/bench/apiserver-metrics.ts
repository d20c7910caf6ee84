// The kube-apiserver's own account of the requests it served: its Prometheus histograms, read before
// and after a run through `kubectl get --raw /metrics`, give the server-side time of each verb on a
// resource (admission, storage, and etcd's write) apart from what the client adds. The
// kube-controller-manager's account of how long its own requests waited for its rate limiter tells
// how much of the clusters' own time (Pods stopping, Pods Ready) is its client-side pacing.
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { adminKubeconfigFile } from '../../lab/admin-credentials.js';
import { bin, clusterPaths, host, labClusters } from '../../lab/topology.js';

/** Sum and count of every histogram series, by its name and labels as printed. */
export type HistogramTotals = Map<string, { sum: number; count: number }>;

/** Retries `read` for two minutes while the server is away (other lab users stop and restart them). */
async function retried(read: () => Promise<string>): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(1000);
    }
  }
}

function parseHistograms(text: string, names: readonly string[]): HistogramTotals {
  const totals: HistogramTotals = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)_(sum|count)(\{[^}]*\})? ([\d.eE+-]+|NaN)$/.exec(line);
    if (!m || !names.includes(m[1]!)) continue;
    const key = `${m[1]}${m[3] ?? ''}`;
    const t = totals.get(key) ?? { sum: 0, count: 0 };
    if (m[2] === 'sum') t.sum = Number(m[4]);
    else t.count = Number(m[4]);
    totals.set(key, t);
  }
  return totals;
}

/** The kube-apiserver's histograms `names`, read through kubectl. */
export async function readHistograms(site: string, names: readonly string[]): Promise<HistogramTotals> {
  const text = await retried(
    async () =>
      (
        await execa(bin.kubectl, ['--kubeconfig', adminKubeconfigFile(site), 'get', '--raw', '/metrics'], {
          maxBuffer: 256 * 1024 * 1024,
        })
      ).stdout,
  );
  return parseHistograms(text, names);
}

/**
 * The kube-controller-manager's own client: how long its requests to the API server waited for its
 * client-side rate limiter (--kube-api-qps, --kube-api-burst), from its histogram
 * rest_client_rate_limiter_duration_seconds, read from its metrics endpoint with the lab's admin
 * certificate. Its serving certificate is self-signed, so it is not verified (a local bench read).
 */
export async function readControllerManagerLimiter(site: string): Promise<HistogramTotals> {
  const port = labClusters.find((c) => c.name === site)!.controllerManagerPort;
  const p = clusterPaths(site);
  const text = await retried(
    () =>
      new Promise<string>((resolve, reject) => {
        get(
          {
            host,
            port,
            path: '/metrics',
            cert: readFileSync(join(p.pki, 'user-admin.crt')),
            key: readFileSync(join(p.pki, 'user-admin.key')),
            rejectUnauthorized: false,
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              body += chunk;
            });
            res.on('end', () =>
              res.statusCode === 200 ? resolve(body) : reject(new Error(`kube-controller-manager/${site} metrics: HTTP ${res.statusCode}`)),
            );
          },
        ).on('error', reject);
      }),
  );
  return parseHistograms(text, ['rest_client_rate_limiter_duration_seconds']);
}

/** Requests and mean server-side ms, between two readings, of the series whose labels include every `want` pair. */
export function served(
  before: HistogramTotals,
  after: HistogramTotals,
  name: string,
  want: Record<string, string>,
): { count: number; meanMs: number } {
  let sum = 0;
  let count = 0;
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
export function servedBy(
  before: HistogramTotals,
  after: HistogramTotals,
  name: string,
  want: Record<string, string>,
  label: string,
): Record<string, { count: number; meanMs: number }> {
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

/** Every series of the kube-apiserver's counters `names`, by name and labels as printed, read through kubectl. */
export async function readCounters(site: string, names: readonly string[]): Promise<Map<string, number>> {
  const text = await retried(
    async () =>
      (
        await execa(bin.kubectl, ['--kubeconfig', adminKubeconfigFile(site), 'get', '--raw', '/metrics'], {
          maxBuffer: 256 * 1024 * 1024,
        })
      ).stdout,
  );
  const counters = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})? ([\d.eE+-]+)$/.exec(line);
    if (m && names.includes(m[1]!)) counters.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return counters;
}

/** How much the series of counter `name` whose labels include every `want` pair grew between two readings, split by `label`'s value. */
export function grewBy(
  before: Map<string, number>,
  after: Map<string, number>,
  name: string,
  want: Record<string, string>,
  label: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    if (!key.startsWith(`${name}{`) || !Object.entries(want).every(([k, v]) => key.includes(`${k}="${v}"`))) continue;
    const grew = value - (before.get(key) ?? 0);
    const v = new RegExp(`[{,]${label}="([^"]*)"`).exec(key)?.[1] ?? '';
    if (grew > 0) out[v] = (out[v] ?? 0) + grew;
  }
  return out;
}
