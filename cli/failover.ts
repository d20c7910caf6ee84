// `lifeboat failover plan | start | approve | status | abort` and `lifeboat failback`.
import type { Command } from 'commander';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { carriedDetails, describeRootFailure, rootFailure } from '../model/failure-chain.js';
import {
  abortUpdate,
  approveUpdate,
  endedStatuses,
  isFailoverReport,
  reportQuery,
  type failback,
  type failover,
  type FailoverInput,
  type FailoverReport,
  type SourceWatch,
} from '../workflows/failover.js';
import { appByName, clusterByName, defaultAppApprovers, loadConfig, type LifeboatConfig } from '../worker/config.js';
import { approvalRefusal, resolveApprovers } from '../model/approvals.js';
import { cliIdentity } from './identity.js';
import { connectClient, requireWorker } from './temporal.js';
import { CliError, exitCodes, printJson, table } from './output.js';
import { followProgress } from './progress.js';
import { formatAge, formatStepTime } from '../model/durations.js';
import { failoverWorkflowId } from '../model/workflow-ids.js';

type Kind = 'failover' | 'failback';

/** One failover or failback per app at a time: the workflow ID is the lock. */

interface SwitchOptions {
  app: string;
  from?: string;
  to?: string;
  reason?: string;
  autoApprove?: boolean;
  approver?: string;
  force?: boolean;
  wait?: boolean;
  json?: boolean;
}

/** The app and both sites, checked against configuration before anything starts. */
function resolve(config: LifeboatConfig, kind: Kind, opts: SwitchOptions): { app: string; from: string; to: string } {
  const app = appByName(config, opts.app);
  if (!app.failover)
    throw new CliError(
      `--app '${app.name}': the app has no failover configuration (apps[].failover in the configuration)`,
      exitCodes.badInput,
    );
  const [home, standby] = [app.cluster, app.failover.standby];
  const from = opts.from ?? (kind === 'failover' ? home : standby);
  const to = opts.to ?? (kind === 'failover' ? standby : home);
  clusterByName(config, from, '--from');
  clusterByName(config, to, '--to');
  if (from === to) throw new CliError(`--from and --to are both '${from}': a ${kind} needs two different clusters`, exitCodes.badInput);
  if (![home, standby].includes(from) || ![home, standby].includes(to)) {
    throw new CliError(
      `app '${app.name}' fails over between '${home}' and '${standby}'; --from '${from}' --to '${to}' is not one of those directions`,
      exitCodes.badInput,
    );
  }
  return { app: app.name, from, to };
}

/** The source watch of a forced run: what it does now, or how it ended and what is left to do. */
export function formatSourceWatch(w: SourceWatch): string[] {
  switch (w.state) {
    case 'watching':
      return [
        `source watch: '${w.cluster}' was unreachable and is NOT fenced; watching its API since ${w.since}, until ${w.until} (limit ${formatAge(w.limitSeconds * 1000)}), to fence its ${w.workloads} Deployments as soon as it answers`,
        `  should it serve before then, fence it by hand: ${w.fenceCommand}`,
      ];
    case 'fenced':
      return [
        `source watch: '${w.cluster}' answered at ${w.answeredAt}; its ${w.workloads} Deployments were fenced by this run (no Pod serving at ${w.fencedAt})`,
      ];
    case 'aborted':
      return [
        `DANGER: '${w.cluster}' was never fenced (the watch was aborted): both sites may serve`,
        `  fence it as soon as its API answers: ${w.fenceCommand}`,
      ];
    default:
      return [
        `DANGER: '${w.cluster}' was never fenced: ${w.detail}. Both sites may serve`,
        `  fence it as soon as its API answers: ${w.fenceCommand}`,
      ];
  }
}

export function formatReport(r: FailoverReport): string {
  const lines = [
    `${r.kind} of ${r.app} from ${r.from} to ${r.to}: ${r.status.toUpperCase()}${r.failure ? `: ${r.failureType ? `[${r.failureType}] ` : ''}${r.failure}` : ''}`,
    `reason: ${r.reason}${r.requestedBy ? `; requested by ${r.requestedBy}` : ''}${r.approval ? `; ${r.approval.auto ? 'auto-approved' : 'approved'} by ${r.approval.approver}${r.approval.force ? ' (force)' : ''}` : ''}`,
  ];
  if (r.abort) lines.push(`aborted by ${r.abort.by} at ${r.abort.at}${r.abort.reason ? `: ${r.abort.reason}` : ''}`);
  if (r.preflight) {
    const at = r.steps.find((s) => s.name === 'preflight')?.finishedAt;
    lines.push(
      `preflight at start (${at ?? 'time unknown'}): ${r.to}: ${r.preflight.to.detail}; ${r.from}: ${r.preflight.from.reachable ? r.preflight.from.detail : `UNREACHABLE (${r.preflight.from.detail})`}; capacity: ${r.preflight.capacity.detail}`,
    );
    for (const b of r.preflight.blockers) lines.push(`  BLOCKER: ${b}`);
    for (const wn of r.preflight.warnings) lines.push(`  warning: ${wn}`);
  }
  if (r.sourceWatch) lines.push(...formatSourceWatch(r.sourceWatch));
  if (r.plan.length)
    lines.push(
      '',
      'plan:',
      table(
        ['step', 'cluster', 'change'],
        r.plan.map((p) => [p.step, p.cluster, p.change]),
      ).trimEnd(),
    );
  lines.push(
    '',
    table(
      ['step', 'state', 'took', 'detail'],
      r.steps.map((s) => [s.name, s.state, formatStepTime(s.startedAt, s.finishedAt), (s.detail ?? '').split('\n')[0]!]),
    ).trimEnd(),
  );
  if (r.rolledBack.length) lines.push('', `rolled back: ${r.rolledBack.join('; ')}`);
  if (r.rtoSeconds !== undefined) {
    const o = r.preflight!.objectives;
    lines.push(
      '',
      `RTO ${r.rtoSeconds}s (objective ${o.rtoSeconds}s: ${r.rtoSeconds <= o.rtoSeconds ? 'met' : 'MISSED'}), RPO ${r.rpoSeconds ?? '-'}s (objective ${o.rpoSeconds}s), Pods Ready ${r.podsReadySeconds}s after scale-up`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The report a failed run carries in its failure's details. */
const failedReport = (err: unknown) => carriedDetails<FailoverReport>(err, ({ detail }) => isFailoverReport(detail));

/**
 * Refuses (exit 2, nothing started) what the run would refuse of an approval given up front: an
 * approver the app's configuration does not name, the requester, a force by someone not allowed to.
 * The run checks again against the worker's configuration.
 */
function refuseAutoApproval(config: LifeboatConfig, app: string, approver: string, requester: string, force?: boolean): void {
  const a = appByName(config, app);
  const policy = {
    approvers: resolveApprovers(a.approvers ?? defaultAppApprovers, config.runbooks.approverGroups),
    forceApprovers: resolveApprovers(a.forceApprovers ?? [], config.runbooks.approverGroups),
    fourEyes: true,
  };
  const refused = approvalRefusal(policy, { approver, requester, force });
  if (refused) throw new CliError(`--approver '${approver}' refused: ${refused}`, exitCodes.badInput);
}

/** The app's last run, running or not, with its report. */
export interface RunRecord {
  workflowId: string;
  runId: string;
  /** Temporal's status of the run: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, ... */
  status: string;
  startTime: Date;
  closeTime?: Date;
  report: FailoverReport;
}

/**
 * The last run of the app's failover lock. A finished run's report comes from its result or its
 * failure's details (no worker needed); a running one's (or one ended without a report: cancelled by
 * an older Lifeboat, terminated) from the `report` query.
 */
async function lastRun(client: Client, app: string): Promise<RunRecord> {
  const workflowId = failoverWorkflowId(app);
  const d = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw new CliError(`app '${app}' has never been failed over`);
      throw err;
    });
  const handle = client.workflow.getHandle(workflowId, d.runId);
  let report: FailoverReport | undefined;
  if (d.status.name === 'COMPLETED') report = (await handle.result()) as FailoverReport;
  else if (d.status.name !== 'RUNNING') report = await handle.result().then(() => undefined, failedReport);
  report ??= await handle.query(reportQuery);
  return { workflowId, runId: d.runId, status: d.status.name, startTime: d.startTime, closeTime: d.closeTime, report };
}

/**
 * `failover status`: a running run as such; a finished one as the record it is, with when it ended and
 * how. Its preflight and plan were true at its start: what is true now is what `failover plan` (and,
 * while it runs, the source watch) says.
 */
export function formatStatus(run: RunRecord, now: Date): string {
  const r = run.report;
  const ended = endedStatuses.includes(r.status);
  const outcome =
    run.status === 'RUNNING' || ended ? r.status.toUpperCase() : `${run.status} (its report last said ${r.status.toUpperCase()})`;
  const head = run.closeTime
    ? `${run.workflowId} (run ${run.runId}) finished ${run.closeTime.toISOString()} (${formatAge(now.getTime() - run.closeTime.getTime())} ago): ${outcome}`
    : `${run.workflowId} (run ${run.runId}) running since ${run.startTime.toISOString()} (${formatAge(now.getTime() - run.startTime.getTime())}): ${outcome}`;
  const truth = run.closeTime
    ? `This is the run's record. What is true now: \`lifeboat failover plan --app ${r.app}\``
    : `Preflight and plan are as of the run's start. What is true now: \`lifeboat failover plan --app ${r.app}\`${r.sourceWatch?.state === 'watching' ? ' and the source watch below' : ''}`;
  return `${head}\n${truth}\n\n${formatReport(r)}`;
}

async function finish(handle: WorkflowHandle, opts: { json?: boolean }): Promise<void> {
  const result = handle.result() as Promise<FailoverReport>;
  if (!opts.json) await followProgress(handle, result);
  try {
    const r = await result;
    process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : formatReport(r));
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const r = failedReport(err);
    if (!r) throw new CliError(`${handle.workflowId} failed: ${describeRootFailure(err)}`);
    process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : formatReport(r));
    process.exitCode = exitCodes.failed;
  }
}

async function start(
  client: Client,
  config: LifeboatConfig,
  kind: Kind,
  input: FailoverInput,
  workflowId: string,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  try {
    return await client.workflow.start<typeof failover | typeof failback>(kind, {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [input],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const running = await client.workflow.getHandle(workflowId).describe();
    throw new CliError(
      `refused: ${running.type} ${workflowId} of app '${input.app}' is already running (run ${running.runId}, started ${running.startTime.toISOString()}); see \`lifeboat failover status --app ${input.app}\``,
    );
  }
}

async function withClient<T>(work: (client: Client, config: LifeboatConfig) => Promise<T>, needWorker = true): Promise<T> {
  const config = loadConfig();
  const client = await connectClient(config);
  try {
    if (needWorker) await requireWorker(client, config);
    return await work(client, config);
  } finally {
    await client.connection.close();
  }
}

function switchCommand(cmd: Command, kind: Kind): Command {
  return cmd
    .requiredOption('--app <name>', 'app to move')
    .option('--from <cluster>', `cluster it moves from (default: ${kind === 'failover' ? "the app's cluster" : 'its standby'})`)
    .option('--to <cluster>', `cluster it moves to (default: ${kind === 'failover' ? 'its standby' : "the app's cluster"})`)
    .requiredOption('--reason <text>', 'why: recorded in the plan, the traffic decision and the report')
    .option('--auto-approve', 'approve at once (game days, tests); needs --approver')
    .option('--approver <name>', "who approved, with --auto-approve: one of the app's approvers, not you")
    .option(
      '--force',
      'with --auto-approve: proceed even if the source cannot be fenced (its API is unreachable); the approver must be a force approver',
    )
    .option('--wait', 'follow it to the end, showing progress')
    .option('--json', 'print the report (or the started workflow) as JSON')
    .action(async (opts: SwitchOptions) => {
      const config = loadConfig();
      const sites = resolve(config, kind, opts);
      if (!opts.reason?.trim()) throw new CliError('--reason: expected a non-empty reason', exitCodes.badInput);
      if (opts.autoApprove && !opts.approver?.trim())
        throw new CliError('--auto-approve needs --approver NAME (who approves)', exitCodes.badInput);
      if (opts.force && !opts.autoApprove)
        throw new CliError(
          '--force goes with --auto-approve; otherwise approve with `lifeboat failover approve --force`',
          exitCodes.badInput,
        );
      const requestedBy = cliIdentity(config);
      if (opts.autoApprove) refuseAutoApproval(config, sites.app, opts.approver!.trim(), requestedBy, opts.force);
      await withClient(async (client) => {
        const input: FailoverInput = {
          ...sites,
          reason: opts.reason!,
          requestedBy,
          autoApprove: opts.autoApprove ? { approver: opts.approver!.trim(), force: opts.force } : undefined,
        };
        const handle = await start(client, config, kind, input, failoverWorkflowId(sites.app));
        if (!opts.json) {
          process.stderr.write(
            `started ${kind} ${handle.workflowId} as ${requestedBy}${opts.autoApprove ? '' : `\nit waits for approval by another approver: lifeboat failover approve --app ${sites.app}`}\n`,
          );
        }
        if (!opts.wait) {
          if (opts.json) printJson({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId });
          return;
        }
        await finish(handle, opts);
      });
    });
}

export function registerFailoverCommands(program: Command): void {
  const fo = program
    .command('failover')
    .description('move an app to its standby cluster: preflight, plan, approval, fence, bring up, switch traffic, verify');
  fo.command('plan')
    .description('preflight both clusters and print every change a failover would make; changes nothing')
    .requiredOption('--app <name>', 'app')
    .option('--from <cluster>', "default: the app's cluster")
    .option('--to <cluster>', 'default: its standby')
    .option('--reason <text>', 'why', 'plan')
    .option('--failback', 'plan the failback instead')
    .option('--json', 'print the report as JSON')
    .action(async (opts: SwitchOptions & { failback?: boolean }) => {
      const kind: Kind = opts.failback ? 'failback' : 'failover';
      const config = loadConfig();
      const sites = resolve(config, kind, opts);
      await withClient(async (client) => {
        const handle = await client.workflow.start<typeof failover>(kind, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `failover-plan/${sites.app}/${new Date().toISOString()}`,
          args: [{ ...sites, reason: opts.reason ?? 'plan', dryRun: true, requestedBy: cliIdentity(config) }],
        });
        await finish(handle, { json: opts.json });
      });
    });
  switchCommand(fo.command('start').description('start a failover; it waits for `failover approve` unless --auto-approve'), 'failover');
  fo.command('approve')
    .description('approve the failover (or failback) of an app that is waiting for it, as who runs the CLI (its Temporal client identity)')
    .requiredOption('--app <name>', 'app')
    .option('--force', 'proceed although the source cannot be fenced (its API is unreachable); for force approvers only')
    .option('--comment <text>', 'recorded with the approval')
    .option('--json', 'print the approval as JSON')
    .action(async (opts: { app: string; force?: boolean; comment?: string; json?: boolean }) => {
      const config = loadConfig();
      const app = appByName(config, opts.app).name;
      const approver = cliIdentity(config);
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(failoverWorkflowId(app));
        try {
          // The report first: the query makes a worker that has just restarted replay the run to where it
          // waits, so the update's validator sees it waiting (as `runbook approve` does).
          const report = await handle.query(reportQuery);
          if (report.status !== 'awaiting-approval')
            throw new CliError(`approval refused: ${failoverWorkflowId(app)} is not waiting for an approval (it is ${report.status})`);
          const approval = await handle.executeUpdate(approveUpdate, {
            args: [{ approver, force: opts.force, comment: opts.comment }],
          });
          if (opts.json) printJson(approval);
          else process.stdout.write(`approved ${failoverWorkflowId(app)} as ${approval.approver}${approval.force ? ' (force)' : ''}\n`);
        } catch (err) {
          if (err instanceof CliError) throw err;
          if (err instanceof WorkflowNotFoundError) throw new CliError(`no failover of app '${app}' is running`);
          throw new CliError(`approval refused: ${rootFailure(err).message}`);
        }
      }, false);
    });
  fo.command('status')
    .description('the running (or last) failover or failback of an app: plan, approval, steps; a finished one as the record it is')
    .requiredOption('--app <name>', 'app')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appByName(loadConfig(), opts.app).name;
      await withClient(async (client) => {
        const run = await lastRun(client, app);
        if (opts.json) printJson(run.report);
        else process.stdout.write(formatStatus(run, new Date()));
      }, false);
    });
  fo.command('abort')
    .description(
      'abort the running failover or failback: before fencing nothing changes; after, it rolls back; while it watches an unfenced source, the watch stops',
    )
    .requiredOption('--app <name>', 'app')
    .option('--reason <text>', 'why: recorded with the abort')
    .option('--json', 'print the final report as JSON')
    .action(async (opts: { app: string; reason?: string; json?: boolean }) => {
      const config = loadConfig();
      const app = appByName(config, opts.app).name;
      // Who aborts is who runs the CLI (its Temporal client identity), recorded in the report.
      const by = cliIdentity(config);
      await withClient(async (client) => {
        const { runId, status } = await client.workflow
          .getHandle(failoverWorkflowId(app))
          .describe()
          .catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) throw new CliError(`no failover of app '${app}' is running`);
            throw err;
          });
        if (status.name !== 'RUNNING')
          throw new CliError(
            `no failover of app '${app}' is running (the last one, run ${runId}, is ${status.name}); see \`lifeboat failover status --app ${app}\``,
          );
        const handle = client.workflow.getHandle(failoverWorkflowId(app), runId);
        try {
          await handle.executeUpdate(abortUpdate, { args: [{ by, reason: opts.reason }] });
        } catch (err) {
          throw new CliError(`abort refused: ${rootFailure(err).message}`);
        }
        const report = await handle.result().then(
          (r) => r as FailoverReport,
          (err: unknown) => {
            const r = failedReport(err);
            if (!r) throw new CliError(`${failoverWorkflowId(app)} ended without a report: ${describeRootFailure(err)}`);
            return r;
          },
        );
        if (opts.json) printJson(report);
        else process.stdout.write(formatReport(report));
        if (report.status !== 'aborted') process.exitCode = exitCodes.failed;
      }, false);
    });
  switchCommand(
    program.command('failback').description('move an app back to its own cluster, carrying state home; same steps as failover'),
    'failback',
  );
}
