// A MinIO server of a test's own: the lab's binary on free loopback ports with a temporary data
// directory, so a suite can configure it (throttling, say) without touching the lab's shared store.
// Same root credentials as the lab's, so the lab's credentials file signs for it too.
//
// With `drives` it runs in erasure mode, one erasure set over that many drive directories, and a test
// can take drives away and give them back: MinIO's answer to a set that lost its quorum is S3's
// `503 SlowDown` (SlowDownWrite without write quorum, SlowDownRead without read quorum: cmd/api-errors.go,
// toAPIErrorCode of InsufficientWriteQuorum/InsufficientReadQuorum).
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  /**
   * The server's Prometheus counters (needs MINIO_PROMETHEUS_AUTH_TYPE=public), `name{labels}` → value:
   * the node's (`v2/metrics/node`, its 4xx answers among them) or the cluster's (`v2/metrics/cluster`, which
   * also counts 5xx answers).
   */
  metrics(scope?: 'node' | 'cluster'): Promise<Map<string, number>>;
  /**
   * Erasure mode only: takes the last `count` drives away (each directory moved aside, a file in its place
   * so MinIO cannot format a fresh empty drive there and heal onto it, as it would for a replaced disk).
   */
  takeDrivesAway(count: number): void;
  /** Puts every drive taken away back where it was; MinIO brings it online again within a second or so. */
  giveDrivesBack(): void;
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

export interface PrivateMinioOptions {
  /**
   * Drives of one erasure set (4 to 16), `<dir>/data/d1` to `dN`. Default: none, one data directory
   * (MinIO's single-drive mode). With 4 drives MinIO keeps 2 data and 2 parity shards: it writes with 3
   * drives and reads with 2.
   */
  drives?: number;
}

/** Starts MinIO with `env` added to its environment; resolves once it reports ready (at most 30 s). */
export async function startPrivateMinio(env: Record<string, string>, options: PrivateMinioOptions = {}): Promise<PrivateMinio> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-private-minio-'));
  const [api, console] = [await freePort(), await freePort()];
  const endpoint = `http://${host}:${api}`;
  const drives = Array.from({ length: options.drives ?? 0 }, (_, i) => join(dir, 'data', `d${i + 1}`));
  const away = new Set<string>();
  const proc: ResultPromise = execa(
    bin.minio,
    [
      'server',
      // MinIO's own ellipsis notation (not the shell's): one erasure set over d1..dN.
      drives.length ? join(dir, 'data', `d{1...${drives.length}}`) : join(dir, 'data'),
      '--address',
      `${host}:${api}`,
      '--console-address',
      `${host}:${console}`,
      '--quiet',
    ],
    {
      env: {
        MINIO_ROOT_USER: objectStore.accessKeyId,
        MINIO_ROOT_PASSWORD: objectStore.secretAccessKey,
        MINIO_BROWSER: 'off',
        // MinIO refuses erasure drives on the root filesystem ("drive not found"; it never initializes) except in CI/CD
        // mode; a test's drives are directories under the temporary directory.
        ...(drives.length ? { MINIO_CI_CD: '1' } : {}),
        ...env,
      },
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
    async metrics(scope = 'node') {
      const text = await (await fetch(`${endpoint}/minio/v2/metrics/${scope}`)).text();
      const values = new Map<string, number>();
      for (const line of text.split('\n')) {
        const m = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (m) values.set(m[1]!, Number(m[2]));
      }
      return values;
    },
    takeDrivesAway(count) {
      if (count > drives.length) throw new Error(`private MinIO on ${endpoint} has ${drives.length} drives, cannot take ${count} away`);
      for (const drive of drives.slice(drives.length - count)) {
        if (away.has(drive)) continue;
        renameSync(drive, `${drive}.away`);
        writeFileSync(drive, 'drive taken away by the test\n');
        away.add(drive);
      }
    },
    giveDrivesBack() {
      for (const drive of away) {
        rmSync(drive);
        renameSync(`${drive}.away`, drive);
      }
      away.clear();
    },
    stop,
  };
}
