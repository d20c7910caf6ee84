// Integration (lab: Temporal, both clusters, the DNSEndpoint CRD): `lifeboat failover` and `failback`
// as an SRE runs them, on throwaway apps added to a copy of the lab's configuration; `failover abort`
// before and after fencing, and a bare cancel; `failover status` of running and finished runs; bad input.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import type { FailoverReport } from '../../workflows/failover.js';
import { labConfigFile } from '../../lab/topology.js';
import { labConfig, lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { createTestApp, lifeboatMarks, targets, type TestApp } from '../helpers/failover-app.js';
import { fetchHistory } from '../helpers/histories.js';
import { abortedByAttribute, approversAttribute, requesterAttribute } from '../../model/approvals.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-failover-cli-'));
const configFile = join(dir, 'lifeboat.yaml');
const strictConfigFile = join(dir, 'strict.yaml');
const me = userInfo().username;
let app: TestApp;
/** Aborted in every way; never moved for good. */
let aborted: TestApp;
let w: TestWorker;
let env: Record<string, string>;
beforeAll(async () => {
  app = await createTestApp(labConfig());
  aborted = await createTestApp(labConfig());
  const raw = parse(readFileSync(labConfigFile, 'utf8')) as { apps: object[]; cli?: object };
  for (const a of [app, aborted]) {
    raw.apps.push({
      name: a.name,
      cluster: 'primary',
      namespaces: [a.namespace],
      verify: { cluster: 'standby' },
      failover: {
        standby: 'standby',
        mode: 'warm-standby',
        traffic: a.config.failover!.traffic,
        approvalTimeout: '10m',
        availableTimeout: '2m',
      },
      // As the test worker's configuration has them (createTestApp).
      approvers: a.config.approvers,
      forceApprovers: a.config.forceApprovers,
    });
  }
  // Without `--as`, one person could not play requester and approver (four eyes); strictConfigFile does not allow it.
  writeFileSync(strictConfigFile, stringify({ ...raw, cli: { ...raw.cli, allowIdentityOverride: false } }));
  raw.cli = { allowIdentityOverride: true };
  writeFileSync(configFile, stringify(raw));
  w = await startTestWorker((c) => aborted.addTo(app.addTo(c)));
  env = { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
}, 60_000);
afterAll(async () => {
  await w?.stop();
  await Promise.all([app, aborted].map((a) => a?.remove()));
  rmSync(dir, { recursive: true, force: true });
});

const status = async (a: TestApp) =>
  JSON.parse((await lifeboat(['failover', 'status', '--app', a.name, '--json'], env)).stdout) as FailoverReport;
const statusText = async (a: TestApp) => (await lifeboat(['failover', 'status', '--app', a.name], env)).stdout.split('\n');
/** Polls `failover status --json` until `done` says so (or a minute passes); the last report seen. */
async function statusWhen(a: TestApp, done: (r: FailoverReport) => boolean): Promise<FailoverReport> {
  let r = await status(a);
  for (const deadline = Date.now() + 60_000; !done(r) && Date.now() < deadline; r = await status(a))
    await new Promise((res) => setTimeout(res, 200));
  return r;
}
/** The cells of a table row (columns are two or more spaces apart). */
const cells = (line: string) => line.split(/ {2,}/);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The record line `failover status` heads a finished run with; the seconds ago vary. */
const finishedLine = (workflowId: string, runId: string, closeTime: Date, outcome: string) =>
  new RegExp(`^${escape(workflowId)} \\(run ${runId}\\) finished ${escape(closeTime.toISOString())} \\(\\d+ (s|min) ago\\): ${outcome}$`);
const recordNote = (a: TestApp) => `This is the run's record. What is true now: \`lifeboat failover plan --app ${a.name}\``;
const lastRun = (a: TestApp) => w.client.workflow.getHandle(`failover/${a.name}`).describe();

describe('lifeboat failover', () => {
  it('start waits for approve; a second start is refused naming the running one; status shows the run, then its record; failback brings it home', async () => {
    const started = await lifeboat(
      ['--as', 'alice', 'failover', 'start', '--app', app.name, '--reason', 'primary region outage', '--json'],
      env,
    );
    expect(started.exitCode).toBe(0);
    const { workflowId, runId } = JSON.parse(started.stdout) as { workflowId: string; runId: string };
    expect(workflowId).toBe(`failover/${app.name}`);

    const report = await statusWhen(app, (r) => r.status === 'awaiting-approval');
    expect(report.status).toBe('awaiting-approval');
    expect(report.plan.map((p) => `${p.step}@${p.cluster}`)).toEqual([
      'fence@primary',
      'fence@primary',
      'bring-up@standby',
      'bring-up@standby',
      'available@standby',
      'traffic@standby',
      'verify@standby',
    ]);

    const second = await lifeboat(['failover', 'start', '--app', app.name, '--reason', 'again'], env);
    expect(second.exitCode).toBe(1);
    const { startTime } = await lastRun(app);
    expect(second.stderr).toBe(
      `lifeboat: refused: failover failover/${app.name} of app '${app.name}' is already running (run ${runId}, started ${startTime.toISOString()}); see \`lifeboat failover status --app ${app.name}\``,
    );

    const text = await statusText(app);
    expect(text[0]).toMatch(
      new RegExp(
        `^failover/${app.name} \\(run ${runId}\\) running since ${escape(startTime.toISOString())} \\(\\d+ (s|min)\\): AWAITING-APPROVAL$`,
      ),
    );
    expect(text.slice(1, 5)).toEqual([
      `Preflight and plan are as of the run's start. What is true now: \`lifeboat failover plan --app ${app.name}\``,
      '',
      `failover of ${app.name} from primary to standby: AWAITING-APPROVAL`,
      'reason: primary region outage; requested by alice',
    ]);
    expect(text[5]).toBe(
      `preflight at start (${report.steps[0]!.finishedAt}): standby: ${report.preflight!.to.detail}; primary: ${report.preflight!.from.detail}; capacity: ${report.preflight!.capacity.detail}`,
    );
    const plan = text.slice(text.indexOf('plan:') + 2, text.indexOf('plan:') + 4).map(cells);
    expect(plan).toEqual(
      ['svc-0', 'svc-1'].map((d) => [
        'fence',
        'primary',
        `scale Deployment ${app.namespace}/${d} to 0 (labelled lifeboat.io/fenced-by with this run, replicas recorded)`,
      ]),
    );

    // Refused, each saying why: not an approver; the requester (four eyes); force by someone not in the
    // force list; a name other than the OS user where the configuration does not allow `--as`.
    const refusals = [
      await lifeboat(['--as', 'mallory', 'failover', 'approve', '--app', app.name], env),
      await lifeboat(['--as', 'alice', 'failover', 'approve', '--app', app.name], env),
      await lifeboat(['--as', 'carol', 'failover', 'approve', '--app', app.name, '--force'], env),
      await lifeboat(['--as', 'carol', 'failover', 'approve', '--app', app.name], { ...env, LIFEBOAT_CONFIG: strictConfigFile }),
      await lifeboat(['failover', 'approve', '--app', app.name], { ...env, LIFEBOAT_AS: 'carol', LIFEBOAT_CONFIG: strictConfigFile }),
    ];
    expect(refusals.map((x) => [x.exitCode, x.stderr])).toEqual([
      [1, "lifeboat: approval refused: refused: 'mallory' is not an approver (approvers: jest, alice, bob, carol)"],
      [1, "lifeboat: approval refused: refused: 'alice' started this run and may not approve it too (four eyes: another approver must)"],
      [1, "lifeboat: approval refused: refused: 'carol' may not force (force approvers: jest, bob)"],
      [
        2,
        `lifeboat: --as 'carol' refused: you are '${me}', and the configuration does not let anyone act under another name (cli.allowIdentityOverride is false)`,
      ],
      [
        2,
        `lifeboat: LIFEBOAT_AS 'carol' refused: you are '${me}', and the configuration does not let anyone act under another name (cli.allowIdentityOverride is false)`,
      ],
    ]);
    expect((await status(app)).status).toBe('awaiting-approval');
    const approved = await lifeboat(['--as', 'carol', 'failover', 'approve', '--app', app.name], env);
    expect({ code: approved.exitCode, out: approved.stdout, err: approved.stderr }).toEqual({
      code: 0,
      out: `approved failover/${app.name} as carol`,
      err: '',
    });
    const done = (await w.client.workflow.getHandle(workflowId, runId).result()) as FailoverReport;
    expect(done.status).toBe('completed');
    expect(done.requestedBy).toBe('alice');
    // Who started and who approved, as search attributes: on the run, and in a visibility query.
    const attributes = (await w.client.workflow.getHandle(workflowId, runId).describe()).typedSearchAttributes;
    expect([attributes.get(requesterAttribute), attributes.get(approversAttribute)]).toEqual(['alice', ['carol']]);
    const listed: string[] = [];
    for (let deadline = Date.now() + 30_000; !listed.length && Date.now() < deadline; await new Promise((r) => setTimeout(r, 500)))
      for await (const x of w.client.workflow.list({
        query: `WorkflowId = '${workflowId}' AND LifeboatRequester = 'alice' AND LifeboatApprovers = 'carol'`,
      }))
        listed.push(x.runId);
    expect(listed).toEqual([runId]);
    expect(await app.replicas('standby')).toEqual({ 'svc-0': 2, 'svc-1': 2 });

    // Finished: shown as the record it is, with when it ended.
    const record = await statusText(app);
    expect(record[0]).toMatch(finishedLine(workflowId, runId, (await lastRun(app)).closeTime!, 'COMPLETED'));
    expect(record.slice(1, 5)).toEqual([
      recordNote(app),
      '',
      `failover of ${app.name} from primary to standby: COMPLETED`,
      'reason: primary region outage; requested by alice; approved by carol',
    ]);
    expect(record[5]).toBe(
      `preflight at start (${done.steps[0]!.finishedAt}): standby: ${done.preflight!.to.detail}; primary: ${done.preflight!.from.detail}; capacity: ${done.preflight!.capacity.detail}`,
    );
    const table = record.findIndex((l) => /^STEP +STATE +TOOK +DETAIL$/.test(l));
    expect(record.slice(table + 1, table + 1 + done.steps.length).map((l) => cells(l).slice(0, 2))).toEqual(
      done.steps.map((s) => [s.name, 'done']),
    );

    const back = await lifeboat(
      ['failback', '--app', app.name, '--reason', 'primary back', '--auto-approve', '--approver', 'carol', '--wait', '--json'],
      env,
    );
    expect(back.exitCode).toBe(0);
    const r = JSON.parse(back.stdout) as FailoverReport;
    expect(r).toMatchObject({ kind: 'failback', from: 'standby', to: 'primary', status: 'completed' });
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect((await app.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
    const home = await statusText(app);
    expect(home[0]).toMatch(finishedLine(workflowId, r.runId, (await lastRun(app)).closeTime!, 'COMPLETED'));
    expect(home[3]).toBe(`failback of ${app.name} from standby to primary: COMPLETED`);
  }, 240_000);

  it('plan prints every change and changes nothing', async () => {
    const plan = await lifeboat(['failover', 'plan', '--app', app.name], env);
    expect(plan.exitCode).toBe(0);
    // Progress goes to stderr; the plan to stdout.
    expect(plan.stderr).toMatch(/^preflight$/m);
    const out = plan.stdout.split('\n');
    expect(out[0]).toBe(`failover of ${app.name} from primary to standby: PLANNED`);
    const planned = out.slice(out.indexOf('plan:') + 2);
    const rows = planned
      .slice(0, planned.indexOf(''))
      .map(cells)
      .filter((c) => c[0] === 'bring-up');
    expect(rows).toEqual(
      ['svc-0', 'svc-1'].map((d) => [
        'bring-up',
        'standby',
        `scale Deployment ${app.namespace}/${d} to 2 (from primary's spec.replicas), as soon as it serves no more on 'primary'`,
      ]),
    );
    expect(await app.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
  }, 120_000);

  it('abort of a run waiting for approval (by the OS user): it ends aborted, and status says so, who and when; nothing changed', async () => {
    const started = JSON.parse(
      (await lifeboat(['failover', 'start', '--app', aborted.name, '--reason', 'drill', '--json'], env)).stdout,
    ) as { runId: string };
    expect((await statusWhen(aborted, (r) => r.status === 'awaiting-approval')).status).toBe('awaiting-approval');

    const abort = await lifeboat(['failover', 'abort', '--app', aborted.name], env);
    const r = await status(aborted);
    expect(r.status).toBe('aborted');
    expect(r.abort).toEqual({ by: me, at: r.abort!.at });
    expect(abort.exitCode).toBe(0);
    expect(abort.stdout.split('\n').slice(0, 3)).toEqual([
      `failover of ${aborted.name} from primary to standby: ABORTED`,
      `reason: drill; requested by ${me}`,
      `aborted by ${me} at ${r.abort!.at}`,
    ]);
    expect(r.steps.map((s) => [s.name, s.state, s.detail])).toEqual([
      ['preflight', 'done', r.steps[0]!.detail],
      ['plan', 'done', '7 changes'],
      ['approval', 'failed', `interrupted: aborted by ${me}`],
      ...['fence', 'bring-up', 'available', 'traffic', 'verify', 'report'].map((n) => [n, 'skipped', `aborted by ${me}`]),
    ]);

    const record = await statusText(aborted);
    expect(record[0]).toMatch(finishedLine(`failover/${aborted.name}`, started.runId, (await lastRun(aborted)).closeTime!, 'ABORTED'));
    expect(record.slice(1, 6)).toEqual([
      recordNote(aborted),
      '',
      `failover of ${aborted.name} from primary to standby: ABORTED`,
      `reason: drill; requested by ${me}`,
      `aborted by ${me} at ${r.abort!.at}`,
    ]);

    const again = await lifeboat(['failover', 'abort', '--app', aborted.name], env);
    expect({ code: again.exitCode, err: again.stderr }).toEqual({
      code: 1,
      err: `lifeboat: no failover of app '${aborted.name}' is running (the last one, run ${started.runId}, is FAILED); see \`lifeboat failover status --app ${aborted.name}\``,
    });
    expect(await aborted.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await aborted.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
  }, 120_000);

  it('a bare cancel of the workflow still reports aborted, by unknown', async () => {
    await lifeboat(['failover', 'start', '--app', aborted.name, '--reason', 'drill'], env);
    expect((await statusWhen(aborted, (r) => r.status === 'awaiting-approval')).status).toBe('awaiting-approval');
    const handle = w.client.workflow.getHandle(`failover/${aborted.name}`);
    await handle.cancel();
    const err: unknown = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as { type?: string; message: string; details?: unknown[] };
    expect({ type: cause.type, message: cause.message }).toEqual({
      type: 'FailoverAborted',
      message: `failover of ${aborted.name} from primary to standby aborted by unknown; nothing had been changed`,
    });
    const r = cause.details![0] as FailoverReport;
    expect({ status: r.status, by: r.abort!.by }).toEqual({ status: 'aborted', by: 'unknown' });
    expect((await status(aborted)).abort).toEqual(r.abort);
  }, 120_000);

  it('abort after fencing (by --as, with --reason) rolls back through the saga and says aborted and rolled back', async () => {
    // The standby's Pods can never be scheduled: the run waits in `available`, fenced and scaled up.
    const standby = aborted.kube.standby.makeApiClient(AppsV1Api);
    await Promise.all(
      aborted.deployments.map((name) =>
        standby.patchNamespacedDeployment(
          {
            namespace: aborted.namespace,
            name,
            body: { spec: { template: { spec: { nodeSelector: { type: 'kwok', 'lifeboat.io/test': 'no-such-node' } } } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      ),
    );
    const started = await lifeboat(
      ['failover', 'start', '--app', aborted.name, '--reason', 'drill', '--auto-approve', '--approver', 'carol', '--json'],
      env,
    );
    const { runId } = JSON.parse(started.stdout) as { runId: string };
    const waiting = await statusWhen(aborted, (r) => r.steps.find((s) => s.name === 'available')?.state === 'running');
    expect(waiting.steps.find((s) => s.name === 'available')!.state).toBe('running');
    expect(await aborted.replicas('primary')).toEqual({ 'svc-0': 0, 'svc-1': 0 });

    const abort = await lifeboat(
      ['--as', 'dave', 'failover', 'abort', '--app', aborted.name, '--reason', 'standby Pods do not schedule'],
      env,
    );
    expect(abort.exitCode).toBe(0);
    const r = await status(aborted);
    expect({ status: r.status, abort: r.abort, rolledBack: r.rolledBack, failure: r.failure }).toEqual({
      status: 'aborted',
      abort: { by: 'dave', reason: 'standby Pods do not schedule', at: r.abort!.at },
      rolledBack: [`scaled 2 Deployments on 'standby' back down`, `unfenced 2 Deployments on 'primary'`],
      failure: undefined,
    });
    expect(r.steps.map((s) => [s.name, s.state])).toEqual([
      ['preflight', 'done'],
      ['plan', 'done'],
      ['approval', 'done'],
      ['fence', 'done'],
      ['bring-up', 'done'],
      ['available', 'failed'],
      ['traffic', 'skipped'],
      ['verify', 'skipped'],
      ['report', 'skipped'],
    ]);
    expect(r.steps.find((s) => s.name === 'available')!.detail).toBe('interrupted: aborted by dave (standby Pods do not schedule)');
    expect(
      (await w.client.workflow.getHandle(`failover/${aborted.name}`, runId).describe()).typedSearchAttributes.get(abortedByAttribute),
    ).toBe('dave');
    const out = abort.stdout.split('\n');
    expect(out.slice(0, 3)).toEqual([
      `failover of ${aborted.name} from primary to standby: ABORTED`,
      `reason: drill; requested by ${me}; auto-approved by carol`,
      `aborted by dave at ${r.abort!.at}: standby Pods do not schedule`,
    ]);
    expect(out).toContain(`rolled back: scaled 2 Deployments on 'standby' back down; unfenced 2 Deployments on 'primary'`);
    expect((await statusText(aborted))[0]).toMatch(
      finishedLine(`failover/${aborted.name}`, runId, (await lastRun(aborted)).closeTime!, 'ABORTED'),
    );
    await fetchHistory(w.client, `failover/${aborted.name}`, 'failover-aborted');

    expect(await aborted.replicas('primary')).toEqual({ 'svc-0': 2, 'svc-1': 2 });
    expect(await aborted.replicas('standby')).toEqual({ 'svc-0': 0, 'svc-1': 0 });
    expect(lifeboatMarks(await aborted.deployment('primary', 'svc-0'))).toEqual({});
    expect((await aborted.dnsEndpoint()).spec.endpoints[0]!.targets).toEqual(targets.primary);
  }, 180_000);

  it.each([
    [['failover', 'start', '--app', 'nope', '--reason', 'x'], /unknown app 'nope'; configured apps: shop/],
    [['failover', 'start', '--app', 'shop', '--reason', 'x', '--to', 'primary'], /--from and --to are both 'primary'/],
    [
      ['failover', 'start', '--app', 'shop', '--reason', 'x', '--to', 'mars'],
      /^lifeboat: --to: unknown cluster 'mars'; configured clusters: primary, standby/m,
    ],
    [
      ['failover', 'start', '--app', 'shop', '--reason', 'x', '--from', 'venus', '--to', 'standby'],
      /^lifeboat: --from: unknown cluster 'venus'; configured clusters: primary, standby/m,
    ],
    [['failover', 'start', '--app', 'shop'], /required option '--reason <text>' not specified/],
    [['failover', 'start', '--app', 'shop', '--reason', 'x', '--auto-approve'], /--auto-approve needs --approver NAME/],
    [['failback', '--app', 'shop', '--reason', 'x', '--force'], /--force goes with --auto-approve/],
    [['failover', 'start', '--app', 'shop', '--reason', 'x', '--auto-approve', '--approver', userInfo().username], /four eyes/],
    [['failover', 'start', '--app', 'shop', '--reason', 'x', '--auto-approve', '--approver', 'mallory'], /'mallory' is not an approver/],
  ])('bad input %j exits 2 and starts nothing', async (args, message) => {
    const result = await lifeboat(args, { LIFEBOAT_TEMPORAL_TASK_QUEUE: 'nobody-polls-this' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
