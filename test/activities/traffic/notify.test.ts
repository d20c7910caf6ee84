// The notify action against a real HTTP server on loopback (an incoming webhook that records what it gets).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNotifyActivities } from '../../../activities/traffic/notify.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

const received: Received[] = [];
let answer = { status: 200, body: 'ok' };
let server: Server;
const secretPath = '/services/T000/B000/s3cr3t-token';
const acts = createNotifyActivities();
const env = (name: string, value: string | undefined) => {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
};
const inActivity = <T>(fn: () => Promise<T>) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId: 'runbook/notify-test/1', runId: 'r-1' }, activityId: '7' }).run(fn);
const failureOf = (run: Promise<unknown>) =>
  run.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as { type?: string; nonRetryable?: boolean; message: string },
  );

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text) as unknown });
      res.writeHead(answer.status).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  env('LIFEBOAT_TEST_WEBHOOK', `http://127.0.0.1:${(server.address() as AddressInfo).port}${secretPath}`);
});

afterAll(async () => {
  env('LIFEBOAT_TEST_WEBHOOK', undefined);
  await new Promise((resolve) => server.close(resolve));
});

describe('notify', () => {
  it('POSTs the text as Slack-compatible JSON to the URL in the named variable, with an idempotency key of the run', async () => {
    received.length = 0;
    answer = { status: 200, body: 'ok' };
    const origin = new URL(process.env.LIFEBOAT_TEST_WEBHOOK!).origin;
    expect(await inActivity(() => acts.notify({ webhookEnv: 'LIFEBOAT_TEST_WEBHOOK', text: 'etcd-backup of primary verified' }))).toEqual({
      to: origin,
      status: 200,
    });
    expect(
      received.map((r) => ({ path: r.path, key: r.headers['idempotency-key'], type: r.headers['content-type'], body: r.body })),
    ).toEqual([
      { path: secretPath, key: 'runbook/notify-test/1/r-1/7', type: 'application/json', body: { text: 'etcd-backup of primary verified' } },
    ]);
  });

  it('a 400 is NotificationRejected, not retried; a 503 is retryable; neither message shows the secret path', async () => {
    answer = { status: 400, body: 'invalid_payload' };
    const rejected = await failureOf(inActivity(() => acts.notify({ webhookEnv: 'LIFEBOAT_TEST_WEBHOOK', text: 'x' })));
    const origin = new URL(process.env.LIFEBOAT_TEST_WEBHOOK!).origin;
    expect(rejected).toMatchObject({
      type: 'NotificationRejected',
      nonRetryable: true,
      message: `POST ${origin} (LIFEBOAT_TEST_WEBHOOK) answered 400: invalid_payload`,
    });
    answer = { status: 503, body: 'busy' };
    const busy = await failureOf(inActivity(() => acts.notify({ webhookEnv: 'LIFEBOAT_TEST_WEBHOOK', text: 'x' })));
    expect({ type: busy.type, message: busy.message }).toEqual({
      type: undefined,
      message: `POST ${origin} (LIFEBOAT_TEST_WEBHOOK) answered 503: busy`,
    });
  });

  it('a variable the worker lacks fails without a request', async () => {
    received.length = 0;
    const missing = await failureOf(inActivity(() => acts.notify({ webhookEnv: 'LIFEBOAT_TEST_WEBHOOK_UNSET', text: 'x' })));
    expect(missing).toMatchObject({
      type: 'InvalidRunbookInput',
      nonRetryable: true,
      message: "notify: the worker's environment has no LIFEBOAT_TEST_WEBHOOK_UNSET",
    });
    expect(received).toEqual([]);
  });
});
