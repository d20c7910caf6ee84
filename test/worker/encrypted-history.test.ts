// Integration (lab: Temporal, MinIO, both clusters' kube-apiserver and etcd; the worker starts a scratch
// etcd and kube-apiserver): workflow history is encrypted. A failover plan (dry run) and an etcd restore
// verification carry a marker in their input and report; their raw history, as Temporal stores and
// serves it, holds none of it, a client without the codec cannot read their results, and
// `lifeboat codec-server` (started here on a free port) decodes the history back, for its bearer token
// only, answering CORS preflights for the configured UI origin only.
import { clusterAttribute } from '../../model/search-attributes.js';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { execa, type ResultPromise } from 'execa';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { labConfigFile } from '../../lab/topology.js';
import type { VerificationResult } from '../../model/verification.js';
import type { etcdSnapshot } from '../../workflows/etcdSnapshot.js';
import type { FailoverReport, failover } from '../../workflows/failover.js';
import type { restoreVerification } from '../../workflows/restoreVerification.js';
import { createClients } from '../../worker/clients.js';
import { createWorker } from '../../worker/worker.js';
import { createTestApp, type TestApp } from '../helpers/failover-app.js';
import { cliPath, labConfig, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { deleteSnapshotsOf, withTestCluster } from '../helpers/test-cluster.js';

// The marker: a DNS label, so it can be a cluster's name; random, so nothing else in the lab holds it.
const marker = `mk${randomBytes(6).toString('hex')}`;
const markedCluster = `t-${marker}`;
const uiOrigin = 'https://temporal-ui.codec-test.example';
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-codec-'));
const tokenFile = join(dir, 'codec.token');
const token = randomBytes(32).toString('hex');
const suffix = () => `${Date.now()}-${randomBytes(3).toString('hex')}`;

let app: TestApp;
let w: TestWorker;
let server: ResultPromise;
let serverExited = false;
let codecUrl: string;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

/** The lab's configuration file with a codecServer block; returns its path. */
function writeCodecConfig(name: string, block: Record<string, unknown>): string {
  const document = parse(readFileSync(labConfigFile, 'utf8')) as Record<string, unknown>;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({ ...document, codecServer: block }));
  return file;
}

beforeAll(async () => {
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  app = await createTestApp(labConfig(), { deployments: 1, replicas: 1 });
  w = await startTestWorker((c) => withTestCluster(app.addTo(c), markedCluster, 'standby'));
  const port = await freePort();
  codecUrl = `http://127.0.0.1:${port}`;
  const config = writeCodecConfig('codec', { listen: `127.0.0.1:${port}`, uiOrigin, tokenFile });
  server = execa(process.execPath, [cliPath, 'codec-server'], { env: { LIFEBOAT_CONFIG: config }, reject: false });
  void server.finally(() => (serverExited = true));
  for (const deadline = Date.now() + 30_000; ;) {
    const up = await fetch(`${codecUrl}/decode`, { method: 'OPTIONS', headers: { origin: uiOrigin } }).catch(() => undefined);
    if (up?.status === 204) break;
    if (Date.now() > deadline || serverExited) throw new Error(`codec server did not start: ${String((await server).stderr)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  server?.kill('SIGTERM');
  await server;
  await w?.stop();
  await app?.remove();
  const { s3 } = createClients(labConfig());
  await deleteSnapshotsOf(s3, labConfig().objectStore.bucket, markedCluster);
  s3.destroy();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

interface JsonPayload {
  metadata: Record<string, string>;
  data?: string;
}

/** The history as Temporal serves it (no codec), as JSON, every page. */
async function rawHistory(workflowId: string): Promise<string> {
  const events: unknown[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await w.client.workflowService.getWorkflowExecutionHistory({
      namespace: w.config.temporal.namespace,
      execution: { workflowId },
      nextPageToken,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return historyToJSON({ events } as Parameters<typeof historyToJSON>[0]);
}

/** A history's JSON without its search attributes (the server's index). */
function withoutSearchAttributes(json: string): string {
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([k]) => k !== 'searchAttributes')
              .map(([k, x]) => [k, strip(x)]),
          )
        : v;
  return JSON.stringify(strip(JSON.parse(json)));
}

/** Every payload in a history's JSON, with where it is. */
function payloadsOf(json: string): (JsonPayload & { at: string })[] {
  const found: (JsonPayload & { at: string })[] = [];
  const walk = (v: unknown, at: string): void => {
    if (typeof v !== 'object' || v === null) return;
    const p = v as Partial<JsonPayload>;
    if (typeof p.metadata === 'object' && typeof p.metadata.encoding === 'string') found.push({ metadata: p.metadata, data: p.data, at });
    else Object.entries(v).forEach(([k, x]) => walk(x, `${at}.${k}`));
  };
  walk(JSON.parse(json), '');
  return found;
}

const fromBase64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
/** The text of payloads: their metadata and data, out of base64. */
const payloadText = (payloads: JsonPayload[]) =>
  payloads.map((p) => [...Object.values(p.metadata).map(fromBase64), fromBase64(p.data)].join(' ')).join('\n');

const codec = (op: 'encode' | 'decode', payloads: JsonPayload[], headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
  fetch(`${codecUrl}/${op}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: JSON.stringify({ payloads }),
  });

/** What the raw history shows: the marker nowhere (not even inside base64), payloads sealed with the lab key. */
async function expectSealed(workflowId: string): Promise<JsonPayload[]> {
  // Search attributes are the server's index, in clear by design: names only (runbook, cluster, app,
  // people, outcome; workflows/run-lifecycle.ts), never data. Everything else holds none of the marker.
  const json = withoutSearchAttributes(await rawHistory(workflowId));
  const payloads = payloadsOf(json);
  expect(json).not.toContain(marker);
  expect(payloadText(payloads)).not.toContain(marker);
  // Not the codec's: the SDK's patch markers (a patch's id) and the trace context an activity's header
  // carries (trace and span ids, @temporalio/interceptors-opentelemetry). Every other payload is sealed
  // with the lab key.
  const sealed = payloads.filter(
    (p) => !p.at.includes('.markerRecordedEventAttributes.details.patch-data.') && !p.at.includes('.header.fields._tracer-data'),
  );
  expect(sealed.length).toBeGreaterThan(3);
  expect(new Set(sealed.map((p) => `${fromBase64(p.metadata.encoding)} ${fromBase64(p.metadata['encryption-key-id'])}`))).toEqual(
    new Set(['binary/encrypted lab-1']),
  );
  return sealed.map(({ metadata, data }) => ({ metadata, data }));
}

/** The codec server opens the history's payloads: the marker is back. */
async function expectDecodedByServer(payloads: JsonPayload[]): Promise<void> {
  const res = await codec('decode', payloads);
  expect(res.status).toBe(200);
  const decoded = ((await res.json()) as { payloads: JsonPayload[] }).payloads;
  expect(decoded).toHaveLength(payloads.length);
  expect(payloadText(decoded)).toContain(marker);
  expect(decoded.every((p) => fromBase64(p.metadata.encoding) !== 'binary/encrypted')).toBe(true);
}

describe('encrypted history', () => {
  it('a failover plan (dry run) with the marker in its reason: raw history holds none of it; the codec server decodes it', async () => {
    const workflowId = `failover/${app.name}`;
    const report: FailoverReport = await w.client.workflow.execute<typeof failover>('failover', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId,
      args: [{ app: app.name, from: 'primary', to: 'standby', reason: `codec drill ${marker}`, dryRun: true }],
    });
    expect(report.reason).toBe(`codec drill ${marker}`);
    await expectDecodedByServer(await expectSealed(workflowId));
    // A client without the codec cannot read the result.
    const plain = new Client({ connection: w.client.connection, namespace: w.config.temporal.namespace });
    await expect(plain.workflow.getHandle(workflowId).result()).rejects.toThrow(/binary\/encrypted/);
  });

  it('an etcd restore verification of a cluster named with the marker: raw history holds none of it; the codec server decodes it', async () => {
    const snapshot = await w.client.workflow.execute<typeof etcdSnapshot>('etcdSnapshot', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId: `etcd-snapshot/test-codec-${suffix()}`,
      args: [{ cluster: markedCluster, skipRetention: true }],
    });
    const workflowId = `verify-etcd/test-codec-${suffix()}`;
    const result: VerificationResult = await w.client.workflow.execute<typeof restoreVerification>('restoreVerification', {
      taskQueue: w.config.temporal.taskQueue,
      workflowId,
      args: [{ kind: 'etcd', cluster: markedCluster, snapshotId: snapshot.manifest.snapshotId }],
    });
    expect([result.subject, result.passed, result.failureReason]).toEqual([markedCluster, true, undefined]);
    await expectDecodedByServer(await expectSealed(workflowId));
    // The cluster's name is in the index, in clear, so that `lifeboat history --cluster` finds the run.
    expect((await w.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(clusterAttribute)).toBe(markedCluster);
  }, 300_000);

  it("a failed run: the failure's message holds the marker for a client with the codec, and is sealed in history", async () => {
    const workflowId = `verify-etcd/test-codec-${suffix()}`;
    const failed = await w.client.workflow
      .execute<typeof restoreVerification>('restoreVerification', {
        taskQueue: w.config.temporal.taskQueue,
        workflowId,
        args: [{ kind: 'etcd', cluster: 'standby', snapshotId: `missing-${marker}` }],
      })
      .then(
        (r) => JSON.stringify(r),
        (err: Error) => {
          const cause = err.cause as Error | undefined;
          return `${err.message} ${cause?.message} ${(cause?.cause as Error | undefined)?.message}`;
        },
      );
    expect(failed).toContain(`no snapshot missing-${marker} of cluster 'standby'`);
    await expectDecodedByServer(await expectSealed(workflowId));
  });
});

describe('a worker without an encryption block', () => {
  it('says at start that history is written in clear', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const config = { ...labConfig({ taskQueue: `test-plain-${suffix()}` }), encryption: undefined };
    const handle = await createWorker(config, logger);
    const running = handle.run();
    handle.worker.shutdown();
    await running;
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'no encryption block in the configuration: workflow inputs, results and failures are written to Temporal history in clear',
      }),
    ]);
  });
});

describe('lifeboat codec-server', () => {
  const sample = async () => {
    const res = await codec('encode', [
      { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(`"${marker}"`).toString('base64') },
    ]);
    expect(res.status).toBe(200);
    return ((await res.json()) as { payloads: JsonPayload[] }).payloads;
  };

  it('encodes with the current key and decodes what it encoded', async () => {
    const sealed = await sample();
    expect(payloadText(sealed)).not.toContain(marker);
    expect(fromBase64(sealed[0]!.metadata['encryption-key-id'])).toBe('lab-1');
    const res = await codec('decode', sealed);
    expect(payloadText(((await res.json()) as { payloads: JsonPayload[] }).payloads)).toBe(`json/plain "${marker}"`);
  });

  it('refuses a request without the token, or with a wrong one, with 401', async () => {
    const sealed = await sample();
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${'0'.repeat(64)}` },
      { authorization: token },
      { authorization: `Basic ${token}` },
    ]) {
      for (const op of ['decode', 'encode'] as const) {
        const res = await codec(op, sealed, headers);
        expect([op, res.status, res.headers.get('www-authenticate'), await res.text()]).toEqual([
          op,
          401,
          'Bearer realm="lifeboat-codec"',
          '{"error":"a valid bearer token is required"}',
        ]);
      }
    }
    // The token in the path is not taken unless codecServer.tokenInPath says so.
    const inPath = await fetch(`${codecUrl}/${token}/decode`, { method: 'POST', body: JSON.stringify({ payloads: sealed }) });
    expect(inPath.status).toBe(401);
  });

  it('answers the CORS preflight of the configured UI origin only, and names only that origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${codecUrl}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const ok = await preflight(uiOrigin);
    expect([ok.status, ok.headers.get('access-control-allow-origin')]).toEqual([204, uiOrigin]);
    expect(ok.headers.get('access-control-allow-headers')?.split(', ')).toEqual(['authorization', 'content-type', 'x-namespace']);
    expect(ok.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    for (const origin of ['https://evil.example', 'http://temporal-ui.codec-test.example', `${uiOrigin}:8443`]) {
      const refused = await preflight(origin);
      expect([origin, refused.status, refused.headers.get('access-control-allow-origin')]).toEqual([origin, 403, null]);
    }
    // A call from another origin, even with the token, carries no CORS header: a browser would not show the answer.
    const other = await codec('decode', await sample(), { authorization: `Bearer ${token}`, origin: 'https://evil.example' });
    expect([other.status, other.headers.get('access-control-allow-origin')]).toEqual([200, null]);
    const fromUi = await codec('decode', await sample(), { authorization: `Bearer ${token}`, origin: uiOrigin });
    expect(fromUi.headers.get('access-control-allow-origin')).toBe(uiOrigin);
  });

  it('refuses a tampered payload and one sealed with an unknown key, saying which', async () => {
    const [sealed] = await sample();
    const data = Buffer.from(sealed!.data!, 'base64');
    data[data.length - 1] = data[data.length - 1]! ^ 1;
    const tampered = await codec('decode', [{ ...sealed!, data: data.toString('base64') }]);
    expect([tampered.status, await tampered.json()]).toEqual([
      422,
      { error: "encrypted payload (key 'lab-1') failed authentication: it was altered or sealed with another key" },
    ]);
    const unknown = await codec('decode', [
      { ...sealed!, metadata: { ...sealed!.metadata, 'encryption-key-id': Buffer.from('gone-1').toString('base64') } },
    ]);
    expect([unknown.status, await unknown.json()]).toEqual([
      422,
      {
        error:
          "payload encrypted with key 'gone-1', which is not configured (configured: lab-1); add it to encryption.keys to read this history",
      },
    ]);
  });

  it('does not start with a token file others can read, or a short token, naming the field', async () => {
    const loose = join(dir, 'loose.token');
    writeFileSync(loose, `${token}\n`);
    chmodSync(loose, 0o644);
    const looseConfig = writeCodecConfig('loose', { tokenFile: loose });
    const refused = await execa(process.execPath, [cliPath, 'codec-server'], { env: { LIFEBOAT_CONFIG: looseConfig }, reject: false });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(
        `${looseConfig}:\\d+:\\d+: codecServer\\.tokenFile: '${loose}': mode 0644 is too open: its group and others may access it; expected a file only its owner can access \\(chmod 600 it\\)`,
      ),
    );
    const shortConfig = writeCodecConfig('short', { tokenEnv: 'CODEC_TEST_TOKEN' });
    const short = await execa(process.execPath, [cliPath, 'codec-server'], {
      env: { LIFEBOAT_CONFIG: shortConfig, CODEC_TEST_TOKEN: 'hunter2' },
      reject: false,
    });
    expect([short.exitCode, short.stderr]).toEqual([
      2,
      'lifeboat: codecServer.tokenEnv: environment variable CODEC_TEST_TOKEN: the token has 7 characters; expected at least 32 (e.g. `openssl rand -hex 32`)',
    ]);
  });
});
