// Integration (lab: toxiproxy, kube-apiserver/primary, minio, Temporal, both clusters for clusterHealth):
// each fault kind, set through lab/faults.ts on proxies of this suite's own (port 0, its own names) in
// front of the lab's real servers, does to a real client what lab/README.md says. The lab's own paths
// are only read (lab fault list) and used fault-free (clusterHealth through lifeboat-faults.yaml), so
// this suite runs beside the others.
import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  addFault,
  clearFaults,
  deleteProxy,
  ensureProxies,
  faultFromOptions,
  faultPaths,
  listFaults,
  type Fault,
} from '../../lab/faults.js';
import {
  clusterPaths,
  etcdMembersOf,
  labFaultsConfigFile,
  labClusters,
  minioPorts,
  objectStore,
  temporalPorts,
} from '../../lab/topology.js';
import { adminKubeConfig, lifeboat } from '../helpers/lab.js';
import { labFaultsConfig, startFaultsTestWorker } from '../helpers/faults.js';
import { withDeadline } from '../../activities/network-errors.js';
import { withEtcdEndpoints } from '../../activities/etcd/client.js';
import type { clusterHealth } from '../../workflows/clusterHealth.js';

const id = randomUUID().slice(0, 8);
const names = { api: `test-${id}-apiserver`, s3: `test-${id}-s3`, etcd: `test-${id}-etcd` };
const primary = labClusters.find((c) => c.name === 'primary')!;
let listen: Record<keyof typeof names, string>;
const bigKey = `test-faults/${id}/4MiB`;
const big = randomBytes(4 * 1024 * 1024);
const smallKey = `test-faults/${id}/256KiB`;
const small = randomBytes(256 * 1024);

/** The primary's admin credentials, but reaching its API server at `address` (a proxy of this suite's). */
function kubeConfigAt(address: string): KubeConfig {
  const admin = adminKubeConfig('primary');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters.map((c) => ({ ...c, server: `https://${address}` })),
    users: admin.users,
    contexts: admin.contexts,
    currentContext: admin.currentContext,
  });
  return kc;
}

/**
 * A plain S3 client on `address`: one attempt, its own request timeout. Without throwOnRequestTimeout the
 * SDK's request handler only logs a warning when requestTimeout passes and goes on waiting.
 */
const s3At = (address: string, requestTimeout = 30_000) =>
  new S3Client({
    endpoint: `http://${address}`,
    region: objectStore.region,
    forcePathStyle: true,
    credentials: { accessKeyId: objectStore.accessKeyId, secretAccessKey: objectStore.secretAccessKey },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 3_000, requestTimeout, throwOnRequestTimeout: true },
  });

/** Reads a GetObject body to its end: the bytes that came, and the error the stream ended with, if any. */
async function readObject(s3: S3Client, key: string): Promise<{ bytes: number; error?: NodeJS.ErrnoException; ms: number }> {
  const t0 = Date.now();
  let bytes = 0;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: objectStore.bucket, Key: key }));
    for await (const chunk of res.Body as AsyncIterable<Uint8Array>) bytes += chunk.length;
    return { bytes, ms: Date.now() - t0 };
  } catch (err) {
    return { bytes, error: err as NodeJS.ErrnoException, ms: Date.now() - t0 };
  }
}

/** One GET of the API server's /version over a fresh TLS connection: node's https, the client under client-node. */
function rawVersion(address: string): Promise<{ status?: number; error?: NodeJS.ErrnoException; ms: number }> {
  const p = clusterPaths('primary');
  const t0 = Date.now();
  return new Promise((resolve) => {
    const req = request(`https://${address}/version`, { ca: readFileSync(p.caCert), agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Date.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (error) => resolve({ error, ms: Date.now() - t0 }));
    req.end();
  });
}

const fault = (kind: string, options = {}): Fault => faultFromOptions(kind, options);

beforeAll(async () => {
  const proxies = await ensureProxies([
    { name: names.api, listen: '127.0.0.1:0', upstream: `127.0.0.1:${primary.apiserverPort}` },
    { name: names.s3, listen: '127.0.0.1:0', upstream: `127.0.0.1:${minioPorts.api}` },
    { name: names.etcd, listen: '127.0.0.1:0', upstream: new URL(etcdMembersOf(primary)[0]!.clientUrl).host },
  ]);
  const at = (name: string) => proxies.find((p) => p.name === name)!.listen;
  listen = { api: at(names.api), s3: at(names.s3), etcd: at(names.etcd) };
  const direct = s3At(`127.0.0.1:${minioPorts.api}`);
  await direct.send(new PutObjectCommand({ Bucket: objectStore.bucket, Key: bigKey, Body: big }));
  await direct.send(new PutObjectCommand({ Bucket: objectStore.bucket, Key: smallKey, Body: small }));
  direct.destroy();
}, 60_000);

afterEach(async () => {
  await clearFaults(names.api);
  await clearFaults(names.s3);
  await clearFaults(names.etcd);
});

afterAll(async () => {
  await Promise.all(Object.values(names).map((n) => deleteProxy(n)));
  const direct = s3At(`127.0.0.1:${minioPorts.api}`);
  for (const Key of [bigKey, smallKey]) await direct.send(new DeleteObjectCommand({ Bucket: objectStore.bucket, Key }));
  direct.destroy();
});

describe('fault kinds, as a real client sees them', () => {
  it('no fault: the proxy passes a client-node request and an S3 download through unchanged', async () => {
    const version = await kubeConfigAt(listen.api).makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe('v1.33.4');
    const s3 = s3At(listen.s3);
    const read = await readObject(s3, bigKey);
    s3.destroy();
    expect(read.error).toBeUndefined();
    expect(read.bytes).toBe(big.length);
  });

  it('blackhole: the connection opens, then the request hangs until the client gives up; clearing it closes what it held', async () => {
    await addFault(names.api, fault('blackhole'));
    const t0 = Date.now();
    const pending = kubeConfigAt(listen.api).makeApiClient(CoreV1Api).listNamespace();
    pending.catch(() => undefined);
    await expect(withDeadline(2_000, pending)).rejects.toThrow('no answer within 2 s');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_950);
    // An S3 client's own request timeout fires the same way.
    const s3 = s3At(listen.s3, 1_500);
    await addFault(names.s3, fault('blackhole'));
    const read = await readObject(s3, smallKey);
    s3.destroy();
    expect([read.error?.name, read.error?.code]).toEqual(['TimeoutError', 'ETIMEDOUT']);
    expect(read.ms).toBeGreaterThanOrEqual(1_450);
    await clearFaults(names.api);
    // client-node's fetch (undici) reports it as `fetch failed`, caused by ECONNRESET.
    const closed = (await withDeadline(5_000, pending).catch((err: unknown) => err)) as Error & { cause?: NodeJS.ErrnoException };
    expect(closed.cause?.code).toBe('ECONNRESET');
  });

  it('latency --ms 300: each round trip through it takes at least 300 ms more', async () => {
    const api = kubeConfigAt(listen.api).makeApiClient(VersionApi);
    await api.getCode();
    let t0 = Date.now();
    await api.getCode();
    const before = Date.now() - t0;
    await addFault(names.api, fault('latency', { ms: '300' }));
    t0 = Date.now();
    await api.getCode();
    const after = Date.now() - t0;
    expect(after).toBeGreaterThanOrEqual(300);
    expect(after - before).toBeGreaterThanOrEqual(250);
  });

  it('bandwidth --kbps 64: a 256 KiB download takes about 4 s instead of milliseconds', async () => {
    await addFault(names.s3, fault('bandwidth', { kbps: '64' }));
    const s3 = s3At(listen.s3);
    const read = await readObject(s3, smallKey);
    s3.destroy();
    expect(read.error).toBeUndefined();
    expect(read.bytes).toBe(small.length);
    expect(read.ms).toBeGreaterThanOrEqual(3_500);
  }, 30_000);

  it('cut --after-bytes 1048576: a 4 MiB download ends early with an error, after about 1 MiB', async () => {
    await addFault(names.s3, fault('cut', { afterBytes: String(1024 * 1024) }));
    const s3 = s3At(listen.s3);
    const read = await readObject(s3, bigKey);
    s3.destroy();
    expect(read.error).toBeDefined();
    expect(read.bytes).toBeGreaterThan(0);
    expect(read.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(`${read.error!.code} ${read.error!.message}`).toMatch(/ECONNRESET|aborted|premature close/i);
  });

  it('cut --direction upstream: an upload is cut mid-stream and the store keeps nothing', async () => {
    await addFault(names.s3, fault('cut', { afterBytes: String(512 * 1024), direction: 'upstream' }));
    const s3 = s3At(listen.s3);
    const key = `test-faults/${id}/cut-upload`;
    await expect(s3.send(new PutObjectCommand({ Bucket: objectStore.bucket, Key: key, Body: big }))).rejects.toThrow();
    s3.destroy();
    await clearFaults(names.s3);
    const direct = s3At(`127.0.0.1:${minioPorts.api}`);
    await expect(direct.send(new GetObjectCommand({ Bucket: objectStore.bucket, Key: key }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    direct.destroy();
  });

  it('reset: the connection is reset (ECONNRESET) as the first bytes arrive', async () => {
    await addFault(names.api, fault('reset'));
    const res = await rawVersion(listen.api);
    expect(res.error?.code).toBe('ECONNRESET');
    expect(res.ms).toBeLessThan(2_000);
  });

  it('down: connection refused at once (ECONNREFUSED); cleared, the path serves again', async () => {
    await addFault(names.api, fault('down'));
    const res = await rawVersion(listen.api);
    expect(res.error?.code).toBe('ECONNREFUSED');
    expect(res.ms).toBeLessThan(1_000);
    await clearFaults(names.api);
    expect((await rawVersion(listen.api)).status).toBe(200);
  });

  it("etcd: Lifeboat's own etcd client (gRPC over mutual TLS) is slowed by latency and left waiting by a blackhole", async () => {
    const p = clusterPaths('primary');
    const credentials = {
      rootCertificate: readFileSync(p.caCert),
      certChain: readFileSync(p.lifeboatEtcdClientCert),
      privateKey: readFileSync(p.lifeboatEtcdClientKey),
    };
    const hosts = [`https://${listen.etcd}`];
    await withEtcdEndpoints(hosts, credentials, async (etcd) => {
      expect((await etcd.maintenance.status()).version).toBe('3.5.21');
      await addFault(names.etcd, fault('latency', { ms: '300' }));
      const t0 = Date.now();
      await etcd.maintenance.status();
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    });
    await clearFaults(names.etcd);
    await addFault(names.etcd, fault('blackhole'));
    await expect(withEtcdEndpoints(hosts, credentials, (etcd) => withDeadline(2_000, etcd.maintenance.status()))).rejects.toThrow(
      'no answer within 2 s',
    );
  });

  it('list shows each fault in words; the same kind again replaces its settings', async () => {
    await addFault(names.api, fault('latency', { ms: '100', jitter: '10', direction: 'both' }));
    await addFault(names.api, fault('latency', { ms: '200', direction: 'upstream' }));
    await addFault(names.api, fault('bandwidth', { kbps: '500' }));
    await addFault(names.s3, fault('down'));
    const list = await listFaults();
    expect(list.find((p) => p.name === names.api)).toEqual({
      name: names.api,
      listen: listen.api,
      upstream: `127.0.0.1:${primary.apiserverPort}`,
      labPath: false,
      faults: expect.arrayContaining(['latency upstream 200 ms', 'latency downstream 100±10 ms', 'bandwidth downstream 500 KB/s']),
    });
    expect(list.find((p) => p.name === names.s3)!.faults).toEqual(['down']);
  });
});

describe("the lab's fault paths and lifeboat-faults.yaml", () => {
  it('a fault proxy that does not answer is named, with what starts it', async () => {
    const port = await closedPort();
    await expect(listFaults(`http://127.0.0.1:${port}`)).rejects.toThrow(
      `the fault proxy's API at http://127.0.0.1:${port} does not answer (connection refused): \`lifeboat lab up\` starts it`,
    );
  });

  it('ensureProxies is idempotent: a second call keeps the proxy, its port and its faults', async () => {
    await addFault(names.api, fault('latency', { ms: '50' }));
    const [again] = await ensureProxies([{ name: names.api, listen: listen.api, upstream: `127.0.0.1:${primary.apiserverPort}` }]);
    expect(again!.listen).toBe(listen.api);
    expect((await listFaults()).find((p) => p.name === names.api)!.faults).toEqual(['latency downstream 50 ms']);
    await clearFaults(names.api);
  });

  it("lab fault list shows every path Lifeboat uses, on the lab's proxy, with its listen and upstream address", async () => {
    const result = await lifeboat(['lab', 'fault', 'list', '--json']);
    expect(result.exitCode).toBe(0);
    const { paths } = JSON.parse(result.stdout) as { paths: { name: string; listen: string; upstream: string; labPath: boolean }[] };
    for (const p of faultPaths)
      expect(paths).toContainEqual(expect.objectContaining({ name: p.name, listen: p.listen, upstream: p.upstream, labPath: true }));
    expect(faultPaths.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'temporal',
        'object-store',
        'apiserver-primary',
        'apiserver-standby',
        'etcd-primary-0',
        'etcd-primary-1',
        'etcd-primary-2',
        'etcd-standby',
        'standby-to-primary',
      ]),
    );
  });

  it('lifeboat-faults.yaml validates, and every address in it is a fault path', () => {
    const config = labFaultsConfig();
    const listens = new Set(faultPaths.map((p) => p.listen));
    const addresses = [
      config.temporal.address,
      new URL(config.objectStore.endpoint!).host,
      ...config.clusters.flatMap((c) => [
        new URL(kubeConfigOf(c.kubeconfig!).getCurrentCluster()!.server).host,
        ...c.etcd.endpoints.map((e) => new URL(e).host),
      ]),
    ];
    expect(addresses.length).toBe(2 + labClusters.reduce((n, c) => n + 1 + c.etcdMembers, 0));
    expect(addresses.filter((a) => !listens.has(a))).toEqual([]);
    expect(config.temporal.address).not.toBe(`127.0.0.1:${temporalPorts.frontend}`);
    expect(labFaultsConfigFile).toMatch(/lifeboat-faults\.yaml$/);
  });

  it('a worker on lifeboat-faults.yaml runs clusterHealth through the proxies, all healthy with no fault set', async () => {
    const w = await startFaultsTestWorker();
    try {
      const report = await w.client.workflow.execute<typeof clusterHealth>('clusterHealth', {
        taskQueue: w.config.temporal.taskQueue,
        workflowId: `cluster-health/faults-test/${id}`,
        args: [{ clusters: labClusters.map((c) => c.name) }],
      });
      expect(report.components.filter((c) => !c.healthy)).toEqual([]);
      expect(report.components.find((c) => c.component === 'nodes/primary')!.address).toBe(
        `https://${faultPaths.find((p) => p.name === 'apiserver-primary')!.listen}`,
      );
    } finally {
      await w.stop();
    }
  }, 120_000);
});

describe('lab fault: argument errors exit 2 and name the argument', () => {
  it.each([
    [['add', 'nowhere', 'latency', '--ms', '5'], /<path>: expected one of temporal, object-store, apiserver-primary.*got 'nowhere'/],
    [['add', 'apiserver-primary', 'meteor'], /<kind>: expected one of blackhole, latency, bandwidth, cut, reset, down, got 'meteor'/],
    [['add', 'apiserver-primary', 'latency'], /--ms: expected the delay in milliseconds \(a whole number ≥ 1\), got nothing/],
    [['add', 'apiserver-primary', 'latency', '--ms', '1.5'], /--ms: expected .* got '1\.5'/],
    [
      ['add', 'object-store', 'bandwidth', '--kbps', '0'],
      /--kbps: expected the rate in kilobytes per second \(a whole number ≥ 1\), got '0'/,
    ],
    [['add', 'object-store', 'cut', '--after-bytes', '-3'], /--after-bytes: expected .* got '-3'/],
    [['add', 'temporal', 'blackhole', '--ms', '10'], /--ms: expected no --ms for blackhole \(its options: --direction\)/],
    [['add', 'temporal', 'down', '--direction', 'upstream'], /--direction: expected no options for down/],
    [
      ['add', 'temporal', 'latency', '--ms', '10', '--direction', 'sideways'],
      /--direction: expected upstream .*, downstream .* or both, got 'sideways'/,
    ],
    [['clear', 'nowhere'], /<path>: expected one of temporal, .*got 'nowhere'/],
  ])('lab fault %j', async (args, message) => {
    const result = await lifeboat(['lab', 'fault', ...args]);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 2, stderr: expect.stringMatching(message) });
  });
});

/** A loopback port nothing listens on (one the kernel just handed out and took back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function kubeConfigOf(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}
