// A MinIO server of a test's own: the lab's binary on free loopback ports with a temporary data
// directory, so a suite can configure it (throttling, say) without touching the lab's shared store.
// Same root credentials as the lab's, so the lab's credentials file signs for it too.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { S3Client } from '@aws-sdk/client-s3';
import { bin, host, objectStore } from '../../lab/topology.js';

export interface PrivateMinio {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  dir: string;
  /** A client of it with the lab's credentials; `maxAttempts` retries included. */
  client(maxAttempts?: number): S3Client;
  /** The server's Prometheus counters (needs MINIO_PROMETHEUS_AUTH_TYPE=public), `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its directory. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts MinIO with `env` added to its environment; resolves once it reports ready (at most 30 s). */
export async function startPrivateMinio(env: Record<string, string>): Promise<PrivateMinio> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-private-minio-'));
  const [api, console] = [await freePort(), await freePort()];
  const endpoint = `http://${host}:${api}`;
  const proc: ResultPromise = execa(
    bin.minio,
    ['server', join(dir, 'data'), '--address', `${host}:${api}`, '--console-address', `${host}:${console}`, '--quiet'],
    {
      env: { MINIO_ROOT_USER: objectStore.accessKeyId, MINIO_ROOT_PASSWORD: objectStore.secretAccessKey, MINIO_BROWSER: 'off', ...env },
      reject: false,
      stdout: { file: join(dir, 'minio.log') },
      stderr: { file: join(dir, 'minio.log') },
    },
  );
  let exit: string | undefined;
  const exited = proc.then((r) => (exit = r.signal ?? String(r.exitCode)));
  const stop = async () => {
    if (exit === undefined) {
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${endpoint}/minio/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (exit !== undefined || Date.now() > deadline) {
      const log = readFileSync(join(dir, 'minio.log'), 'utf8').slice(-2000);
      await stop();
      throw new Error(`private MinIO on ${endpoint} did not become ready (${exit ?? 'still running'}): ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    dir,
    client: (maxAttempts = 10) =>
      new S3Client({
        endpoint,
        region: objectStore.region,
        forcePathStyle: true,
        maxAttempts,
        credentials: { accessKeyId: objectStore.accessKeyId, secretAccessKey: objectStore.secretAccessKey },
      }),
    async metrics() {
      const text = await (await fetch(`${endpoint}/minio/v2/metrics/node`)).text();
      const values = new Map<string, number>();
      for (const line of text.split('\n')) {
        const m = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (m) values.set(m[1]!, Number(m[2]));
      }
      return values;
    },
    stop,
  };
}
