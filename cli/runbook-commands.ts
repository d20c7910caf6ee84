// `lifeboat runbook list | validate | plan | run | status | approve | abort`: runbook documents
// (runbooks/*.yaml) run by the `runbook` interpreter workflow.
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { carriedDetails, describeRootFailure, rootFailure } from '../model/failure-chain.js';
import { formatAge, formatStepTime } from '../model/durations.js';
import { formatProblems } from '../model/runbook/parse.js';
import { runbookWorkflowId, type RunbookReport } from '../model/runbook/run.js';
import { runbookAbortUpdate, runbookApproveUpdate, runbookReportQuery, type runbook } from '../workflows/runbook.js';
import { loadConfig, type LifeboatConfig } from '../worker/config.js';
import { cliIdentity } from './identity.js';
import { CliError, exitCodes, printJson, table } from './output.js';
import { followProgress } from './progress.js';
import { runRunbook } from './runbook.js';
import { checkRunbook, displayPath, documentFiles, findRunbook, runbookInput, runbooksDir, runParameters } from './runbook-documents.js';
import { connectClient, requireWorker } from './temporal.js';

/** The interpreter's workflow type. */
const workflowType = 'runbook';
/** Outcomes that are not a success: the command exits 1. */
const unsuccessful: ReadonlyArray<RunbookReport['status']> = ['failed', 'compensated', 'aborted'];

/** `--param k=v`, repeatable; values stay text until the declared type converts them. */
function collectParam(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at < 1) throw new CliError(`--param '${value}': expected NAME=VALUE`, exitCodes.badInput);
  const name = value.slice(0, at);
  if (Object.hasOwn(previous, name)) throw new CliError(`--param ${name} is given twice`, exitCodes.badInput);
  return { ...previous, [name]: value.slice(at + 1) };
}

const isRunbookReport = (value: unknown): value is RunbookReport =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as RunbookReport).runbook === 'string' &&
  typeof (value as RunbookReport).contentHash === 'string' &&
  Array.isArray((value as RunbookReport).steps);

/** The report a failed (compensated, aborted) run carries in its failure's details. */
const failedReport = (err: unknown) => carriedDetails<RunbookReport>(err, ({ detail }) => isRunbookReport(detail));

const oneLine = (text: string | undefined) => (text ?? '').split('\n')[0]!;

export function formatRunbookReport(r: RunbookReport): string {
  const lines = [
    `${r.mode === 'plan' ? 'plan of ' : ''}runbook ${r.runbook}: ${r.status.toUpperCase()}${r.failure ? `: ${r.failure}` : ''}`,
    `document ${r.source} (sha256 ${r.contentHash.slice(0, 12)}); started by ${r.startedBy} at ${r.startedAt}${r.finishedAt ? `, finished ${r.finishedAt}` : ''}`,
  ];
  const parameters = Object.entries(r.parameters);
  if (parameters.length) lines.push(`parameters: ${parameters.map(([k, v]) => `${k}=${String(v)}`).join(', ')}`);
  for (const a of r.approvals) lines.push(`approved ${a.step} by ${a.approver} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`);
  if (r.abort) lines.push(`aborted by ${r.abort.by} at ${r.abort.at}${r.abort.reason ? `: ${r.abort.reason}` : ''}`);
  lines.push(
    '',
    table(
      ['step', 'kind', 'state', 'took', 'detail'],
      r.steps.map((s) => [
        s.path,
        s.block ? `${s.kind} ${s.block}` : s.kind,
        s.state,
        formatStepTime(s.startedAt, s.finishedAt),
        oneLine(s.detail),
      ]),
    ).trimEnd(),
  );
  const planned = r.steps.filter((s) => s.plan !== undefined);
  if (planned.length) lines.push('', 'plan:', ...planned.map((s) => `  ${s.path}: ${JSON.stringify(s.plan)}`));
  return `${lines.join('\n')}\n`;
}

/** The run's final report: its result, or the report its failure carries. */
export async function finalReport(workflowId: string, result: Promise<unknown>): Promise<RunbookReport> {
  try {
    return (await result) as RunbookReport;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const carried = failedReport(err);
    if (!carried) throw new CliError(`${workflowId} failed: ${describeRootFailure(err)}`);
    return carried;
  }
}

const printReport = (report: RunbookReport, json?: boolean) =>
  json ? printJson(report) : process.stdout.write(formatRunbookReport(report));

/** Prints the final report; exit 1 when the run failed, compensated or was aborted. */
export async function finish(workflowId: string, result: Promise<unknown>, json?: boolean): Promise<void> {
  const report = await finalReport(workflowId, result);
  printReport(report, json);
  if (unsuccessful.includes(report.status)) process.exitCode = exitCodes.failed;
}

async function withClient<T>(config: LifeboatConfig, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(config);
  try {
    return await work(client);
  } finally {
    await client.connection.close();
  }
}

const notFound = (workflowId: string) =>
  new CliError(`no runbook run '${workflowId}'; \`lifeboat runbook run NAME\` prints the ID of the run it starts`);

/** A run as it is: running (the `report` query) or finished (its result, or the report its failure carries). */
interface RunRecord {
  workflowId: string;
  runId: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
  report: RunbookReport;
}

/** The latest run under `workflowId`, refused unless it is a runbook's (`approve` and `abort` are also failover's updates). */
async function describeRun(client: Client, workflowId: string) {
  const d = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw notFound(workflowId);
      throw err;
    });
  if (d.type !== workflowType) throw new CliError(`'${workflowId}' is a ${d.type} run, not a runbook run`);
  return d;
}

/** The run's latest execution, refused when it is not running. */
async function runningRun(client: Client, workflowId: string): Promise<WorkflowHandle> {
  const d = await describeRun(client, workflowId);
  if (d.status.name !== 'RUNNING')
    throw new CliError(`${workflowId} is not running (run ${d.runId} is ${d.status.name}); see \`lifeboat runbook status ${workflowId}\``);
  return client.workflow.getHandle(workflowId, d.runId);
}

async function readRun(client: Client, workflowId: string): Promise<RunRecord> {
  const d = await describeRun(client, workflowId);
  const handle = client.workflow.getHandle(workflowId, d.runId);
  let report: RunbookReport | undefined;
  if (d.status.name === 'COMPLETED') report = (await handle.result()) as RunbookReport;
  else if (d.status.name !== 'RUNNING') report = await handle.result().then(() => undefined, failedReport);
  report ??= await handle.query(runbookReportQuery);
  return { workflowId, runId: d.runId, status: d.status.name, startTime: d.startTime, closeTime: d.closeTime, report };
}

export function formatRunStatus(run: RunRecord, now: Date): string {
  const head = run.closeTime
    ? `${run.workflowId} (run ${run.runId}) finished ${run.closeTime.toISOString()} (${formatAge(now.getTime() - run.closeTime.getTime())} ago): ${run.status}`
    : `${run.workflowId} (run ${run.runId}) running since ${run.startTime.toISOString()} (${formatAge(now.getTime() - run.startTime.getTime())})`;
  return `${head}\n${formatRunbookReport(run.report)}`;
}

interface StartOptions {
  param: Record<string, string>;
  wait?: boolean;
  json?: boolean;
}

export function registerRunbookCommands(program: Command): void {
  const rb = program.command('runbook').description('runbook documents (runbooks/*.yaml): list, validate, plan, run, and act on runs');
  rb.command('list')
    .description('the runbook documents in runbooks.dir, with their schedules')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const config = loadConfig();
      const rows = documentFiles(config).map((file) => {
        const checked = checkRunbook(config, file);
        if (!checked.ok)
          return { name: null, description: null, owner: null, schedule: null, file, valid: false, problems: checked.problems.length };
        const { metadata, schedule } = checked.document;
        return {
          name: metadata.name,
          description: metadata.description ?? null,
          owner: metadata.owner ?? null,
          schedule: schedule?.cron ?? null,
          file,
          valid: true,
          problems: 0,
        };
      });
      if (opts.json) printJson({ runbooks: rows });
      else if (!rows.length)
        process.stderr.write(
          `no runbook documents (*.yaml) in ${displayPath(runbooksDir(config))}; runbooks.dir in the configuration names the folder\n`,
        );
      else
        process.stdout.write(
          table(
            ['name', 'description', 'owner', 'schedule', 'file'],
            rows.map((r) =>
              r.valid
                ? [r.name ?? '', r.description ?? '', r.owner ?? '', r.schedule ?? '-', r.file]
                : [
                    '(invalid)',
                    `${r.problems} problem${r.problems === 1 ? '' : 's'}: lifeboat runbook validate ${r.file}`,
                    '',
                    '-',
                    r.file,
                  ],
            ),
          ),
        );
    });
  rb.command('validate')
    .description('check runbook documents against the building blocks and the configuration; exit 2 naming every problem')
    .argument('<file...>', 'runbook documents')
    .option('--json', 'print as JSON')
    .action((files: string[], opts: { json?: boolean }) => {
      const config = loadConfig();
      const checked = files.map((file) => checkRunbook(config, file));
      if (opts.json) {
        printJson({
          files: checked.map((c) =>
            c.ok
              ? { file: c.file, valid: true, name: c.document.metadata.name, contentHash: c.contentHash, problems: [] }
              : { file: c.file, valid: false, problems: c.problems },
          ),
        });
      } else {
        for (const c of checked)
          process.stdout.write(
            c.ok
              ? `${c.file}: ok (runbook ${c.document.metadata.name}, sha256 ${c.contentHash.slice(0, 12)})\n`
              : `${formatProblems(c.problems).join('\n')}\n`,
          );
      }
      if (checked.some((c) => !c.ok)) process.exitCode = exitCodes.badInput;
    });
  rb.command('plan')
    .description("a dry run: parameters resolved, conditions evaluated where they can be, each block's read-only plan; changes nothing")
    .argument('<name>', 'runbook name (or a document path)')
    .option('--param <name=value>', 'a parameter value (repeatable)', collectParam, {})
    .option('--json', 'print the report as JSON')
    .action(async (name: string, opts: StartOptions) => {
      const config = loadConfig();
      const loaded = findRunbook(config, name);
      const input = runbookInput(config, loaded, runParameters(config, loaded, opts.param), cliIdentity(config), true);
      const workflowId = runbookWorkflowId(loaded.document.metadata.name, new Date(), `plan-${randomBytes(3).toString('hex')}`);
      await withClient(config, async (client) => {
        await requireWorker(client, config);
        const handle = await client.workflow.start<typeof runbook>(workflowType, {
          taskQueue: config.temporal.taskQueue,
          workflowId,
          args: [input],
        });
        await finish(workflowId, handle.result(), opts.json);
      });
    });
  rb.command('run')
    .description('start a runbook; with --wait follow it to the end (exit 1 when it failed, compensated or was aborted)')
    .argument('<name>', 'runbook name (or a document path)')
    .option('--param <name=value>', 'a parameter value (repeatable)', collectParam, {})
    .option('--wait', 'follow it to the end, showing progress')
    .option('--json', 'print the report (or the started run) as JSON')
    .action(async (name: string, opts: StartOptions) => {
      const config = loadConfig();
      const loaded = findRunbook(config, name);
      // Who starts it is who runs the CLI (its Temporal client identity), recorded in the report.
      const input = runbookInput(config, loaded, runParameters(config, loaded, opts.param), cliIdentity(config));
      const workflowId = runbookWorkflowId(loaded.document.metadata.name, new Date(), randomBytes(3).toString('hex'));
      await runRunbook<typeof runbook>(
        config,
        {
          type: workflowType,
          workflowId,
          args: [input],
          startedJson: { runbook: loaded.document.metadata.name, contentHash: loaded.contentHash },
        },
        opts,
        (result) => finish(workflowId, result, opts.json),
      );
    });
  rb.command('status')
    .description('a run of a runbook: its steps, approvals and outcome; a finished one as the record it is')
    .argument('<id>', 'workflow ID of the run')
    .option('--json', 'print the report as JSON')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      const config = loadConfig();
      await withClient(config, async (client) => {
        const run = await readRun(client, workflowId);
        if (opts.json) printJson(run.report);
        else process.stdout.write(formatRunStatus(run, new Date()));
      });
    });
  rb.command('approve')
    .description('approve the approval step a run waits on, as who runs the CLI (its Temporal client identity)')
    .argument('<id>', 'workflow ID of the run')
    .option('--step <id>', 'the approval step (default: the one waiting)')
    .option('--comment <text>', 'recorded with the approval')
    .option('--json', 'print the approval as JSON')
    .action(async (workflowId: string, opts: { step?: string; comment?: string; json?: boolean }) => {
      const config = loadConfig();
      const approver = cliIdentity(config);
      await withClient(config, async (client) => {
        const handle = await runningRun(client, workflowId);
        // The report first: the query makes a worker that has just restarted replay the run to where it waits,
        // so the update's validator sees the approval step waiting (an update delivered together with the
        // event that reaches the approval is validated before the workflow code has advanced to it).
        const report = await handle.query(runbookReportQuery);
        if (report.status !== 'waiting-approval')
          throw new CliError(`approval refused: ${workflowId} is not waiting for an approval (it is ${report.status})`);
        try {
          const approval = await handle.executeUpdate(runbookApproveUpdate, {
            args: [{ approver, step: opts.step, comment: opts.comment }],
          });
          if (opts.json) printJson(approval);
          else process.stdout.write(`approved ${approval.step} of ${workflowId} as ${approval.approver}\n`);
        } catch (err) {
          throw new CliError(`approval refused: ${rootFailure(err).message}`);
        }
      });
    });
  rb.command('abort')
    .description('abort a running runbook: what it did is compensated as its steps say; prints the final report')
    .argument('<id>', 'workflow ID of the run')
    .option('--reason <text>', 'why: recorded with the abort')
    .option('--json', 'print the final report as JSON')
    .action(async (workflowId: string, opts: { reason?: string; json?: boolean }) => {
      const config = loadConfig();
      const by = cliIdentity(config);
      await withClient(config, async (client) => {
        const handle = await runningRun(client, workflowId);
        try {
          await handle.executeUpdate(runbookAbortUpdate, { args: [{ by, reason: opts.reason }] });
        } catch (err) {
          throw new CliError(`abort refused: ${rootFailure(err).message}`);
        }
        const result = handle.result();
        if (!opts.json) await followProgress(handle, result);
        const report = await finalReport(workflowId, result);
        printReport(report, opts.json);
        // An abort that ended the run as asked is the command's success.
        if (report.status !== 'aborted') process.exitCode = exitCodes.failed;
      });
    });
}
