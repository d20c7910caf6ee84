// Integration (lab: Temporal): `lifeboat schedule apply | list` make Temporal Schedules from config.
// Each test works in a Temporal namespace of its own, on a task queue no worker polls, so a triggered
// schedule starts a run nobody picks up and no schedule ID can meet another test's or the lab's; the
// namespaces, with what the tests made in them, are deleted afterwards.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { Cron } from 'croner';
import { parse, stringify } from 'yaml';
import { labConfigFile } from '../../lab/topology.js';
import { ConfigError, loadConfig } from '../../worker/config.js';
import { temporalClient, type LifeboatClient } from '../../worker/temporal.js';
import { applySchedules } from '../../cli/schedule.js';
import { CliError } from '../../cli/output.js';
import { lifeboat } from '../helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-schedule-'));
// The lab's namespace, for registering and deleting the sandboxes' own.
const admin = await temporalClient(loadConfig({ file: labConfigFile, env: {} }));

interface Sandbox {
  namespace: string;
  taskQueue: string;
  env: Record<string, string>;
  client: LifeboatClient;
}
const sandboxes: Sandbox[] = [];

/** A namespace and task queue of the test's own; the CLI reaches them through the variables in `env`. */
async function sandbox(): Promise<Sandbox> {
  const namespace = `lifeboat-test-schedule-${randomUUID().slice(0, 8)}`;
  await admin.connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  const taskQueue = `test-schedule-${randomUUID()}`;
  const s = {
    namespace,
    taskQueue,
    env: { LIFEBOAT_TEMPORAL_NAMESPACE: namespace, LIFEBOAT_TEMPORAL_TASK_QUEUE: taskQueue },
    client: await temporalClient(loadConfig({ file: labConfigFile, env: {} }), { namespace }),
  };
  sandboxes.push(s);
  return s;
}

afterAll(async () => {
  for (const { client, namespace } of sandboxes) {
    for await (const s of client.schedule.list())
      await client.schedule
        .getHandle(s.scheduleId)
        .delete()
        .catch((err: unknown) => {
          if (!(err instanceof ScheduleNotFoundError)) throw err;
        });
    for await (const w of client.workflow.list({ query: `ExecutionStatus = 'Running'` }))
      await client.workflow.getHandle(w.workflowId, w.runId).terminate('test cleanup');
    await admin.connection.operatorService.deleteNamespace({ namespace });
    await client.connection.close();
  }
  await admin.connection.close();
});

interface LabYaml {
  clusters: { name: string; etcdSnapshots: { schedule?: { cron: string; catchupWindow?: string } } }[];
}

/** The lab's configuration with `edit` applied, written to a file of its own. */
function configWith(edit: (c: LabYaml) => void): { file: string; text: string } {
  const config = parse(readFileSync(labConfigFile, 'utf8')) as LabYaml;
  edit(config);
  const file = join(dir, `${randomUUID()}.yaml`);
  const text = stringify(config);
  writeFileSync(file, text);
  return { file, text };
}
const primaryCron = (cron: string) =>
  configWith((c) => {
    c.clusters.find((x) => x.name === 'primary')!.etcdSnapshots.schedule!.cron = cron;
  });

/** file:line:col of the value of the `cron:` key on the line that holds `cron`, read from the text. */
function cronAt(file: string, text: string, cron: string): string {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('cron: ') && l.includes(cron));
  return `${file}:${line + 1}:${lines[line]!.indexOf('cron: ') + 'cron: '.length + 1}`;
}
const primaryIndex = (parse(readFileSync(labConfigFile, 'utf8')) as LabYaml).clusters.findIndex((c) => c.name === 'primary');
const cronExpected =
  "expected five fields (minute hour day-of-month month day-of-week, in UTC) like '0 */6 * * *', or one of @hourly, @daily, @weekly, @monthly, @yearly";

const apply = async (s: Sandbox, file = labConfigFile) => {
  const result = await lifeboat(['schedule', 'apply', '--json'], { ...s.env, LIFEBOAT_CONFIG: file });
  expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
  return JSON.parse(result.stdout) as { created: string[]; updated: string[]; deleted: string[] };
};
const describeSchedule = (s: Sandbox, id: string) => s.client.schedule.getHandle(id).describe();
const picked = (d: ScheduleDescription) => {
  const { type, workflowType, taskQueue, workflowId, args, memo } = d.action;
  return { type, workflowType, taskQueue, workflowId, args, memo };
};
/** Consecutive gaps between times, in ms. */
const gaps = (times: Date[]) => times.slice(1).map((t, i) => t.getTime() - times[i]!.getTime());
type Listed = { id: string; cron: string; paused: boolean; nextRuns: string[]; lastResult: string };

/** `schedule list`, once its listing (eventually consistent) shows `count` schedules. */
async function listSchedules(s: Sandbox, count: number): Promise<Listed[]> {
  let listed: Listed[] = [];
  for (let i = 0; i < 100 && listed.length !== count; i++) {
    if (i) await new Promise((r) => setTimeout(r, 200));
    const result = await lifeboat(['schedule', 'list', '--json'], s.env);
    expect(result.exitCode).toBe(0);
    listed = (JSON.parse(result.stdout) as { schedules: Listed[] }).schedules;
  }
  return listed.sort((a, b) => a.id.localeCompare(b.id));
}

/** Triggers the schedule and waits for the run it starts (nobody runs it: no worker polls the sandbox's queue). */
async function trigger(s: Sandbox, id: string): Promise<{ takenAt: Date; workflowId: string }> {
  const handle = s.client.schedule.getHandle(id);
  await handle.trigger();
  let actions = (await handle.describe()).info.recentActions;
  for (let i = 0; i < 100 && actions.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    actions = (await handle.describe()).info.recentActions;
  }
  expect(actions).toHaveLength(1);
  const [action] = actions;
  if (!('workflow' in action!.action)) throw new Error('the schedule started no workflow');
  return { takenAt: action!.takenAt, workflowId: action!.action.workflow.workflowId };
}

describe('lifeboat schedule', () => {
  it('apply creates a schedule per configured cluster and the game day, with overlap skip and the catch-up window; list shows them', async () => {
    const s = await sandbox();
    // The lab's configuration also names the shipped runbooks; etcd-backup declares a nightly schedule.
    expect(await apply(s)).toEqual({
      created: ['gameday', 'etcd-snapshot/primary', 'etcd-snapshot/standby', 'runbook/etcd-backup'],
      updated: [],
      deleted: [],
    });
    const d = await describeSchedule(s, 'etcd-snapshot/primary');
    expect(d.policies).toEqual({ overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 3_600_000, pauseOnFailure: false });
    expect(picked(d)).toEqual({
      type: 'startWorkflow',
      workflowType: 'etcdSnapshot',
      taskQueue: s.taskQueue,
      workflowId: 'etcd-snapshot/primary',
      args: [{ cluster: 'primary' }],
      memo: { cron: '0 */6 * * *' },
    });
    expect(d.memo).toEqual({ managedBy: 'lifeboat schedule apply' });
    // '0 */6 * * *': every 6 hours on the hour, UTC.
    const times = d.info.nextActionTimes;
    expect(times).toHaveLength(10);
    expect(times.map((t) => [t.getUTCHours() % 6, t.getUTCMinutes(), t.getUTCSeconds()])).toEqual(times.map(() => [0, 0, 0]));
    expect(gaps(times)).toEqual(gaps(times).map(() => 6 * 3_600_000));

    const standby = await describeSchedule(s, 'etcd-snapshot/standby');
    const game = await describeSchedule(s, 'gameday');
    const nightly = await describeSchedule(s, 'runbook/etcd-backup');
    expect(await listSchedules(s, 4)).toEqual([
      {
        id: 'etcd-snapshot/primary',
        cron: '0 */6 * * *',
        paused: false,
        nextRuns: times.slice(0, 3).map((t) => t.toISOString()),
        lastResult: '-',
      },
      {
        id: 'etcd-snapshot/standby',
        cron: '30 */12 * * *',
        paused: false,
        nextRuns: standby.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        lastResult: '-',
      },
      {
        id: 'gameday',
        cron: '0 9 1 1,4,7,10 *',
        paused: false,
        nextRuns: game.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        lastResult: '-',
      },
      {
        id: 'runbook/etcd-backup',
        cron: '17 3 * * *',
        paused: false,
        nextRuns: nightly.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        lastResult: '-',
      },
    ]);
  });

  it('apply creates the quarterly game day schedule', async () => {
    const s = await sandbox();
    await apply(s);
    const d = await describeSchedule(s, 'gameday');
    expect(picked(d)).toEqual({
      type: 'startWorkflow',
      workflowType: 'gameDay',
      taskQueue: s.taskQueue,
      workflowId: 'gameday/scheduled',
      args: [{}],
      memo: { cron: '0 9 1 1,4,7,10 *' },
    });
    expect(d.policies).toEqual({ overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 86_400_000, pauseOnFailure: false });
    // '0 9 1 1,4,7,10 *': 09:00 UTC on the first day of each quarter.
    const times = d.info.nextActionTimes;
    expect(times).toHaveLength(10);
    expect(times.map((t) => [t.getUTCMonth() % 3, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes()])).toEqual(
      times.map(() => [0, 1, 9, 0]),
    );
  });

  it("list shows the last run of a schedule with its status; the run is on the test's own task queue", async () => {
    const s = await sandbox();
    await apply(s);
    const run = await trigger(s, 'etcd-snapshot/standby');
    const described = await s.client.workflow.getHandle(run.workflowId).describe();
    expect({ taskQueue: described.taskQueue, status: described.status.name }).toEqual({ taskQueue: s.taskQueue, status: 'RUNNING' });
    const standby = (await listSchedules(s, 4)).find((l) => l.id === 'etcd-snapshot/standby');
    expect(standby!.lastResult).toBe(`RUNNING (${run.takenAt.toISOString()})`);
    await s.client.workflow.getHandle(run.workflowId).terminate('test cleanup');
  });

  it('a changed cron updates the schedule in place (same ID, creation time and recent runs); a cluster without a schedule loses it', async () => {
    const s = await sandbox();
    await apply(s);
    const run = await trigger(s, 'etcd-snapshot/primary');
    await s.client.workflow.getHandle(run.workflowId).terminate('test cleanup');
    const before = await describeSchedule(s, 'etcd-snapshot/primary');

    const { file } = configWith((c) => {
      c.clusters.find((x) => x.name === 'primary')!.etcdSnapshots.schedule = { cron: '15 3 * * *', catchupWindow: '30m' };
      delete c.clusters.find((x) => x.name === 'standby')!.etcdSnapshots.schedule;
    });
    expect(await apply(s, file)).toEqual({
      created: [],
      updated: ['gameday', 'etcd-snapshot/primary', 'runbook/etcd-backup'],
      deleted: ['etcd-snapshot/standby'],
    });
    const d = await describeSchedule(s, 'etcd-snapshot/primary');
    expect({ id: d.scheduleId, createdAt: d.info.createdAt, recent: d.info.recentActions.map((a) => a.takenAt) }).toEqual({
      id: 'etcd-snapshot/primary',
      createdAt: before.info.createdAt,
      recent: [run.takenAt],
    });
    expect(d.policies.catchupWindow).toBe(1_800_000);
    expect(picked(d).memo).toEqual({ cron: '15 3 * * *' });
    const times = d.info.nextActionTimes;
    expect(times).toHaveLength(10);
    expect(times.map((t) => [t.getUTCHours(), t.getUTCMinutes()])).toEqual(times.map(() => [3, 15]));
    expect(gaps(times)).toEqual(gaps(times).map(() => 24 * 3_600_000));
    await expect(describeSchedule(s, 'etcd-snapshot/standby')).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect((await listSchedules(s, 3)).map((l) => [l.id, l.cron])).toEqual([
      ['etcd-snapshot/primary', '15 3 * * *'],
      ['gameday', '0 9 1 1,4,7,10 *'],
      ['runbook/etcd-backup', '17 3 * * *'],
    ]);
  });

  it.each(['61 25 32 13 8', 'a b c d e'])(
    'a bad cron (%s) exits 2 naming file, line and field, and leaves the existing schedules as they were',
    async (cron) => {
      const s = await sandbox();
      await apply(s);
      const before = await Promise.all(['etcd-snapshot/primary', 'etcd-snapshot/standby', 'gameday'].map((id) => describeSchedule(s, id)));
      const { file, text } = primaryCron(cron);
      const result = await lifeboat(['schedule', 'apply'], { ...s.env, LIFEBOAT_CONFIG: file });
      const after = await Promise.all(['etcd-snapshot/primary', 'etcd-snapshot/standby', 'gameday'].map((id) => describeSchedule(s, id)));
      expect(after.map((d) => ({ id: d.scheduleId, createdAt: d.info.createdAt, spec: d.spec, action: picked(d) }))).toEqual(
        before.map((d) => ({ id: d.scheduleId, createdAt: d.info.createdAt, spec: d.spec, action: picked(d) })),
      );
      const reason = cron === 'a b c d e' ? "minute 'a': 'a' is not a number" : 'invalid value for minute: 61';
      expect({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr }).toEqual({
        exitCode: 2,
        stdout: '',
        stderr: `lifeboat: invalid Lifeboat configuration:\n  - ${cronAt(file, text, cron)}: clusters[${primaryIndex}].etcdSnapshots.schedule.cron: '${cron}': ${reason}; ${cronExpected}`,
      });
    },
  );
});

describe('applySchedules', () => {
  it('a schedule Temporal refuses (a configuration that skipped the loader) leaves it as it was, and deletes nothing', async () => {
    const s = await sandbox();
    await apply(s);
    const ids = ['gameday', 'etcd-snapshot/primary', 'etcd-snapshot/standby'];
    const before = await Promise.all(ids.map((id) => describeSchedule(s, id)));
    const lab = loadConfig({ file: labConfigFile, env: {} });
    const config = {
      ...lab,
      temporal: { ...lab.temporal, namespace: s.namespace, taskQueue: s.taskQueue },
      clusters: lab.clusters.map((c) =>
        c.name === 'primary' ? { ...c, etcdSnapshots: { ...c.etcdSnapshots, schedule: { cron: '61 * * * *', catchupWindow: '1h' } } } : c,
      ),
    };
    const err = await applySchedules(s.client, config).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(CliError);
    expect(err!.message).toBe(
      `schedule etcd-snapshot/primary (clusters[${primaryIndex}].etcdSnapshots.schedule): Temporal refused it: Minute is not in range [0-59]; it is unchanged, nothing was deleted (applied before it: updated gameday)`,
    );
    const after = await Promise.all(ids.map((id) => describeSchedule(s, id)));
    expect(after.map((d) => ({ id: d.scheduleId, createdAt: d.info.createdAt, spec: d.spec, action: picked(d) }))).toEqual(
      before.map((d) => ({ id: d.scheduleId, createdAt: d.info.createdAt, spec: d.spec, action: picked(d) })),
    );
  });
});

describe('cron expressions: the loader agrees with Temporal', () => {
  /** The loader's verdict on `cron` as primary's snapshot schedule: undefined, or its one problem. */
  const loaderVerdict = (cron: string) => {
    const { file, text } = primaryCron(cron);
    try {
      loadConfig({ file, env: {} });
      return undefined;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      expect(err.problems).toHaveLength(1);
      const prefix = `${cronAt(file, text, cron)}: clusters[${primaryIndex}].etcdSnapshots.schedule.cron: '${cron}': `;
      const [problem] = err.problems as [string];
      const suffix = `; ${cronExpected}`;
      expect({ start: problem.slice(0, prefix.length), end: problem.slice(-suffix.length) }).toEqual({ start: prefix, end: suffix });
      return problem.slice(prefix.length, -suffix.length);
    }
  };
  /** Temporal's verdict: the next run times of a paused schedule made from `cron`, or the server's refusal. */
  const temporalVerdict = async (s: Sandbox, cron: string): Promise<Date[] | string> => {
    const scheduleId = `cron-${randomUUID()}`;
    try {
      const handle = await s.client.schedule.create({
        scheduleId,
        spec: { cronExpressions: [cron] },
        state: { paused: true },
        action: { type: 'startWorkflow', workflowType: 'etcdSnapshot', taskQueue: s.taskQueue, args: [] },
      });
      const times = (await handle.describe()).info.nextActionTimes;
      await handle.delete();
      return times;
    } catch (err) {
      // The client reads the server's INVALID_ARGUMENT "Invalid schedule spec" into a TypeError.
      expect((err as Error).name).toBe('TypeError');
      return (err as Error).message;
    }
  };

  it('what the loader accepts, Temporal runs at the times the loader reads in it', async () => {
    const s = await sandbox();
    for (const cron of [
      '0 */6 * * *',
      '30 */12 * * *',
      '0 9 1 1,4,7,10 *',
      '15 3 * * *',
      '5/15 * * * *',
      '1-5/2 * * * *',
      '*/5,7 * * * *',
      '0 0 * * 7',
      '0 0 * * 0-7',
      '0 0 * jan mon',
      '0 0 * JAN MON',
      '0 0 * * mon-fri',
      '0 0 * * */2',
      '0 0 29 2 *',
      '05 4 * * *',
      '0 0 1 * 1',
      '0 0 1-7 * 1',
      '*/60 * * * *',
      '@hourly',
      '@daily',
      '@midnight',
      '@weekly',
      '@monthly',
      '@yearly',
      '@annually',
    ]) {
      expect([cron, loaderVerdict(cron)]).toEqual([cron, undefined]);
      const times = await temporalVerdict(s, cron);
      if (typeof times === 'string') throw new Error(`Temporal refused '${cron}': ${times}`);
      expect(times.length).toBeGreaterThan(0);
      // Day-of-month AND day-of-week, as Temporal matches them ('0 0 1 * 1': Mondays that are the 1st).
      const read = new Cron(cron, { mode: '5-part', domAndDow: true, sloppyRanges: true, timezone: 'UTC' }).nextRuns(
        times.length,
        new Date(times[0]!.getTime() - 1000),
      );
      expect([cron, read.map((t) => t.toISOString())]).toEqual([cron, times.map((t) => t.toISOString())]);
    }
  });

  it('what Temporal refuses, the loader refuses at load', async () => {
    const s = await sandbox();
    for (const [cron, loader, temporal] of [
      [
        '61 25 32 13 8',
        'invalid value for minute: 61',
        'Minute is not in range [0-59], Hour is not in range [0-23], DayOfWeek is not in range [0-7], DayOfMonth is not in range [1-31], Month is not in range [1-12]',
      ],
      [
        'a b c d e',
        "minute 'a': 'a' is not a number",
        'Minute is not in range [0-59], Hour is not in range [0-23], DayOfWeek is not in range [0-7], DayOfMonth is not in range [1-31], Month is not in range [1-12]',
      ],
      ['*/0 * * * *', 'syntax error, illegal stepping: 0', 'Minute has invalid Step'],
      ['0 0 L * *', "day-of-month 'L': 'L' is not a number", 'DayOfMonth is not in range [1-31]'],
      ['0 0 15W * *', "day-of-month '15W': 'W' is not a number", 'DayOfMonth is not in range [1-31]'],
      ['0 0 ? * *', "day-of-month '?': '?' is not a number", 'DayOfMonth is not in range [1-31]'],
      ['0 0 * * 5L', "day-of-week '5L': 'L' is not a number or a name (sun-sat)", 'DayOfWeek is not in range [0-7]'],
      ['5-1 * * * *', "from value is larger than to value: '5-1'", 'Minute End is before Start or not in range [0-59]'],
      ['0 24 * * *', 'invalid value for hour: 24', 'Hour is not in range [0-23]'],
      ['0 0 0 * *', 'invalid value for day: -1', 'DayOfMonth is not in range [1-31]'],
      ['* * * * 8', 'invalid value for dayOfWeek: 8', 'DayOfWeek is not in range [0-7]'],
      ['0 0 * dec-jan *', "from value is larger than to value: '12-1'", 'Month End is before Start or not in range [1-12]'],
      ['1,2,,3 * * * *', 'configuration entry minute () is empty, check for trailing spaces', 'Minute is not in range [0-59]'],
      [
        '@DAILY',
        "'@DAILY' is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
        'CronString does not have 5-7 fields',
      ],
      [
        '@reboot',
        "'@reboot' is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
        'CronString does not have 5-7 fields',
      ],
    ] as const) {
      expect([cron, loaderVerdict(cron), await temporalVerdict(s, cron)]).toEqual([cron, loader, temporal]);
    }
  });

  it('what Temporal would take but never run, or run otherwise than it reads, the loader refuses too', async () => {
    const s = await sandbox();
    const fromNow = (times: Date[] | string) => (typeof times === 'string' ? times : `${times.length} next runs`);
    for (const [cron, loader, temporal] of [
      // Would never run: the cluster is left without snapshots, silently.
      ['0 0 31 2 *', 'never fires: no date matches every field', '0 next runs'],
      // Temporal ignores '#2' and runs every Monday.
      ['0 0 * * 1#2', "day-of-week '1#2': '#' is not a number or a name (sun-sat)", '10 next runs'],
      // Not the five fields the configuration documents (a year, seconds and a year, a time zone).
      ['0 0 * * * 2030', 'has 6 fields, not 5', '10 next runs'],
      ['0 0 0 * * * *', 'has 7 fields, not 5', '10 next runs'],
      ['TZ=Europe/Paris 0 0 * * *', 'has 6 fields, not 5', '10 next runs'],
    ] as const) {
      expect([cron, loaderVerdict(cron), fromNow(await temporalVerdict(s, cron))]).toEqual([cron, loader, temporal]);
    }
  });
});
