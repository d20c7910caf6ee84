// `lifeboat schedule apply | list`: Temporal Schedules from configuration.
import type { Command } from 'commander';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { loadConfig, type LifeboatConfig } from '../worker/config.js';
import { connectClient } from './temporal.js';
import { printJson, table } from './output.js';

const managedBy = 'lifeboat schedule apply';
const scheduleIdPrefix = 'etcd-snapshot/';
/** The quarterly game day's schedule. */
export const gameDayScheduleId = 'gameday';

/** The schedules the configuration asks for, by id. */
export function desiredSchedules(config: LifeboatConfig): ScheduleOptions[] {
  const gameDay = config.gameDay.schedule;
  const gameDays: ScheduleOptions[] = gameDay ? [{
    scheduleId: gameDayScheduleId,
    spec: { cronExpressions: [gameDay.cron] },
    action: { type: 'startWorkflow' as const, workflowType: 'gameDay', taskQueue: config.temporal.taskQueue, workflowId: 'gameday/scheduled', args: [{}] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: gameDay.catchupWindow },
    memo: { managedBy, cron: gameDay.cron },
  }] : [];
  return [...gameDays, ...config.clusters.flatMap((c) => {
    const schedule = c.etcdSnapshots.schedule;
    if (!schedule) return [];
    return [{
      scheduleId: `${scheduleIdPrefix}${c.name}`,
      spec: { cronExpressions: [schedule.cron] },
      action: { type: 'startWorkflow' as const, workflowType: 'etcdSnapshot', taskQueue: config.temporal.taskQueue, workflowId: `etcd-snapshot/${c.name}`, args: [{ cluster: c.name }] },
      // A snapshot still running when the next is due is not doubled up.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: schedule.catchupWindow },
      // The server turns cron into calendar specs; the memo keeps the expression people wrote.
      memo: { managedBy, cron: schedule.cron },
    }];
  })];
}

async function managedScheduleIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.memo?.managedBy === managedBy) ids.push(s.scheduleId);
  return ids;
}

export interface ApplyResult { created: string[]; updated: string[]; deleted: string[] }

export async function applySchedules(client: Client, config: LifeboatConfig): Promise<ApplyResult> {
  const result: ApplyResult = { created: [], updated: [], deleted: [] };
  const desired = desiredSchedules(config);
  for (const options of desired) {
    const handle = client.schedule.getHandle(options.scheduleId);
    const existing = await handle.describe().catch((err: unknown) => {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    });
    if (!existing) {
      await client.schedule.create(options);
      result.created.push(options.scheduleId);
    } else if (existing.memo?.cron !== options.memo?.cron) {
      // A memo cannot be updated, and it holds the cron expression people read: recreate.
      await handle.delete();
      await client.schedule.create(options);
      result.updated.push(options.scheduleId);
    } else {
      await handle.update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: { ...previous.policies, ...options.policies } }));
      result.updated.push(options.scheduleId);
    }
  }
  // Schedules this command made for clusters no longer configured go away.
  for (const id of await managedScheduleIds(client)) {
    if (!desired.some((d) => d.scheduleId === id)) {
      await client.schedule.getHandle(id).delete();
      result.deleted.push(id);
    }
  }
  return result;
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('Temporal Schedules for backups and game days, from configuration');
  schedule.command('apply')
    .description('create or update the schedules the configuration describes, and delete ones it no longer does')
    .option('--json', 'print what changed as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      const result = await applySchedules(client, config);
      await client.connection.close();
      if (opts.json) printJson(result);
      else process.stdout.write(`created: ${result.created.join(', ') || '-'}\nupdated: ${result.updated.join(', ') || '-'}\ndeleted: ${result.deleted.join(', ') || '-'}\n`);
    });
  schedule.command('list')
    .description('the schedules with their next runs and last results')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      const rows = [];
      for (const id of await managedScheduleIds(client)) {
        const d = await client.schedule.getHandle(id).describe();
        const last = d.info.recentActions.at(-1);
        let lastResult = '-';
        if (last && 'workflow' in last.action) {
          const status = (await client.workflow.getHandle(last.action.workflow.workflowId, last.action.workflow.firstExecutionRunId).describe()).status.name;
          lastResult = `${status} (${last.takenAt.toISOString()})`;
        }
        rows.push({
          id, cron: typeof d.memo?.cron === 'string' ? d.memo.cron : '', paused: d.state.paused,
          nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()), lastResult,
        });
      }
      await client.connection.close();
      if (opts.json) printJson({ schedules: rows });
      else process.stdout.write(table(['schedule', 'cron', 'next runs', 'last result'], rows.map((r) => [r.id + (r.paused ? ' (paused)' : ''), r.cron, r.nextRuns.join(', '), r.lastResult])));
    });
}
