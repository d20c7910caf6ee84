// Integration (lab: Temporal, the primary cluster, MinIO): `lifeboat runbook list | validate | plan | run
// | status | approve | abort` as an SRE runs them, on documents the test writes into a runbooks/ folder
// next to a copy of the lab's configuration (with an approver group), run by a worker on the test's own
// task queue; bad documents and parameters are refused with exit 2 and start nothing; `schedule apply`
// makes a Temporal Schedule of a document's `schedule:` in a namespace of the test's own.
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { parse, stringify } from 'yaml';
import { abortedByAttribute, approversAttribute, requesterAttribute } from '../../model/approvals.js';
import { labConfigFile } from '../../lab/topology.js';
import { parseRunbook } from '../../model/runbook/parse.js';
import { runbookBlocks } from '../../model/runbook/registry.js';
import type { RunbookInput, RunbookReport } from '../../model/runbook/run.js';
import { lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';
import { loadConfig } from '../../worker/config.js';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-runbook-cli-'));
const configFile = join(dir, 'lifeboat.yaml');
/** The default runbooks.dir: `runbooks/` next to the configuration file. */
const runbooksDir = join(dir, 'runbooks');
const badDir = join(dir, 'bad');
const approverGroups = { sre: ['alice', 'bob'] };

const header = (name: string, extra = '') => `apiVersion: lifeboat.io/v1\nkind: Runbook\nmetadata:\n  name: ${name}\n${extra}`;
const documents: Record<string, string> = {
  'health.yaml': `${header('lab-health', '  description: Check a lab cluster\n  owner: team-sre\n')}parameters:
  cluster:
    type: cluster
    default: primary
schedule:
  cron: "0 4 * * *"
  parameters:
    cluster: standby
steps:
  - id: health
    run: clusterHealth
    with:
      clusters: ["\${{ params.cluster }}"]
`,
  'gated.yaml': `${header('gated', '  description: Approve, then check\n')}parameters:
  cluster:
    type: cluster
    required: true
steps:
  - id: approve
    approval:
      approvers: [group:sre]
      fourEyes: true
      timeout: 10m
      show: Check \${{ params.cluster }}?
  - id: health
    run: clusterHealth
    with:
      clusters: ["\${{ params.cluster }}"]
`,
  'scale-plan.yaml': `${header('scale-plan')}parameters:
  replicas:
    type: number
    default: 1
steps:
  - id: scale
    action: scaleDeployment
    with: { cluster: primary, namespace: lifeboat-test-absent, name: web, replicas: "\${{ params.replicas }}" }
  - id: more
    when: params.replicas > 5
    action: scaleDeployment
    with: { cluster: primary, namespace: lifeboat-test-absent, name: web, replicas: 10 }
`,
  'probe.yaml': `${header('failing-probe', '  owner: team-web\n')}steps:
  - id: probe
    action: httpCheck
    retry: none
    with:
      url: http://127.0.0.1:9000/
`,
};
const badDocuments: Record<string, string> = {
  'syntax.yaml': `${header('broken')}steps:\n  - id: health\n    run: clusterHealth\n    with: { clusters: [primary]\n`,
  'unknown-block.yaml': `${header('typo')}steps:\n  - id: health\n    run: clusterHelth\n    with:\n      clusters: [primary]\n`,
  'unknown-cluster.yaml': `${header('elsewhere')}parameters:
  cluster:
    type: cluster
    default: nowhere
steps:
  - id: health
    run: clusterHealth
    with:
      clusters: [primary, elsewhere]
  - id: snapshot
    run: etcdSnapshot
    with:
      cluster: \${{ params.cluster }}
`,
  'unknown-group.yaml': `${header('nobody')}steps:\n  - id: approve\n    approval:\n      approvers: [group:oncall, alice]\n      timeout: 1h\n`,
};
const file = (name: string) => join(runbooksDir, name);
const bad = (name: string) => join(badDir, name);
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path, 'utf8')).digest('hex');
const registered = 'clusterHealth, etcdSnapshot, veleroBackup, restoreVerification, failover, failback, gameDay';
const badLines = {
  syntax: `${bad('syntax.yaml')}:9:1: Flow map in block collection must be sufficiently indented and end with a }`,
  block: `${bad('unknown-block.yaml')}:7:10: steps[0].run: unknown building block "clusterHelth"; registered workflows: ${registered}`,
  clusterDefault: `${bad('unknown-cluster.yaml')}:8:14: parameters.cluster.default: unknown cluster 'nowhere'; configured clusters: primary, standby`,
  clusterLiteral: `${bad('unknown-cluster.yaml')}:13:27: steps[0].with.clusters[1]: unknown cluster 'elsewhere'; configured clusters: primary, standby`,
  group: `${bad('unknown-group.yaml')}:8:19: steps[0].approval.approvers[0]: unknown approver group "oncall"; configured groups: sre`,
};

/** A copy of the lab's configuration with `runbooks:` set, written to `path`. */
function writeConfig(path: string, runbooks: Record<string, unknown>) {
  const raw = parse(readFileSync(labConfigFile, 'utf8')) as Record<string, unknown>;
  // `--as`: the tests play requester and approvers (four eyes).
  writeFileSync(path, stringify({ ...raw, runbooks, cli: { allowIdentityOverride: true } }));
}

let w: TestWorker;
let env: Record<string, string>;
beforeAll(async () => {
  mkdirSync(runbooksDir);
  mkdirSync(badDir);
  for (const [name, text] of Object.entries(documents)) writeFileSync(file(name), text);
  for (const [name, text] of Object.entries(badDocuments)) writeFileSync(bad(name), text);
  writeConfig(configFile, { approverGroups });
  w = await startTestWorker();
  env = { LIFEBOAT_CONFIG: configFile, LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue };
}, 60_000);
afterAll(async () => {
  for await (const run of w.client.workflow.list({
    query: `TaskQueue = '${w.config.temporal.taskQueue}' AND ExecutionStatus = 'Running'`,
  })) {
    await w.client.workflow.getHandle(run.workflowId, run.runId).terminate('test cleanup');
  }
  await w?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const json = <T>(stdout: string) => JSON.parse(stdout) as T;
const status = async (id: string) => json<RunbookReport>((await lifeboat(['runbook', 'status', id, '--json'], env)).stdout);
/** Polls `runbook status --json` until `done` says so (or a minute passes); the last report seen. */
async function statusWhen(id: string, done: (r: RunbookReport) => boolean): Promise<RunbookReport> {
  let r = await status(id);
  for (const deadline = Date.now() + 60_000; !done(r) && Date.now() < deadline; r = await status(id))
    await new Promise((res) => setTimeout(res, 250));
  return r;
}
const stepStates = (r: RunbookReport) => r.steps.map((s) => [s.path, s.kind, s.block ?? '', s.state]);
const runIdPattern = (name: string) => new RegExp(`^runbook/${name}/\\d{8}T\\d{6}Z-[0-9a-f]{6}$`);

describe('lifeboat runbook validate', () => {
  it('a valid document exits 0 with its name and hash', async () => {
    const result = await lifeboat(['runbook', 'validate', file('health.yaml'), file('gated.yaml')], env);
    expect({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr }).toEqual({
      exitCode: 0,
      stderr: '',
      stdout: `${file('health.yaml')}: ok (runbook lab-health, sha256 ${sha256(file('health.yaml')).slice(0, 12)})\n${file('gated.yaml')}: ok (runbook gated, sha256 ${sha256(file('gated.yaml')).slice(0, 12)})`,
    });
  });

  it('bad documents exit 2 naming every problem as file:line:col: path: message (syntax, unknown block, unknown cluster, unknown approver group)', async () => {
    const result = await lifeboat(['runbook', 'validate', file('health.yaml'), ...Object.keys(badDocuments).map(bad)], env);
    expect({ exitCode: result.exitCode, stdout: result.stdout.split('\n'), stderr: result.stderr }).toEqual({
      exitCode: 2,
      stderr: '',
      stdout: [
        `${file('health.yaml')}: ok (runbook lab-health, sha256 ${sha256(file('health.yaml')).slice(0, 12)})`,
        badLines.syntax,
        badLines.block,
        badLines.clusterDefault,
        badLines.clusterLiteral,
        badLines.group,
      ],
    });
    const asJson = await lifeboat(['runbook', 'validate', bad('unknown-group.yaml'), '--json'], env);
    expect({ exitCode: asJson.exitCode, report: json<unknown>(asJson.stdout) }).toEqual({
      exitCode: 2,
      report: {
        files: [
          {
            file: bad('unknown-group.yaml'),
            valid: false,
            problems: [
              {
                file: bad('unknown-group.yaml'),
                line: 8,
                col: 19,
                path: 'steps[0].approval.approvers[0]',
                message: 'unknown approver group "oncall"; configured groups: sre',
              },
            ],
          },
        ],
      },
    });
  });

  it('run and plan of a bad document, an unknown runbook or bad parameters exit 2 and start no workflow', async () => {
    // A task queue of its own that no worker polls: whatever reached Temporal would be listed on it.
    const taskQueue = `test-runbook-refused-${randomUUID()}`;
    const refusedEnv = { ...env, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue };
    const attempts = await Promise.all([
      lifeboat(['runbook', 'run', bad('unknown-group.yaml')], refusedEnv),
      lifeboat(['runbook', 'plan', bad('unknown-cluster.yaml')], refusedEnv),
      lifeboat(['runbook', 'run', bad('syntax.yaml'), '--wait'], refusedEnv),
      lifeboat(['runbook', 'run', 'lab-health', '--param', 'cluster=nowhere'], refusedEnv),
      lifeboat(['runbook', 'run', 'lab-health', '--param', 'clustr=primary'], refusedEnv),
      lifeboat(['runbook', 'run', 'gated'], refusedEnv),
      lifeboat(['runbook', 'run', 'lab-health', '--param', 'cluster'], refusedEnv),
      lifeboat(['runbook', 'run', 'no-such-runbook'], refusedEnv),
    ]);
    expect(attempts.map((r) => ({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr.split('\n') }))).toEqual([
      { exitCode: 2, stdout: '', stderr: [`lifeboat: invalid runbook ${bad('unknown-group.yaml')}; nothing was started:`, badLines.group] },
      {
        exitCode: 2,
        stdout: '',
        stderr: [
          `lifeboat: invalid runbook ${bad('unknown-cluster.yaml')}; nothing was started:`,
          badLines.clusterDefault,
          badLines.clusterLiteral,
        ],
      },
      { exitCode: 2, stdout: '', stderr: [`lifeboat: invalid runbook ${bad('syntax.yaml')}; nothing was started:`, badLines.syntax] },
      { exitCode: 2, stdout: '', stderr: ["lifeboat: --param cluster: unknown cluster 'nowhere'; configured clusters: primary, standby"] },
      {
        exitCode: 2,
        stdout: '',
        stderr: [
          `lifeboat: runbook lab-health (${file('health.yaml')}): bad parameters; nothing was started:`,
          '  - unknown parameter "clustr"',
        ],
      },
      {
        exitCode: 2,
        stdout: '',
        stderr: [
          `lifeboat: runbook gated (${file('gated.yaml')}): bad parameters; nothing was started:`,
          '  - parameter "cluster" is required',
        ],
      },
      { exitCode: 2, stdout: '', stderr: ["lifeboat: --param 'cluster': expected NAME=VALUE"] },
      {
        exitCode: 2,
        stdout: '',
        stderr: [`lifeboat: unknown runbook 'no-such-runbook'; runbooks in ${runbooksDir}: failing-probe, gated, lab-health, scale-plan`],
      },
    ]);
    // Visibility is eventually consistent: once a marker run started after the attempts is listed, the
    // listing has caught up with them, and the marker is all there is.
    const marker = `marker-${randomUUID()}`;
    await w.client.workflow.start('runbook', { taskQueue, workflowId: marker, args: [] });
    let listed: string[] = [];
    for (let i = 0; i < 100 && !listed.includes(marker); i++) {
      if (i) await new Promise((r) => setTimeout(r, 200));
      listed = [];
      for await (const run of w.client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) listed.push(run.workflowId);
    }
    expect(listed).toEqual([marker]);
    await w.client.workflow.getHandle(marker).terminate('test cleanup');
  });
});

describe('the runbooks: configuration', () => {
  it('a runbooks.dir that is no folder and an empty approver group are refused at load, at their lines (exit 2)', async () => {
    const broken = join(dir, 'broken-runbooks.yaml');
    writeConfig(broken, { dir: 'missing', approverGroups: { sre: ['alice'], dba: [] } });
    const lines = readFileSync(broken, 'utf8').split('\n');
    const dba = lines.findIndex((l) => l.includes('dba: []'));
    const result = await lifeboat(['runbook', 'list'], { ...env, LIFEBOAT_CONFIG: broken });
    expect({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr.split('\n') }).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: [
        'lifeboat: invalid Lifeboat configuration:',
        `  - ${broken}:${dba + 1}:${lines[dba]!.indexOf('[]') + 1}: runbooks.approverGroups.dba: at least one person`,
      ],
    });
    writeConfig(broken, { dir: 'missing', approverGroups: { sre: ['alice'] } });
    const missing = await lifeboat(['runbook', 'list'], { ...env, LIFEBOAT_CONFIG: broken });
    const text = readFileSync(broken, 'utf8').split('\n');
    const line = text.findIndex((l) => l.includes('dir: missing'));
    expect({ exitCode: missing.exitCode, stdout: missing.stdout, stderr: missing.stderr }).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: `lifeboat: invalid Lifeboat configuration:\n  - ${broken}:${line + 1}:${text[line]!.indexOf('missing') + 1}: runbooks.dir: '${join(dir, 'missing')}': no such directory; expected the folder of runbook documents`,
    });
  });
});

describe('lifeboat runbook list', () => {
  it('lists the documents of runbooks/ next to the configuration, with name, description, owner, schedule and file', async () => {
    const result = await lifeboat(['runbook', 'list', '--json'], env);
    expect({ exitCode: result.exitCode, stderr: result.stderr, listed: json<unknown>(result.stdout) }).toEqual({
      exitCode: 0,
      stderr: '',
      listed: {
        runbooks: [
          {
            name: 'gated',
            description: 'Approve, then check',
            owner: null,
            schedule: null,
            file: file('gated.yaml'),
            valid: true,
            problems: 0,
          },
          {
            name: 'lab-health',
            description: 'Check a lab cluster',
            owner: 'team-sre',
            schedule: '0 4 * * *',
            file: file('health.yaml'),
            valid: true,
            problems: 0,
          },
          {
            name: 'failing-probe',
            description: null,
            owner: 'team-web',
            schedule: null,
            file: file('probe.yaml'),
            valid: true,
            problems: 0,
          },
          { name: 'scale-plan', description: null, owner: null, schedule: null, file: file('scale-plan.yaml'), valid: true, problems: 0 },
        ],
      },
    });
    const text = await lifeboat(['runbook', 'list'], env);
    expect(text.stdout.split('\n').map((line) => line.split(/ {2,}/))).toEqual([
      ['NAME', 'DESCRIPTION', 'OWNER', 'SCHEDULE', 'FILE'],
      ['gated', 'Approve, then check', '-', file('gated.yaml')],
      ['lab-health', 'Check a lab cluster', 'team-sre', '0 4 * * *', file('health.yaml')],
      ['failing-probe', 'team-web', '-', file('probe.yaml')],
      ['scale-plan', '-', file('scale-plan.yaml')],
    ]);
  });
});

// These run the interpreter (workflows/runbook.ts): they pass once it does.
describe('lifeboat runbook plan | run | status | approve | abort', () => {
  it('plan evaluates each step and changes nothing: the action shows its evaluated input, a false `when` is skipped', async () => {
    const result = await lifeboat(['--as', 'tester', 'runbook', 'plan', 'scale-plan', '--param', 'replicas=3', '--json'], env);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
    const report = json<RunbookReport>(result.stdout);
    expect({
      ...report,
      startedAt: typeof report.startedAt,
      finishedAt: typeof report.finishedAt,
      steps: report.steps.map((s) => ({ path: s.path, block: s.block, state: s.state, plan: s.plan })),
    }).toEqual({
      runbook: 'scale-plan',
      contentHash: sha256(file('scale-plan.yaml')),
      source: file('scale-plan.yaml'),
      mode: 'plan',
      status: 'planned',
      startedBy: 'tester',
      startedAt: 'string',
      finishedAt: 'string',
      parameters: { replicas: 3 },
      approvals: [],
      steps: [
        {
          path: 'scale',
          block: 'scaleDeployment',
          state: 'planned',
          plan: { cluster: 'primary', namespace: 'lifeboat-test-absent', name: 'web', replicas: 3 },
        },
        { path: 'more', block: 'scaleDeployment', state: 'skipped', plan: undefined },
      ],
    });
  });

  it('run --wait follows a run to its report: a read-only block as a child workflow, the parameter default applied', async () => {
    const result = await lifeboat(['--as', 'tester', 'runbook', 'run', 'lab-health', '--wait', '--json'], env);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
    const report = json<RunbookReport>(result.stdout);
    expect({
      runbook: report.runbook,
      contentHash: report.contentHash,
      source: report.source,
      mode: report.mode,
      status: report.status,
      startedBy: report.startedBy,
      parameters: report.parameters,
      steps: stepStates(report),
    }).toEqual({
      runbook: 'lab-health',
      contentHash: sha256(file('health.yaml')),
      source: file('health.yaml'),
      mode: 'run',
      status: 'succeeded',
      startedBy: 'tester',
      parameters: { cluster: 'primary' },
      steps: [['health', 'run', 'clusterHealth', 'succeeded']],
    });
    const runs: string[] = [];
    for await (const run of w.client.workflow.list({ query: `TaskQueue = '${w.config.temporal.taskQueue}' AND WorkflowType = 'runbook'` }))
      if (runIdPattern('lab-health').test(run.workflowId)) runs.push(run.workflowId);
    expect(runs).toHaveLength(1);
    expect(report.steps[0]!.childWorkflowId).toBe(`${runs[0]}/health`);
  });

  it('a run whose step fails exits 1 with the report, naming the failed step', async () => {
    const result = await lifeboat(['--as', 'tester', 'runbook', 'run', 'failing-probe', '--wait', '--json'], env);
    const report = json<RunbookReport>(result.stdout);
    expect({ exitCode: result.exitCode, status: report.status, steps: stepStates(report) }).toEqual({
      exitCode: 1,
      status: 'failed',
      steps: [['probe', 'action', 'httpCheck', 'failed']],
    });
  });

  it('run without --wait prints the run; it waits for approval; a non-approver and the requester (four eyes) are refused (exit 1); another approver approves; status shows the record', async () => {
    const started = await lifeboat(['--as', 'bob', 'runbook', 'run', 'gated', '--param', 'cluster=primary', '--json'], env);
    expect(started.exitCode).toBe(0);
    const { workflowId, runId, runbook, contentHash } = json<{ workflowId: string; runId: string; runbook: string; contentHash: string }>(
      started.stdout,
    );
    expect({ id: runIdPattern('gated').test(workflowId), runId: typeof runId, runbook, contentHash }).toEqual({
      id: true,
      runId: 'string',
      runbook: 'gated',
      contentHash: sha256(file('gated.yaml')),
    });

    const waiting = await statusWhen(workflowId, (r) => r.status === 'waiting-approval');
    expect({ status: waiting.status, steps: stepStates(waiting) }).toEqual({
      status: 'waiting-approval',
      steps: [
        ['approve', 'approval', '', 'waiting'],
        ['health', 'run', 'clusterHealth', 'pending'],
      ],
    });

    const refused = await lifeboat(['--as', 'mallory', 'runbook', 'approve', workflowId], env);
    expect({ exitCode: refused.exitCode, stdout: refused.stdout, stderr: refused.stderr }).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: "lifeboat: approval refused: 'mallory' may not approve step approve: 'mallory' is not an approver (approvers: alice, bob)",
    });
    const own = await lifeboat(['--as', 'bob', 'runbook', 'approve', workflowId], env);
    expect({ exitCode: own.exitCode, stderr: own.stderr }).toEqual({
      exitCode: 1,
      stderr:
        "lifeboat: approval refused: 'bob' may not approve step approve: 'bob' started this run and may not approve it too (four eyes: another approver must)",
    });

    const approved = await lifeboat(['--as', 'alice', 'runbook', 'approve', workflowId, '--comment', 'go'], env);
    expect({ exitCode: approved.exitCode, stdout: approved.stdout, stderr: approved.stderr }).toEqual({
      exitCode: 0,
      stdout: `approved approve of ${workflowId} as alice`,
      stderr: '',
    });

    const done = await statusWhen(workflowId, (r) => r.status === 'succeeded');
    expect({
      status: done.status,
      startedBy: done.startedBy,
      approvals: done.approvals.map((a) => [a.step, a.approver, a.comment]),
      steps: stepStates(done),
    }).toEqual({
      status: 'succeeded',
      startedBy: 'bob',
      approvals: [['approve', 'alice', 'go']],
      steps: [
        ['approve', 'approval', '', 'succeeded'],
        ['health', 'run', 'clusterHealth', 'succeeded'],
      ],
    });
    const text = (await lifeboat(['runbook', 'status', workflowId], env)).stdout.split('\n');
    expect(text[0]).toMatch(
      new RegExp(`^${workflowId.replace(/[/.]/g, '\\$&')} \\(run ${runId}\\) finished \\S+ \\(\\d+ (s|min) ago\\): COMPLETED$`),
    );
    expect(text.slice(1, 3)).toEqual([
      'runbook gated: SUCCEEDED',
      `document ${file('gated.yaml')} (sha256 ${contentHash.slice(0, 12)}); started by bob at ${done.startedAt}, finished ${done.finishedAt}`,
    ]);
    // Who started and who approved, as search attributes.
    const attributes = (await w.client.workflow.getHandle(workflowId, runId).describe()).typedSearchAttributes;
    expect([attributes.get(requesterAttribute), attributes.get(approversAttribute)]).toEqual(['bob', ['alice']]);
  });

  it('abort of a run waiting for approval ends it aborted, recording who and why; status shows the same record', async () => {
    const started = await lifeboat(['--as', 'tester', 'runbook', 'run', 'gated', '--param', 'cluster=standby', '--json'], env);
    const { workflowId, runId } = json<{ workflowId: string; runId: string }>(started.stdout);
    expect((await statusWhen(workflowId, (r) => r.status === 'waiting-approval')).status).toBe('waiting-approval');
    const aborted = await lifeboat(['--as', 'carol', 'runbook', 'abort', workflowId, '--reason', 'not today', '--json'], env);
    expect({ exitCode: aborted.exitCode, stderr: aborted.stderr }).toEqual({ exitCode: 0, stderr: '' });
    const report = json<RunbookReport>(aborted.stdout);
    expect({ status: report.status, abort: { ...report.abort, at: typeof report.abort?.at }, approvals: report.approvals }).toEqual({
      status: 'aborted',
      abort: { by: 'carol', reason: 'not today', at: 'string' },
      approvals: [],
    });
    expect(await status(workflowId)).toEqual(report);
    expect((await w.client.workflow.getHandle(workflowId, runId).describe()).typedSearchAttributes.get(abortedByAttribute)).toBe('carol');
    // The aborted run failed (as RunbookAborted, carrying its report): nothing more to abort or approve.
    const notRunning = `lifeboat: ${workflowId} is not running (run ${runId} is FAILED); see \`lifeboat runbook status ${workflowId}\``;
    const again = await Promise.all([
      lifeboat(['--as', 'carol', 'runbook', 'abort', workflowId], env),
      lifeboat(['--as', 'alice', 'runbook', 'approve', workflowId], env),
    ]);
    expect(again.map((r) => ({ exitCode: r.exitCode, stderr: r.stderr }))).toEqual([
      { exitCode: 1, stderr: notRunning },
      { exitCode: 1, stderr: notRunning },
    ]);
  });

  it('status of an unknown run exits 1 naming it', async () => {
    const result = await lifeboat(['runbook', 'status', 'runbook/none/20260101T000000Z-000000'], env);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({
      exitCode: 1,
      stderr:
        "lifeboat: no runbook run 'runbook/none/20260101T000000Z-000000'; `lifeboat runbook run NAME` prints the ID of the run it starts",
    });
  });
});

describe('schedule apply with runbook documents', () => {
  const namespace = `lifeboat-test-runbook-${randomUUID().slice(0, 8)}`;
  const taskQueue = `test-runbook-schedule-${randomUUID()}`;
  const scheduledDir = join(dir, 'scheduled');
  const scheduledConfig = join(dir, 'scheduled.yaml');
  const nightly = join(scheduledDir, 'nightly.yaml');
  const nightlyText = (cron: string) => `${header('nightly-health')}parameters:
  cluster:
    type: cluster
    required: true
schedule:
  cron: "${cron}"
  overlap: bufferOne
  catchupWindow: 6h
  parameters:
    cluster: standby
steps:
  - id: health
    run: clusterHealth
    with:
      clusters: ["\${{ params.cluster }}"]
`;
  let client: LifeboatClient;
  const schedEnv = { LIFEBOAT_CONFIG: scheduledConfig, LIFEBOAT_TEMPORAL_NAMESPACE: namespace, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue };
  const apply = async () => {
    const result = await lifeboat(['schedule', 'apply', '--json'], schedEnv);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
    return json<{ created: string[]; updated: string[]; deleted: string[] }>(result.stdout);
  };
  const expectedInput = (): RunbookInput => {
    const parsed = parseRunbook(nightly, readFileSync(nightly, 'utf8'), { blocks: runbookBlocks, approverGroups });
    if (!parsed.ok) throw new Error(`test document is invalid: ${JSON.stringify(parsed.problems)}`);
    return {
      document: parsed.document,
      contentHash: sha256(nightly),
      source: nightly,
      parameters: { cluster: 'standby' },
      startedBy: 'schedule runbook/nightly-health',
      approverGroups,
    };
  };

  beforeAll(async () => {
    mkdirSync(scheduledDir);
    // runbooks.dir named by the configuration, relative to the configuration file's folder.
    writeConfig(scheduledConfig, { dir: 'scheduled', approverGroups });
    writeFileSync(nightly, nightlyText('0 4 * * *'));
    client = await temporalClient(loadConfig({ file: labConfigFile, env: {} }), { namespace });
    await client.connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  });
  afterAll(async () => {
    for await (const s of client.schedule.list())
      await client.schedule
        .getHandle(s.scheduleId)
        .delete()
        .catch((err: unknown) => {
          if (!(err instanceof ScheduleNotFoundError)) throw err;
        });
    for await (const run of client.workflow.list({ query: `ExecutionStatus = 'Running'` }))
      await client.workflow.getHandle(run.workflowId, run.runId).terminate('test cleanup');
    await client.connection.operatorService.deleteNamespace({ namespace });
    await client.connection.close();
  });

  it('creates runbook/<name> beside the configured schedules, updates it in place, refuses a bad document changing nothing, and deletes it with its document', async () => {
    expect(await apply()).toEqual({
      created: ['gameday', 'etcd-snapshot/primary', 'etcd-snapshot/standby', 'runbook/nightly-health'],
      updated: [],
      deleted: [],
    });
    const handle = client.schedule.getHandle('runbook/nightly-health');
    const d = await handle.describe();
    const { type, workflowType, workflowId, args, memo } = d.action;
    expect({ type, workflowType, taskQueue: d.action.taskQueue, workflowId, args, memo }).toEqual({
      type: 'startWorkflow',
      workflowType: 'runbook',
      taskQueue,
      workflowId: 'runbook/nightly-health',
      args: [expectedInput()],
      memo: { cron: '0 4 * * *', source: nightly, contentHash: sha256(nightly) },
    });
    expect({ policies: d.policies, memo: d.memo }).toEqual({
      policies: { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: 6 * 3_600_000, pauseOnFailure: false },
      memo: { managedBy: 'lifeboat schedule apply' },
    });
    expect(d.info.nextActionTimes.map((t) => [t.getUTCHours(), t.getUTCMinutes()])).toEqual(d.info.nextActionTimes.map(() => [4, 0]));

    // A scheduled run is the interpreter on the schedule's task queue (nobody polls it here).
    await handle.trigger();
    let actions = (await handle.describe()).info.recentActions;
    for (let i = 0; i < 100 && actions.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      actions = (await handle.describe()).info.recentActions;
    }
    const action = actions[0]!.action;
    if (!('workflow' in action)) throw new Error('the schedule started no workflow');
    const run = await client.workflow.getHandle(action.workflow.workflowId).describe();
    expect({ type: run.type, taskQueue: run.taskQueue, id: run.workflowId.startsWith('runbook/nightly-health-') }).toEqual({
      type: 'runbook',
      taskQueue,
      id: true,
    });
    await client.workflow.getHandle(run.workflowId).terminate('test cleanup');

    const listed = await lifeboat(['schedule', 'list', '--json'], schedEnv);
    expect(
      json<{ schedules: { id: string; cron: string }[] }>(listed.stdout)
        .schedules.map((s) => [s.id, s.cron])
        .filter(([id]) => id === 'runbook/nightly-health'),
    ).toEqual([['runbook/nightly-health', '0 4 * * *']]);

    writeFileSync(nightly, nightlyText('30 5 * * *'));
    expect(await apply()).toEqual({
      created: [],
      updated: ['gameday', 'etcd-snapshot/primary', 'etcd-snapshot/standby', 'runbook/nightly-health'],
      deleted: [],
    });
    const updated = await handle.describe();
    expect({
      createdAt: updated.info.createdAt,
      memo: updated.action.memo,
      args: updated.action.args,
      recent: updated.info.recentActions.length,
    }).toEqual({
      createdAt: d.info.createdAt,
      memo: { cron: '30 5 * * *', source: nightly, contentHash: sha256(nightly) },
      args: [expectedInput()],
      recent: 1,
    });

    const broken = join(scheduledDir, 'broken.yaml');
    writeFileSync(broken, badDocuments['unknown-group.yaml']!);
    const refused = await lifeboat(['schedule', 'apply'], schedEnv);
    expect({ exitCode: refused.exitCode, stdout: refused.stdout, stderr: refused.stderr.split('\n') }).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: [
        `lifeboat: invalid runbook ${broken}; no schedule was changed:`,
        `${broken}:8:19: steps[0].approval.approvers[0]: unknown approver group "oncall"; configured groups: sre`,
      ],
    });
    expect((await handle.describe()).action.memo).toEqual({ cron: '30 5 * * *', source: nightly, contentHash: sha256(nightly) });

    rmSync(broken);
    rmSync(nightly);
    expect(await apply()).toEqual({
      created: [],
      updated: ['gameday', 'etcd-snapshot/primary', 'etcd-snapshot/standby'],
      deleted: ['runbook/nightly-health'],
    });
    await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });
});
