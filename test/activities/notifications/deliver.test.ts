// Unit with real HTTP servers: the notification activity against receivers this test runs on
// 127.0.0.1 (a Slack-compatible incoming webhook, JSON webhooks that check the signature, one that is
// down, one that refuses). No lab component is needed. The activity runs in the SDK's
// MockActivityEnvironment, whose heartbeat details a retry is started from.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { createNotificationActivities } from '../../../activities/notifications/index.js';
import { failureTypes } from '../../../model/failures.js';
import type { RunNotification } from '../../../model/notifications.js';
import type { NotificationsConfig } from '../../../worker/config.js';

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  text: string;
}
/** Requests by path, and the answer each path gives (200 when none is set). */
let seen: Seen[] = [];
let answers: Record<string, { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }> = {};
let server: Server;
let base: string;

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-notifications-'));
const secretPath = `/services/T0001/B0001/${randomBytes(12).toString('hex')}`;
const key = randomBytes(32).toString('hex');
const otherKey = randomBytes(32).toString('hex');
const slackUrlFile = join(dir, 'slack-url');
const keyFile = join(dir, 'hmac-key');
const passwordFile = join(dir, 'am-password');
const password = `pw-${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      seen.push({ path: req.url!, headers: req.headers, text });
      const answer = answers[req.url!] ?? { status: 200 };
      setTimeout(
        () => res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers }).end(answer.body ?? 'ok'),
        answer.delayMs ?? 0,
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(slackUrlFile, `${base}${secretPath}\n`, { mode: 0o600 });
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  server.close();
  await once(server, 'close');
});

beforeEach(() => {
  seen = [];
  answers = {};
});

const receivers = (): NotificationsConfig['receivers'] => ({
  chat: { kind: 'slack', urlFile: slackUrlFile, timeout: 5 },
  audit: { kind: 'webhook', url: `${base}/hooks/audit?tenant=sre`, keyFile, timeout: 5 },
  ledger: { kind: 'webhook', url: `${base}/hooks/ledger`, keyFile, timeout: 5 },
  am: { kind: 'alertmanager', url: `${base}/am`, basicAuth: { username: 'lifeboat', passwordFile }, resolveAfter: 3600, timeout: 5 },
});

const failedRun: RunNotification = {
  event: 'failed',
  runbook: 'failover',
  workflowId: 'failover/shop',
  runId: 'run-1',
  namespace: 'default',
  cluster: 'primary',
  app: 'shop',
  startedBy: 'alice',
  at: '2026-12-07T07:00:00.000Z',
  outcome: 'failed',
  summary: 'failover of shop from primary to standby failed',
  rootCause: '[RestoreFailed] Velero restore shop-1 <PartiallyFailed> & 2 errors',
};
const approvalRun: RunNotification = {
  event: 'approval-needed',
  runbook: 'runbook/etcd-restore',
  workflowId: 'runbook/etcd-restore/primary',
  runId: 'run-2',
  namespace: 'default',
  cluster: 'primary',
  at: '2026-12-07T07:05:00.000Z',
  summary: 'etcd restore of primary waits for approval',
  approval: {
    step: 'confirm',
    command: 'lifeboat runbook approve runbook/etcd-restore/primary --step confirm',
    approvers: ['group:sre'],
    timeoutSeconds: 1800,
  },
};

/** Runs the activity in the SDK's harness; `heartbeats` gets each heartbeat's details. */
function run(
  notifications: NotificationsConfig,
  notification: RunNotification,
  options: { heartbeatDetails?: unknown; attempt?: number; heartbeatTimeoutMs?: number; registry?: Registry; logger?: Logger } = {},
) {
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment({
    attempt: options.attempt ?? 1,
    heartbeatDetails: options.heartbeatDetails,
    ...(options.heartbeatTimeoutMs ? { heartbeatTimeoutMs: options.heartbeatTimeoutMs } : {}),
  });
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const activities = createNotificationActivities({
    notifications,
    temporalUi: 'http://127.0.0.1:8233',
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { result: env.run(() => activities.deliverNotification(notification)), heartbeats };
}

interface Failure {
  type?: string;
  nonRetryable?: boolean;
  message: string;
  nextRetryDelay?: unknown;
  details?: unknown[];
}
const failureOf = (p: Promise<unknown>): Promise<Failure> =>
  p.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err as Failure,
  );

/** What the JSON webhook documents: v1=hex(HMAC-SHA256(key, "<timestamp>.<body>")), compared in constant time. */
function verifies(sharedKey: string, r: Seen): boolean {
  const timestamp = r.headers['x-lifeboat-timestamp'] as string;
  const expected = Buffer.from(`v1=${createHmac('sha256', sharedKey).update(`${timestamp}.${r.text}`).digest('hex')}`);
  const got = Buffer.from(String(r.headers['x-lifeboat-signature']));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Captures pino's JSON lines. */
function capturedLogger() {
  const lines: string[] = [];
  return { lines, logger: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }) };
}

describe('deliverNotification', () => {
  it('sends nothing when no route matches (no routes: nothing is sent)', async () => {
    const { result } = run({ receivers: receivers(), routes: [] }, failedRun);
    expect(await result).toEqual({ delivered: [], undelivered: [] });
    const routed = run({ receivers: receivers(), routes: [{ runbooks: ['runbook/*'], receivers: ['chat'] }] }, failedRun);
    expect(await routed.result).toEqual({ delivered: [], undelivered: [] });
    expect(seen).toEqual([]);
  });

  it('routes by runbook pattern, event and outcome, and sends each receiver the notification once', async () => {
    const routes: NotificationsConfig['routes'] = [
      { runbooks: ['runbook/*'], events: ['approval-needed'], receivers: ['chat', 'audit'] },
      { runbooks: ['runbook/etcd-*'], receivers: ['audit'] },
      { outcomes: ['failed'], receivers: ['ledger'] },
      { events: ['started'], receivers: ['ledger'] },
    ];
    expect(await run({ receivers: receivers(), routes }, approvalRun).result).toEqual({ delivered: ['chat', 'audit'], undelivered: [] });
    expect(seen.map((s) => s.path).sort()).toEqual([secretPath, '/hooks/audit?tenant=sre'].sort());
    seen = [];
    expect(await run({ receivers: receivers(), routes }, failedRun).result).toEqual({ delivered: ['ledger'], undelivered: [] });
    expect(await run({ receivers: receivers(), routes }, { ...failedRun, event: 'completed', outcome: 'succeeded' }).result).toEqual({
      delivered: [],
      undelivered: [],
    });
    expect(seen.map((s) => s.path)).toEqual(['/hooks/ledger']);
  });

  it('Slack: a text naming the runbook, cluster and app, the outcome, the root cause and the workflow', async () => {
    await run({ receivers: receivers(), routes: [{ receivers: ['chat'] }] }, failedRun).result;
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe(secretPath);
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['idempotency-key']).toBe('failover%2Fshop/run-1/failed');
    const { text } = JSON.parse(seen[0]!.text) as { text: string };
    expect(text.split('\n')).toEqual([
      ':x: *failover* failed: failover of shop from primary to standby failed',
      '*Cluster:* primary   *App:* shop',
      '*Outcome:* failed',
      '*Root cause:* [RestoreFailed] Velero restore shop-1 &lt;PartiallyFailed&gt; &amp; 2 errors',
      '*Started by:* alice',
      '*Workflow:* <http://127.0.0.1:8233/namespaces/default/workflows/failover%2Fshop/run-1|failover/shop> (run run-1)',
    ]);
  });

  it('Slack: an approval-needed text carries the command that approves, the approvers and the timeout', async () => {
    await run({ receivers: receivers(), routes: [{ receivers: ['chat'] }] }, approvalRun).result;
    const { text } = JSON.parse(seen[0]!.text) as { text: string };
    expect(text).toContain(':raised_hand: *runbook/etcd-restore* waits for approval: etcd restore of primary waits for approval');
    expect(text).toContain('*Approve with:*\n```lifeboat runbook approve runbook/etcd-restore/primary --step confirm```');
    expect(text).toContain('*Approvers:* group:sre');
    expect(text).toContain('*Times out in:* 30 min');
    expect(text).not.toContain('*App:*');
  });

  it('JSON webhook: the notification plus version, signed over the timestamp and the body; another key does not verify', async () => {
    const before = Math.floor(Date.now() / 1000);
    await run({ receivers: receivers(), routes: [{ receivers: ['audit'] }] }, approvalRun).result;
    expect(seen).toHaveLength(1);
    const r = seen[0]!;
    expect(r.path).toBe('/hooks/audit?tenant=sre');
    expect(JSON.parse(r.text)).toEqual({ version: 1, ...approvalRun });
    expect(r.headers['idempotency-key']).toBe('runbook%2Fetcd-restore%2Fprimary/run-2/approval-needed/confirm');
    const timestamp = Number(r.headers['x-lifeboat-timestamp']);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(r.headers['x-lifeboat-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifies(key, r)).toBe(true);
    expect(verifies(otherKey, r)).toBe(false);
    // A replayed body under a new timestamp does not verify: the timestamp is signed.
    expect(verifies(key, { ...r, headers: { ...r.headers, 'x-lifeboat-timestamp': String(timestamp + 600) } })).toBe(false);
  });

  it('Alertmanager: the alerts posted to /api/v2/alerts, with basic auth from its file (the real server: alertmanager.test.ts)', async () => {
    await run({ receivers: receivers(), routes: [{ receivers: ['am'] }] }, failedRun).result;
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe('/am/api/v2/alerts');
    expect(seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`lifeboat:${password}`).toString('base64')}`);
    const alerts = JSON.parse(seen[0]!.text) as { labels: Record<string, string>; endsAt: string }[];
    expect(alerts.map((a) => [a.labels.alertname, a.labels.severity, a.endsAt])).toEqual([
      ['LifeboatApprovalNeeded', 'warning', '2026-12-07T07:00:00.000Z'],
      ['LifeboatRunbookFailed', 'critical', '2026-12-07T08:00:00.000Z'],
    ]);
    seen = [];
    // A started run raises no alert: nothing is posted, and the receiver counts as done.
    expect(await run({ receivers: receivers(), routes: [{ receivers: ['am'] }] }, { ...failedRun, event: 'started' }).result).toEqual({
      delivered: ['am'],
      undelivered: [],
    });
    expect(seen).toEqual([]);
  });

  it('a receiver that is down fails the attempt retryably after the others got it; the next attempt sends only to it', async () => {
    const notifications: NotificationsConfig = { receivers: receivers(), routes: [{ receivers: ['chat', 'audit', 'ledger'] }] };
    answers['/hooks/ledger'] = { status: 503, headers: { 'retry-after': '7' }, body: 'maintenance' };
    const registry = new Registry();
    const first = run(notifications, failedRun, { registry });
    const failure = await failureOf(first.result);
    expect(failure.type).toBe(failureTypes.NotificationUndelivered);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe('7s');
    expect(failure.message).toBe(
      `failed notification of failover/shop not delivered to 'ledger' (POST ${base}/hooks/ledger answered 503: maintenance); delivered to chat, audit`,
    );
    expect(failure.details).toEqual([
      { delivered: ['chat', 'audit'], undelivered: [{ receiver: 'ledger', error: `POST ${base}/hooks/ledger answered 503: maintenance` }] },
    ]);
    expect(first.heartbeats.at(-1)).toEqual({ delivered: expect.arrayContaining(['chat', 'audit']), undelivered: [] });
    expect(seen.map((s) => s.path).sort()).toEqual([secretPath, '/hooks/audit?tenant=sre', '/hooks/ledger'].sort());

    // Temporal retries the activity with the last heartbeat's details; the receiver is back.
    delete answers['/hooks/ledger'];
    seen = [];
    const second = run(notifications, failedRun, { heartbeatDetails: first.heartbeats.at(-1), attempt: 2, registry });
    expect(await second.result).toEqual({ delivered: ['chat', 'audit', 'ledger'], undelivered: [] });
    expect(seen.map((s) => s.path)).toEqual(['/hooks/ledger']);

    const metrics = await registry.metrics();
    expect(metrics).toContain('lifeboat_notifications_total{receiver="chat",event="failed",result="delivered"} 1');
    expect(metrics).toContain('lifeboat_notifications_total{receiver="ledger",event="failed",result="failed"} 1');
    expect(metrics).toContain('lifeboat_notifications_total{receiver="ledger",event="failed",result="delivered"} 1');
    expect(metrics).toContain('lifeboat_notifications_failed_total{receiver="ledger"} 1');
  });

  it('a receiver that refuses (400) is reported in undelivered without a throw, and not tried again on a retry', async () => {
    const notifications: NotificationsConfig = { receivers: receivers(), routes: [{ receivers: ['audit', 'ledger', 'chat'] }] };
    answers['/hooks/audit?tenant=sre'] = { status: 400, body: 'bad signature' };
    answers[secretPath] = { status: 500, body: `no_service ${secretPath}` };
    const { lines, logger } = capturedLogger();
    const first = run(notifications, failedRun, { logger });
    const failure = await failureOf(first.result);
    expect(failure.type).toBe(failureTypes.NotificationUndelivered);
    // The Slack URL's path is its token: neither the failure nor the log shows it, nor the HMAC key.
    expect(failure.message).toContain(`'chat' (POST ${base} (the URL in ${slackUrlFile}) answered 500: no_service [redacted])`);
    for (const text of [failure.message, JSON.stringify(failure.details), ...lines]) {
      expect(text).not.toContain(secretPath);
      expect(text).not.toContain(key);
    }
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; receiver: string; error: string; msg: string });
    expect(warnings.map((w) => [w.level, w.receiver]).sort()).toEqual([
      [40, 'audit'],
      [40, 'chat'],
    ]);
    expect(warnings.find((w) => w.receiver === 'audit')!.error).toBe(`POST ${base}/hooks/audit answered 400: bad signature`);

    delete answers[secretPath];
    seen = [];
    const second = run(notifications, failedRun, { heartbeatDetails: first.heartbeats.at(-1), attempt: 2 });
    expect(await second.result).toEqual({
      delivered: ['ledger', 'chat'],
      undelivered: [{ receiver: 'audit', error: `POST ${base}/hooks/audit answered 400: bad signature` }],
    });
    expect(seen.map((s) => s.path)).toEqual([secretPath]);
  });

  it('while a slow receiver answers, the heartbeats keep the receivers already reached', async () => {
    answers['/hooks/ledger'] = { status: 200, delayMs: 1500 };
    const notifications: NotificationsConfig = { receivers: receivers(), routes: [{ receivers: ['audit', 'ledger'] }] };
    const { result, heartbeats } = run(notifications, failedRun, { heartbeatTimeoutMs: 900 });
    expect(await result).toEqual({ delivered: ['audit', 'ledger'], undelivered: [] });
    expect(heartbeats).toContainEqual({ delivered: ['audit'], undelivered: [], waitingFor: `POST ${base}/hooks/ledger` });
    expect(heartbeats.at(-1)).toEqual({ delivered: ['audit', 'ledger'], undelivered: [] });
  });

  it('only refusals: the delivery returns them, it does not throw', async () => {
    answers['/hooks/ledger'] = { status: 404, body: 'no such hook' };
    const notifications: NotificationsConfig = { receivers: receivers(), routes: [{ receivers: ['ledger', 'audit'] }] };
    expect(await run(notifications, failedRun).result).toEqual({
      delivered: ['audit'],
      undelivered: [{ receiver: 'ledger', error: `POST ${base}/hooks/ledger answered 404: no such hook` }],
    });
  });

  it('a receiver that does not answer (connection refused) is retryable', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const notifications: NotificationsConfig = {
      receivers: { gone: { kind: 'webhook', url: `http://127.0.0.1:${port}/x`, keyFile, timeout: 2 } },
      routes: [{ receivers: ['gone'] }],
    };
    const failure = await failureOf(run(notifications, failedRun).result);
    expect([failure.type, failure.nonRetryable]).toEqual([failureTypes.NotificationUndelivered, false]);
    expect(failure.message).toContain(`'gone' (POST http://127.0.0.1:${port}/x: connection refused)`);
  });
});
