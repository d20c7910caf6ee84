// A real Prometheus (Debian's, lab/install-tools.sh) that a test runs on loopback with its own port and
// data directory, and the few HTTP API calls tests make of it.
import { createServer } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { bin } from '../../lab/topology.js';

/** A free TCP port on loopback (the OS picks it; nothing holds it after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export interface TestPrometheus {
  url: string;
  process: ResultPromise;
  /** An instant query's vector: labels and value of each series. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  alerts(): Promise<PrometheusAlert[]>;
  stop(): Promise<void>;
}

export interface PrometheusSetup {
  /** Where its configuration, rules and data go. */
  dir: string;
  /** Rule files' contents by file name. */
  rules: Record<string, string>;
  /** Scrape jobs: name and host:port targets. */
  jobs: { name: string; targets: string[] }[];
  /** Scrape and rule evaluation interval. */
  interval: string;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data;
}

/** Starts Prometheus and waits until it is ready (60 s at most). */
export async function startPrometheus(setup: PrometheusSetup): Promise<TestPrometheus> {
  await mkdir(join(setup.dir, 'data'), { recursive: true });
  for (const [name, text] of Object.entries(setup.rules)) await writeFile(join(setup.dir, name), text);
  const config = {
    global: { scrape_interval: setup.interval, evaluation_interval: setup.interval, scrape_timeout: setup.interval },
    rule_files: Object.keys(setup.rules).map((name) => join(setup.dir, name)),
    scrape_configs: setup.jobs.map((j) => ({ job_name: j.name, static_configs: [{ targets: j.targets }] })),
  };
  await writeFile(join(setup.dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = execa(
    bin.prometheus,
    [
      `--config.file=${join(setup.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(setup.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { reject: false, all: true },
  );
  let exited = false;
  void child.then(() => (exited = true));
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
    if (exited) throw new Error(`prometheus exited: ${String((await child).all)}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error('prometheus not ready in 60 s');
  }
  return {
    url,
    process: child,
    async query(expr) {
      const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async alerts() {
      return (await api<{ alerts: PrometheusAlert[] }>(`${url}/api/v1/alerts`)).alerts;
    },
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}
