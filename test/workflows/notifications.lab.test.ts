// A run's notifications end to end (lab: Temporal dev server, MinIO): a real worker configured with
// `notifications:` routes every event of pruneEtcdSnapshots to a signed JSON webhook this test runs on
// 127.0.0.1, and to one that answers 503 every time. The run completes, the healthy receiver gets
// `started` and `completed` once each with a signature that verifies, the broken one is given up on
// after the activity's bounded retries, and the run is searchable by its outcome.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { pruneEtcdSnapshots } from '../../workflows/etcdSnapshot.js';
import { notificationsSchema } from '../../worker/config/notifications.js';
import { outcomeAttribute, runbookAttribute } from '../../model/search-attributes.js';
import type { RunNotification } from '../../model/notifications.js';
import { startTestWorker, type TestWorker } from '../helpers/lab.js';

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  text: string;
}
const seen: Seen[] = [];
let server: Server;
let worker: TestWorker;
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-notify-lab-'));
const key = randomBytes(32).toString('hex');

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      seen.push({ path: req.url!, headers: req.headers, text });
      // The broken receiver asks for a retry in 1 s, so the test does not wait out the default back-off.
      if (req.url === '/broken') res.writeHead(503, { 'retry-after': '1' }).end('down for maintenance');
      else res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keyFile = join(dir, 'hmac-key');
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const notifications = notificationsSchema.parse({
    receivers: {
      team: { kind: 'webhook', url: `${base}/team`, keyFile },
      broken: { kind: 'webhook', url: `${base}/broken`, keyFile },
    },
    routes: [{ runbooks: ['pruneEtcdSnapshots'], receivers: ['team', 'broken'] }],
  });
  worker = await startTestWorker((c) => ({ ...c, notifications }));
});

afterAll(async () => {
  await worker?.stop();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Whether `s` carries a valid signature of its body and timestamp under `hmacKey`, as a receiver checks it. */
function signedWith(s: Seen, hmacKey: string): boolean {
  const timestamp = String(s.headers['x-lifeboat-timestamp']);
  const given = String(s.headers['x-lifeboat-signature']).replace(/^v1=/, '');
  const expected = createHmac('sha256', hmacKey).update(`${timestamp}.${s.text}`).digest('hex');
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

describe('notifications of a run, through a real worker', () => {
  it('the healthy receiver gets started and completed, signed; a receiver that is down never fails the run', async () => {
    const workflowId = `etcd-prune/primary/notify-${randomBytes(4).toString('hex')}`;
    const handle = await worker.client.workflow.start<typeof pruneEtcdSnapshots>('pruneEtcdSnapshots', {
      taskQueue: worker.config.temporal.taskQueue,
      workflowId,
      args: [{ cluster: 'primary', dryRun: true }],
      workflowExecutionTimeout: '5 minutes',
    });
    await handle.result();
    const team = seen.filter((s) => s.path === '/team');
    const bodies = team.map((s) => JSON.parse(s.text) as RunNotification & { version: number });
    expect(bodies.map((b) => b.event).sort()).toEqual(['completed', 'started']);
    expect(team.every((s) => signedWith(s, key))).toBe(true);
    expect(team.some((s) => signedWith(s, randomBytes(32).toString('hex')))).toBe(false);
    expect(bodies.find((b) => b.event === 'completed')).toMatchObject({
      version: 1,
      runbook: 'pruneEtcdSnapshots',
      cluster: 'primary',
      workflowId,
      runId: handle.firstExecutionRunId,
      outcome: 'succeeded',
    });
    // Each of the two notifications was tried, retried and given up on: at most 5 attempts each.
    const broken = seen.filter((s) => s.path === '/broken').length;
    expect(broken).toBeGreaterThanOrEqual(4);
    expect(broken).toBeLessThanOrEqual(10);
    const attributes = (await handle.describe()).typedSearchAttributes;
    expect([attributes.get(runbookAttribute), attributes.get(outcomeAttribute)]).toEqual(['pruneEtcdSnapshots', 'succeeded']);
  }, 180_000);
});
