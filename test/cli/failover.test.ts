// Integration (lab: Temporal, both clusters, the DNSEndpoint CRD): `lifeboat failover` and `failback`
// as an SRE runs them, on a throwaway app added to a copy of the lab's configuration; and bad input.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import type { FailoverReport } from '../../workflows/failover.js';
import { labConfigFile } from '../../lab/topology.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createTestApp, targets, type TestApp } from '../helpers/failover-app.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-failover-cli-'));
const configFile = join(dir, 'lifeboat.yaml');
let app: TestApp;
let w: TestWorker;
let env: Record<string, string>;
beforeAll(async () => {
  app = await createTestApp(labConfig());
  const raw = parse(readFileSync(labConfigFile, 'utf8')) as { apps: object[] };
  raw.apps.push({
    name: app.name, cluster: 'primary', namespaces: [app.namespace], verify: { cluster: 'standby' },
    failover: { standby: 'standby', mode: 'warm-standby', traffic: app.config.failover!.traffic, approvalTimeout: '10m', availableTimeout: '2m' },
  });
  writeFileSync(configFile, stringify(raw));
  w = await startTestWorker((c) => app.addTo(c));
  env = { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
}, 60_000);
afterAll(async () => {
  await w?.stop();
  await app?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const status = async () => JSON.parse((await lifeboat(['failover', 'status', '--app', app.name, '--json'], env)).stdout) as FailoverReport;

describe('lifeboat failover', () => {
  it('start waits for approve; a second start is refused naming the running one; status shows the plan; failback brings it home', async () => {
    const started = await lifeboat(['failover', 'start', '--app', app.name, '--reason', 'primary region outage', '--json'], env);
    expect(started.exitCode).toBe(0);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    expect(workflowId).toBe(`failover/${app.name}`);

    let report = await status();
    for (let i = 0; i < 100 && report.status !== 'awaiting-approval'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      report = await status();
    }
    expect(report.status).toBe('awaiting-approval');
    expect(report.plan.map((p) => `${p.step}@${p.cluster}`)).toContain('traffic@standby');

    const second = await lifeboat(['failover', 'start', '--app', app.name, '--reason', 'again'], env);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`refused: failover failover/${app.name} of app '${app.name}' is already running \\(run [0-9a-f-]+, started `));

    const text = await lifeboat(['failover', 'status', '--app', app.name], env);
    expect(text.stdout).toMatch(/AWAITING-APPROVAL/);
    expect(text.stdout).toMatch(/^fence +primary +scale Deployment /m);

    const approved = await lifeboat(['failover', 'approve', '--app', app.name, '--approver', 'carol'], env);
    expect({ code: approved.exitCode, out: approved.stdout, err: approved.stderr }).toEqual({ code: 0, out: `approved failover/${app.name} as carol`, err: '' });
    for (let i = 0; i < 300 && report.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      report = await status();
    }
    expect(report.status).toBe('completed');
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });

    const back = await lifeboat(['failback', '--app', app.name, '--reason', 'primary back', '--auto-approve', '--approver', 'carol', '--wait', '--json'], env);
    expect(back.exitCode).toBe(0);
    const r = JSON.parse(back.stdout) as FailoverReport;
    expect(r).toMatchObject({ kind: 'failback', from: 'standby', to: 'primary', status: 'completed' });
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await app.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
  }, 240_000);

  it('plan prints every change and changes nothing', async () => {
    const plan = await lifeboat(['failover', 'plan', '--app', app.name], env);
    expect(plan.exitCode).toBe(0);
    // Progress goes to stderr; the plan to stdout.
    expect(plan.stderr).toMatch(/^preflight/);
    expect(plan.stdout).toMatch(/^failover of .* from primary to standby: PLANNED/);
    expect(plan.stdout).toMatch(/^bring-up +standby +scale Deployment .*svc-0 to 2/m);
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
  }, 120_000);

  it.each([
    [['failover', 'start', '--app', 'nope', '--reason', 'x'], /unknown app 'nope'; configured apps: shop/],
    [['failover', 'start', '--app', 'shop', '--reason', 'x', '--to', 'primary'], /--from and --to are both 'primary'/],
    [['failover', 'start', '--app', 'shop', '--reason', 'x', '--to', 'mars'], /unknown cluster 'mars'; configured clusters: primary, standby/],
    [['failover', 'start', '--app', 'shop'], /required option '--reason <text>' not specified/],
    [['failover', 'start', '--app', 'shop', '--reason', 'x', '--auto-approve'], /--auto-approve needs --approver NAME/],
    [['failback', '--app', 'shop', '--reason', 'x', '--force'], /--force goes with --auto-approve/],
  ])('bad input %j exits 2 and starts nothing', async (args, message) => {
    const result = await lifeboat(args, { LIFEBOAT_TEMPORAL_TASK_QUEUE: 'nobody-polls-this' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
