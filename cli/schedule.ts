// `lifeboat schedule apply | list`: Temporal Schedules from configuration.
import type { Command } from 'commander';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
} from '@temporalio/client';
import { loadConfig, type LifeboatConfig } from '../worker/config.js';
import { parseDuration } from '../model/durations.js';
import type { overlapPolicies } from '../model/runbook/schema.js';
import { connectClient } from './temporal.js';
import { CliError, exitCodes, printJson, table } from './output.js';
import { loadAllRunbooks, runbookInput, runParameters, type LoadedRunbook } from './runbook-documents.js';

const managedBy = 'lifeboat schedule apply';
const scheduleIdPrefix = 'etcd-snapshot/';
/** The quarterly game day's schedule. */
export const gameDayScheduleId = 'gameday';
/** A runbook document's schedule is `runbook/<name>`; its runs are `runbook/<name>-<time>` (Temporal appends the time). */
export const runbookScheduleId = (name: string) => `runbook/${name}`;
const noScheduleChanged = 'no schedule was changed';

const overlapPolicy: Record<(typeof overlapPolicies)[number], ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  bufferOne: ScheduleOverlapPolicy.BUFFER_ONE,
  bufferAll: ScheduleOverlapPolicy.BUFFER_ALL,
  cancelOther: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminateOther: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allowAll: ScheduleOverlapPolicy.ALLOW_ALL,
};

/**
 * The schedules of runbook documents that declare `schedule:` (already validated): each run starts the
 * interpreter with the document as it was applied, its hash, and the schedule's parameter values.
 */
export function runbookSchedules(config: LifeboatConfig, runbooks: readonly LoadedRunbook[]): ScheduleOptions[] {
  return runbooks.flatMap((loaded) => {
    const { schedule, metadata } = loaded.document;
    if (!schedule) return [];
    const id = runbookScheduleId(metadata.name);
    const input = runbookInput(config, loaded, runParameters(config, loaded, schedule.parameters), `schedule ${id}`);
    return [
      {
        scheduleId: id,
        spec: { cronExpressions: [schedule.cron] },
        action: {
          type: 'startWorkflow' as const,
          workflowType: 'runbook',
          taskQueue: config.temporal.taskQueue,
          workflowId: id,
          args: [input],
          memo: { cron: schedule.cron, source: loaded.file, contentHash: loaded.contentHash },
        },
        policies: { overlap: overlapPolicy[schedule.overlap], catchupWindow: parseDuration(schedule.catchupWindow)! },
        memo: { managedBy },
      },
    ];
  });
}

/** A cluster's node health watch: `node-health/<cluster>`; its runs are `node-health/<cluster>-<time>`. */
export const nodeHealthScheduleId = (cluster: string) => `node-health/${cluster}`;

/**
 * The node health watch of every cluster whose `nodeHealth.watch` is on: every `watchEvery`, the
 * nodeHealthWatch workflow with the cluster's rules and the node-replacement runbook it starts, as
 * validated now (editing the document takes effect at the next apply, as for any scheduled runbook).
 */
export function nodeHealthSchedules(config: LifeboatConfig, runbooks: readonly LoadedRunbook[]): ScheduleOptions[] {
  const watched = config.clusters.filter((c) => c.nodeHealth.watch);
  if (!watched.length) return [];
  const loaded = runbooks.find((r) => r.document.metadata.name === 'node-replacement');
  if (!loaded)
    throw new CliError(
      `clusters[${config.clusters.indexOf(watched[0]!)}].nodeHealth.watch needs the node-replacement runbook in ${config.runbooks.dir ?? 'runbooks'}; ${noScheduleChanged}`,
      exitCodes.badInput,
    );
  return watched.map((c) => {
    const h = c.nodeHealth;
    const id = nodeHealthScheduleId(c.name);
    // The parameters each start sets (node, mode, reason, approver) are placeholders here.
    const replacement = runbookInput(
      config,
      loaded,
      runParameters(config, loaded, { cluster: c.name, node: 'placeholder', reason: 'placeholder' }),
      `schedule ${id}`,
    );
    const every = `every ${h.watchEvery}s`;
    return {
      scheduleId: id,
      spec: { intervals: [{ every: h.watchEvery * 1000 }] },
      action: {
        type: 'startWorkflow' as const,
        workflowType: 'nodeHealthWatch',
        taskQueue: config.temporal.taskQueue,
        workflowId: id,
        args: [
          {
            cluster: c.name,
            policy: {
              unhealthyAfterSeconds: h.unhealthyAfter,
              maxUnhealthy: h.maxUnhealthy,
              stormThreshold: h.stormThreshold,
              pause: h.pause,
              ...(h.selector ? { selector: h.selector } : {}),
            },
            replacement: {
              ...replacement,
              parameters: { ...replacement.parameters, drainTimeoutSeconds: 600, nodeStartupTimeoutSeconds: h.nodeStartupTimeout },
            },
            ...(h.notifyWebhookEnv ? { notifyWebhookEnv: h.notifyWebhookEnv } : {}),
          },
        ],
        memo: { cron: every, source: loaded.file, contentHash: loaded.contentHash },
      },
      // A watch still looking when the next is due is not doubled up; a missed tick is not worth catching up.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: h.watchEvery * 1000 },
      memo: { managedBy },
    };
  });
}

/**
 * The schedules the configuration asks for, by id. The schedule's memo marks it as made here (a memo is
 * set at creation and cannot be updated); the cron expression people wrote goes with the action, which
 * an update replaces (the server keeps only the calendar it compiles the expression into).
 */
export function desiredSchedules(config: LifeboatConfig): ScheduleOptions[] {
  const gameDay = config.gameDay.schedule;
  const gameDays: ScheduleOptions[] = gameDay
    ? [
        {
          scheduleId: gameDayScheduleId,
          spec: { cronExpressions: [gameDay.cron] },
          action: {
            type: 'startWorkflow' as const,
            workflowType: 'gameDay',
            taskQueue: config.temporal.taskQueue,
            workflowId: 'gameday/scheduled',
            args: [{}],
            memo: { cron: gameDay.cron },
          },
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: gameDay.catchupWindow },
          memo: { managedBy },
        },
      ]
    : [];
  return [
    ...gameDays,
    ...config.clusters.flatMap((c) => {
      const schedule = c.etcdSnapshots.schedule;
      if (!schedule) return [];
      return [
        {
          scheduleId: `${scheduleIdPrefix}${c.name}`,
          spec: { cronExpressions: [schedule.cron] },
          action: {
            type: 'startWorkflow' as const,
            workflowType: 'etcdSnapshot',
            taskQueue: config.temporal.taskQueue,
            workflowId: `etcd-snapshot/${c.name}`,
            args: [{ cluster: c.name }],
            memo: { cron: schedule.cron },
          },
          // A snapshot still running when the next is due is not doubled up.
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: schedule.catchupWindow },
          memo: { managedBy },
        },
      ];
    }),
  ];
}

/** The cron expression a schedule was made from: its action's memo, or (made before that) its own. */
export function scheduleCron(d: ScheduleDescription): string {
  const cron = d.action.memo?.cron ?? d.memo?.cron;
  return typeof cron === 'string' ? cron : '';
}

async function managedScheduleIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.memo?.managedBy === managedBy) ids.push(s.scheduleId);
  return ids;
}

/** The configuration field a schedule comes from. */
const scheduleField = (config: LifeboatConfig, id: string, runbooks: readonly LoadedRunbook[]) =>
  id.startsWith(nodeHealthScheduleId(''))
    ? `clusters[${config.clusters.findIndex((c) => nodeHealthScheduleId(c.name) === id)}].nodeHealth`
    : id === gameDayScheduleId
      ? 'gameDay.schedule'
      : id.startsWith(runbookScheduleId(''))
        ? `${runbooks.find((r) => runbookScheduleId(r.document.metadata.name) === id)?.file ?? 'runbook'}: schedule`
        : `clusters[${config.clusters.findIndex((c) => `${scheduleIdPrefix}${c.name}` === id)}].etcdSnapshots.schedule`;

export interface ApplyResult {
  created: string[];
  updated: string[];
  deleted: string[];
}

/**
 * Makes the namespace's schedules what the configuration (already validated at load) and the runbook
 * documents (all validated first; default: those in runbooks.dir) describe. It
 * reads every schedule it will touch before it changes any; an existing schedule is updated in place
 * (same ID, history, recent actions and pause state; an update the server refuses leaves it as it was),
 * a missing one is created, and schedules this command made that the configuration no longer names
 * are deleted last, once everything else has been applied.
 */
export async function applySchedules(
  client: Client,
  config: LifeboatConfig,
  runbooks: readonly LoadedRunbook[] = loadAllRunbooks(config, noScheduleChanged),
): Promise<ApplyResult> {
  const result: ApplyResult = { created: [], updated: [], deleted: [] };
  const desired = [...desiredSchedules(config), ...runbookSchedules(config, runbooks), ...nodeHealthSchedules(config, runbooks)];
  const existing = await Promise.all(
    desired.map((options) =>
      client.schedule
        .getHandle(options.scheduleId)
        .describe()
        .then(
          () => true,
          (err: unknown) => {
            if (err instanceof ScheduleNotFoundError) return false;
            throw err;
          },
        ),
    ),
  );
  for (const [i, options] of desired.entries()) {
    const id = options.scheduleId;
    try {
      if (!existing[i]) {
        await client.schedule.create(options);
        result.created.push(id);
        continue;
      }
      await client.schedule.getHandle(id).update((previous) => ({
        spec: options.spec,
        action: options.action,
        policies: { ...previous.policies, ...options.policies },
        state: { paused: previous.state.paused, note: previous.state.note, remainingActions: previous.state.remainingActions },
      }));
      result.updated.push(id);
    } catch (err) {
      // The client reads the server's "Invalid schedule spec" into a TypeError; an update it refuses changes nothing.
      if (!(err instanceof TypeError)) throw err;
      const done = [...result.created.map((x) => `created ${x}`), ...result.updated.map((x) => `updated ${x}`)].join(', ') || 'nothing';
      throw new CliError(
        `schedule ${id} (${scheduleField(config, id, runbooks)}): Temporal refused it: ${err.message}; it is ${existing[i] ? 'unchanged' : 'not created'}, nothing was deleted (applied before it: ${done})`,
      );
    }
  }
  // Schedules this command made for clusters no longer configured, or runbook documents removed or no longer scheduled, go away.
  for (const id of await managedScheduleIds(client)) {
    if (!desired.some((d) => d.scheduleId === id)) {
      await client.schedule.getHandle(id).delete();
      result.deleted.push(id);
    }
  }
  return result;
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('Temporal Schedules for backups, game days and runbooks, from configuration and runbook documents');
  schedule
    .command('apply')
    .description('create or update the schedules the configuration and the runbook documents describe, and delete ones they no longer do')
    .option('--json', 'print what changed as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      // Every document is validated before Temporal is reached: a bad one changes no schedule.
      const runbooks = loadAllRunbooks(config, noScheduleChanged);
      const client = await connectClient(config);
      const result = await applySchedules(client, config, runbooks);
      await client.connection.close();
      if (opts.json) printJson(result);
      else
        process.stdout.write(
          `created: ${result.created.join(', ') || '-'}\nupdated: ${result.updated.join(', ') || '-'}\ndeleted: ${result.deleted.join(', ') || '-'}\n`,
        );
    });
  schedule
    .command('list')
    .description('the schedules with their next runs and last results')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      const rows = [];
      for (const id of await managedScheduleIds(client)) {
        // The listing is eventually consistent: a schedule deleted a moment ago may still be in it.
        const d = await client.schedule
          .getHandle(id)
          .describe()
          .catch((err: unknown) => {
            if (err instanceof ScheduleNotFoundError) return undefined;
            throw err;
          });
        if (!d) continue;
        const last = d.info.recentActions.at(-1);
        let lastResult = '-';
        if (last && 'workflow' in last.action) {
          const status = (
            await client.workflow.getHandle(last.action.workflow.workflowId, last.action.workflow.firstExecutionRunId).describe()
          ).status.name;
          lastResult = `${status} (${last.takenAt.toISOString()})`;
        }
        rows.push({
          id,
          cron: scheduleCron(d),
          paused: d.state.paused,
          nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
          lastResult,
        });
      }
      await client.connection.close();
      if (opts.json) printJson({ schedules: rows });
      else
        process.stdout.write(
          table(
            ['schedule', 'cron', 'next runs', 'last result'],
            rows.map((r) => [r.id + (r.paused ? ' (paused)' : ''), r.cron, r.nextRuns.join(', '), r.lastResult]),
          ),
        );
    });
}
