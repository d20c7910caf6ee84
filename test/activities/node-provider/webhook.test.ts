// Unit with a real HTTP server: the webhook node provider against a server this test starts on
// 127.0.0.1 (the team's provisioning system). No Kubernetes call is made; the lab's configuration only
// supplies the cluster the activities look up. Activities run in MockActivityEnvironment.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNodeProviderActivities } from '../../../activities/node-provider/index.js';
import type { ClusterClients } from '../../../worker/clients.js';
import { loadKubeConfig } from '../../../worker/clients.js';
import type { NodeProviderConfig } from '../../../worker/config.js';
import { labConfig } from '../../helpers/lab.js';

const primary = labConfig().clusters.find((c) => c.name === 'primary')!;
const tokenEnv = `LIFEBOAT_TEST_NODE_PROVIDER_TOKEN_${randomBytes(3).toString('hex').toUpperCase()}`;
const token = `secret-${randomBytes(8).toString('hex')}`;

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}
/** Each request the server got, and the answers it gives next, in order (the last one repeats), each after its delay. */
let seen: Seen[] = [];
let answers: { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, path: req.url!, headers: req.headers, body: text ? JSON.parse(text) : undefined });
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      setTimeout(() => {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      }, answer.delayMs ?? 0);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  process.env[tokenEnv] = token;
});

afterAll(async () => {
  delete process.env[tokenEnv];
  server.close();
  await once(server, 'close');
});

beforeEach(() => {
  seen = [];
  answers = [];
});

const activities = (provider: NodeProviderConfig | undefined) => {
  const cluster: ClusterClients = {
    config: { ...primary, nodeProvider: provider },
    kubeConfig: loadKubeConfig(primary),
    server: 'https://127.0.0.1:16443',
  };
  return createNodeProviderActivities({ clusters: new Map([['primary', cluster]]) });
};
const webhook = (overrides: Partial<Extract<NodeProviderConfig, { kind: 'webhook' }>> = {}) =>
  activities({ kind: 'webhook', url, tokenEnv, timeout: 2, pollInterval: 1, ...overrides });

const inActivity = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn);
interface Failure {
  type?: string;
  nonRetryable?: boolean;
  message: string;
  nextRetryDelay?: Duration;
}
const failureOf = (run: Promise<unknown>): Promise<Failure> =>
  run.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err as Failure,
  );

const pool = {
  labels: { pool: 'general', 'topology.kubernetes.io/zone': 'zone-a' },
  taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }],
};
const provisionInput = { cluster: 'primary', replacing: 'node-3', pool, workflowId: 'node-replacement/primary/node-3', runId: 'run-1' };
const fenceInput = { cluster: 'primary', node: 'node-3', workflowId: 'node-replacement/primary/node-3', runId: 'run-1' };

describe('webhook node provider', () => {
  it('provisions with a POST carrying the pool, the run labels, a bearer token and the idempotency key', async () => {
    answers = [{ status: 201, body: { node: 'general-7' } }];
    expect(await inActivity(() => webhook().provisionNode(provisionInput))).toEqual({ node: 'general-7', created: true });
    expect(seen.map(({ method, path, body }) => ({ method, path, body }))).toEqual([
      {
        method: 'POST',
        path: '/hooks',
        body: {
          action: 'provision',
          cluster: 'primary',
          replacing: 'node-3',
          pool: {
            labels: {
              pool: 'general',
              'topology.kubernetes.io/zone': 'zone-a',
              'lifeboat.io/provisioned-by': 'run-1',
              'lifeboat.io/replaces': 'node-3',
            },
            taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }],
          },
          idempotencyKey: 'node-replacement/primary/node-3/run-1/provision',
        },
      },
    ]);
    expect(seen[0]!.headers['authorization']).toBe(`Bearer ${token}`);
    expect(seen[0]!.headers['idempotency-key']).toBe('node-replacement/primary/node-3/run-1/provision');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('a retry the receiver recognises by its key answers created: false, with the same Node', async () => {
    answers = [{ status: 200, body: { node: 'general-7', created: false } }];
    expect(await inActivity(() => webhook().provisionNode(provisionInput))).toEqual({ node: 'general-7', created: false });
    expect(seen.map((s) => s.headers['idempotency-key'])).toEqual(['node-replacement/primary/node-3/run-1/provision']);
  });

  it('a Node name too long for a label value is cut, with a hash of the whole, in lifeboat.io/replaces', async () => {
    answers = [{ status: 201, body: { node: 'general-8' } }];
    const replacing = 'ip-10-0-12-34.eu-west-1.compute.internal.example-corp-production-cluster';
    await inActivity(() => webhook().provisionNode({ ...provisionInput, replacing }));
    expect(
      seen.map((r) => [
        (r.body as { replacing: string }).replacing,
        (r.body as { pool: { labels: Record<string, string> } }).pool.labels['lifeboat.io/replaces'],
      ]),
    ).toEqual([[replacing, 'ip-10-0-12-34.eu-west-1.compute.internal.example-corp-61569f73']]);
  });

  it('an answer without a Node name is a rejection', async () => {
    answers = [{ status: 200, body: { accepted: true } }];
    const failure = await failureOf(inActivity(() => webhook().provisionNode(provisionInput)));
    expect({ type: failure.type, nonRetryable: failure.nonRetryable, message: failure.message }).toEqual({
      type: 'NodeProviderRejected',
      nonRetryable: true,
      message: `POST ${url} answered 200 without a "node" string: {"accepted":true}`,
    });
  });

  it('500 is NodeProviderUnavailable (retryable); 403 is NodeProviderRejected (not), without the token in the message', async () => {
    answers = [{ status: 500, body: { error: 'capacity exhausted' } }];
    const unavailable = await failureOf(inActivity(() => webhook().provisionNode(provisionInput)));
    expect({ type: unavailable.type, nonRetryable: unavailable.nonRetryable, message: unavailable.message }).toEqual({
      type: 'NodeProviderUnavailable',
      nonRetryable: false,
      message: `POST ${url} answered 500: {"error":"capacity exhausted"}`,
    });
    answers = [{ status: 403, body: { error: `token ${token} may not provision` } }];
    const rejected = await failureOf(inActivity(() => webhook().provisionNode(provisionInput)));
    expect({ type: rejected.type, nonRetryable: rejected.nonRetryable, message: rejected.message }).toEqual({
      type: 'NodeProviderRejected',
      nonRetryable: true,
      message: `POST ${url} answered 403: {"error":"token [token] may not provision"}`,
    });
  });

  it('429 and no answer at all are NodeProviderUnavailable too', async () => {
    answers = [{ status: 429, headers: { 'retry-after': '7' } }];
    const throttled = await failureOf(inActivity(() => webhook().fenceNode(fenceInput)));
    expect({ type: throttled.type, nonRetryable: throttled.nonRetryable }).toEqual({
      type: 'NodeProviderUnavailable',
      nonRetryable: false,
    });
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const refused = await failureOf(inActivity(() => webhook({ url: `http://127.0.0.1:${port}/hooks` }).provisionNode(provisionInput)));
    expect({ type: refused.type, nonRetryable: refused.nonRetryable, message: refused.message }).toEqual({
      type: 'NodeProviderUnavailable',
      nonRetryable: false,
      message: `POST http://127.0.0.1:${port}/hooks: connection refused`,
    });
  });

  /** The delay a retryable answer asks of the retry policy, in ms; undefined: the policy's own. */
  const retryDelayAfter = async (status: number, headers: Record<string, string>) => {
    answers = [{ status, headers }];
    const failure = await failureOf(inActivity(() => webhook().provisionNode(provisionInput)));
    expect({ type: failure.type, nonRetryable: failure.nonRetryable }).toEqual({ type: 'NodeProviderUnavailable', nonRetryable: false });
    return failure.nextRetryDelay == null ? undefined : msToNumber(failure.nextRetryDelay);
  };

  it('Retry-After in seconds on a 429 or a 503 sets the next retry, at most 5 minutes away', async () => {
    expect(await retryDelayAfter(429, { 'retry-after': '7' })).toBe(7_000);
    expect(await retryDelayAfter(503, { 'retry-after': '7' })).toBe(7_000);
    expect(await retryDelayAfter(503, { 'retry-after': '300' })).toBe(300_000);
    expect(await retryDelayAfter(429, { 'retry-after': '301' })).toBe(300_000);
    expect(await retryDelayAfter(503, { 'retry-after': '86400' })).toBe(300_000);
  });

  it("Retry-After as an HTTP-date, in any of its three forms, counts from the answer's Date header", async () => {
    const date = 'Sun, 06 Nov 1994 08:49:37 GMT';
    expect(await retryDelayAfter(503, { date, 'retry-after': 'Sun, 06 Nov 1994 08:49:44 GMT' })).toBe(7_000);
    expect(await retryDelayAfter(503, { date, 'retry-after': 'Sunday, 06-Nov-94 08:49:44 GMT' })).toBe(7_000);
    expect(await retryDelayAfter(429, { date, 'retry-after': 'Sun Nov  6 08:49:44 1994' })).toBe(7_000);
    expect(await retryDelayAfter(503, { date, 'retry-after': 'Sun, 06 Nov 1994 09:49:37 GMT' })).toBe(300_000);
    // Without a Date header it can read, from the worker's clock.
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    const fromNow = await retryDelayAfter(503, { date: 'not a date', 'retry-after': inAMinute });
    expect(fromNow).toBeGreaterThanOrEqual(58_000);
    expect(fromNow).toBeLessThanOrEqual(60_000);
  });

  it('a Retry-After that is neither, or a date already past, leaves the delay to the retry policy', async () => {
    for (const retryAfter of ['soon', '-5', '1.5', '7 seconds', 'Wed, 99 Foo 2015 07:28:00 GMT', 'Sun, 06 Nov 1994 08:49:30 GMT'])
      expect(await retryDelayAfter(503, { date: 'Sun, 06 Nov 1994 08:49:37 GMT', 'retry-after': retryAfter })).toBeUndefined();
    expect(await retryDelayAfter(503, {})).toBeUndefined();
  });

  it('heartbeats while it waits for a slow answer, naming the request, and stops once the answer came', async () => {
    answers = [{ status: 200, body: { off: true }, delayMs: 1_500 }];
    // Beats every 200 ms: a third of the heartbeat timeout.
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 600 });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    expect(await env.run(() => webhook({ timeout: 5 }).fenceNode(fenceInput))).toEqual({
      fenced: true,
      how: `webhook: POST ${url} answered 200, off`,
    });
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats).toEqual(beats.map(() => ({ waitingFor: `POST ${url}` })));
    const done = beats.length;
    await sleep(500);
    expect(beats.length).toBe(done);

    // An activity without a heartbeat timeout does not beat.
    answers = [{ status: 200, body: { off: true }, delayMs: 500 }];
    const quiet = new MockActivityEnvironment();
    let quietBeats = 0;
    quiet.on('heartbeat', () => quietBeats++);
    await quiet.run(() => webhook().fenceNode(fenceInput));
    expect(quietBeats).toBe(0);
  });

  it('a missing token variable is NodeProviderTokenMissing, and nothing is sent', async () => {
    answers = [{ status: 200, body: { node: 'general-7' } }];
    const failure = await failureOf(inActivity(() => webhook({ tokenEnv: `${tokenEnv}_UNSET` }).provisionNode(provisionInput)));
    expect({ type: failure.type, nonRetryable: failure.nonRetryable, message: failure.message }).toEqual({
      type: 'NodeProviderTokenMissing',
      nonRetryable: true,
      message: `the node provider's token variable ${tokenEnv}_UNSET is not set in the worker's environment`,
    });
    expect(seen).toEqual([]);
  });

  it('fences: POST power-off, then GET <url>/nodes/<node> until it says off', async () => {
    answers = [
      { status: 202, body: {} },
      { status: 200, body: { off: false } },
      { status: 200, body: { off: true } },
    ];
    expect(await inActivity(() => webhook().fenceNode(fenceInput))).toEqual({
      fenced: true,
      how: `webhook: GET ${url}/nodes/node-3 answered 200, off (poll 2)`,
    });
    expect(seen.map(({ method, path, body }) => ({ method, path, body }))).toEqual([
      {
        method: 'POST',
        path: '/hooks',
        body: {
          action: 'power-off',
          cluster: 'primary',
          node: 'node-3',
          idempotencyKey: 'node-replacement/primary/node-3/run-1/power-off',
        },
      },
      { method: 'GET', path: '/hooks/nodes/node-3', body: undefined },
      { method: 'GET', path: '/hooks/nodes/node-3', body: undefined },
    ]);
    expect(seen.map((s) => s.headers['authorization'])).toEqual([`Bearer ${token}`, `Bearer ${token}`, `Bearer ${token}`]);
    expect(seen[0]!.headers['idempotency-key']).toBe('node-replacement/primary/node-3/run-1/power-off');
  });

  it('a POST that answers off needs no poll', async () => {
    answers = [{ status: 200, body: { off: true } }];
    expect(await inActivity(() => webhook().fenceNode(fenceInput))).toEqual({
      fenced: true,
      how: `webhook: POST ${url} answered 200, off`,
    });
    expect(seen.map((s) => s.method)).toEqual(['POST']);
  });

  it('a Node never said to be off within the timeout is NodeNotFenced, not retryable', async () => {
    answers = [
      { status: 202, body: {} },
      { status: 200, body: { off: false } },
    ];
    const failure = await failureOf(inActivity(() => webhook().fenceNode(fenceInput)));
    expect({ type: failure.type, nonRetryable: failure.nonRetryable, message: failure.message }).toEqual({
      type: 'NodeNotFenced',
      nonRetryable: true,
      message:
        "Node node-3 on cluster 'primary' is not confirmed off; its volumes stay attached: " +
        `webhook: POST ${url} accepted the power-off, but GET ${url}/nodes/node-3 did not say off within 2 s (last: 200 {"off":false})`,
    });
    expect(seen.map((s) => s.method)).toEqual(['POST', 'GET', 'GET']);
  });

  it('a cluster without nodeProvider cannot fence or provision, and says which key is missing', async () => {
    const acts = activities(undefined);
    const runs: (() => Promise<unknown>)[] = [() => acts.fenceNode(fenceInput), () => acts.provisionNode(provisionInput)];
    for (const run of runs) {
      const failure = await failureOf(inActivity(run));
      expect({ type: failure.type, nonRetryable: failure.nonRetryable, message: failure.message }).toEqual({
        type: 'NodeProviderNotConfigured',
        nonRetryable: true,
        message: "cluster 'primary' has no clusters[].nodeProvider in the configuration: its Nodes cannot be fenced or replaced",
      });
    }
    expect(seen).toEqual([]);
  });
});
