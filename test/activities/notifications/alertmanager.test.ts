// Integration with a real Alertmanager (Debian's prometheus-alertmanager 0.25, from the lab's tool cache;
// `install-tools.sh alertmanager` is run when it is missing): the test starts it on a loopback port with
// a data dir of its own and a webhook receiver of its own, delivers notifications to it through the
// activity, and reads /api/v2/alerts and what Alertmanager itself sends on. No other lab component.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNotificationActivities } from '../../../activities/notifications/index.js';
import type { RunNotification } from '../../../model/notifications.js';
import type { NotificationsConfig } from '../../../worker/config.js';
import { bin } from '../../../lab/topology.js';

const installScript = fileURLToPath(new URL('../../../../lab/install-tools.sh', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-alertmanager-'));

/** What Alertmanager's webhook receiver posted to this test: each alert with the status it was sent with. */
const forwarded: { status: string; labels: Record<string, string> }[] = [];
let hook: Server;
let alertmanager: ChildProcess;
let alertmanagerUrl: string;
let output = '';

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s; alertmanager's output:\n${output}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  if (!existsSync(bin.alertmanager)) execFileSync('bash', [installScript, 'alertmanager'], { stdio: 'inherit' });
  hook = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as { alerts: { status: string; labels: Record<string, string> }[] };
      forwarded.push(...body.alerts.map((a) => ({ status: a.status, labels: a.labels })));
      res.writeHead(200).end();
    });
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route:
  receiver: test
  group_by: [alertname, workflow_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: http://127.0.0.1:${(hook.address() as AddressInfo).port}/
        send_resolved: true
`,
  );
  const port = await freePort();
  alertmanagerUrl = `http://127.0.0.1:${port}`;
  alertmanager = spawn(
    bin.alertmanager,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip: this Alertmanager is alone, and binds nothing but its API.
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  alertmanager.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  alertmanager.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until('alertmanager ready', async () => ((await fetch(`${alertmanagerUrl}/-/ready`)).ok ? true : undefined));
});

afterAll(async () => {
  if (alertmanager && alertmanager.exitCode === null) {
    alertmanager.kill('SIGTERM');
    await once(alertmanager, 'exit');
  }
  hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

/** The alerts Alertmanager lists (it lists only unresolved ones) for one run. */
async function alertsOf(workflowId: string): Promise<GettableAlert[]> {
  const filter = encodeURIComponent(`workflow_id="${workflowId}"`);
  const response = await fetch(`${alertmanagerUrl}/api/v2/alerts?filter=${filter}`);
  expect(response.status).toBe(200);
  return (await response.json()) as GettableAlert[];
}

const deliver = (notification: RunNotification) => {
  const notifications: NotificationsConfig = {
    receivers: { am: { kind: 'alertmanager', url: alertmanagerUrl, resolveAfter: 3600, timeout: 5 } },
    routes: [{ receivers: ['am'] }],
  };
  const activities = createNotificationActivities({ notifications, temporalUi: 'http://127.0.0.1:8233' });
  return new MockActivityEnvironment().run(() => activities.deliverNotification(notification));
};

describe('Alertmanager receiver (real Alertmanager 0.25)', () => {
  const suffix = randomBytes(3).toString('hex');

  it('an approval-needed run is an alert with its labels, resolved by the run completing', async () => {
    const workflowId = `failover/shop-${suffix}`;
    const at = new Date().toISOString();
    const run: Omit<RunNotification, 'event' | 'summary' | 'at'> = {
      runbook: 'failover',
      workflowId,
      runId: `run-${suffix}`,
      namespace: 'default',
      cluster: 'primary',
      app: 'shop',
    };
    expect(
      await deliver({
        ...run,
        event: 'approval-needed',
        at,
        summary: 'failover of shop waits for approval',
        approval: { step: 'approve', command: `lifeboat failover approve shop`, approvers: ['alice'], timeoutSeconds: 1800 },
      }),
    ).toEqual({ delivered: ['am'], undelivered: [] });

    const [alert, ...others] = await alertsOf(workflowId);
    expect(others).toEqual([]);
    expect(alert!.labels).toEqual({
      alertname: 'LifeboatApprovalNeeded',
      runbook: 'failover',
      cluster: 'primary',
      app: 'shop',
      workflow_id: workflowId,
      severity: 'warning',
    });
    expect(alert!.status.state).toBe('active');
    expect(alert!.annotations.summary).toBe('failover of shop waits for approval');
    expect(alert!.annotations.description).toContain('Step approve waits for approval: lifeboat failover approve shop');
    expect(Date.parse(alert!.endsAt) - Date.parse(at)).toBe(1800 * 1000);
    expect(alert!.generatorURL).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(workflowId)}/run-${suffix}`);
    await until('Alertmanager sends the firing alert on', () =>
      Promise.resolve(forwarded.some((a) => a.status === 'firing' && a.labels.workflow_id === workflowId) ? true : undefined),
    );

    expect(
      await deliver({
        ...run,
        event: 'completed',
        outcome: 'succeeded',
        at: new Date().toISOString(),
        summary: 'failover of shop completed',
      }),
    ).toEqual({ delivered: ['am'], undelivered: [] });
    expect(await alertsOf(workflowId)).toEqual([]);
    await until('Alertmanager sends the resolution on', () =>
      Promise.resolve(
        forwarded.some(
          (a) => a.status === 'resolved' && a.labels.workflow_id === workflowId && a.labels.alertname === 'LifeboatApprovalNeeded',
        )
          ? true
          : undefined,
      ),
    );
  });

  it('a failed run is a critical LifeboatRunbookFailed alert with its root cause', async () => {
    const workflowId = `etcd-snapshot/primary/${suffix}`;
    const at = new Date().toISOString();
    expect(
      await deliver({
        event: 'failed',
        runbook: 'etcdSnapshot',
        workflowId,
        runId: `run-${suffix}`,
        namespace: 'default',
        cluster: 'primary',
        at,
        outcome: 'failed',
        summary: 'etcd snapshot of primary failed',
        rootCause: '[ObjectStoreAccessDenied] PutObject: Access Denied',
      }),
    ).toEqual({ delivered: ['am'], undelivered: [] });
    const alerts = await alertsOf(workflowId);
    expect(alerts.map((a) => a.labels)).toEqual([
      { alertname: 'LifeboatRunbookFailed', runbook: 'etcdSnapshot', cluster: 'primary', workflow_id: workflowId, severity: 'critical' },
    ]);
    expect(alerts[0]!.annotations).toEqual({
      summary: 'etcd snapshot of primary failed',
      description: `Root cause: [ObjectStoreAccessDenied] PutObject: Access Denied\nWorkflow ${workflowId}, run run-${suffix}, namespace default`,
    });
    expect(Date.parse(alerts[0]!.endsAt) - Date.parse(at)).toBe(3600 * 1000);
    // The approval alert it resolves never fired for this run: Alertmanager sends nothing of it.
    await until('Alertmanager sends the failure on', () =>
      Promise.resolve(forwarded.some((a) => a.status === 'firing' && a.labels.workflow_id === workflowId) ? true : undefined),
    );
    // Two more group intervals: what Alertmanager would send of the resolved approval alert, it would have sent by then.
    await sleep(2500);
    expect(forwarded.filter((a) => a.labels.workflow_id === workflowId).map((a) => [a.status, a.labels.alertname])).toEqual([
      ['firing', 'LifeboatRunbookFailed'],
    ]);
  });
});
